"""What the loop hands to a forecaster: the history known at ``now``, from the site and the store.

The forecasters themselves live in :mod:`energiemodell.forecast` (this module makes none); the
loop needs only ``forecast(at, n)``. The history is the site's own series (the published prices
and, where the site has them, its demand series), overlaid with the demands measured on site:
the store's 15-minute aggregates of ``demand.<carrier>_kw`` quantities where devices measure
them. The forecaster cuts the history itself at what was known at ``now``.

The default forecaster is :class:`~energiemodell.forecast.ProfileForecaster`. Its weather
forecast is the weather imported with ``energiemodell import weather`` (the newest import
covering an interval wins), handed over as the forecaster's ``weather``. Where no import covers
an interval the forecaster falls back to the site's weather series ahead of ``now`` (the history
reaches ``n`` intervals past ``now`` where the site's series do; for the reference campus that
is the series' own weather, a perfect forecast), else holds the latest temperature and takes PV
from the clear sky, and flags the interval ``weather.is_fallback``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pandas as pd

from energiemodell.errors import SiteError
from energiemodell.forecast import DAY_AHEAD_COLUMN, Forecaster, ProfileForecaster
from energiemodell.forecast_weather import WEATHER_COLUMNS
from energiemodell.site import Site
from energiemodell.store import Database, StoredForecast, aggregates_wide, forecasts_issued
from energiemodell.timeseries import load_forecast, resample_to, series_coverage
from scheduler.journal import STORE_ERRORS

logger = logging.getLogger(__name__)

HISTORY_DAYS = 35
"""Days of history handed to the forecaster (the profile forecaster averages the last four
Sundays and holidays and fits its temperature slope on four weeks; persistence needs one)."""
IMPORTED_PRICES = "import:prices"
"""Source of the price series loaded with ``energiemodell import prices`` (table forecasts)."""
IMPORTED_WEATHER = "import:weather"
"""Source of the weather series loaded with ``energiemodell import weather``."""
_EVER = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))


class ForecastSource(Protocol):
    """What the loop asks for: the Forecast of ``n`` intervals from ``at``."""

    @property
    def name(self) -> str:
        """Recorded with every schedule."""
        ...

    def forecast(self, at: datetime, n: int) -> pd.DataFrame:
        """The Forecast for the ``n`` intervals starting at ``at`` (UTC)."""
        ...


@dataclass
class HistoryForecast:
    """A :class:`~energiemodell.forecast.Forecaster` fed with the site's series and measurements."""

    site: Site
    db: Database | None = None
    forecaster: Forecaster = field(default_factory=ProfileForecaster)
    name: str = "profile"

    def history(self, at: datetime, n: int) -> pd.DataFrame:
        """The site's series around ``at`` (as far as they reach), measured demands on top."""
        step = timedelta(minutes=self.site.step_min)
        start = pd.Timestamp(at - timedelta(days=HISTORY_DAYS))
        end = pd.Timestamp(at + n * step)
        cover = series_coverage(self.site).values()
        if cover:
            start = max(start, *(a for a, _ in cover))
            end = min(end, *(b for _, b in cover))
        steps = int((end - start) / pd.Timedelta(step))
        if steps <= 0:
            history = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"))
        else:
            history = load_forecast(self.site, start, steps)
        return self._imported_prices(self._measured(history, at), at, n)

    def _measured(self, history: pd.DataFrame, at: datetime) -> pd.DataFrame:
        if self.db is None:
            return history
        columns = [f"demand.{c}_kw" for c in ("electricity", "heat", "cooling")]
        try:
            measured = aggregates_wide(
                db=self.db, start=at - timedelta(days=HISTORY_DAYS), end=at, quantities=columns
            )
        except STORE_ERRORS:
            return history  # the store is down: the site's series still stand
        if measured.empty:
            return history
        merged = history.reindex(history.index.union(measured.index))
        for c in measured.columns:
            merged.loc[measured.index, c] = measured[c]
        return merged

    def _imported_prices(self, history: pd.DataFrame, at: datetime, n: int) -> pd.DataFrame:
        """Imported day-ahead prices for the horizon's intervals the site's series do not cover.

        Only intervals from ``at`` on are added (the past rows stay the site's and the
        store's); the newest import wins; the forecaster still uses a price only once it is
        published.
        """
        if self.db is None:
            return history
        try:
            imports = forecasts_issued(
                db=self.db, start=_EVER[0], end=_EVER[1], source=IMPORTED_PRICES
            )
        except STORE_ERRORS:
            return history
        step = pd.Timedelta(minutes=self.site.step_min)
        horizon = pd.date_range(pd.Timestamp(at), periods=n, freq=step)
        prices = pd.Series(float("nan"), index=horizon)
        for f in imports:  # oldest first: a newer import overwrites
            on_grid = _on_grid(f.frame[DAY_AHEAD_COLUMN], step).reindex(horizon)
            prices = on_grid.combine_first(prices)
        if DAY_AHEAD_COLUMN in history.columns:
            own = history[DAY_AHEAD_COLUMN].reindex(horizon)
            prices = prices[own.isna().to_numpy()]
        prices = prices.dropna()
        if prices.empty:
            return history
        merged = history.reindex(history.index.union(prices.index))
        merged.loc[prices.index, DAY_AHEAD_COLUMN] = prices
        return merged

    def imported_weather(self, at: datetime, n: int) -> pd.DataFrame:
        """The imported weather forecast on the horizon's intervals (NaN where none covers one).

        Every import (``energiemodell import weather``) is put on the site step by the site
        series' rules (temperatures interpolated, irradiance repeated or averaged); for each
        interval the newest import that covers it wins. Without a store, or while it is
        unavailable, there is none (the forecaster falls back and flags it).
        """
        step = pd.Timedelta(minutes=self.site.step_min)
        horizon = pd.date_range(pd.Timestamp(at), periods=n, freq=step)
        weather = pd.DataFrame(index=horizon, columns=list(WEATHER_COLUMNS), dtype=float)
        if self.db is None:
            return weather
        try:
            imports = forecasts_issued(
                db=self.db, start=_EVER[0], end=_EVER[1], source=IMPORTED_WEATHER
            )
        except STORE_ERRORS as exc:
            logger.warning("imported weather unavailable (store): %s", exc)
            return weather
        for f in reversed(imports):  # newest first: it wins where it has values
            on_grid = _weather_on_grid(f, step)
            if on_grid is not None:
                weather = weather.combine_first(on_grid.reindex(horizon))
        return weather[list(WEATHER_COLUMNS)]

    def forecast(self, at: datetime, n: int) -> pd.DataFrame:
        """The forecaster's Forecast from the history known at ``at`` and imported weather."""
        return self.forecaster.forecast(
            self.site,
            self.history(at, n),
            pd.Timestamp(at),
            n,
            weather=self.imported_weather(at, n),
        )


