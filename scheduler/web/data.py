"""What the pages and the API show, composed from the store's functions (no SQL here).

Everything is computed from the store on request: the plan in force per interval, the
measured aggregates, alarms, operator actions and the audit trail. The site a plan was made
for comes from the store as well (its content is kept with every schedule version), so the
dashboard needs no site file.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import yaml

from energiemodell.errors import SiteError
from energiemodell.site import Site, site_from_dict
from energiemodell.store import (
    AlarmInfo,
    AuditEvent,
    Database,
    PlanVsActual,
    ScheduleInfo,
    active_overrides,
    aggregates_between,
    alarms_between,
    audit_trail,
    latest_schedule_info,
    local_day_bounds,
    operator_actions_between,
    peak_import_so_far,
    plan_vs_actual,
    schedule_content,
    schedule_frame,
    schedule_versions,
    site_content,
    writes_between,
)
from energiemodell.store.tables import OperatorActionRecord, SetpointWriteRecord

logger = logging.getLogger(__name__)

STEP = timedelta(minutes=15)
WRITE_OK = ("confirmed", "unchanged", "ok")
CARRIERS = ("electricity", "heat", "cooling")
LADDER = (
    ("release.", "release"),
    ("fallback.heat_led", "heat_led"),
    ("fallback.last_valid", "last_valid"),
    ("fallback.time_limited", "time_limited"),
)
"""Alarm codes of the fallback ladder, worst first (see ``scheduler.policy``)."""


def floor_interval(ts: datetime) -> datetime:
    """Start of the 15-minute interval holding ``ts`` (UTC)."""
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % 900, UTC)


def local_date(ts: datetime, tz: str) -> date:
    """The local calendar date of ``ts``."""
    return ts.astimezone(ZoneInfo(tz)).date()


@lru_cache(maxsize=16)
def _parse_site(site_hash: str, text: str) -> Site | None:
    try:
        return site_from_dict(yaml.safe_load(text), source=f"store:{site_hash[:12]}")
    except (SiteError, yaml.YAMLError) as exc:
        logger.warning("stored site %s no longer validates: %s", site_hash[:12], exc)
        return None


def site_for(db: Database, info: ScheduleInfo | None) -> Site | None:
    """The site a schedule version was planned for (``None``: unknown or no longer valid)."""
    if info is None:
        return None
    try:
        text = site_content(db=db, site_hash=info.site_hash)
    except KeyError:
        return None
    return _parse_site(info.site_hash, text)


def newest_info(db: Database, at: datetime, tz: str) -> ScheduleInfo | None:
    """The version in force at ``at``, else the newest made in the week before."""
    info = latest_schedule_info(db=db, at=at)
    if info is not None:
        return info
    day = local_date(at, tz)
    for back in range(8):
        made = [
            v
            for v in schedule_versions(db=db, day=day - timedelta(days=back), tz=tz)
            if v.created_at <= at
        ]
        if made:
            return made[-1]
    return None


def carrier_columns(site: Site | None) -> dict[str, list[tuple[str, float]]]:
    """Carrier -> the schedule columns that feed it and their sign (+ supply, - use)."""
    out: dict[str, list[tuple[str, float]]] = {c: [] for c in CARRIERS}
    for asset in site.asset_objects if site is not None else []:
        for carrier, cols in asset.balance_columns().items():
            out[str(carrier)] += [(f"{asset.name}.{q}", float(k)) for q, k in cols.items()]
    return {c: cols for c, cols in out.items() if cols}


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


@dataclass(frozen=True)
class VersionChange:
    """What changed from one plan version to the next, over the intervals both cover."""

    version: int
    previous: int
    cost_change_eur: float
    changes: list[tuple[str, float]]  # column, mean absolute change (kW or kWh)


_FRAMES: OrderedDict[tuple[str, int], tuple[np.ndarray, dict[str, int], np.ndarray]] = OrderedDict()
_FRAME_CACHE_SIZE = 256


def _frame_arrays(db: Database, schedule_id: int) -> tuple[np.ndarray, dict[str, int], np.ndarray]:
    """A version's frame as (int64 ns index, column -> position, values), cached.

    Versions are never edited, so a decoded frame stays right for the life of the process.
    """
    key = (db.url, schedule_id)
    hit = _FRAMES.get(key)
    if hit is not None:
        _FRAMES.move_to_end(key)
        return hit
    frame = schedule_frame(db=db, schedule_id=schedule_id)
    ticks = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
    arrays = (ticks, {str(c): k for k, c in enumerate(frame.columns)}, frame.to_numpy(float))
    _FRAMES[key] = arrays
    if len(_FRAMES) > _FRAME_CACHE_SIZE:
        _FRAMES.popitem(last=False)
    return arrays


def version_changes(
    db: Database, versions: list[ScheduleInfo], columns: list[str], *, top: int = 5
) -> list[VersionChange]:
    """For each version after the first: the columns that moved most from the one before.

    The change of a column is the mean absolute difference over the intervals both versions
    cover; changes under 0.5 (kW or kWh) are left out.
    """
    out: list[VersionChange] = []
    previous = None
    for k, v in enumerate(versions):
        current = _frame_arrays(db, v.id)
        if previous is not None:
            _, p_at, c_at = np.intersect1d(previous[0], current[0], return_indices=True)
            cols = [c for c in columns if c in current[1] and c in previous[1]]
            moved: list[tuple[str, float]] = []
            if len(p_at) and cols:
                p_cols = np.array([previous[1][c] for c in cols], dtype=np.int64)
                c_cols = np.array([current[1][c] for c in cols], dtype=np.int64)
                old = previous[2][np.ix_(p_at, p_cols)]
                new = current[2][np.ix_(c_at, c_cols)]
                change = np.abs(new - old)
                seen = np.maximum((~np.isnan(change)).sum(axis=0), 1)
                diff = np.nansum(change, axis=0) / seen  # all-NaN columns: 0, no warning
                moved = sorted(
                    ((c, float(x)) for c, x in zip(cols, diff, strict=True) if x > 0.5),
                    key=lambda cx: -cx[1],
                )
            out.append(
                VersionChange(
                    v.id,
                    versions[k - 1].id,
                    v.total_cost_eur - versions[k - 1].total_cost_eur,
                    moved[:top],
                )
            )
        previous = current
    return out


@dataclass(frozen=True)
class IntervalWhy:
    """Why units run or not in one interval: binding limits and marginal prices."""

    start: datetime
    schedule_id: int | None
    reasons: list[str]
    prices: dict[str, float]
    values: dict[str, float]


def interval_why(db: Database, start: datetime, pva: PlanVsActual) -> IntervalWhy:
    """The explanation the plan in force at ``start`` recorded for that interval."""
    stamp = pd.Timestamp(start)
    sid = pva.schedule_id.get(stamp) if stamp in pva.schedule_id.index else None
    if sid is None or pd.isna(sid):
        return IntervalWhy(start, None, [], {}, {})
    content = schedule_content(db=db, schedule_id=int(sid))
    reasons = list(content.get("explanations", {}).get(stamp.isoformat(), []))
    row = dict(zip(pva.plan.columns, pva.plan.loc[stamp].to_numpy(dtype=float), strict=True))
    prices = {
        str(c): float(v) for c, v in row.items() if str(c).startswith("price.") and not np.isnan(v)
    }
    values = {
        str(c): float(v)
        for c, v in row.items()
        if not str(c).startswith("price.") and not np.isnan(v)
    }
    return IntervalWhy(start, int(sid), reasons, prices, values)


@dataclass(frozen=True)
class DayView:
    """The Day plan page's content."""

    day: date
    pva: PlanVsActual
    site: Site | None
    versions: list[ScheduleInfo]
    changes: list[VersionChange]
    costs: dict[str, float]
    cost_version: int | None


