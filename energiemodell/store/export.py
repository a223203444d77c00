"""Export store tables to CSV or Parquet for analysts (``energiemodell db export``).

The aggregates export has the layout of a site's series files, so a site's measured history
can be fed into scenarios: a ``timestamp`` column (interval start, ISO 8601 UTC with ``Z``),
then one column per site quantity holding the 15-minute mean. Column names follow
:data:`SERIES_COLUMNS` (the names of the reference data set, e.g. ``demand.heat_kw`` ->
``heat_kw``); every other quantity keeps its own name (``grid.import_kw``), which is unique by
construction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd

from energiemodell.store.db import Database
from energiemodell.store.events import audit_trail, rows_between, writes_t
from energiemodell.store.readings import aggregates_wide, readings_between
from energiemodell.store.schedules import schedules_t

logger = logging.getLogger(__name__)

TABLES = ("readings", "aggregates", "schedules", "writes", "audit")
FORMATS = ("csv", "parquet")
Format = Literal["csv", "parquet"]

SERIES_COLUMNS: dict[str, str] = {
    "demand.electricity_kw": "electricity_kw",
    "demand.heat_kw": "heat_kw",
    "demand.cooling_kw": "cooling_kw",
    "pv.kw_per_kwp": "pv_kw_per_kwp",
    "price.day_ahead_eur_per_mwh": "price_eur_mwh",
    "weather.temp_c": "temp_c",
    "weather.ghi_w_m2": "ghi_w_m2",
}
"""Site quantity -> series file column, for the quantities a Forecast is built from."""

_SCHEDULE_COLUMNS = [
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
]


def series_column(quantity: str) -> str:
    """Return the series file column for a site quantity (see :data:`SERIES_COLUMNS`)."""
    return SERIES_COLUMNS.get(quantity, quantity)


def _aggregates(db: Database, start: datetime, end: datetime) -> pd.DataFrame:
    wide = aggregates_wide(db=db, start=start, end=end)
    wide = wide.rename(columns=series_column)
    wide = wide[sorted(wide.columns)]
    return wide.reset_index()


def _readings(db: Database, start: datetime, end: datetime) -> pd.DataFrame:
    return readings_between(db=db, start=start, end=end)


def _schedules(db: Database, start: datetime, end: datetime) -> pd.DataFrame:
    rows = rows_between(db=db, table=schedules_t, start=start, end=end, ts_column="created_at")
    frame = pd.DataFrame(
        [{c: r[c] for c in _SCHEDULE_COLUMNS} for r in rows], columns=_SCHEDULE_COLUMNS
    )
    for c in ("costs_eur", "inputs_summary", "alarms"):
        frame[c] = frame[c].map(lambda v: json.dumps(v, sort_keys=True))
    return frame


def _writes(db: Database, start: datetime, end: datetime) -> pd.DataFrame:
    rows = rows_between(db=db, table=writes_t, start=start, end=end)
    return pd.DataFrame(rows, columns=[c.name for c in writes_t.columns])


def _audit(db: Database, start: datetime, end: datetime) -> pd.DataFrame:
    events = audit_trail(db=db, start=start, end=end)
    return pd.DataFrame(
        [
            {
                "ts": e.ts,
                "kind": e.kind,
                "ref_id": e.ref_id,
                "summary": e.summary,
                "details": json.dumps(e.details, default=_json_default, sort_keys=True),
            }
            for e in events
        ],
        columns=["ts", "kind", "ref_id", "summary", "details"],
    )


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return _iso_z(value)
    msg = f"not JSON serialisable: {type(value).__name__}"
    raise TypeError(msg)


def _iso_z(value: datetime) -> str:
    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


_BUILDERS: dict[str, Callable[[Database, datetime, datetime], pd.DataFrame]] = {
    "readings": _readings,
    "aggregates": _aggregates,
    "schedules": _schedules,
    "writes": _writes,
    "audit": _audit,
}


def export_table(
    *, db: Database, table: str, start: datetime, end: datetime, fmt: Format, out: Path
) -> int:
    """Write the rows of ``table`` with ``start <= time < end`` to ``out``; return the row count.

    CSV timestamps are ISO 8601 UTC with ``Z`` (``2024-01-01T00:15:00Z``; sub-second parts,
    which only raw readings have, are kept as ``.ffffffZ``). Parquet keeps them as
    timezone-aware UTC timestamps.

    Raises
    ------
    ValueError
        Unknown table or format.
    """
    if table not in _BUILDERS:
        msg = f"unknown table {table!r}; known: {', '.join(TABLES)}"
        raise ValueError(msg)
    if fmt not in FORMATS:
        msg = f"unknown format {fmt!r}; known: {', '.join(FORMATS)}"
        raise ValueError(msg)
    frame = _BUILDERS[table](db, start, end)
    for col in frame.columns:
        if col in ("timestamp", "ts") or frame[col].map(lambda v: isinstance(v, datetime)).any():
            frame[col] = pd.to_datetime(frame[col], utc=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        text = frame.copy()
        for col in text.columns:
            if isinstance(text[col].dtype, pd.DatetimeTZDtype):
                text[col] = _format_z(text[col])
        text.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    logger.info("exported %d %s rows to %s", len(frame), table, out)
    return len(frame)


def _format_z(column: pd.Series) -> pd.Series:
    whole = column.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    fractional = column.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    has_fraction = column.dt.microsecond != 0
    text: pd.Series = whole.where(~has_fraction, fractional).where(column.notna(), "")
    return text