def _weather_on_grid(imported: StoredForecast, step: pd.Timedelta) -> pd.DataFrame | None:
    """An imported weather series on the site step over its own span (None: does not fit)."""
    frame = imported.frame[[c for c in WEATHER_COLUMNS if c in imported.frame.columns]]
    if len(frame.index) < 2:
        return frame
    native = pd.Timedelta(frame.index[1] - frame.index[0])
    first, end = frame.index[0].ceil(step), (frame.index[-1] + native).floor(step)
    grid = pd.date_range(first, end, freq=step, inclusive="left")
    if grid.empty:
        return None
    try:
        return resample_to(frame, grid, path=f"{IMPORTED_WEATHER} #{imported.id}")
    except SiteError as exc:  # imported without --site, at a resolution that misses the step
        logger.warning("imported weather not used: %s", exc)
        return None


def _on_grid(series: pd.Series, step: pd.Timedelta) -> pd.Series:
    """A price series on the site step: each value holds over its own interval."""
    index = series.index
    native = index[1] - index[0] if len(index) > 1 else step
    if native < step:
        return series.resample(step, origin="epoch").mean()
    grid = pd.date_range(index[0], index[-1] + native, freq=step, inclusive="left")
    return series.reindex(grid, method="ffill")


@dataclass
class SeriesForecast:
    """The site's own series as the forecast (perfect foresight where they are the truth)."""

    site: Site
    name: str = "site series (perfect foresight)"

    def forecast(self, at: datetime, n: int) -> pd.DataFrame:
        """The site's series over the horizon."""
        return load_forecast(self.site, pd.Timestamp(at), n)
