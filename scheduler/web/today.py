"""The Today page: the current interval, the fallback-ladder rung, setpoints, open alarms.

Everything is derived from the store on request. Re-exported by :mod:`scheduler.web.data`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from energiemodell.site import Site
from energiemodell.store import (
    AlarmInfo,
    Database,
    PlanVsActual,
    ScheduleInfo,
    alarms_between,
    operator_actions_between,
    peak_import_so_far,
    plan_vs_actual,
    writes_between,
)
from energiemodell.store.tables import OperatorActionRecord, SetpointWriteRecord
from scheduler.web.plans import STEP, floor_interval, local_date, newest_info, site_for

logger = logging.getLogger(__name__)

LADDER = (
    ("release.", "release"),
    ("fallback.heat_led", "heat_led"),
    ("fallback.last_valid", "last_valid"),
    ("fallback.time_limited", "time_limited"),
)
"""Alarm codes of the fallback ladder, worst first (see ``scheduler.policy``)."""


def ladder_rung(db: Database, now: datetime, newest: ScheduleInfo | None) -> tuple[str, str]:
    """The fallback-ladder rung of the newest control cycle, derived from the store.

    A cycle stores its ladder alarms at its start and its plan just after; a rung below
    ``fresh`` always has an alarm (``scheduler.policy``).
    """
    alarms = alarms_between(db=db, start=now - 2 * STEP, end=now + timedelta(seconds=1))
    ladder = [a for a in alarms if any(a.code.startswith(code) for code, _ in LADDER)]
    made = newest.created_at if newest is not None and newest.created_at > now - 2 * STEP else None
    if ladder and (made is None or made < ladder[-1].ts + STEP / 2):
        last = ladder[-1].ts
        codes = {a.code for a in ladder if a.ts == last}
        for code, rung in LADDER:
            if any(c.startswith(code) for c in codes):
                message = next(
                    a.message for a in ladder if a.ts == last and a.code.startswith(code)
                )
                return rung, message
    if made is not None and newest is not None:
        rung = {"optimal": "fresh", "time_limited": "time_limited"}.get(
            newest.origin, newest.origin
        )
        return rung, f"schedule version {newest.id} ({newest.status}, origin {newest.origin})"
    return "unknown", "no control cycle recorded in the last 30 minutes"


def active_alarms(db: Database, now: datetime) -> list[AlarmInfo]:
    """Open alarms, newest first.

    As :func:`scheduler.alarms.open_alarms`: warning or critical, not yet acknowledged, raised
    in the last day.
    """
    from scheduler.alarms import open_alarms

    return list(reversed(open_alarms(db=db, now=now)))


def pending_release(db: Database, now: datetime) -> OperatorActionRecord | None:
    """The operator's release in force (not yet followed by a resume), as the loop reads it."""
    last = None
    actions = operator_actions_between(
        db=db, start=now - timedelta(days=2), end=now + timedelta(seconds=1)
    )
    for a in actions:
        if a.action == "release" and a.target is None:
            last = a
        elif a.action == "approve" and a.schedule_id is None:
            last = None
    return last


def latest_writes(db: Database, now: datetime) -> dict[str, SetpointWriteRecord]:
    """``device.point`` -> the newest write of the last two hours."""
    out: dict[str, SetpointWriteRecord] = {}
    for w in writes_between(db=db, start=now - timedelta(hours=2), end=now + timedelta(seconds=1)):
        out[f"{w.device}.{w.point}"] = w
    return out


@dataclass(frozen=True)
class TodayView:
    """The Today page's content."""

    now: datetime
    interval_start: datetime
    day: date
    info: ScheduleInfo | None
    site: Site | None
    mode: str | None
    rung: str
    rung_note: str
    setpoints: list[dict[str, Any]]
    storage: list[dict[str, Any]]
    peak_kw: float
    import_plan_kw: float | None
    import_actual_kw: float | None
    alarms: list[AlarmInfo]
    release: OperatorActionRecord | None
    pva: PlanVsActual


def _value(frame: pd.DataFrame, ts: datetime, column: str) -> float | None:
    if column not in frame.columns or pd.Timestamp(ts) not in frame.index:
        return None
    v = float(frame[column].to_numpy()[frame.index.get_loc(pd.Timestamp(ts))])
    return None if np.isnan(v) else v


def today(db: Database, now: datetime, tz: str) -> TodayView:
    """Plan and actual of the local day, the current interval, setpoints, alarms, ladder."""
    day = local_date(now, tz)
    at = floor_interval(now)
    info = newest_info(db, now, tz)
    site = site_for(db, info)
    pva = plan_vs_actual(db=db, day=day, tz=tz)
    writes = latest_writes(db, now)
    setpoints = []
    for binding in site.devices if site is not None else []:
        for column, point in binding.setpoints.items():
            w = writes.get(f"{binding.name}.{point}")
            setpoints.append(
                {
                    "column": column,
                    "device": binding.name,
                    "point": point,
                    "planned": _value(pva.plan, at, column),
                    "written": None if w is None else w.value,
                    "result": None if w is None else w.result,
                    "read_back": None if w is None else w.read_back,
                    "ts": None if w is None else w.ts,
                    "reason": None if w is None else w.reason,
                }
            )
    storage = [
        {
            "column": c,
            "plan": _value(pva.plan, at, c),
            "actual": _value(pva.actual, at, c),
        }
        for c in pva.plan.columns
        if c.endswith(".level_kwh")
    ]
    rung, note = ladder_rung(db, now, info)
    return TodayView(
        now=now,
        interval_start=at,
        day=day,
        info=info,
        site=site,
        mode=site.control.mode if site is not None else None,
        rung=rung,
        rung_note=note,
        setpoints=setpoints,
        storage=storage,
        peak_kw=peak_import_so_far(db=db, at=now, tz=tz),
        import_plan_kw=_value(pva.plan, at, "grid.import_kw"),
        import_actual_kw=_value(pva.actual, at, "grid.import_kw"),
        alarms=active_alarms(db, now),
        release=pending_release(db, now),
        pva=pva,
    )
