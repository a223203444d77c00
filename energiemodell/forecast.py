"""Forecasters: what the plant expects, built only from what is known at the time.

A forecaster turns history into a Forecast (see :mod:`energiemodell.timeseries`) for the
``n`` intervals starting at ``now``. History is passed in as a DataFrame on a UTC index with
Forecast columns; it may extend past ``now`` (a scenario passes the whole data set), and every
forecaster here cuts it itself at what was known at ``now``:

- measured quantities (demands, PV, weather): rows before ``now``;
- day-ahead prices: published at 12:00 local for the next local day (EPEX day-ahead auction),
  so at ``now`` they are known up to the end of today, or of tomorrow from 12:00 on.

The control loop's forecasters will extend this module; the protocol is the seam.
"""

from __future__ import annotations

import logging
from datetime import time, timedelta
from typing import Protocol

import numpy as np
import pandas as pd

from energiemodell.site import Site
from energiemodell.timeseries import horizon_index

logger = logging.getLogger(__name__)

DAY_AHEAD_COLUMN = "price.day_ahead_eur_per_mwh"
DAY_AHEAD_PUBLISHED_LOCAL = time(12, 0)
"""Local time the day-ahead auction results for the next day are known (EPEX, 12:00 CET)."""

_LOAD_COLUMNS = ("demand.electricity_kw", "demand.heat_kw", "demand.cooling_kw")
_SOLAR_COLUMNS = ("pv.kw_per_kwp", "weather.ghi_w_m2")


class Forecaster(Protocol):
    """Anything that makes a Forecast from history known at ``now``."""

    def forecast(
        self, site: Site, history: pd.DataFrame, now: pd.Timestamp, n: int
    ) -> pd.DataFrame:
        """The Forecast for the ``n`` intervals starting at ``now`` (UTC)."""
        ...


def day_ahead_known_until(now: pd.Timestamp, tz: str) -> pd.Timestamp:
    """The end (UTC, exclusive) of the day-ahead prices published by ``now``.

    Before 12:00 local the prices of today are known; from 12:00 those of tomorrow too.
    """
    local = now.tz_convert(tz)
    days = 2 if local.time() >= DAY_AHEAD_PUBLISHED_LOCAL else 1
    midnight = pd.Timestamp(local.date() + timedelta(days=days)).tz_localize(tz)
    return midnight.tz_convert("UTC")


class PersistenceForecaster:
    """Baseline forecaster: last week's profile, pulled towards the latest measurement.

    Notes
    -----
    For a load column and lead time ``k`` steps (``k = 0`` is the interval starting at
    ``now``)::

        f[k] = w_k * latest + (1 - w_k) * week_ago[k],   w_k = max(0, 1 - k * dt / blend_h)

    where ``latest`` is the last measured value before ``now`` and ``week_ago[k]`` the value
    seven days before the forecast interval (``latest`` where history has no such row).
    PV per kWp and irradiance repeat yesterday's values; the temperature holds its latest value.
    Day-ahead prices are the published values where known (:func:`day_ahead_known_until`),
    later hours repeat the same hour one week earlier and are flagged ``price.is_forecast``.
    """

    def __init__(self, *, blend_h: float = 6.0) -> None:
        if blend_h <= 0:
            msg = f"blend_h must be positive, got {blend_h}"
            raise ValueError(msg)
        self.blend_h = blend_h

    def forecast(
        self, site: Site, history: pd.DataFrame, now: pd.Timestamp, n: int
    ) -> pd.DataFrame:
        """The Forecast for the ``n`` intervals starting at ``now`` (UTC)."""
        index = horizon_index(now, n, site.step_min)
        now = index[0]
        dt_h = site.step_min / 60
        past = history.loc[history.index < now]
        out = pd.DataFrame(index=index)
        lead_h = np.arange(n) * dt_h
        weight = np.clip(1 - lead_h / self.blend_h, 0.0, 1.0)
        week, day = pd.Timedelta(days=7), pd.Timedelta(days=1)
        for col in _LOAD_COLUMNS:
            if col not in past.columns:
                continue
            latest = _latest(past[col])
            ago = _shifted(past[col], index, week, latest)
            out[col] = weight * latest + (1 - weight) * ago
        for col in _SOLAR_COLUMNS:
            if col in past.columns:
                out[col] = _repeat_daily(past[col], index, day)
        if "weather.temp_c" in past.columns:
            out["weather.temp_c"] = _latest(past["weather.temp_c"])
        for carrier, share in site.security.critical_share_pu.items():
            out[f"demand.{carrier}_critical_pu"] = share
        out["price.is_forecast"] = False
        if DAY_AHEAD_COLUMN in history.columns:
            known_until = day_ahead_known_until(now, site.timezone)
            prices = history[DAY_AHEAD_COLUMN]
            published = prices.loc[prices.index < known_until]
            values = published.reindex(index).to_numpy(dtype=float)
            unknown = ~np.isfinite(values)
            fallback = _latest(published) if len(published) else 0.0
            guess = _shifted(published, index, week, fallback)
            out[DAY_AHEAD_COLUMN] = np.where(unknown, guess, values)
            out["price.is_forecast"] = unknown
        return out


def _latest(series: pd.Series) -> float:
    """The last finite value of ``series`` (0 when there is none)."""
    values = series.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values[-1]) if len(values) else 0.0


def _shifted(
    series: pd.Series, index: pd.DatetimeIndex, lag: pd.Timedelta, fallback: float
) -> np.ndarray:
    """``series`` at ``index - lag`` (repeating the lag until known), else ``fallback``."""
    out = np.full(len(index), np.nan)
    for k in range(1, 4):  # a week ago, or two or three weeks ago for long horizons
        missing = ~np.isfinite(out)
        if not missing.any():
            break
        ago = series.reindex(index - k * lag).to_numpy(dtype=float)
        out[missing] = ago[missing]
    out[~np.isfinite(out)] = fallback
    return out


def _repeat_daily(series: pd.Series, index: pd.DatetimeIndex, day: pd.Timedelta) -> np.ndarray:
    """The value one (or two, ...) days earlier at the same time; 0 where history has none."""
    out = np.full(len(index), np.nan)
    for k in range(1, 9):
        missing = ~np.isfinite(out)
        if not missing.any():
            break
        ago = series.reindex(index - k * day).to_numpy(dtype=float)
        out[missing] = ago[missing]
    out[~np.isfinite(out)] = 0.0
    return out
