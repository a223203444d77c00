"""The FastAPI application: pages, the JSON API under ``/api/v1``, ``/health`` and ``/metrics``.

:func:`create_app` builds it from :class:`~scheduler.web.config.WebSettings` (``energiemodell
serve``; ``run`` and ``demo`` mount the same app), :func:`serve_forever` runs it with uvicorn.
Bad input is answered with a 4xx and a message, an unavailable store with 503, never a 500.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from energiemodell import __version__
from energiemodell.errors import SiteError
from energiemodell.site import load_site
from energiemodell.store import StoreError, open_db
from scheduler.clock import Clock, SystemClock
from scheduler.web.actions import ActionError
from scheduler.web.auth import AuthError
from scheduler.web.config import ConfigError, WebSettings
from scheduler.web.context import HERE, WebContext
from scheduler.web.routes import api, ops, pages

logger = logging.getLogger(__name__)

SESSION_COOKIE = "energiemodell_session"
SECURITY_HEADERS = {
    # plotly.js sets inline styles; no inline scripts anywhere (figures travel as JSON)
    b"content-security-policy": (
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data: blob:; frame-ancestors 'none'; form-action 'self'"
    ),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"same-origin",
}


class SecurityHeaders:
    """Adds the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS.items() if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/metrics", "/health")) or "application/json" in (
        request.headers.get("accept", "")
    )


def _error_page(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>energiemodell</title>"
        "<link rel='stylesheet' href='/static/style.css'></head><body><main>"
        f"<h1>{status}</h1><p class='error'>{_escape(message)}</p>"
        "<p><a href='/'>energiemodell</a></p></main></body></html>"
    )
    return HTMLResponse(body, status_code=status)


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> Response:
        if exc.status == 401 and not _wants_json(request):
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            from urllib.parse import quote

            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return _error_page(request, exc.status, exc.message)

    @app.exception_handler(ActionError)
    async def _action(request: Request, exc: ActionError) -> Response:
        return _error_page(request, exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query"))
            problems.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
        if _wants_json(request):
            return JSONResponse(
                {"detail": "; ".join(problems), "errors": _plain(exc.errors())}, status_code=422
            )
        return _error_page(request, 422, "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(SQLAlchemyError)
    async def _store_down(request: Request, exc: SQLAlchemyError) -> Response:
        logger.warning("store unavailable: %s", exc)
        return _error_page(request, 503, "the store is unavailable; try again shortly")

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, exc: StoreError) -> Response:
        return _error_page(request, 503, str(exc))


def _plain(errors: Any) -> list[dict[str, Any]]:
    """Validation errors without unserialisable context objects."""
    return [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]


def create_app(settings: WebSettings, *, clock: Clock | None = None) -> FastAPI:
    """Build the dashboard and API for the store at ``settings.db_url``.

    Parameters
    ----------
    settings
        The installation's web settings (checked: a default secret is refused outside the demo).
    clock
        The time the pages call "now" (default: the system clock; the demo passes its
        simulated clock).

    Raises
    ------
    ConfigError
        The settings must not go into service.
    StoreError
        The database URL is unusable.
    """
    settings.check()
    site = None
    if settings.site is not None:
        try:
            site = load_site(settings.site)
        except SiteError as exc:
            msg = f"ENERGIEMODELL_WEB_SITE: {exc}"
            raise ConfigError(msg) from None
    db = open_db(settings.db_url)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app = FastAPI(
        title="energiemodell",
        version=__version__,
        description="Energy dispatch of the hospital campus: plans, readings, alarms, actions.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        root_path=settings.root_path,
    )
    app.state.ctx = WebContext(settings, db, clock or SystemClock(), templates, site)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_s,
        same_site="strict",
        https_only=settings.cookie_secure,
    )
    app.add_middleware(SecurityHeaders)
    _install_handlers(app)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(ops.router)
    app.include_router(api.router)
    app.include_router(pages.router)
    return app


def serve_forever(app: FastAPI, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve ``app`` with uvicorn until interrupted.

    Forwarded headers (client address, scheme) are trusted from the addresses in the
    environment variable ``FORWARDED_ALLOW_IPS`` (uvicorn's default: 127.0.0.1, the TLS proxy
    on the same host); see docs/dashboard.md.
    """
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, proxy_headers=True, log_level="info")
    uvicorn.Server(config).run()


class BackgroundServer:
    """The app served by uvicorn in a thread, beside the control loop (``run``, ``demo``).

    ``start()`` returns once the socket listens; ``stop()`` ends the server and joins the thread.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8080) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, proxy_headers=True, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="dashboard", daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self, timeout_s: float = 20.0) -> BackgroundServer:
        """Start serving; raise ``RuntimeError`` if the socket does not listen in time."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                msg = f"the dashboard did not start on {self.url}"
                raise RuntimeError(msg)
            time.sleep(0.05)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=timeout_s)
