"""The JSON API under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``, docs at ``/api/docs``).

Reads need viewer rights (an API token, a session or a read-only network); every write needs
operator rights and, from a browser session, the CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from energiemodell.store import (
    aggregates_between,
    alarms_between,
    audit_trail,
    forecast_vs_actual,
    local_day_bounds,
    peak_import_so_far,
    plan_vs_actual,
    scenario_runs_between,
    schedule_content,
)
from scheduler.overrides import overrides_in_force
from scheduler.web import actions
from scheduler.web.actions import ActionError, check_day, check_time
from scheduler.web.context import Ctx, Operator, Viewer
from scheduler.web.data import (
    active_alarms,
    approval_candidates,
    local_date,
    newest_info,
    site_for,
    today,
)

router = APIRouter(prefix="/api/v1", tags=["api"])

MAX_PLAN_SPAN = timedelta(days=7)
MAX_READ_SPAN = timedelta(days=31)
MAX_LOG_SPAN = timedelta(days=92)


class Body(BaseModel):
    """Request bodies refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


class Reason(Body):
    """Why (every operator action is audited with its reason)."""

    reason: str = Field(min_length=1, max_length=2000)


class Confirmed(Reason):
    """An action that needs an explicit confirmation."""

    confirm: Literal[True] = Field(description="Must be true: the action is confirmed")


class Decision(Reason):
    """Approve or reject a plan version for a local day (review mode)."""

    decision: Literal["approve", "reject"]
    day: date = Field(description="The local day the plan is approved for")


class OverrideIn(Reason):
    """An override for a window of at most 24 h, accepted after its trial plan."""

    kind: Literal["pin", "out_of_service", "storage_target", "heat_led"]
    subject: str = Field(
        default="site",
        max_length=96,
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)?$",
        description="Column (pin, e.g. chp1.p_el_kw) or asset (out_of_service, storage_target)",
    )
    value: float | None = Field(default=None, allow_inf_nan=False)
    valid_from: AwareDatetime
    valid_to: AwareDatetime


class Ack(Body):
    """An alarm acknowledgement."""

    note: str = Field(default="", max_length=2000)


class Created(BaseModel):
    """The id of the row the action appended."""

    id: int
    action: str


def _span(start: datetime, end: datetime, limit: timedelta) -> None:
    check_time(start, "start")
    check_time(end, "end")
    if end <= start:
        raise ActionError(422, "end must be after start")
    if end - start > limit:
        raise ActionError(422, f"the period may span at most {limit.days} days")


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


Start = Annotated[AwareDatetime, Query(description="ISO time with offset, e.g. 2024-03-12T00:00Z")]
End = Annotated[AwareDatetime, Query(description="Exclusive end, ISO time with offset")]


