"""Day-ahead prices in a Forecast: published values where known, guesses flagged.

The day-ahead auction (EPEX) publishes the next local day's prices at 12:00 local, so at ``now``
they are known up to the end of today, or of tomorrow from 12:00 on
(:func:`day_ahead_known_until`). Later hours are guessed by :func:`add_prices` and flagged
``price.is_forecast``. Used by the forecasters of :mod:`energiemodell.forecast`.
"""

from __future__ import annotations

from datetime import time, timedelta

import numpy as np
import pandas as pd

from energiemodell.site import Site

DAY_AHEAD_COLUMN = "price.day_ahead_eur_per_mwh"
DAY_AHEAD_PUBLISHED_LOCAL = time(12, 0)
"""Local time the day-ahead auction results for the next day are known (EPEX, 12:00 CET)."""


def day_ahead_known_until(now: pd.Timestamp, tz: str) -> pd.Timestamp:
    """The end (UTC, exclusive) of the day-ahead prices published by ``now``.

    Before 12:00 local the prices of today are known; from 12:00 those of tomorrow too.
    """
    local = now.tz_convert(tz)
    days = 2 if local.time() >= DAY_AHEAD_PUBLISHED_LOCAL else 1
    midnight = pd.Timestamp(local.date() + timedelta(days=days)).tz_localize(tz)
    return midnight.tz_convert("UTC")


def add_prices(out: pd.DataFrame, site: Site, history: pd.DataFrame, *, level_adjust: bool) -> None:
    """Published day-ahead prices on ``out.index``; the rest guessed and flagged.

    The guess is the same hour one week earlier (two, three weeks for long horizons); with
    ``level_adjust`` it is shifted by the mean difference between the last published local
    day and the same hours one week before it.
    """
    index = pd.DatetimeIndex(out.index)
    out["price.is_forecast"] = False
    if DAY_AHEAD_COLUMN not in history.columns:
        return
    week = pd.Timedelta(days=7)
    known_until = day_ahead_known_until(index[0], site.timezone)
    prices = history[DAY_AHEAD_COLUMN]
    published = prices.loc[prices.index < known_until].dropna()
    values = published.reindex(index).to_numpy(dtype=float)
    unknown = ~np.isfinite(values)
    fallback = latest(published) if len(published) else 0.0
    guess = shifted(published, index, week, fallback)
    if level_adjust and len(published):
        last_day = published.loc[published.index >= known_until - pd.Timedelta(days=1)]
        before = published.reindex(pd.DatetimeIndex(last_day.index) - week).to_numpy(dtype=float)
        diff = last_day.to_numpy(dtype=float) - before
        if np.isfinite(diff).any():
            guess = guess + float(np.nanmean(diff))
    out[DAY_AHEAD_COLUMN] = np.where(unknown, guess, values)
    out["price.is_forecast"] = unknown


def latest(series: pd.Series) -> float:
    """The last finite value of ``series`` (0 when there is none)."""
    values = series.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values[-1]) if len(values) else 0.0


def shifted(
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
