"""Forecasts as they were issued (the frame kept in binary, see ``codec``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Table, insert, select

from energiemodell.store import codec
from energiemodell.store.db import Database
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


def forecasts_issued(*, db: Database, start: datetime, end: datetime) -> list[StoredForecast]:
    """Forecasts issued with ``start <= issued_at < end``, oldest first."""
    f = forecasts_t
    stmt = (
        select(f).where(f.c.issued_at >= start, f.c.issued_at < end).order_by(f.c.issued_at, f.c.id)
    )
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
