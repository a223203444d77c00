"""Weather in a Forecast: the weather forecast, its fallback, temperature degrees and PV.

A forecaster's weather forecast is, per interval of the horizon and in this order:

1. the ``weather`` frame handed to it (for the control loop: the newest weather imported with
   ``energiemodell import weather``), where it has values;
2. else the rows of ``history`` at or after ``now`` in the weather columns (a scenario passing
   its whole data set; the loop's site series where they reach past ``now``);
3. else nothing: the temperature holds its latest value (measured, or the last forecast one),
   irradiance and PV follow the clear sky (or repeat yesterday for a site without a location).

:func:`weather_ahead` returns the forecast values and the flag :data:`WEATHER_FALLBACK`: True
where *the* weather forecast (``weather`` if given, else history's rows ahead) lacks the
temperature or the irradiance of the interval, so steps 2 or 3 stand in. Used by the
forecasters of :mod:`energiemodell.forecast`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energiemodell.site import Site
from energiemodell.solar import clear_sky_ghi

TEMP_COLUMN = "weather.temp_c"
GHI_COLUMN = "weather.ghi_w_m2"
PV_COLUMN = "pv.kw_per_kwp"
WEATHER_COLUMNS = (TEMP_COLUMN, GHI_COLUMN)
"""The columns of a weather forecast."""
WEATHER_FALLBACK = "weather.is_fallback"
"""Forecast flag: True where no weather forecast covered the interval (see the module doc)."""
SOLAR_COLUMNS = (PV_COLUMN, GHI_COLUMN)
HEATING_BASE_C = 15.0
"""Heating degrees count below this smoothed ambient temperature (°C)."""
COOLING_BASE_C = 14.0
"""Cooling degrees count above this smoothed ambient temperature (°C)."""


def weather_ahead(
    history: pd.DataFrame, weather: pd.DataFrame | None, index: pd.DatetimeIndex
) -> tuple[pd.DataFrame, np.ndarray]:
    """The weather forecast on ``index`` (NaN where none) and where it is a fallback.

    ``weather`` values win; history's rows on ``index`` fill the rest. The flag is True where
    the weather forecast proper (``weather`` if given, else history's rows) misses a column.
    """
    own = pd.DataFrame(
        {c: _column(history, c, index) for c in WEATHER_COLUMNS}, index=index, dtype=float
    )
    if weather is None:
        return own, own.isna().any(axis=1).to_numpy()
    given = pd.DataFrame(
        {c: _column(weather, c, index) for c in WEATHER_COLUMNS}, index=index, dtype=float
    )
    return given.combine_first(own), given.isna().any(axis=1).to_numpy()


def _column(frame: pd.DataFrame, column: str, index: pd.DatetimeIndex) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(index), np.nan)
    return frame[column].reindex(index).to_numpy(dtype=float)


def temperature_path(
    history: pd.DataFrame, now: pd.Timestamp, ahead: pd.Series
) -> pd.Series | None:
    """Measured temperature before ``now``, then ``ahead``; a gap holds the latest value.

    The latest value is the last measured or forecast one before the gap (the first forecast
    one when nothing was measured). None when there is no temperature at all.
    """
    measured = pd.Series(dtype=float)
    if TEMP_COLUMN in history.columns:
        temp = history[TEMP_COLUMN]
        measured = temp.loc[temp.index < now].dropna()
    if measured.empty and not ahead.notna().any():
        return None
    path: pd.Series = (ahead if measured.empty else pd.concat([measured, ahead])).ffill().bfill()
    return path


def degrees(temps: pd.Series, kind: str) -> pd.Series:
    """Heating or cooling degrees (K) of the 24 h trailing mean temperature."""
    smooth = temps.rolling("24h").mean()
    if kind == "heating":
        return (HEATING_BASE_C - smooth).clip(lower=0.0)
    return (smooth - COOLING_BASE_C).clip(lower=0.0)


def add_solar(
    out: pd.DataFrame, site: Site, past: pd.DataFrame, ghi_ahead: np.ndarray, *, pv_days: int
) -> None:
    """PV per kWp and GHI over ``out.index`` from the GHI forecast ``ghi_ahead`` (NaN: none).

    GHI: the forecast, else the clear sky times the ratio of measured GHI to it over the last
    ``pv_days`` days (yesterday's values without a site location). PV per kWp: ``pr`` times
    the GHI forecast, ``pr`` fitted through the origin on those days' measured PV against GHI;
    else the clear sky times the ratio of measured PV to it (yesterday's PV without a location).
    """
    index = pd.DatetimeIndex(out.index)
    recent = past.loc[past.index >= index[0] - pd.Timedelta(days=pv_days)]
    forecast = np.isfinite(ghi_ahead)
    loc = site.location
    sky = sky_past = np.zeros(0)
    if loc is not None:
        sky = clear_sky_ghi(index, loc.latitude_deg, loc.longitude_deg, site.step_min)
        sky_past = clear_sky_ghi(
            pd.DatetimeIndex(recent.index), loc.latitude_deg, loc.longitude_deg, site.step_min
        )

    def guess(column: str) -> np.ndarray | None:
        """The column without a GHI forecast: clear sky times its ratio, or yesterday."""
        if column not in past.columns:
            return None
        if loc is None:
            return repeat_daily(past[column], index, pd.Timedelta(days=1))
        return ratio(recent[column].to_numpy(dtype=float), sky_past) * sky

    ghi_guess = guess(GHI_COLUMN)
    if ghi_guess is not None:
        out[GHI_COLUMN] = np.where(forecast, ghi_ahead, ghi_guess)
    elif forecast.all():
        out[GHI_COLUMN] = ghi_ahead
    pv_guess = guess(PV_COLUMN)
    if pv_guess is None:
        return
    if GHI_COLUMN in recent.columns:
        pv = recent[PV_COLUMN].to_numpy(dtype=float)
        ghi = recent[GHI_COLUMN].to_numpy(dtype=float)
        ok = np.isfinite(pv) & np.isfinite(ghi)
        sxx = float((ghi[ok] ** 2).sum())
        pr = float((ghi[ok] * pv[ok]).sum()) / sxx if sxx > 0 else 0.0
        pv_guess = np.where(forecast, pr * ghi_ahead, pv_guess)
    out[PV_COLUMN] = np.maximum(0.0, pv_guess)


def ratio(measured: np.ndarray, sky: np.ndarray) -> float:
    """Sum of ``measured`` over the sum of clear-sky GHI where the sun is up (0 when none)."""
    ok = np.isfinite(measured) & (sky > 0)
    total = float(sky[ok].sum())
    return float(measured[ok].sum()) / total if total > 0 else 0.0


def repeat_daily(series: pd.Series, index: pd.DatetimeIndex, day: pd.Timedelta) -> np.ndarray:
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
