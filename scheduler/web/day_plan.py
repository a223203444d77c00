"""The Day plan page: a local day's plan versions, what changed between them, why units run.

Also the day's plan and actual as CSV and the versions a reviewer may approve. Decoded plan
versions are cached (versions are never edited). Re-exported by :mod:`scheduler.web.data`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from energiemodell.site import Site
from energiemodell.store import (
    Database,
    PlanVsActual,
    ScheduleInfo,
    latest_schedule_info,
    local_day_bounds,
    plan_vs_actual,
    schedule_content,
    schedule_frame,
    schedule_versions,
)
from energiemodell.store.tables import OperatorActionRecord
from scheduler.web.plans import STEP, carrier_columns, site_for

logger = logging.getLogger(__name__)


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
