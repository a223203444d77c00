"""Forecasters: what the plant expects, built only from what is known at the time.

A forecaster turns history into a Forecast (see :mod:`energiemodell.timeseries`) for the
``n`` intervals starting at ``now``. History is passed in as a DataFrame on a UTC index with
Forecast columns; it may extend past ``now`` (a scenario passes the whole data set), and every
forecaster here cuts it itself at what was known at ``now``:

- measured quantities (demands, PV, weather): rows before ``now``;
- day-ahead prices: published at 12:00 local for the next local day (EPEX day-ahead auction),
  so at ``now`` they are known up to the end of today, or of tomorrow from 12:00 on.

Weather is the exception: a weather forecast is an input, either the ``weather`` frame
handed to :meth:`Forecaster.forecast` or, without one, the rows of ``weather.*`` at or after
``now`` in the history. :class:`ProfileForecaster` uses it and flags ``weather.is_fallback``
where none covers an interval (:mod:`energiemodell.forecast_weather`); prices are handled in
:mod:`energiemodell.forecast_prices`. The protocol is the seam.
"""

from __future__ import annotations

import logging
from typing import Protocol

import holidays
import numpy as np
import pandas as pd

from energiemodell.forecast_prices import (
    DAY_AHEAD_COLUMN,
    DAY_AHEAD_PUBLISHED_LOCAL,
    add_prices,
    day_ahead_known_until,
    latest,
    shifted,
)
from energiemodell.forecast_weather import (
    COOLING_BASE_C,
    HEATING_BASE_C,
    SOLAR_COLUMNS,
    TEMP_COLUMN,
    WEATHER_FALLBACK,
    add_solar,
    degrees,
    repeat_daily,
    temperature_path,
    weather_ahead,
)
from energiemodell.site import Site
from energiemodell.timeseries import horizon_index

__all__ = [
    "COOLING_BASE_C",
    "DAY_AHEAD_COLUMN",
    "DAY_AHEAD_PUBLISHED_LOCAL",
    "HEATING_BASE_C",
    "WEATHER_FALLBACK",
    "Forecaster",
    "PersistenceForecaster",
    "ProfileForecaster",
    "day_ahead_known_until",
]

logger = logging.getLogger(__name__)

_LOAD_COLUMNS = ("demand.electricity_kw", "demand.heat_kw", "demand.cooling_kw")