@router.get("/status")
def status(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    """Mode, fallback-ladder rung, pending release, the plan in force and the year's peak."""
    view = today(ctx.db, ctx.now(), ctx.settings.timezone)
    return {
        "time": view.now,
        "interval_start": view.interval_start,
        "mode": view.mode,
        "rung": view.rung,
        "rung_note": view.rung_note,
        "schedule_id": None if view.info is None else view.info.id,
        "release_requested": None
        if view.release is None
        else {"id": view.release.id, "by": view.release.actor, "at": view.release.ts},
        "peak_import_so_far_kw": view.peak_kw,
        "active_alarms": len(view.alarms),
    }


@router.get("/setpoints/current")
def current_setpoints(ctx: Ctx, _: Viewer) -> dict[str, Any]:
    """The current interval's planned setpoints and the last write of each point."""
    view = today(ctx.db, ctx.now(), ctx.settings.timezone)
    return {
        "interval_start": view.interval_start,
        "schedule_id": None if view.info is None else view.info.id,
        "setpoints": [{**s, "planned": _num(s["planned"])} for s in view.setpoints],
    }


@router.get("/plan")
def plan(ctx: Ctx, _: Viewer, start: Start, end: End) -> dict[str, Any]:
    """The plan in force per interval over a period of at most 7 days (UTC index)."""
    _span(start, end, MAX_PLAN_SPAN)
    tz = ctx.settings.timezone
    frames, ids = [], []
    day = local_date(start, tz)
    while local_day_bounds(day, tz)[0] < end:
        pva = plan_vs_actual(db=ctx.db, day=day, tz=tz)
        frames.append(pva.plan)
        ids.append(pva.schedule_id)
        day += timedelta(days=1)
    frame = pd.concat(frames).sort_index()
    sid = pd.concat(ids).sort_index()
    keep = (frame.index >= pd.Timestamp(start)) & (frame.index < pd.Timestamp(end))
    frame, sid = frame[keep], sid[keep]
    return {
        "index": [ts.isoformat() for ts in frame.index],
        "schedule_id": [None if pd.isna(v) else int(v) for v in sid],
        "columns": list(frame.columns),
        "data": [[_num(v) for v in row] for row in frame.itertuples(index=False)],
    }


@router.get("/readings")
def readings(
    ctx: Ctx,
    _: Viewer,
    start: Start,
    end: End,
    quantity: Annotated[list[str] | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """15-minute aggregates (newest revision) of measured quantities, at most 31 days."""
    _span(start, end, MAX_READ_SPAN)
    frame = aggregates_between(db=ctx.db, start=start, end=end, quantities=quantity)
    return [
        {
            "bucket_start": pd.Timestamp(r["bucket_start"]).isoformat(),
            "quantity": str(r["quantity"]),
            "mean": _num(r["value_mean"]),
            "min": _num(r["value_min"]),
            "max": _num(r["value_max"]),
            "n_good": int(r["n_good"]),
            "n_total": int(r["n_total"]),
        }
        for r in frame.to_dict("records")
    ]


@router.get("/forecast-error")
def forecast_error(
    ctx: Ctx,
    _: Viewer,
    start: Annotated[AwareDatetime, Query(alias="from", description="ISO time with offset")],
    end: Annotated[AwareDatetime, Query(alias="to", description="Exclusive end, with offset")],
) -> dict[str, Any]:
    """Forecast as issued against measurement per quantity, at most 31 days.

    Per quantity both forecast and measured: the mean absolute error and the bias (mean of
    forecast minus actual) over the intervals with both values, and the two series.
    """
    _span(start, end, MAX_READ_SPAN)
    pairs = forecast_vs_actual(db=ctx.db, start=start, end=end)
    quantities: dict[str, Any] = {}
    for quantity, both in pairs.items():
        error = both["forecast"] - both["actual"]
        quantities[quantity] = {
            "mae": float(error.abs().mean()),
            "bias": float(error.mean()),
            "n": len(both),
            "index": [ts.isoformat() for ts in both.index],
            "forecast": [float(v) for v in both["forecast"]],
            "actual": [float(v) for v in both["actual"]],
        }
    return {"from": start, "to": end, "quantities": quantities}


@router.get("/kpis")
def kpis(ctx: Ctx, _: Viewer, day: date | None = None) -> dict[str, Any]:
    """KPIs and costs of the newest plan version in force on a local day (default: today)."""
    tz = ctx.settings.timezone
    now = ctx.now()
    wanted = check_day(day, "day") if day else local_date(now, tz)
    pva = plan_vs_actual(db=ctx.db, day=wanted, tz=tz)
    ids = pva.schedule_id.dropna()
    if ids.empty:
        raise ActionError(404, f"no plan in force on {wanted.isoformat()}")
    sid = int(ids.iloc[-1])
    content = schedule_content(db=ctx.db, schedule_id=sid)
    end = min(now, local_day_bounds(wanted, tz)[1])
    return {
        "day": wanted.isoformat(),
        "schedule_id": sid,
        "status": content.get("status"),
        "origin": content.get("origin"),
        "mip_gap": content.get("mip_gap"),
        "costs_eur": content.get("costs", {}),
        "total_cost_eur": sum(content.get("costs", {}).values()),
        "kpis": content.get("kpis", {}),
        "peak_import_so_far_kw": peak_import_so_far(db=ctx.db, at=end, tz=tz),
    }


@router.get("/alarms")
def alarms(
    ctx: Ctx,
    _: Viewer,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
    active: bool = False,
) -> list[dict[str, Any]]:
    """Alarms (``active=true``: open ones, see ``scheduler.alarms``), newest first."""
    now = ctx.now()
    if active:
        found = active_alarms(ctx.db, now)
    else:
        s, e = start or now - timedelta(days=1), end or now + timedelta(seconds=1)
        _span(s, e, MAX_LOG_SPAN)
        found = list(reversed(alarms_between(db=ctx.db, start=s, end=e)))
    return [a.__dict__ for a in found]


@router.post("/alarms/{alarm_id}/acknowledge", status_code=201)
def acknowledge(
    ctx: Ctx, who: Operator, alarm_id: Annotated[int, Path(ge=1)], body: Ack
) -> Created:
    """Acknowledge an alarm (operator)."""
    new = actions.acknowledge(
        db=ctx.db, actor=who.name, alarm_id=alarm_id, note=body.note, now=ctx.now()
    )
    return Created(id=new, action="acknowledge")


@router.get("/overrides")
def overrides(ctx: Ctx, _: Viewer) -> list[dict[str, Any]]:
    """Overrides in force now."""
    return [o.__dict__ for o in overrides_in_force(db=ctx.db, at=ctx.now())]


@router.post("/overrides", status_code=201)
def create_override(ctx: Ctx, who: Operator, body: OverrideIn) -> Created:
    """Override one setpoint for a window (operator)."""
    new = actions.create_override(
        db=ctx.db,
        site=ctx.site,
        actor=who.name,
        kind=body.kind,
        subject=body.subject,
        value=body.value,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        reason=body.reason,
        now=ctx.now(),
    )
    return Created(id=new, action="override")


@router.post("/overrides/{override_id}/end", status_code=201)
def end_override(
    ctx: Ctx, who: Operator, override_id: Annotated[int, Path(ge=1)], body: Reason
) -> Created:
    """End an override in force (operator)."""
    new = actions.end_override(
        db=ctx.db, actor=who.name, override_id=override_id, reason=body.reason, now=ctx.now()
    )
    return Created(id=new, action="release")


@router.get("/approvals")
def approvals(ctx: Ctx, _: Viewer, day: date | None = None) -> list[dict[str, Any]]:
    """Plan versions covering a local day (default: tomorrow) with their newest decision."""
    tz = ctx.settings.timezone
    wanted = check_day(day, "day") if day else local_date(ctx.now(), tz) + timedelta(days=1)
    versions, decided = approval_candidates(ctx.db, wanted, tz, ctx.now())
    return [
        {
            "schedule_id": v.id,
            "day": wanted,
            "created_at": v.created_at,
            "valid_from": v.valid_from,
            "valid_to": v.valid_to,
            "status": v.status,
            "origin": v.origin,
            "total_cost_eur": v.total_cost_eur,
            "decision": decided[v.id].action if v.id in decided else None,
            "decided_by": decided[v.id].actor if v.id in decided else None,
            "decided_at": decided[v.id].ts if v.id in decided else None,
        }
        for v in versions
    ]


@router.post("/approvals/{schedule_id}", status_code=201)
def decide(
    ctx: Ctx, who: Operator, schedule_id: Annotated[int, Path(ge=1)], body: Decision
) -> Created:
    """Approve or reject a plan version (operator)."""
    new = actions.decide(
        db=ctx.db,
        site=ctx.site or site_for(ctx.db, newest_info(ctx.db, ctx.now(), ctx.settings.timezone)),
        actor=who.name,
        schedule_id=schedule_id,
        day=body.day,
        approve=body.decision == "approve",
        reason=body.reason,
        now=ctx.now(),
    )
    return Created(id=new, action=body.decision)


@router.post("/release", status_code=201)
def release(ctx: Ctx, who: Operator, body: Confirmed) -> Created:
    """Hand every device back to local control: the running loop acts at its next cycle."""
    new = actions.release_to_local(db=ctx.db, actor=who.name, reason=body.reason, now=ctx.now())
    return Created(id=new, action="release")


@router.post("/resume", status_code=201)
def resume(ctx: Ctx, who: Operator, body: Confirmed) -> Created:
    """Clear an operator's release: the loop dispatches plans again from its next cycle."""
    new = actions.resume_optimised(db=ctx.db, actor=who.name, reason=body.reason, now=ctx.now())
    return Created(id=new, action="approve")


@router.get("/scenario-runs")
def scenario_runs(
    ctx: Ctx, _: Viewer, start: AwareDatetime | None = None, end: AwareDatetime | None = None
) -> list[dict[str, Any]]:
    """Recorded scenario runs (default: the last year), newest first."""
    now = ctx.now()
    s, e = start or now - timedelta(days=366), end or now + timedelta(seconds=1)
    _span(s, e, timedelta(days=3660))
    runs = scenario_runs_between(db=ctx.db, start=s, end=e)
    return [r.model_dump() for r in reversed(runs)]


@router.get("/audit")
def audit(ctx: Ctx, _: Viewer, start: Start, end: End) -> list[dict[str, Any]]:
    """Everything decided or done in a period of at most 92 days, oldest first."""
    _span(start, end, MAX_LOG_SPAN)
    return [e.__dict__ for e in audit_trail(db=ctx.db, start=start, end=end)]


@router.get("/plan-versions/{schedule_id}")
def plan_version(ctx: Ctx, _: Viewer, schedule_id: Annotated[int, Path(ge=1)]) -> dict[str, Any]:
    """One plan version exactly as saved (``Schedule.to_dict()``)."""
    try:
        return schedule_content(db=ctx.db, schedule_id=schedule_id)
    except KeyError:
        raise ActionError(404, f"no schedule version {schedule_id}") from None
