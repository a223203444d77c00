"""Schedule versions, forecasts as issued, and the plan-versus-actual view.

Every schedule is saved as a new version with the site content it was planned for (stored
once per site hash), a summary of its inputs, solver status, gap, cost breakdown and origin.
The full ``Schedule.to_dict()`` is kept (compressed JSON) so an auditor gets back exactly what
was planned; the frame is also kept in binary (see ``codec``) for fast plan-versus-actual.

The store depends only on the attributes of :class:`ScheduleLike`; the real ``Schedule`` class
(``energiemodell.model.schedule``) is imported lazily, where a schedule is rebuilt.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar, cast, overload
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Row, Select, Table, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from energiemodell.store import codec
from energiemodell.store.db import Database
from energiemodell.store.readings import aggregates_wide
from energiemodell.store.tables import (
    ScheduleRecord,
    SiteVersionRecord,
    table_of,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
TimeUnit = Literal["s", "ms", "us", "ns"]
DEFAULT_TZ = "Europe/Berlin"
#: How far back plan-versus-actual looks for the version in force at the start of a day.
MAX_PLAN_AGE = timedelta(days=7)
BUCKET_15 = timedelta(minutes=15)

schedules_t: Table = table_of(ScheduleRecord)
sites_t: Table = table_of(SiteVersionRecord)

_INFO_COLUMNS = (
    "id",
    "created_at",
    "saved_at",
    "site_hash",
    "valid_from",
    "valid_to",
    "status",
    "origin",
    "mip_gap",
    "total_cost_eur",
    "costs_eur",
    "inputs_summary",
    "alarms",
)


class ScheduleLike(Protocol):
    """What the store needs of a schedule (``energiemodell.model.schedule.Schedule``)."""

    @property
    def frame(self) -> pd.DataFrame: ...  # noqa: D102
    @property
    def costs(self) -> Mapping[str, float]: ...  # noqa: D102
    @property
    def status(self) -> str: ...  # noqa: D102
    @property
    def mip_gap(self) -> float | None: ...  # noqa: D102
    @property
    def origin(self) -> str: ...  # noqa: D102
    @property
    def site_hash(self) -> str: ...  # noqa: D102
    @property
    def created_at(self) -> datetime: ...  # noqa: D102
    @property
    def alarms(self) -> Sequence[str]: ...  # noqa: D102
    def to_dict(self) -> dict[str, Any]: ...  # noqa: D102


@dataclass(frozen=True)
class ScheduleInfo:
    """A stored schedule version without its content."""

    id: int
    created_at: datetime
    saved_at: datetime
    site_hash: str
    valid_from: datetime
    valid_to: datetime
    status: str
    origin: str
    mip_gap: float | None
    total_cost_eur: float
    costs_eur: dict[str, float]
    inputs_summary: dict[str, Any]
    alarms: list[str]


@dataclass(frozen=True)
class PlanVsActual:
    """One local day, interval by interval: what the plan in force said and what happened.

    Attributes
    ----------
    plan : pandas.DataFrame
        UTC interval starts x schedule columns, from the version in force at each interval.
    actual : pandas.DataFrame
        Same index, the aggregated means of the same quantities (NaN where none).
    schedule_id : pandas.Series
        The version in force at each interval (``<NA>`` where there was none).
    """

    plan: pd.DataFrame
    actual: pd.DataFrame
    schedule_id: pd.Series


def frame_span(frame: pd.DataFrame) -> tuple[datetime, datetime]:
    """Return the UTC start of the first interval and the end of the last one."""
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None or len(index) == 0:
        msg = "a schedule frame needs a non-empty timezone-aware DatetimeIndex"
        raise ValueError(msg)
    step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(minutes=15)
    start = index[0].to_pydatetime().astimezone(UTC)
    end = (index[-1] + step).to_pydatetime().astimezone(UTC)
    return start, end


def save_schedule(
    *, db: Database, schedule: ScheduleLike, site_yaml: str, inputs_summary: Mapping[str, Any]
) -> int:
    """Save a schedule as a new version in one transaction; return its version id.

    Parameters
    ----------
    schedule
        The plan (``Schedule``): its frame, costs, status, gap, origin, site hash, alarms and
        ``to_dict()`` are stored.
    site_yaml
        The content of the site it was planned for (stored once per ``schedule.site_hash``).
    inputs_summary
        JSON-serialisable summary of what it was planned from (forecast id, state, ...).
    """
    valid_from, valid_to = frame_span(schedule.frame)
    columns, index_blob, values_blob = codec.encode_frame(schedule.frame)
    costs = {str(k): float(v) for k, v in schedule.costs.items()}
    now = datetime.now(UTC)
    with db.write() as conn:
        # ON CONFLICT: two planners saving the same new site at once must both succeed
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(
            dialect_insert(sites_t)
            .values(site_hash=schedule.site_hash, content_yaml=site_yaml, first_seen=now)
            .on_conflict_do_nothing(index_elements=["site_hash"])
        )
        new_id: int = conn.execute(
            insert(schedules_t)
            .values(
                created_at=schedule.created_at,
                saved_at=now,
                site_hash=schedule.site_hash,
                valid_from=valid_from,
                valid_to=valid_to,
                status=schedule.status,
                origin=schedule.origin,
                mip_gap=schedule.mip_gap,
                total_cost_eur=sum(costs.values()),
                costs_eur=costs,
                inputs_summary=dict(inputs_summary),
                alarms=list(schedule.alarms),
                content=codec.pack_json(schedule.to_dict()),
                frame_columns=columns,
                frame_index=index_blob,
                frame_values=values_blob,
            )
            .returning(schedules_t.c.id)
        ).scalar_one()
    logger.info(
        "saved schedule version %d (%s, %s) for %s..%s",
        new_id,
        schedule.status,
        schedule.origin,
        valid_from.isoformat(),
        valid_to.isoformat(),
    )
    return new_id


def _info(row: Row[Any]) -> ScheduleInfo:
    return ScheduleInfo(**{c: getattr(row, c) for c in _INFO_COLUMNS})


def _info_select() -> Select[Any]:
    return select(*(schedules_t.c[c] for c in _INFO_COLUMNS))


def latest_schedule_info(*, db: Database, at: datetime) -> ScheduleInfo | None:
    """Return the newest version created at or before ``at`` whose horizon covers ``at``."""
    s = schedules_t
    stmt = (
        _info_select()
        .where(s.c.created_at <= at, s.c.valid_from <= at, s.c.valid_to > at)
        .order_by(s.c.created_at.desc(), s.c.id.desc())
        .limit(1)
    )
    with db.read() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else _info(row)


def schedule_content(*, db: Database, schedule_id: int) -> dict[str, Any]:
    """Exactly what ``Schedule.to_dict()`` returned when version ``schedule_id`` was saved.

    Raises
    ------
    KeyError
        No such version.
    """
    with db.read() as conn:
        blob = conn.execute(
            select(schedules_t.c.content).where(schedules_t.c.id == schedule_id)
        ).scalar()
    if blob is None:
        msg = f"no schedule version {schedule_id}"
        raise KeyError(msg)
    content: dict[str, Any] = codec.unpack_json(blob)
    return content


def _default_factory(content: dict[str, Any]) -> Any:
    from energiemodell.model.schedule import Schedule  # type: ignore[import-not-found,unused-ignore]

    return Schedule.from_dict(content)


@overload
def latest_schedule(*, db: Database, at: datetime) -> Any: ...
@overload
def latest_schedule(
    *, db: Database, at: datetime, factory: Callable[[dict[str, Any]], T]
) -> T | None: ...
def latest_schedule(
    *, db: Database, at: datetime, factory: Callable[[dict[str, Any]], Any] | None = None
) -> Any:
    """Return the schedule valid at ``at`` (see :func:`latest_schedule_info`), rebuilt, or ``None``.

    ``factory`` rebuilds it from its ``to_dict()`` content; the default is
    ``energiemodell.model.schedule.Schedule.from_dict``.
    """
    info = latest_schedule_info(db=db, at=at)
    if info is None:
        return None
    build = factory or _default_factory
    return build(schedule_content(db=db, schedule_id=info.id))


def schedule_frame(*, db: Database, schedule_id: int) -> pd.DataFrame:
    """Return the frame of version ``schedule_id`` (UTC index, float columns)."""
    s = schedules_t
    with db.read() as conn:
        row = conn.execute(
            select(s.c.frame_columns, s.c.frame_index, s.c.frame_values).where(
                s.c.id == schedule_id
            )
        ).first()
    if row is None:
        msg = f"no schedule version {schedule_id}"
        raise KeyError(msg)
    return codec.decode_frame(list(row[0]), row[1], row[2])


def local_day_bounds(day: date, tz: str = DEFAULT_TZ) -> tuple[datetime, datetime]:
    """UTC start and end of a local calendar day (23 or 25 hours on DST change days)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, datetime.min.time(), zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def schedule_versions(*, db: Database, day: date, tz: str = DEFAULT_TZ) -> list[ScheduleInfo]:
    """Every version created on the local calendar ``day``, oldest first."""
    start, end = local_day_bounds(day, tz)
    s = schedules_t
    stmt = (
        _info_select()
        .where(s.c.created_at >= start, s.c.created_at < end)
        .order_by(s.c.created_at, s.c.id)
    )
    with db.read() as conn:
        return [_info(r) for r in conn.execute(stmt)]


