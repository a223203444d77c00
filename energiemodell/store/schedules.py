"""Schedule versions: saving a schedule and looking versions up.

Every schedule is saved as a new version with the site content it was planned for (stored
once per site hash), a summary of its inputs, solver status, gap, cost breakdown and origin.
The full ``Schedule.to_dict()`` is kept (compressed JSON) so an auditor gets back exactly what
was planned; the frame is also kept in binary (see ``codec``) for fast plan-versus-actual
(``plan_actual``, re-exported here with the local-day helpers of ``days``).

The store depends only on the attributes of :class:`ScheduleLike`; the real ``Schedule`` class
(``energiemodell.model.schedule``) is imported lazily, where a schedule is rebuilt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TypeVar, overload

import pandas as pd
from sqlalchemy import Row, Select, Table, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from energiemodell.store import codec

# The names imported ``as`` themselves lived here before ``days`` and ``plan_actual`` were
# split off: re-exported, so that imports from this module keep working.
from energiemodell.store.days import DEFAULT_TZ as DEFAULT_TZ
from energiemodell.store.days import local_day_bounds as local_day_bounds
from energiemodell.store.db import Database
from energiemodell.store.plan_actual import BUCKET_NS as BUCKET_NS
from energiemodell.store.plan_actual import MAX_PLAN_AGE as MAX_PLAN_AGE
from energiemodell.store.plan_actual import PlanVsActual as PlanVsActual
from energiemodell.store.plan_actual import clear_decoded_versions as clear_decoded_versions
from energiemodell.store.plan_actual import plan_vs_actual as plan_vs_actual
from energiemodell.store.tables import ScheduleRecord, SiteVersionRecord, table_of

logger = logging.getLogger(__name__)

T = TypeVar("T")
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
