"""The dashboard's pages (server-rendered, German by default) and their forms."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from energiemodell.store import (
    audit_trail,
    local_day_bounds,
    scenario_runs_between,
)
from energiemodell.store.users import api_tokens, list_users
from scheduler.overrides import overrides_in_force
from scheduler.web import actions, charts
from scheduler.web.actions import ActionError, check_day, check_time
from scheduler.web.context import Ctx, Lang, Operator, Viewer, WebContext, render
from scheduler.web.data import (
    active_alarms,
    approval_candidates,
    audit_csv,
    carrier_columns,
    day_csv,
    day_plan,
    interval_record,
    interval_why,
    local_date,
    newest_info,
    site_for,
    today,
)
from scheduler.web.i18n import translate

router = APIRouter(include_in_schema=False)


def _local_time(text: str, ctx: WebContext, field: str) -> datetime:
    """A ``datetime-local`` form value (site time) as an aware datetime."""
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise ActionError(422, f"{field}: {text!r} is not a date and time") from None
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=ZoneInfo(ctx.settings.timezone))
    return check_time(naive, field)


def _words(lang: str) -> dict[str, str]:
    return {"plan": translate("plan", lang), "actual": translate("actual", lang)}


@router.get("/")
def home() -> Response:
    """The dashboard starts on Today."""
    return RedirectResponse("/today", status_code=303)


@router.get("/today")
def today_page(request: Request, ctx: Ctx, lang: Lang, who: Viewer) -> Response:
    """Plan versus actual, setpoints, storage, peak, prices, alarms, mode and ladder."""
    tz = ctx.settings.timezone
    view = today(ctx.db, ctx.now(), tz)
    words = _words(lang)
    figures: dict[str, Any] = {}
    for carrier, cols in carrier_columns(view.site).items():
        figures[f"carrier-{carrier}"] = charts.plan_vs_actual_figure(
            view.pva, carrier, cols, tz=tz, marker=view.interval_start, words=words
        )
    levels = [c for c in view.pva.plan.columns if str(c).endswith(".level_kwh")]
    if levels:
        figures["storage"] = charts.lines_figure(
            view.pva,
            levels,
            title=translate("Storage levels", lang),
            y_title="kWh",
            tz=tz,
            marker=view.interval_start,
            words=words,
        )
    figures["import"] = charts.lines_figure(
        view.pva,
        ["grid.import_kw"],
        title=translate("Grid import and the year's peak", lang),
        y_title="kW",
        tz=tz,
        marker=view.interval_start,
        words=words,
        hline=(view.peak_kw, translate("Peak so far this year", lang)),
    )
    prices = [c for c in view.pva.plan.columns if str(c).startswith("price.")]
    figures["prices"] = charts.lines_figure(
        view.pva,
        prices,
        title=translate("Prices and marginal prices", lang),
        y_title="EUR/MWh",
        tz=tz,
        marker=view.interval_start,
        actual=False,
    )
    return render(request, ctx, "today.html", lang=lang, principal=who, v=view, figures=figures)


@router.get("/day")
def day_page(
    request: Request,
    ctx: Ctx,
    lang: Lang,
    who: Viewer,
    date: date | None = None,
    interval: str | None = None,
) -> Response:
    """A day's plan: stacked dispatch, storage, prices, on/off, costs, versions, why."""
    tz = ctx.settings.timezone
    day = check_day(date, "date") if date else local_date(ctx.now(), tz)
    view = day_plan(ctx.db, day, tz)
    figures: dict[str, Any] = {}
    for carrier, cols in carrier_columns(view.site).items():
        figures[f"stack-{carrier}"] = charts.stacked_figure(view.pva, carrier, cols, tz=tz)
    levels = [c for c in view.pva.plan.columns if str(c).endswith(".level_kwh")]
    if levels:
        figures["storage"] = charts.lines_figure(
            view.pva,
            levels,
            title=translate("Storage levels", lang),
            y_title="kWh",
            tz=tz,
            words=_words(lang),
        )
    prices = [c for c in view.pva.plan.columns if str(c).startswith("price.")]
    figures["prices"] = charts.lines_figure(
        view.pva,
        prices,
        title=translate("Marginal prices", lang),
        y_title="EUR/MWh",
        tz=tz,
        actual=False,
    )
    figures["onoff"] = charts.on_off_figure(view.pva, tz=tz, title=translate("Unit on/off", lang))
    figures["costs"] = charts.cost_figure(view.costs, title=translate("Cost breakdown", lang))
    why = None
    if interval:
        start = _local_time(interval, ctx, "interval")
        why = interval_why(ctx.db, start, view.pva)
    intervals = [
        ts.tz_convert(tz).strftime("%Y-%m-%dT%H:%M") for ts in pd.DatetimeIndex(view.pva.plan.index)
    ]
    return render(
        request,
        ctx,
        "day.html",
        lang=lang,
        principal=who,
        v=view,
        figures=figures,
        why=why,
        intervals=intervals,
        selected=interval,
    )