def site_content(*, db: Database, site_hash: str) -> str:
    """Return the site YAML stored for ``site_hash`` (what a schedule was planned for)."""
    with db.read() as conn:
        text = conn.execute(
            select(sites_t.c.content_yaml).where(sites_t.c.site_hash == site_hash)
        ).scalar()
    if text is None:
        msg = f"no site content for hash {site_hash}"
        raise KeyError(msg)
    return str(text)


def plan_vs_actual(
    *,
    db: Database,
    day: date,
    tz: str = DEFAULT_TZ,
    quantities: Sequence[str] | None = None,
) -> PlanVsActual:
    """Compare the plan in force with the measured aggregates for each 15-minute interval of a day.

    The version in force at an interval start ``t`` is the newest created at or before ``t``
    whose horizon covers ``t`` (versions older than ``MAX_PLAN_AGE`` are not considered).
    ``quantities`` restricts the columns (default: every column of the versions used).
    """
    start, end = local_day_bounds(day, tz)
    intervals = pd.date_range(start, end, freq="15min", inclusive="left")
    s = schedules_t
    with db.read() as conn:
        versions = conn.execute(
            select(s.c.id, s.c.created_at, s.c.valid_from, s.c.valid_to)
            .where(s.c.created_at < end, s.c.created_at >= start - MAX_PLAN_AGE)
            .where(s.c.valid_to > start)
            .order_by(s.c.created_at, s.c.id)
        ).all()
        in_force = _versions_in_force(versions, intervals)
        wanted: dict[int, list[pd.Timestamp]] = {}
        for ts, version in zip(intervals, in_force, strict=True):
            if version is not None:
                wanted.setdefault(version, []).append(ts)
        frames = _load_frames(conn, versions, wanted)
    columns = list(quantities) if quantities is not None else _union_columns(frames)
    values = np.full((len(intervals), len(columns)), np.nan)
    chosen = np.array([-1 if v is None else v for v in in_force], dtype=np.int64)
    for version, (unit, ticks, frame_columns, frame_values) in frames.items():
        rows = np.flatnonzero(chosen == version)
        targets = intervals[rows].as_unit(cast("TimeUnit", unit)).asi8
        found = np.minimum(np.searchsorted(ticks, targets), len(ticks) - 1)
        hit = ticks[found] == targets
        rows, found = rows[hit], found[hit]
        dst = np.array([j for j, name in enumerate(columns) if name in frame_columns], dtype=int)
        src = np.array([frame_columns[columns[j]] for j in dst], dtype=int)
        values[np.ix_(rows, dst)] = frame_values[np.ix_(found, src)]
    plan = pd.DataFrame(values, index=intervals, columns=columns)
    actual = aggregates_wide(db=db, start=start, end=end, quantities=columns)
    actual = actual.reindex(index=intervals, columns=columns).astype("float64")
    schedule_id = pd.Series(in_force, index=intervals, dtype="Int64", name="schedule_id")
    plan.index.name = actual.index.name = "timestamp"
    return PlanVsActual(plan=plan, actual=actual, schedule_id=schedule_id)


