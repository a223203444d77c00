"""Logging in and out, ``/health``, ``/metrics`` and plotly.js."""

from __future__ import annotations

import hmac
import math
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from energiemodell.store import (
    current_revision,
    head_revision,
    latest_cycle,
    latest_schedule_info,
    readings_between,
    schedule_content,
    writes_between,
)
from scheduler.web.auth import SESSION_CSRF, SESSION_USER, authenticate, session_csrf
from scheduler.web.context import Ctx, Lang, Viewer, render
from scheduler.web.data import WRITE_OK, active_alarms, newest_info

router = APIRouter()


@router.get("/assets/plotly.min.js", include_in_schema=False)
def plotly_js(ctx: Ctx) -> Response:
    """plotly.js from the installed plotly package."""
    return Response(
        ctx.plotly_js,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login", include_in_schema=False)
def login_page(request: Request, ctx: Ctx, lang: Lang, next: str = "/") -> Response:
    """The login form."""
    return render(
        request, ctx, "login.html", lang=lang, principal=None, next=_safe_next(next), error=None
    )


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    ctx: Ctx,
    lang: Lang,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; start a session."""
    expected = request.session.get(SESSION_CSRF)
    if not isinstance(expected, str) or not hmac.compare_digest(csrf_token, expected):
        return render(
            request,
            ctx,
            "login.html",
            lang=lang,
            principal=None,
            next=_safe_next(next),
            error="CSRF token missing or wrong: reload the page and try again",
            status_code=403,
        )
    user = authenticate(db=ctx.db, name=username, password=password)
    if user is None:
        return render(
            request,
            ctx,
            "login.html",
            lang=lang,
            principal=None,
            next=_safe_next(next),
            error="Wrong user name or password",
            status_code=401,
        )
    request.session.clear()
    request.session["lang"] = lang
    request.session[SESSION_USER] = user.name
    session_csrf(request.session)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", include_in_schema=False)
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    """End the session."""
    expected = request.session.get(SESSION_CSRF)
    if isinstance(expected, str) and hmac.compare_digest(csrf_token, expected):
        request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/health/live", tags=["operations"])
def live() -> dict[str, bool]:
    """Liveness: the process answers."""
    return {"live": True}


@router.get("/health", tags=["operations"])
def health(ctx: Ctx) -> JSONResponse:
    """Readiness with reasons: the store answers at the right schema and a plan covers now."""
    reasons: list[str] = []
    revision = None
    now = ctx.now()
    try:
        revision = current_revision(db=ctx.db)
        head = head_revision()
        if revision != head:
            reasons.append(
                f"store schema at revision {revision}, this software needs {head}: "
                "run `energiemodell db upgrade`"
            )
        elif latest_schedule_info(db=ctx.db, at=now) is None:
            reasons.append("no schedule version covers the current time")
    except SQLAlchemyError as exc:
        reasons.append(f"store unreachable: {type(exc).__name__}")
    body = {"live": True, "ready": not reasons, "reasons": reasons, "schema_revision": revision}
    body["time"] = now.isoformat()
    return JSONResponse(body, status_code=200 if not reasons else 503)


@router.get("/metrics", tags=["operations"])
def metrics(ctx: Ctx, _: Viewer) -> Response:
    """Prometheus text format, computed from the store at each scrape."""
    now = ctx.now()
    db, tz = ctx.db, ctx.settings.timezone
    registry = CollectorRegistry()

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, doc, labels, registry=registry)

    info = newest_info(db, now, tz)
    solve = gauge("energiemodell_solve_seconds", "Solver time of the newest plan version")
    gap = gauge("energiemodell_mip_gap", "Relative MIP gap of the newest plan version")
    age = gauge("energiemodell_plan_age_seconds", "Age of the newest plan version")
    if info is not None:
        timings: dict[str, Any] = schedule_content(db=db, schedule_id=info.id).get("timings", {})
        solve.set(float(timings.get("solve_s", math.nan)))
        gap.set(math.nan if info.mip_gap is None else info.mip_gap)
        age.set((now - info.created_at).total_seconds())
    else:
        for g in (solve, gap, age):
            g.set(math.nan)
    cycle = latest_cycle(db=db, before=now)
    duration = gauge(
        "energiemodell_cycle_duration_seconds",
        "Duration of the newest control cycle on the loop's clock (with the wait for the interval)",
    )
    duration.set(math.nan if cycle is None else cycle.duration_s)
    day_writes = writes_between(db=db, start=now - timedelta(days=1), end=now)
    confirmed = [w for w in day_writes if w.result in WRITE_OK and w.reason.startswith("interval ")]
    dispatch_age = gauge(
        "energiemodell_last_confirmed_dispatch_age_seconds",
        "Seconds since the newest confirmed setpoint write of a plan (+Inf: none in 24 h)",
    )
    dispatch_age.set((now - confirmed[-1].ts).total_seconds() if confirmed else math.inf)
    errors = gauge(
        "energiemodell_device_write_errors",
        "Setpoint writes not confirmed in the last hour, by device",
        ("device",),
    )
    for w in day_writes:
        if w.ts >= now - timedelta(hours=1) and w.result not in WRITE_OK:
            errors.labels(w.device).inc()
    bad = gauge(
        "energiemodell_device_bad_readings",
        "Readings of quality stale or bad in the last 15 minutes, by device",
        ("device",),
    )
    recent = readings_between(db=db, start=now - timedelta(minutes=15), end=now)
    for device, n in recent[recent["quality"] != "good"].groupby("device").size().items():
        bad.labels(str(device)).set(float(n))
    open_alarms = gauge(
        "energiemodell_open_alarms",
        "Open alarms (warning or critical, unacknowledged, last day)",
        ("severity",),
    )
    for severity in ("info", "warning", "critical"):
        open_alarms.labels(severity).set(0)
    for a in active_alarms(db, now):
        open_alarms.labels(a.severity).inc()
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
