"""Forecasts as they were issued (the frame kept in binary, see ``codec``), and their retention.

The control loop saves the forecast of every plan (every 15 minutes, a 48 h horizon), so the
table grows by about 35,000 forecasts a year. :func:`purge_forecasts` keeps each forecast whole
for the retention window (default 35 days, the raw readings' window) and then cuts it down to
its *rows in force*: from its issue time to the next forecast's issue time, the rows
:func:`forecast_vs_actual` reads. Forecast errors stay available for every period; the full
48 h horizon of an old forecast does not. Imported series (sources ``import:...``, written by
``energiemodell import``) are inputs, not forecasts as issued, and are kept whole.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Table, delete, func, insert, select

from energiemodell.store import codec
from energiemodell.store.db import Database
from energiemodell.store.readings import (
    DEFAULT_RETENTION,
    aggregates_wide,
    floor_bucket,
    maintenance_t,
)
from energiemodell.store.schedules import frame_span
from energiemodell.store.tables import ForecastRecord, table_of

logger = logging.getLogger(__name__)

forecasts_t: Table = table_of(ForecastRecord)

#: Sources of imported input series (``energiemodell import prices|weather``): never cut.
IMPORTED_SOURCE_PREFIX = "import:"
#: Full forecasts are kept this long (the raw readings' window), then cut to their rows in force.
DEFAULT_FORECAST_RETENTION = DEFAULT_RETENTION
PURGE_FORECASTS_JOB = "purge_forecasts"


@dataclass(frozen=True)
class StoredForecast:
    """A forecast as it was issued."""

    id: int
    issued_at: datetime
    source: str
    frame: pd.DataFrame


def save_forecast(*, db: Database, forecast: pd.DataFrame, issued_at: datetime, source: str) -> int:
    """Save a forecast as issued (UTC index, float columns); return its id."""
    valid_from, valid_to = frame_span(forecast)
    columns, index_blob, values_blob = codec.encode_frame(forecast)
    with db.write() as conn:
        new_id: int = conn.execute(
            insert(forecasts_t)
            .values(
                issued_at=issued_at,
                source=source,
                valid_from=valid_from,
                valid_to=valid_to,
                frame_columns=columns,
                frame_index=index_blob,
                frame_values=values_blob,
            )
            .returning(forecasts_t.c.id)
        ).scalar_one()
    return new_id


def forecasts_issued(
    *, db: Database, start: datetime, end: datetime, source: str | None = None
) -> list[StoredForecast]:
    """Forecasts issued with ``start <= issued_at < end`` (of one ``source``), oldest first."""
    f = forecasts_t
    stmt = select(f).where(f.c.issued_at >= start, f.c.issued_at < end)
    if source is not None:
        stmt = stmt.where(f.c.source == source)
    stmt = stmt.order_by(f.c.issued_at, f.c.id)
    with db.read() as conn:
        return [
            StoredForecast(
                id=r.id,
                issued_at=r.issued_at,
                source=r.source,
                frame=codec.decode_frame(list(r.frame_columns), r.frame_index, r.frame_values),
            )
            for r in conn.execute(stmt)
        ]


def forecast_vs_actual(
    *,
    db: Database,
    start: datetime,
    end: datetime,
    lookback: timedelta = timedelta(days=2),
) -> dict[str, pd.DataFrame]:
    """Forecast against measurement per quantity over ``[start, end)``.

    For each interval the forecast is the newest one issued at or before the interval's start
    (issued within ``lookback`` before ``start``, or inside the period); the actual is the mean
    of the store's 15-minute aggregates over the forecast's interval. Only quantities that are
    both forecast and measured appear; each frame (columns ``forecast``, ``actual``; UTC
    index) holds the intervals with both values.
    """
    newest: pd.DataFrame | None = None
    for f in forecasts_issued(db=db, start=start - lookback, end=end):
        frame = f.frame[(f.frame.index >= max(pd.Timestamp(start), pd.Timestamp(f.issued_at)))]
        frame = frame[frame.index < pd.Timestamp(end)]
        newest = frame if newest is None else frame.combine_first(newest)
    if newest is None or newest.empty:
        return {}
    measured = aggregates_wide(db=db, start=start, end=end, quantities=list(newest.columns))
    if measured.empty:
        return {}
    index = newest.index
    if len(index) > 1:
        step = (index[1:] - index[:-1]).min()
        measured = measured.resample(step, origin="epoch").mean()
    result = {}
    for quantity in sorted(set(newest.columns) & set(measured.columns)):
        both = pd.DataFrame(
            {"forecast": newest[quantity], "actual": measured[quantity].reindex(index)}
        ).dropna()
        if not both.empty:
            result[quantity] = both
    return result


# --- retention ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastPurgeReport:
    """What one :func:`purge_forecasts` run did.

    Attributes
    ----------
    cutoff : datetime
        Forecasts issued before it are now cut to their rows in force.
    since : datetime or None
        Start of the range this run looked at (the previous run's cutoff); ``None`` if there
        was nothing to look at.
    cut : int
        Forecasts cut down to their rows in force (same id, issue time and source).
    deleted : int
        Forecasts never in force (the next one was issued before their first interval began).
    rows_dropped : int
        Frame rows removed in all.
    """

    cutoff: datetime
    since: datetime | None
    cut: int
    deleted: int
    rows_dropped: int


def purge_forecasts(
    *,
    db: Database,
    now: datetime,
    retention: timedelta = DEFAULT_FORECAST_RETENTION,
    batch: int = 500,
) -> ForecastPurgeReport:
    """Cut forecasts issued before ``now - retention`` down to their rows in force.

    The rows in force of a forecast are those from its issue time up to (excluding) the issue
    time of the next forecast of any source, imports aside: what :func:`forecast_vs_actual`
    uses, so the forecast error of an old period is unchanged (exactly so where the next
    forecast has the same columns without gaps, as the control loop's forecasts do). A cut
    forecast keeps its id, issue time and source; one that was never in force is deleted.
    Each run starts where the previous one stopped (its cutoff in ``maintenance_log``) and cuts
    at most ``batch`` forecasts per transaction, each logged in ``maintenance_log`` (and so in
    the audit trail), so a first run over a long history does not hold the database.
    """
    cutoff = floor_bucket(now - retention)
    f = forecasts_t
    with db.read() as conn:
        since = _previous_cutoff(conn)
        stmt = select(f.c.issued_at).where(f.c.issued_at < cutoff, _issued_not_imported())
        if since is not None:
            stmt = stmt.where(f.c.issued_at >= since)
        issued = list(conn.execute(stmt.order_by(f.c.issued_at)).scalars())
    if since is None and issued:
        since = issued[0]
    starts = [since, *issued[batch::batch]]
    totals = [0, 0, 0]
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else cutoff
        with db.write() as conn:
            counts = (0, 0, 0) if start is None or start >= end else _cut(conn, start, end)
            conn.execute(
                insert(maintenance_t).values(
                    ts=datetime.now(UTC),
                    job=PURGE_FORECASTS_JOB,
                    rows_affected=counts[0] + counts[1],
                    details={
                        "since": None if start is None else start.isoformat(),
                        "cutoff": end.isoformat(),
                        "retention_days": retention / timedelta(days=1),
                        "cut": counts[0],
                        "deleted": counts[1],
                        "rows_dropped": counts[2],
                    },
                )
            )
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    logger.info(
        "forecasts issued before %s: %d cut to their rows in force, %d never in force deleted "
        "(%d rows dropped)",
        cutoff.isoformat(),
        totals[0],
        totals[1],
        totals[2],
    )
    return ForecastPurgeReport(
        cutoff=cutoff, since=since, cut=totals[0], deleted=totals[1], rows_dropped=totals[2]
    )


def _issued_not_imported() -> ColumnElement[bool]:
    return ~forecasts_t.c.source.startswith(IMPORTED_SOURCE_PREFIX, autoescape=True)


def _previous_cutoff(conn: Connection) -> datetime | None:
    m = maintenance_t
    details = conn.execute(
        select(m.c.details)
        .where(m.c.job == PURGE_FORECASTS_JOB)
        .order_by(m.c.ts.desc(), m.c.id.desc())
        .limit(1)
    ).scalar()
    if not details:
        return None
    return datetime.fromisoformat(details["cutoff"]).astimezone(UTC)


def _cut(conn: Connection, start: datetime, end: datetime) -> tuple[int, int, int]:
    """Cut the forecasts issued in ``[start, end)``; return (cut, deleted, rows dropped)."""
    f = forecasts_t
    mine = conn.execute(
        select(f)
        .where(f.c.issued_at >= start, f.c.issued_at < end, _issued_not_imported())
        .order_by(f.c.issued_at, f.c.id)
    ).all()
    if not mine:
        return 0, 0, 0
    issued = sorted({r.issued_at for r in mine})
    after = conn.execute(
        select(func.min(f.c.issued_at)).where(f.c.issued_at >= end, _issued_not_imported())
    ).scalar()
    if after is not None:
        issued.append(after)
    cut = deleted = dropped = 0
    for r in mine:
        k = bisect.bisect_left(issued, r.issued_at)
        until = issued[k + 1] if k + 1 < len(issued) else None
        unit, ticks = codec.decode_ticks(r.frame_index)
        ns = ticks * _NS_PER_TICK[unit]
        keep = ns >= pd.Timestamp(r.issued_at).value
        if until is not None:
            keep &= ns < pd.Timestamp(until).value
        if keep.all():
            continue
        conn.execute(delete(f).where(f.c.id == r.id))
        dropped += int((~keep).sum())
        if not keep.any():
            deleted += 1
            continue
        values = codec.decode_values(r.frame_values, len(r.frame_columns))
        index = pd.DatetimeIndex(ticks.astype(f"datetime64[{unit}]")).tz_localize("UTC")
        step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(r.valid_to - r.valid_from)
        kept = pd.DataFrame(values[keep], index=index[keep], columns=list(r.frame_columns))
        columns, index_blob, values_blob = codec.encode_frame(kept)
        conn.execute(
            insert(f).values(
                id=r.id,
                issued_at=r.issued_at,
                source=r.source,
                valid_from=kept.index[0].to_pydatetime(),
                valid_to=(kept.index[-1] + step).to_pydatetime(),
                frame_columns=columns,
                frame_index=index_blob,
                frame_values=values_blob,
            )
        )
        cut += 1
    return cut, deleted, dropped


_NS_PER_TICK = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