def day_plan(db: Database, day: date, tz: str) -> DayView:
    """The plan in force through a local day, its versions and their differences."""
    pva = plan_vs_actual(db=db, day=day, tz=tz)
    versions = schedule_versions(db=db, day=day, tz=tz)
    ids = pva.schedule_id.dropna()
    in_force = [int(x) for x in ids.unique()]
    start, end = local_day_bounds(day, tz)
    info = versions[-1] if versions else latest_schedule_info(db=db, at=start)
    site = site_for(db, info)
    columns = [c for cols in carrier_columns(site).values() for c, _ in cols]
    columns += [c for c in pva.plan.columns if str(c).endswith(".level_kwh")]
    changes = version_changes(db, versions, columns) if len(versions) > 1 else []
    costs: dict[str, float] = {}
    cost_version = None
    by_id = {v.id: v for v in versions}
    if in_force:
        cost_version = in_force[-1]
        chosen = by_id.get(cost_version) or latest_schedule_info(db=db, at=end - STEP)
        costs = dict(chosen.costs_eur) if chosen is not None else {}
    return DayView(day, pva, site, versions, changes, costs, cost_version)


@dataclass(frozen=True)
class IntervalRecord:
    """One past interval: what was read, planned, approved and written, by whom and why."""

    start: datetime
    end: datetime
    read: pd.DataFrame
    plan: ScheduleInfo | None
    planned: dict[str, float]
    decisions: list[OperatorActionRecord]
    overrides: list[OperatorActionRecord]
    writes: list[SetpointWriteRecord]
    audit: list[AuditEvent]


