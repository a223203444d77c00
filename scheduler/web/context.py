"""The app's shared context and the request dependencies (who asks, in which language)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from energiemodell.site import Site
from energiemodell.store import Database
from scheduler.clock import Clock
from scheduler.web.auth import AuthError, Principal, check_write, principal_of, session_csrf
from scheduler.web.config import WebSettings
from scheduler.web.i18n import LANGUAGES, translate

HERE = Path(__file__).resolve().parent


@dataclass
class WebContext:
    """What every request shares: settings, the store, the clock and the templates."""

    settings: WebSettings
    db: Database
    clock: Clock
    templates: Jinja2Templates
    site: Site | None = None

    def now(self) -> datetime:
        """The current time (the loop's clock in the demo's simulated time)."""
        return self.clock.now()

    @cached_property
    def plotly_js(self) -> bytes:
        """plotly.js from the installed plotly package (no CDN on the hospital network)."""
        from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

        text: str = get_plotlyjs()
        return text.encode()


def get_ctx(request: Request) -> WebContext:
    """The app's context."""
    ctx: WebContext = request.app.state.ctx
    return ctx


Ctx = Annotated[WebContext, Depends(get_ctx)]


def get_principal(request: Request, ctx: Ctx) -> Principal | None:
    """Who the request acts for (``None``: anonymous)."""
    return principal_of(request, db=ctx.db, settings=ctx.settings, now=ctx.now())


def require_viewer(principal: Annotated[Principal | None, Depends(get_principal)]) -> Principal:
    """Any logged-in user, token or read-only network client."""
    if principal is None:
        raise AuthError(401, "log in or send an API token")
    return principal


async def require_operator(
    request: Request, principal: Annotated[Principal | None, Depends(get_principal)]
) -> Principal:
    """Operator rights (and, for a cookie session, the CSRF token)."""
    return await check_write(request, principal, "operator")


async def require_admin(
    request: Request, principal: Annotated[Principal | None, Depends(get_principal)]
) -> Principal:
    """Admin rights (and, for a cookie session, the CSRF token)."""
    return await check_write(request, principal, "admin")


Viewer = Annotated[Principal, Depends(require_viewer)]
Operator = Annotated[Principal, Depends(require_operator)]
Admin = Annotated[Principal, Depends(require_admin)]


def language(request: Request, ctx: Ctx) -> str:
    """``?lang=`` (remembered in the session), else the session's, else the default."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        request.session["lang"] = asked
        return asked
    kept = request.session.get("lang")
    return kept if kept in LANGUAGES else ctx.settings.default_language


Lang = Annotated[str, Depends(language)]


def render(
    request: Request,
    ctx: WebContext,
    name: str,
    *,
    lang: str,
    principal: Principal | None,
    status_code: int = 200,
    **data: Any,
) -> Response:
    """Render a page with the common context (words, user, CSRF token, local time)."""
    zone = ctx.settings.timezone

    def local(ts: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if ts is None:
            return "-"
        from zoneinfo import ZoneInfo

        return ts.astimezone(ZoneInfo(zone)).strftime(fmt)

    response: Response = ctx.templates.TemplateResponse(
        request,
        name,
        {
            "t": lambda key: translate(key, lang),
            "lang": lang,
            "user": principal,
            "csrf": session_csrf(request.session),
            "local": local,
            "tz": zone,
            **data,
        },
        status_code=status_code,
    )
    return response