class Forecaster(Protocol):
    """Anything that makes a Forecast from history known at ``now``."""

    def forecast(
        self,
        site: Site,
        history: pd.DataFrame,
        now: pd.Timestamp,
        n: int,
        *,
        weather: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """The Forecast for the ``n`` intervals starting at ``now`` (UTC).

        ``weather``: a weather forecast (``weather.temp_c``, ``weather.ghi_w_m2`` on the site
        step; NaN or missing rows where it has none). Where given it wins over the history's
        weather rows at or after ``now``, which then only stand in for it (flagged
        ``weather.is_fallback``).
        """
        ...


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
    No weather forecast is read (``weather`` is ignored): every interval is flagged
    ``weather.is_fallback``. Day-ahead prices are the published values where known
    (:func:`day_ahead_known_until`), later hours repeat the same hour one week earlier and are
    flagged ``price.is_forecast``.
    """

    def __init__(self, *, blend_h: float = 6.0) -> None:
        if blend_h <= 0:
            msg = f"blend_h must be positive, got {blend_h}"
            raise ValueError(msg)
        self.blend_h = blend_h

    def forecast(
        self,
        site: Site,
        history: pd.DataFrame,
        now: pd.Timestamp,
        n: int,
        *,
        weather: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """The Forecast for the ``n`` intervals starting at ``now`` (UTC)."""
        del weather  # the baseline reads no weather forecast
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
            last = latest(past[col])
            ago = shifted(past[col], index, week, last)
            out[col] = weight * last + (1 - weight) * ago
        for col in SOLAR_COLUMNS:
            if col in past.columns:
                out[col] = repeat_daily(past[col], index, day)
        if TEMP_COLUMN in past.columns:
            out[TEMP_COLUMN] = latest(past[TEMP_COLUMN])
        out[WEATHER_FALLBACK] = True
        for carrier, share in site.security.critical_share_pu.items():
            out[f"demand.{carrier}_critical_pu"] = share
        add_prices(out, site, history, level_adjust=False)
        return out


_DEGREE_COLUMNS = {"demand.heat_kw": "heating", "demand.cooling_kw": "cooling"}
_WORKING_DAY, _SATURDAY, _SUNDAY_OR_HOLIDAY = 0, 1, 2


class ProfileForecaster:
    """Loads by day type and time of day, temperature-corrected; PV from irradiance or clear sky.

    Inputs known at ``now``: measured rows before ``now`` as for every forecaster here, and a
    weather forecast (``weather.temp_c``, ``weather.ghi_w_m2``): the ``weather`` frame where it
    has values, else the rows of ``history`` at or after ``now`` in the weather columns (a
    scenario passing the whole data set thus gives a perfect weather forecast); where neither
    has them the temperature holds its latest value and PV follows the clear sky. Intervals
    the weather forecast (``weather`` if given, else those rows) does not cover are flagged
    ``weather.is_fallback`` (:mod:`energiemodell.forecast_weather`). Demands and PV after
    ``now`` are never read.

    Notes
    -----
    Day types, by local date: working day, Saturday, Sunday or public holiday (the holidays of
    ``site.location.country``/``subdivision``, package ``holidays``; weekends only without a
    location). For a load column, interval ``t`` (local time of day ``tod``, day type ``c``)
    and lead ``k`` steps::

        profile[t] = mean of the load at tod over the last ``days`` full local days of type c
                     before today (all types if none)
        model[t]   = profile[t] + b * (x[t] - x_ref[t]),  |b * (x - x_ref)| <= 0.5 profile[t]
        f[k]       = max(0, model[k] + w_k * (latest - model[latest])),
                     w_k = max(0, 1 - k * dt / blend_h)

    with ``latest`` the last measured value and ``model[latest]`` the model at its interval.
    ``x`` is the degree index of the 24 h trailing mean temperature: heating degrees
    ``max(0, 15 °C - T24)`` for heat, cooling degrees ``max(0, T24 - 14 °C)`` for cooling
    (electricity gets no correction); ``x_ref`` is its profile over the same days. The slope
    ``b`` (kW per K) is the least-squares fit of the load on ``x``, both less their mean by
    day type and time of day over the last ``fit_days`` days, bounded below by 0 (more degrees
    never lower the demand).

    PV per kWp: ``pr * GHI_forecast`` with the performance ratio ``pr`` (kW/kWp per W/m²)
    fitted through the origin on the last ``pv_days`` days of measured PV against GHI; where
    no GHI forecast is given, ``r * GHI_clear_sky`` (:mod:`energiemodell.solar`, Haurwitz)
    with ``r`` the ratio of measured PV to clear-sky GHI over those days. Prices as
    :class:`PersistenceForecaster`, with unpublished hours level-adjusted by the mean
    difference of the last published day to the week before it.
    """

    def __init__(
        self, *, days: int = 4, blend_h: float = 3.0, fit_days: int = 28, pv_days: int = 7
    ) -> None:
        if min(days, fit_days, pv_days) < 1 or blend_h <= 0:
            msg = (
                f"days, fit_days, pv_days must be >= 1 and blend_h positive, got "
                f"{days}, {fit_days}, {pv_days}, {blend_h}"
            )
            raise ValueError(msg)
        self.days, self.blend_h, self.fit_days, self.pv_days = days, blend_h, fit_days, pv_days

    def forecast(
        self,
        site: Site,
        history: pd.DataFrame,
        now: pd.Timestamp,
        n: int,
        *,
        weather: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """The Forecast for the ``n`` intervals starting at ``now`` (UTC)."""
        index = horizon_index(now, n, site.step_min)
        now = index[0]
        past = history.loc[history.index < now]
        out = pd.DataFrame(index=index)
        ahead, fallback = weather_ahead(history, weather, index)
        temps = temperature_path(history, now, ahead[TEMP_COLUMN])
        if temps is not None:
            out[TEMP_COLUMN] = temps.reindex(index).to_numpy(dtype=float)
        today = now.tz_convert(site.timezone).tz_localize(None).normalize()
        lead_h = np.arange(n) * site.step_min / 60
        weight = np.clip(1 - lead_h / self.blend_h, 0.0, 1.0)
        for col in _LOAD_COLUMNS:
            values = past[col].dropna() if col in past.columns else pd.Series(dtype=float)
            if values.empty:
                continue
            target = index.insert(0, values.index[-1])
            model = self._profile(site, values, target, today)
            kind = _DEGREE_COLUMNS.get(col)
            if kind is not None and temps is not None:
                x = degrees(temps, kind)
                x_ref = self._profile(site, x.reindex(values.index).dropna(), target, today)
                x_t = x.reindex(target).to_numpy(dtype=float)
                slope = self._slope(site, values, x)
                corr = np.nan_to_num(slope * (x_t - x_ref))
                model = model + np.clip(corr, -0.5 * np.abs(model), 0.5 * np.abs(model))
            anomaly = float(values.iloc[-1]) - model[0]
            out[col] = np.maximum(0.0, model[1:] + weight * anomaly)
        ghi_ahead = ahead["weather.ghi_w_m2"].to_numpy(dtype=float)
        add_solar(out, site, past, ghi_ahead, pv_days=self.pv_days)
        out[WEATHER_FALLBACK] = fallback
        for carrier, share in site.security.critical_share_pu.items():
            out[f"demand.{carrier}_critical_pu"] = share
        add_prices(out, site, history, level_adjust=True)
        return out

    def _profile(
        self, site: Site, values: pd.Series, target: pd.DatetimeIndex, today: pd.Timestamp
    ) -> np.ndarray:
        """Mean by day type and local time of day over the last full days (see Notes)."""
        local = pd.DatetimeIndex(values.index).tz_convert(site.timezone).tz_localize(None)
        frame = pd.DataFrame(
            {"v": values.to_numpy(dtype=float), "date": local.normalize(), "tod": _tod(local)}
        )
        frame = frame[frame["date"] < today]
        table = frame.pivot_table(index="date", columns="tod", values="v", aggfunc="mean")
        fallback = latest(values)
        t_local = target.tz_convert(site.timezone).tz_localize(None)
        t_types = _day_types(site, t_local.normalize())
        t_tod = _tod(t_local)
        out = np.full(len(target), np.nan)
        if table.empty:
            return np.full(len(target), fallback)
        types = _day_types(site, pd.DatetimeIndex(table.index))
        overall = pd.Series(_last_k_mean(table.to_numpy(dtype=float), self.days), table.columns)
        for code in (_WORKING_DAY, _SATURDAY, _SUNDAY_OR_HOLIDAY):
            rows = table.to_numpy(dtype=float)[types == code]
            by_tod = pd.Series(_last_k_mean(rows, self.days), table.columns)
            by_tod = by_tod.fillna(overall)
            here = t_types == code
            out[here] = by_tod.reindex(t_tod[here]).to_numpy(dtype=float)
        out[~np.isfinite(out)] = fallback
        return out

    def _slope(self, site: Site, values: pd.Series, x: pd.Series) -> float:
        """Least-squares kW per degree of the load on ``x``, both less their day-type means."""
        start = values.index[-1] - pd.Timedelta(days=self.fit_days)
        y = values.loc[values.index > start]
        xs = x.reindex(y.index)
        local = y.index.tz_convert(site.timezone).tz_localize(None)
        keys = [_day_types(site, local.normalize()), _tod(local)]
        frame = pd.DataFrame({"y": y.to_numpy(dtype=float), "x": xs.to_numpy(dtype=float)})
        frame = frame.dropna()
        if len(frame) < 2:
            return 0.0
        grouped = frame.groupby([k[frame.index] for k in keys])
        dev = frame - grouped.transform("mean")
        sxx = float((dev["x"] ** 2).sum())
        if sxx <= 1e-9:
            return 0.0
        return max(0.0, float((dev["x"] * dev["y"]).sum()) / sxx)


def _tod(local: pd.DatetimeIndex) -> np.ndarray:
    """Minutes since local midnight."""
    return np.asarray(local.hour * 60 + local.minute, dtype=int)


def _day_types(site: Site, dates: pd.DatetimeIndex) -> np.ndarray:
    """Working day 0, Saturday 1, Sunday or public holiday 2, for local (naive) dates."""
    weekday = np.asarray(dates.day_of_week)
    out = np.where(weekday == 6, _SUNDAY_OR_HOLIDAY, np.where(weekday == 5, _SATURDAY, 0))
    loc = site.location
    if loc is not None and len(dates):
        years = range(int(dates.year.min()), int(dates.year.max()) + 1)
        days_off = holidays.country_holidays(loc.country, subdiv=loc.subdivision, years=years)
        off = np.array([d in days_off for d in dates.date], dtype=bool)
        out = np.where(off, _SUNDAY_OR_HOLIDAY, out)
    return np.asarray(out, dtype=int)


def _last_k_mean(rows: np.ndarray, k: int) -> np.ndarray:
    """Column means of the last ``k`` finite values of each column (NaN where none)."""
    if rows.size == 0:
        return np.full(rows.shape[1], np.nan)
    ok = np.isfinite(rows)
    from_end = np.cumsum(ok[::-1], axis=0)[::-1]
    use = ok & (from_end <= k)
    count = use.sum(axis=0)
    total = np.where(use, rows, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
