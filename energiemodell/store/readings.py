"""Raw readings, their 15-minute aggregates and the retention purge.

The control loop saves each poll with :func:`save_readings`. A job calls
:func:`aggregate_readings` after every bucket closes; it inserts one aggregate row per site
quantity and bucket (mean, min, max of the good values and their count). Readings that arrive
for a bucket that is already aggregated produce a correction row (next ``revision``), merged
from the previous aggregate and the late readings, so a correction is right even after the raw
rows are gone. :func:`purge_readings` deletes raw readings older than the retention window in
the same transaction that first aggregates everything it is about to delete, and logs itself
in ``maintenance_log``: nothing is lost before aggregation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    Table,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    select,
)

from energiemodell.store.db import Database
from energiemodell.store.tables import (
    AggregateRecord,
    MaintenanceRecord,
    ReadingRecord,
    table_of,
)

logger = logging.getLogger(__name__)

BUCKET = timedelta(minutes=15)
BUCKET_S = 900
DEFAULT_RETENTION = timedelta(days=35)
QUALITIES = ("good", "stale", "bad")

readings_t: Table = table_of(ReadingRecord)
aggregates_t: Table = table_of(AggregateRecord)
maintenance_t: Table = table_of(MaintenanceRecord)


class ReadingRow(NamedTuple):
    """One reading to save: a device point's value at a UTC time, with its quality."""

    ts: datetime
    device: str
    point: str
    quantity: str | None
    value: float | None
    quality: str = "good"


@dataclass(frozen=True)
class PurgeReport:
    """What one purge did."""

    cutoff: datetime
    aggregated_rows: int
    deleted_readings: int


def floor_bucket(ts: datetime) -> datetime:
    """Return the start of the 15-minute bucket holding ``ts`` (UTC)."""
    epoch = int(ts.astimezone(UTC).timestamp())
    return datetime.fromtimestamp(epoch - epoch % BUCKET_S, UTC)


def save_readings(*, db: Database, rows: Iterable[ReadingRow]) -> int:
    """Save readings (one poll, or a batch) in one transaction; return how many.

    Raises
    ------
    ValueError
        A row has a naive timestamp or an unknown quality; nothing is saved.
    """
    params = [r._asdict() for r in rows]
    for p in params:
        if p["ts"].tzinfo is None or p["ts"].utcoffset() is None:
            msg = f"{p['device']}.{p['point']}: naive datetime {p['ts'].isoformat()}: use aware UTC"
            raise ValueError(msg)
        if p["quality"] not in QUALITIES:
            msg = f"{p['device']}.{p['point']}: quality {p['quality']!r} not in {QUALITIES}"
            raise ValueError(msg)
    if not params:
        return 0
    with db.write() as conn:
        conn.execute(insert(readings_t), params)
    return len(params)


def readings_between(
    *, db: Database, start: datetime, end: datetime, quantities: Sequence[str] | None = None
) -> pd.DataFrame:
    """Raw readings with ``start <= ts < end``, oldest first.

    Returns
    -------
    pandas.DataFrame
        Columns ``ts`` (UTC), ``device``, ``point``, ``quantity``, ``value``, ``quality``.
    """
    t = readings_t
    stmt = select(t.c.ts, t.c.device, t.c.point, t.c.quantity, t.c.value, t.c.quality).where(
        t.c.ts >= start, t.c.ts < end
    )
    if quantities is not None:
        stmt = stmt.where(t.c.quantity.in_(list(quantities)))
    with db.read() as conn:
        rows = conn.execute(stmt.order_by(t.c.ts, t.c.id)).all()
    frame = pd.DataFrame(rows, columns=list(ReadingRow._fields))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


# --- aggregation --------------------------------------------------------------------------------