@router.get("/history")
def history_page(
    request: Request,
    ctx: Ctx,
    lang: Lang,
    who: Viewer,
    at: str | None = None,
) -> Response:
    """One past interval (read, planned, approved, written) and its day's audit trail."""
    tz = ctx.settings.timezone
    when = _local_time(at, ctx, "at") if at else ctx.now() - timedelta(minutes=15)
    record = interval_record(ctx.db, when, tz)
    start, end = local_day_bounds(local_date(record.start, tz), tz)
    trail = audit_trail(db=ctx.db, start=start, end=end)
    return render(
        request,
        ctx,
        "history.html",
        lang=lang,
        principal=who,
        r=record,
        trail=trail,
        at=record.start.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M"),
        day=local_date(record.start, tz),
    )


@router.get("/scenarios")
def scenarios_page(request: Request, ctx: Ctx, lang: Lang, who: Viewer) -> Response:
    """Recorded scenario runs and their KPIs (last year)."""
    now = ctx.now()
    runs = scenario_runs_between(db=ctx.db, start=now - timedelta(days=366), end=now)
    return render(
        request, ctx, "scenarios.html", lang=lang, principal=who, runs=list(reversed(runs))
    )


@router.get("/approvals")
def approvals_page(
    request: Request,
    ctx: Ctx,
    lang: Lang,
    who: Viewer,
    date: date | None = None,
) -> Response:
    """Plan versions covering a day (default: tomorrow) and their decisions (review mode)."""
    tz = ctx.settings.timezone
    day = check_day(date, "date") if date else local_date(ctx.now(), tz) + timedelta(days=1)
    versions, decided = approval_candidates(ctx.db, day, tz, ctx.now())
    return render(
        request,
        ctx,
        "approvals.html",
        lang=lang,
        principal=who,
        versions=versions,
        decided=decided,
        day=day,
    )


