"""Forecasts as they were issued (the frame kept in binary, see ``codec``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Table, insert, select

from energiemodell.store import codec
from energiemodell.store.db import Database
from energiemodell.store.readings import aggregates_wide
from energiemodell.store.schedules import frame_span
from energiemodell.store.tables import ForecastRecord, table_of

logger = logging.getLogger(__name__)

forecasts_t: Table = table_of(ForecastRecord)


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