def bucket_number(dialect: str, column: ColumnElement[datetime]) -> ColumnElement[int]:
    """Build SQL for the bucket number (seconds since the epoch // 900) of a timestamp column."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer) // BUCKET_S
    return cast(func.floor(func.extract("epoch", column) / BUCKET_S), BigInteger)


def latest_revision(agg: FromClause) -> ColumnElement[bool]:
    """Condition: the row of ``agg`` (an aggregates alias) is the newest revision of its bucket."""
    newer = aggregates_t.alias("newer")
    return ~exists().where(
        newer.c.quantity == agg.c.quantity,
        newer.c.bucket_start == agg.c.bucket_start,
        newer.c.revision > agg.c.revision,
    )


def aggregate_readings(
    *, db: Database, until: datetime, lookback: timedelta = timedelta(hours=6)
) -> int:
    """Aggregate the buckets that closed by ``until``, looking back ``lookback``.

    New buckets get revision 0; buckets with readings newer than their aggregate get a
    correction row. Run it after each bucket closes; a longer ``lookback`` catches later data.

    Returns
    -------
    int
        Number of aggregate rows inserted.
    """
    end = floor_bucket(until)
    with db.write() as conn:
        return _aggregate(conn, since=floor_bucket(end - lookback), until=end)


def _aggregate(conn: Connection, *, since: datetime, until: datetime) -> int:
    if conn.dialect.name == "postgresql":
        # Wait for in-flight reading inserts and hold new ones off until commit: a reading
        # committed later with a lower id than ``max_reading_id`` would never be aggregated.
        # (SQLite's BEGIN IMMEDIATE already serialises writers.)
        conn.exec_driver_sql(f"LOCK TABLE {readings_t.name} IN SHARE MODE")
    r = readings_t
    good = r.c.quality == "good"
    bucket = bucket_number(conn.dialect.name, r.c.ts).label("bucket")
    stats = conn.execute(
        select(
            r.c.quantity,
            bucket,
            func.avg(case((good, r.c.value))),
            func.min(case((good, r.c.value))),
            func.max(case((good, r.c.value))),
            func.count(case((and_(good, r.c.value.is_not(None)), 1))),
            func.count(),
            func.max(r.c.id),
        )
        .where(r.c.ts >= since, r.c.ts < until, r.c.quantity.is_not(None))
        .group_by(r.c.quantity, bucket)
    ).all()
    if not stats:
        return 0
    a = aggregates_t.alias("a")
    previous = {
        (q, b): (rev, mean, vmin, vmax, n_good, n_total, max_id)
        for q, b, rev, mean, vmin, vmax, n_good, n_total, max_id in conn.execute(
            select(
                a.c.quantity,
                a.c.bucket_start,
                a.c.revision,
                a.c.value_mean,
                a.c.value_min,
                a.c.value_max,
                a.c.n_good,
                a.c.n_total,
                a.c.max_reading_id,
            ).where(a.c.bucket_start >= since, a.c.bucket_start < until, latest_revision(a))
        )
    }
    now = datetime.now(UTC)
    new_rows: list[dict[str, Any]] = []
    for quantity, number, mean, vmin, vmax, n_good, n_total, max_id in stats:
        start = datetime.fromtimestamp(int(number) * BUCKET_S, UTC)
        row = {
            "bucket_start": start,
            "quantity": quantity,
            "value_mean": mean,
            "value_min": vmin,
            "value_max": vmax,
            "n_good": n_good,
            "n_total": n_total,
            "revision": 0,
            "max_reading_id": max_id,
            "created_at": now,
        }
        prev = previous.get((quantity, start))
        if prev is not None:
            if max_id <= prev[6]:
                continue
            row = _correction(conn, row, prev)
        new_rows.append(row)
    if new_rows:
        conn.execute(insert(aggregates_t), new_rows)
        corrections = sum(1 for x in new_rows if x["revision"] > 0)
        logger.info(
            "aggregated %d buckets (%d corrections) in %s..%s",
            len(new_rows),
            corrections,
            since.isoformat(),
            until.isoformat(),
        )
    return len(new_rows)


def _correction(conn: Connection, row: dict[str, Any], prev: tuple[Any, ...]) -> dict[str, Any]:
    """Merge the previous aggregate with the readings that arrived after it."""
    rev, mean, vmin, vmax, n_good, n_total, max_id = prev
    r = readings_t
    good = r.c.quality == "good"
    start: datetime = row["bucket_start"]
    late = conn.execute(
        select(
            func.sum(case((good, r.c.value))),
            func.min(case((good, r.c.value))),
            func.max(case((good, r.c.value))),
            func.count(case((and_(good, r.c.value.is_not(None)), 1))),
            func.count(),
            func.max(r.c.id),
        ).where(
            r.c.quantity == row["quantity"],
            r.c.ts >= start,
            r.c.ts < start + BUCKET,
            r.c.id > max_id,
        )
    ).one()
    l_sum, l_min, l_max, l_good, l_total, l_max_id = late
    good_n = n_good + l_good
    total = (mean or 0.0) * n_good + (l_sum or 0.0)
    return row | {
        "value_mean": total / good_n if good_n else None,
        "value_min": min((x for x in (vmin, l_min) if x is not None), default=None),
        "value_max": max((x for x in (vmax, l_max) if x is not None), default=None),
        "n_good": good_n,
        "n_total": n_total + l_total,
        "revision": rev + 1,
        "max_reading_id": l_max_id,
    }


def aggregates_between(
    *, db: Database, start: datetime, end: datetime, quantities: Sequence[str] | None = None
) -> pd.DataFrame:
    """Return the newest revision of every aggregate with ``start <= bucket_start < end``.

    Returns
    -------
    pandas.DataFrame
        Columns ``bucket_start`` (UTC), ``quantity``, ``value_mean``, ``value_min``,
        ``value_max``, ``n_good``, ``n_total``, ``revision``; sorted by bucket and quantity.
    """
    a = aggregates_t.alias("a")
    cols = ["bucket_start", "quantity", "value_mean", "value_min", "value_max"]
    cols += ["n_good", "n_total", "revision"]
    stmt = select(*(a.c[c] for c in cols)).where(
        a.c.bucket_start >= start, a.c.bucket_start < end, latest_revision(a)
    )
    if quantities is not None:
        stmt = stmt.where(a.c.quantity.in_(list(quantities)))
    with db.read() as conn:
        rows = conn.execute(stmt.order_by(a.c.bucket_start, a.c.quantity)).all()
    frame = pd.DataFrame(rows, columns=cols)
    frame["bucket_start"] = pd.to_datetime(frame["bucket_start"], utc=True)
    return frame


def aggregates_wide(
    *, db: Database, start: datetime, end: datetime, quantities: Sequence[str] | None = None
) -> pd.DataFrame:
    """Bucket means as a frame: UTC ``DatetimeIndex`` at 15 min, one column per quantity.

    Buckets without an aggregate are missing rows (no gap filling): the caller decides.
    """
    long = aggregates_between(db=db, start=start, end=end, quantities=quantities)
    wide = long.pivot(index="bucket_start", columns="quantity", values="value_mean")
    wide.index.name = "timestamp"
    wide.columns.name = None
    return wide.astype("float64")


# --- retention ----------------------------------------------------------------------------------


def purge_readings(
    *, db: Database, now: datetime, retention: timedelta = DEFAULT_RETENTION
) -> PurgeReport:
    """Delete raw readings older than ``retention``, after aggregating all of them.

    One transaction: aggregate (or correct) every bucket older than the cutoff that has
    readings, delete those readings, log the run in ``maintenance_log``. Readings without a
    site quantity (status points) have nothing to aggregate into and are deleted too.
    """
    cutoff = floor_bucket(now - retention)
    r = readings_t
    with db.write() as conn:
        oldest = conn.execute(select(func.min(r.c.ts)).where(r.c.ts < cutoff)).scalar()
        aggregated = 0
        deleted = 0
        if oldest is not None:
            aggregated = _aggregate(conn, since=floor_bucket(oldest), until=cutoff)
            deleted = conn.execute(delete(r).where(r.c.ts < cutoff)).rowcount
        conn.execute(
            insert(maintenance_t).values(
                ts=datetime.now(UTC),
                job="purge_readings",
                rows_affected=deleted,
                details={
                    "cutoff": cutoff.isoformat(),
                    "retention_days": retention / timedelta(days=1),
                    "aggregated_rows": aggregated,
                },
            )
        )
    logger.info(
        "purged %d raw readings older than %s (aggregated %d buckets first)",
        deleted,
        cutoff.isoformat(),
        aggregated,
    )
    return PurgeReport(cutoff=cutoff, aggregated_rows=aggregated, deleted_readings=deleted)