@router.get("/overrides")
def overrides_page(request: Request, ctx: Ctx, lang: Lang, who: Viewer) -> Response:
    """Overrides in force, and the form for a new one."""
    now = ctx.now()
    local_now = now.astimezone(ZoneInfo(ctx.settings.timezone))
    return render(
        request,
        ctx,
        "overrides.html",
        lang=lang,
        principal=who,
        overrides=overrides_in_force(db=ctx.db, at=now),
        trial_site=ctx.site is not None,
        default_from=local_now.strftime("%Y-%m-%dT%H:%M"),
        default_to=(local_now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
    )


@router.get("/alarms")
def alarms_page(request: Request, ctx: Ctx, lang: Lang, who: Viewer) -> Response:
    """Open alarms (warning or critical, unacknowledged, last day)."""
    return render(
        request,
        ctx,
        "alarms.html",
        lang=lang,
        principal=who,
        alarms=active_alarms(ctx.db, ctx.now()),
    )


@router.get("/users")
def users_page(request: Request, ctx: Ctx, lang: Lang, who: Viewer) -> Response:
    """Users and API tokens (admins; managed with ``energiemodell users``)."""
    if not who.may("admin"):
        raise ActionError(403, "admin rights needed")
    return render(
        request,
        ctx,
        "users.html",
        lang=lang,
        principal=who,
        users=list_users(db=ctx.db),
        tokens=api_tokens(db=ctx.db),
    )


# --- forms (operator; CSRF checked by the Operator dependency) ---------------------------------


Reason = Annotated[str, Form(max_length=2000)]
Confirm = Annotated[str, Form(description="checkbox: must be ticked")]


def _confirmed(confirm: str) -> None:
    if confirm not in ("on", "true", "1", "yes"):
        raise ActionError(422, "tick the confirmation box to do this")


@router.post("/actions/release")
def release_form(ctx: Ctx, who: Operator, reason: Reason, confirm: Confirm = "") -> Response:
    """Hand back to local control (confirmed, audited)."""
    _confirmed(confirm)
    actions.release_to_local(db=ctx.db, actor=who.name, reason=reason, now=ctx.now())
    return RedirectResponse("/today", status_code=303)


@router.post("/actions/resume")
def resume_form(ctx: Ctx, who: Operator, reason: Reason, confirm: Confirm = "") -> Response:
    """Resume optimised control after a release (confirmed, audited)."""
    _confirmed(confirm)
    actions.resume_optimised(db=ctx.db, actor=who.name, reason=reason, now=ctx.now())
    return RedirectResponse("/today", status_code=303)


@router.post("/actions/approvals/{schedule_id}")
def decide_form(
    ctx: Ctx,
    who: Operator,
    schedule_id: Annotated[int, Path(ge=1)],
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
    day: Annotated[date, Form()],
    reason: Reason,
) -> Response:
    """Approve or reject a plan version for a day."""
    actions.decide(
        db=ctx.db,
        site=ctx.site or site_for(ctx.db, newest_info(ctx.db, ctx.now(), ctx.settings.timezone)),
        actor=who.name,
        schedule_id=schedule_id,
        day=day,
        approve=decision == "approve",
        reason=reason,
        now=ctx.now(),
    )
    return RedirectResponse(f"/approvals?date={day.isoformat()}", status_code=303)


@router.post("/actions/overrides")
def override_form(
    ctx: Ctx,
    who: Operator,
    kind: Annotated[str, Form(max_length=32)],
    valid_from: Annotated[str, Form(max_length=40)],
    valid_to: Annotated[str, Form(max_length=40)],
    reason: Reason,
    subject: Annotated[str, Form(max_length=96)] = "site",
    value: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Add an override for a window (after its trial plan)."""
    try:
        number = float(value) if value.strip() else None
    except ValueError:
        raise ActionError(422, f"value: {value!r} is not a number") from None
    actions.create_override(
        db=ctx.db,
        site=ctx.site,
        actor=who.name,
        kind=kind,
        subject=subject.strip() or "site",
        value=number,
        valid_from=_local_time(valid_from, ctx, "valid_from"),
        valid_to=_local_time(valid_to, ctx, "valid_to"),
        reason=reason,
        now=ctx.now(),
    )
    return RedirectResponse("/overrides", status_code=303)


@router.post("/actions/overrides/{override_id}/end")
def end_override_form(
    ctx: Ctx, who: Operator, override_id: Annotated[int, Path(ge=1)], reason: Reason
) -> Response:
    """End an override in force."""
    actions.end_override(
        db=ctx.db, actor=who.name, override_id=override_id, reason=reason, now=ctx.now()
    )
    return RedirectResponse("/overrides", status_code=303)


@router.post("/actions/alarms/{alarm_id}/acknowledge")
def ack_form(
    ctx: Ctx,
    who: Operator,
    alarm_id: Annotated[int, Path(ge=1)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Acknowledge an alarm."""
    actions.acknowledge(db=ctx.db, actor=who.name, alarm_id=alarm_id, note=note, now=ctx.now())
    return RedirectResponse("/alarms", status_code=303)


# --- CSV --------------------------------------------------------------------------------------


def _csv(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/export/day.csv")
def export_day(ctx: Ctx, who: Viewer, date: date) -> Response:
    """A day's plan and actual values per interval."""
    from energiemodell.store import plan_vs_actual

    tz = ctx.settings.timezone
    check_day(date, "date")
    return _csv(day_csv(plan_vs_actual(db=ctx.db, day=date, tz=tz), tz), f"day-{date}.csv")


@router.get("/export/history.csv")
def export_history(ctx: Ctx, who: Viewer, date: date) -> Response:
    """A day's audit trail."""
    tz = ctx.settings.timezone
    start, end = local_day_bounds(check_day(date, "date"), tz)
    events = audit_trail(db=ctx.db, start=start, end=end)
    return _csv(audit_csv(events, tz), f"history-{date}.csv")