def interval_record(db: Database, start: datetime, tz: str) -> IntervalRecord:
    """Everything the store holds about the interval starting at ``start``.

    Approved: the review decisions for the interval's day (:mod:`scheduler.review`) and the
    operators' releases and resumes since the plan in force was made.
    """
    from scheduler.review import decisions_for

    start = floor_interval(start)
    end = start + STEP
    read = aggregates_between(db=db, start=start, end=end)
    plan = latest_schedule_info(db=db, at=start)
    planned: dict[str, float] = {}
    decisions: list[OperatorActionRecord] = []
    if plan is not None:
        frame = schedule_frame(db=db, schedule_id=plan.id)
        if pd.Timestamp(start) in frame.index:
            row = frame.loc[pd.Timestamp(start)].to_numpy(dtype=float)
            planned = {
                str(k): float(v) for k, v in zip(frame.columns, row, strict=True) if not np.isnan(v)
            }
        decisions = [
            a
            for a in operator_actions_between(db=db, start=plan.created_at, end=end)
            if a.action in ("release", "approve") and a.target is None and a.schedule_id is None
        ]
    decisions += decisions_for(db=db, day=local_date(start, tz), now=end)
    decisions.sort(key=lambda a: (a.ts, a.id or 0))
    writes = writes_between(db=db, start=start - timedelta(minutes=5), end=end)
    audit = audit_trail(db=db, start=start - timedelta(minutes=5), end=end)
    return IntervalRecord(
        start,
        end,
        read,
        plan,
        planned,
        decisions,
        active_overrides(db=db, at=start),
        writes,
        audit,
    )


def day_csv(pva: PlanVsActual, tz: str) -> str:
    """A day's plan and actual values as CSV, one row per interval, local and UTC time."""
    plan = pva.plan.add_prefix("plan:")
    actual = pva.actual.dropna(axis=1, how="all").add_prefix("actual:")
    frame = pd.concat([plan, actual], axis=1)
    frame.insert(0, "schedule_id", pva.schedule_id)
    local = pd.DatetimeIndex(frame.index).tz_convert(tz)
    frame.insert(0, "local_time", [ts.isoformat() for ts in local])
    frame.index = pd.Index(
        [ts.strftime("%Y-%m-%dT%H:%M:%SZ") for ts in frame.index], name="timestamp"
    )
    return str(frame.to_csv(float_format="%.6g"))


def audit_csv(events: list[AuditEvent], tz: str) -> str:
    """Audit events as CSV: time (UTC and local), kind, id, summary."""
    zone = ZoneInfo(tz)
    frame = pd.DataFrame(
        {
            "timestamp": [e.ts.strftime("%Y-%m-%dT%H:%M:%SZ") for e in events],
            "local_time": [e.ts.astimezone(zone).isoformat() for e in events],
            "kind": [e.kind for e in events],
            "ref_id": [e.ref_id for e in events],
            "summary": [e.summary for e in events],
        }
    )
    return str(frame.to_csv(index=False))


def approval_candidates(
    db: Database, day: date, tz: str, now: datetime
) -> tuple[list[ScheduleInfo], dict[int, OperatorActionRecord]]:
    """Plan versions made until ``now`` covering the local ``day``, with their newest decision.

    Review mode approves a day's plan (:mod:`scheduler.review`).
    """
    from scheduler.review import decisions_for

    start, end = local_day_bounds(day, tz)
    versions = [
        v
        for d in (day - timedelta(days=2), day - timedelta(days=1), day)
        for v in schedule_versions(db=db, day=d, tz=tz)
        if v.valid_from <= start and v.valid_to >= end and v.created_at <= now
    ]
    decided = {
        a.schedule_id: a
        for a in decisions_for(db=db, day=day, now=now)
        if a.schedule_id is not None
    }
    return versions, decided