def _versions_in_force(versions: Sequence[Any], intervals: pd.DatetimeIndex) -> list[int | None]:
    created = [v.created_at for v in versions]
    chosen: list[int | None] = []
    for ts in intervals:
        t = ts.to_pydatetime()
        k = bisect.bisect_right(created, t) - 1
        while k >= 0 and not (versions[k].valid_from <= t < versions[k].valid_to):
            k -= 1
        chosen.append(versions[k].id if k >= 0 else None)
    return chosen


#: (index unit, index ticks, column -> position, values): a frame, decoded no further than needed
_Frame = tuple[
    str,
    np.ndarray[Any, np.dtype[np.int64]],
    dict[str, int],
    np.ndarray[Any, np.dtype[np.float64]],
]


#: Leading bytes of each compressed blob fetched first: enough for the first dozens of rows of
#: a plan (a version is normally in force for its first interval only).
_PREFIX_BYTES = 8192


def _load_frames(
    conn: Connection, versions: Sequence[Any], wanted: dict[int, list[pd.Timestamp]]
) -> dict[int, _Frame]:
    """Decode, for each version in ``wanted``, the rows up to the last wanted interval.

    Assumes the version's index is regular at 15 minutes from ``valid_from`` to pick how many
    rows to decode, cuts the blobs in the database, and falls back to the whole blobs where the
    prefix is too short or the index is irregular.
    """
    if not wanted:
        return {}
    s = schedules_t
    starts = {v.id: v.valid_from for v in versions if v.id in wanted}
    n_rows = {
        sid: 1 + max(int((t - starts[sid]) / BUCKET_15) for t in times)
        for sid, times in wanted.items()
    }
    out: dict[int, _Frame] = {}
    full: list[int] = []
    rows = conn.execute(
        select(
            s.c.id,
            s.c.frame_columns,
            func.substr(s.c.frame_index, 1, _PREFIX_BYTES),
            func.substr(s.c.frame_values, 1, _PREFIX_BYTES),
        ).where(s.c.id.in_(sorted(wanted)))
    )
    for sid, cols, index_prefix, values_prefix in rows:
        decoded = codec.decode_rows_prefix(
            bytes(index_prefix), bytes(values_prefix), len(cols), n_rows[sid]
        )
        if decoded is None or not _covers(decoded[0], decoded[1], wanted[sid]):
            full.append(sid)
            continue
        unit, ticks, values = decoded
        out[sid] = (unit, ticks, {c: k for k, c in enumerate(cols)}, values)
    if full:
        for sid, cols, index_blob, values_blob in conn.execute(
            select(s.c.id, s.c.frame_columns, s.c.frame_index, s.c.frame_values).where(
                s.c.id.in_(full)
            )
        ):
            unit, ticks = codec.decode_ticks(index_blob)
            values = codec.decode_values(values_blob, len(cols)).reshape(len(ticks), len(cols))
            out[sid] = (unit, ticks, {c: k for k, c in enumerate(cols)}, values)
    return out


_NS_PER_TICK = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def _covers(
    unit: str, ticks: np.ndarray[Any, np.dtype[np.int64]], times: list[pd.Timestamp]
) -> bool:
    wanted_ns = np.fromiter((t.value for t in times), dtype=np.int64, count=len(times))
    return bool(np.isin(wanted_ns, ticks * _NS_PER_TICK[unit]).all())


def _union_columns(frames: dict[int, _Frame]) -> list[str]:
    seen: dict[str, None] = {}
    for _, _, cols, _ in frames.values():
        seen.update(dict.fromkeys(cols))
    return list(seen)
