"""``energiemodell import prices|weather|history FILE``: load new series into the store.

An offline installation gets its day-ahead prices, weather and measured demand as files. Each
file is checked by the same code as a site's series
(:func:`energiemodell.timeseries.read_series_file`: timestamps with a UTC offset, regular, no
gaps, numbers everywhere); with ``--site`` its
resolution must also fit the site step (the file is resampled onto it, as the site's own series
are). Then:

- prices and weather are saved as forecasts as issued (table ``forecasts``, source
  ``import:prices`` / ``import:weather``, issued now); the loop's forecaster
  (:class:`scheduler.forecasting.HistoryForecast`) uses imported prices for the hours the site's
  own series do not cover, and imported weather as its weather forecast wherever it covers the
  horizon (the newest import wins; a file imported without ``--site`` is put on the site step
  there, and one whose resolution does not fit the step is skipped with a warning in the log);
- history (the demand columns of ``energiemodell db export --table aggregates``) is saved as
  readings of the device ``import`` and aggregated into 15-minute buckets, where the forecaster
  reads measured demand. A period that already has aggregates of a quantity is refused: an
  import adds history, it does not overwrite measurements.

Exit codes: 0 done, 1 failed at run time (store unreachable, schema not at head), 2 bad input
(``FILE: path: problem (hint)`` lines).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from sqlalchemy.exc import SQLAlchemyError

from energiemodell.errors import SiteError
from energiemodell.site import SeriesFile, load_site
from energiemodell.store import (
    ReadingRow,
    StoreError,
    aggregate_readings,
    aggregates_between,
    save_forecast,
    save_readings,
)
from energiemodell.timeseries import read_series_file, resample_to
from scheduler.cli_common import DbOpt, fail, open_current
from scheduler.forecasting import IMPORTED_PRICES, IMPORTED_WEATHER

logger = logging.getLogger(__name__)

import_app = typer.Typer(
    help="Load new prices, weather or measured demand into the store.", no_args_is_help=True
)

PRICE_COLUMNS = ("price_eur_mwh", "price_eur_per_mwh")
WEATHER = {"temp_c": "weather.temp_c", "ghi_w_m2": "weather.ghi_w_m2"}
HISTORY = {
    "electricity_kw": "demand.electricity_kw",
    "heat_kw": "demand.heat_kw",
    "cooling_kw": "demand.cooling_kw",
}
BUCKET = pd.Timedelta(minutes=15)
IMPORT_DEVICE = "import"

FileArg = Annotated[Path, typer.Argument(help="CSV file (.csv or .csv.gz), timestamps with offset")]
SiteOpt = Annotated[
    str | None,
    typer.Option(
        "--site", help="Site file or shipped name: the file must fit its step", show_default=False
    ),
]


def _read(file: Path, columns: Mapping[str, str], site: str | None) -> pd.DataFrame:
    """The checked series under Forecast names (on the site step with ``--site``); exit 2."""
    sf = SeriesFile(file=file.name, columns=dict(columns))
    try:
        frame = read_series_file(sf, file.parent)
        if site is not None:
            step_min = load_site(site).step_min
            native = frame.index[1] - frame.index[0] if len(frame.index) > 1 else BUCKET
            index = pd.date_range(
                frame.index[0],
                frame.index[-1] + native,
                freq=f"{step_min}min",
                inclusive="left",
            )
            frame = resample_to(frame, index, path=str(file.resolve()))
    except SiteError as exc:
        fail(2, str(exc))
    return frame


def _as_forecast(file: Path, frame: pd.DataFrame, *, source: str, db_url: str | None) -> None:
    db = open_current(db_url)
    try:
        new_id = save_forecast(
            db=db, forecast=frame, issued_at=datetime.now(UTC), source=source
        )  # the edge of the system: the import's own time
    except (SQLAlchemyError, StoreError) as exc:
        fail(1, f"{file}: not stored: {type(exc).__name__}: {exc}")
    finally:
        db.dispose()
    span = f"{frame.index[0].isoformat()} to {frame.index[-1].isoformat()}"
    typer.echo(
        f"{file}: {len(frame)} rows of {', '.join(frame.columns)} ({span}) stored as "
        f"{source} #{new_id}"
    )


@import_app.command("prices")
def prices(file: FileArg, site: SiteOpt = None, db: DbOpt = None) -> None:
    """Import day-ahead prices (column price_eur_mwh or price_eur_per_mwh, EUR/MWh)."""
    try:
        header = set(pd.read_csv(file, nrows=0).columns)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        header = set()  # read_series_file names the problem
    column = next((c for c in PRICE_COLUMNS if c in header), PRICE_COLUMNS[0])
    frame = _read(file, {column: "price.day_ahead_eur_per_mwh"}, site)
    _as_forecast(file, frame, source=IMPORTED_PRICES, db_url=db)


@import_app.command("weather")
def weather(file: FileArg, site: SiteOpt = None, db: DbOpt = None) -> None:
    """Import a weather forecast (columns temp_c and ghi_w_m2): the loop's weather forecast."""
    frame = _read(file, WEATHER, site)
    _as_forecast(file, frame, source=IMPORTED_WEATHER, db_url=db)


@import_app.command("history")
def history(file: FileArg, site: SiteOpt = None, db: DbOpt = None) -> None:
    """Import measured demand (electricity_kw, heat_kw, cooling_kw; as the aggregates export)."""
    frame = _read(file, HISTORY, site)
    native = frame.index[1] - frame.index[0] if len(frame.index) > 1 else BUCKET
    start, end = frame.index[0], frame.index[-1] + native
    if native > BUCKET:  # one reading per 15-minute bucket, as the site's series are resampled
        if native % BUCKET:
            fail(2, f"{file}: timestamp: resolution {native} is not a multiple of 15 minutes")
        bucket_index = pd.date_range(start, end, freq=BUCKET, inclusive="left")
        frame = resample_to(frame, bucket_index, path=str(file.resolve()))
    handle = open_current(db)
    try:
        present = aggregates_between(
            db=handle, start=start, end=end, quantities=list(frame.columns)
        )
        if not present.empty:
            first = present.iloc[0]
            msg = (
                f"{file}: {first['quantity']}: the store already has measurements from "
                f"{pd.Timestamp(first['bucket_start']).isoformat()} in this period "
                "(import only a period without measurements: an import does not overwrite them)"
            )
            fail(2, msg)
        rows = [
            ReadingRow(ts.to_pydatetime(), IMPORT_DEVICE, column, quantity, float(value))
            for column, quantity in HISTORY.items()
            for ts, value in zip(frame.index, frame[quantity], strict=True)
        ]
        save_readings(db=handle, rows=rows)
        buckets = aggregate_readings(
            db=handle, until=end.to_pydatetime(), lookback=(end - start) + timedelta(minutes=15)
        )
    except (SQLAlchemyError, StoreError) as exc:
        fail(1, f"{file}: not stored: {type(exc).__name__}: {exc}")
    finally:
        handle.dispose()
    typer.echo(
        f"{file}: {len(rows)} readings of {', '.join(frame.columns)} "
        f"({start.isoformat()} to {end.isoformat()}) stored, {buckets} buckets aggregated"
    )
