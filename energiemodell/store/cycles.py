"""The control loop's cycles: when each ran, how long it took, its rung and solve time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, insert, select

from energiemodell.store.db import Database
from energiemodell.store.tables import CycleRecord, table_of

logger = logging.getLogger(__name__)

cycles_t: Table = table_of(CycleRecord)


@dataclass(frozen=True)
class CycleInfo:
    """One stored control cycle."""

    started_at: datetime
    finished_at: datetime
    interval_start: datetime
    duration_s: float
    rung: str
    solve_s: float


def save_cycle(
    *,
    db: Database,
    started_at: datetime,
    finished_at: datetime,
    interval_start: datetime,
    rung: str,
    solve_s: float,
) -> None:
    """Record one control cycle (its duration is ``finished_at - started_at``)."""
    with db.write() as conn:
        conn.execute(
            insert(cycles_t).values(
                started_at=started_at,
                finished_at=finished_at,
                interval_start=interval_start,
                duration_s=(finished_at - started_at).total_seconds(),
                rung=rung,
                solve_s=solve_s,
            )
        )


def latest_cycle(*, db: Database, before: datetime) -> CycleInfo | None:
    """The newest cycle started before ``before``, or None."""
    c = cycles_t
    stmt = select(c).where(c.c.started_at < before).order_by(c.c.started_at.desc(), c.c.id.desc())
    with db.read() as conn:
        r = conn.execute(stmt.limit(1)).first()
    if r is None:
        return None
    return CycleInfo(
        started_at=r.started_at,
        finished_at=r.finished_at,
        interval_start=r.interval_start,
        duration_s=r.duration_s,
        rung=r.rung,
        solve_s=r.solve_s,
    )
