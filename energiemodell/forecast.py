"""Forecasters: what the plant expects, built only from what is known at the time.

A forecaster turns history into a Forecast (see :mod:`energiemodell.timeseries`) for the
``n`` intervals starting at ``now``. History is passed in as a DataFrame on a UTC index with
Forecast columns; it may extend past ``now`` (a scenario passes the whole data set), and every
forecaster here cuts it itself at what was known at ``now``:

- measured quantities (demands, PV, weather): rows before ``now``;
- day-ahead prices: published at 12:00 local for the next local day (EPEX day-ahead auction),
  so at ``now`` they are known up to the end of today, or of tomorrow from 12:00 on.

Weather columns are the exception: :class:`ProfileForecaster` reads rows of ``weather.*`` at or
after ``now`` as a weather forecast (see its docstring). The protocol is the seam.
"""

from __future__ import annotations

import logging
from datetime import time, timedelta
from typing import Protocol

import holidays
import numpy as np
import pandas as pd

from energiemodell.site import Site
from energiemodell.solar import clear_sky_ghi
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
        _add_prices(out, site, history, level_adjust=False)
        return out


HEATING_BASE_C = 15.0
"""Heating degrees count below this smoothed ambient temperature (°C)."""
COOLING_BASE_C = 14.0
"""Cooling degrees count above this smoothed ambient temperature (°C)."""
_DEGREE_COLUMNS = {"demand.heat_kw": "heating", "demand.cooling_kw": "cooling"}
_WORKING_DAY, _SATURDAY, _SUNDAY_OR_HOLIDAY = 0, 1, 2


class ProfileForecaster:
    """Loads by day type and time of day, temperature-corrected; PV from irradiance or clear sky.

    Inputs known at ``now``: measured rows before ``now`` as for every forecaster here. Rows of
    ``history`` at or after ``now`` in the **weather columns** (``weather.temp_c``,
    ``weather.ghi_w_m2``) are taken as a weather forecast (a scenario passing the whole data
    set thus gives a perfect weather forecast); where they are missing the temperature holds
    its latest value and PV follows the clear sky. Demands and PV after ``now`` are never read.

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
        self, site: Site, history: pd.DataFrame, now: pd.Timestamp, n: int
    ) -> pd.DataFrame:
        """The Forecast for the ``n`` intervals starting at ``now`` (UTC)."""
        index = horizon_index(now, n, site.step_min)
        now = index[0]
        past = history.loc[history.index < now]
        out = pd.DataFrame(index=index)
        temps = _temperature_path(history, now, index)
        if temps is not None:
            out["weather.temp_c"] = temps.reindex(index).to_numpy(dtype=float)
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
                x = _degrees(temps, kind)
                x_ref = self._profile(site, x.reindex(values.index).dropna(), target, today)
                x_t = x.reindex(target).to_numpy(dtype=float)
                slope = self._slope(site, values, x)
                corr = np.nan_to_num(slope * (x_t - x_ref))
                model = model + np.clip(corr, -0.5 * np.abs(model), 0.5 * np.abs(model))
            anomaly = float(values.iloc[-1]) - model[0]
            out[col] = np.maximum(0.0, model[1:] + weight * anomaly)
        self._add_solar(out, site, history, past)
        for carrier, share in site.security.critical_share_pu.items():
            out[f"demand.{carrier}_critical_pu"] = share
        _add_prices(out, site, history, level_adjust=True)
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
        fallback = _latest(values)
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

    def _add_solar(
        self, out: pd.DataFrame, site: Site, history: pd.DataFrame, past: pd.DataFrame
    ) -> None:
        """PV per kWp and GHI over ``out.index`` (see Notes)."""
        index = pd.DatetimeIndex(out.index)
        recent = past.loc[past.index >= index[0] - pd.Timedelta(days=self.pv_days)]
        ghi_ahead = (
            history["weather.ghi_w_m2"].reindex(index).to_numpy(dtype=float)
            if "weather.ghi_w_m2" in history.columns
            else np.full(len(index), np.nan)
        )
        loc = site.location
        if loc is None:
            for col in _SOLAR_COLUMNS:
                if col in past.columns:
                    out[col] = _repeat_daily(past[col], index, pd.Timedelta(days=1))
            if np.isfinite(ghi_ahead).all():
                out["weather.ghi_w_m2"] = ghi_ahead
            return
        sky = clear_sky_ghi(index, loc.latitude_deg, loc.longitude_deg, site.step_min)
        sky_past = clear_sky_ghi(
            pd.DatetimeIndex(recent.index), loc.latitude_deg, loc.longitude_deg, site.step_min
        )
        if "weather.ghi_w_m2" in recent.columns:
            ratio = _ratio(recent["weather.ghi_w_m2"].to_numpy(dtype=float), sky_past)
            out["weather.ghi_w_m2"] = np.where(np.isfinite(ghi_ahead), ghi_ahead, ratio * sky)
        if "pv.kw_per_kwp" not in recent.columns:
            return
        pv = recent["pv.kw_per_kwp"].to_numpy(dtype=float)
        by_sky = _ratio(pv, sky_past) * sky
        if "weather.ghi_w_m2" in recent.columns:
            ghi = recent["weather.ghi_w_m2"].to_numpy(dtype=float)
            ok = np.isfinite(pv) & np.isfinite(ghi)
            sxx = float((ghi[ok] ** 2).sum())
            pr = float((ghi[ok] * pv[ok]).sum()) / sxx if sxx > 0 else 0.0
            by_sky = np.where(np.isfinite(ghi_ahead), pr * ghi_ahead, by_sky)
        out["pv.kw_per_kwp"] = np.maximum(0.0, by_sky)


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


def _temperature_path(
    history: pd.DataFrame, now: pd.Timestamp, index: pd.DatetimeIndex
) -> pd.Series | None:
    """Measured temperature before ``now``, then the forecast rows (else the latest value)."""
    if "weather.temp_c" not in history.columns:
        return None
    temp = history["weather.temp_c"]
    measured = temp.loc[temp.index < now].dropna()
    if measured.empty:
        return None
    ahead = temp.reindex(index).fillna(float(measured.iloc[-1]))
    path: pd.Series = pd.concat([measured, ahead])
    return path


def _degrees(temps: pd.Series, kind: str) -> pd.Series:
    """Heating or cooling degrees (K) of the 24 h trailing mean temperature."""
    smooth = temps.rolling("24h").mean()
    if kind == "heating":
        return (HEATING_BASE_C - smooth).clip(lower=0.0)
    return (smooth - COOLING_BASE_C).clip(lower=0.0)


def _ratio(measured: np.ndarray, sky: np.ndarray) -> float:
    """Sum of ``measured`` over the sum of clear-sky GHI where the sun is up (0 when none)."""
    ok = np.isfinite(measured) & (sky > 0)
    total = float(sky[ok].sum())
    return float(measured[ok].sum()) / total if total > 0 else 0.0


def _add_prices(
    out: pd.DataFrame, site: Site, history: pd.DataFrame, *, level_adjust: bool
) -> None:
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
    fallback = _latest(published) if len(published) else 0.0
    guess = _shifted(published, index, week, fallback)
    if level_adjust and len(published):
        last_day = published.loc[published.index >= known_until - pd.Timedelta(days=1)]
        before = published.reindex(pd.DatetimeIndex(last_day.index) - week).to_numpy(dtype=float)
        diff = last_day.to_numpy(dtype=float) - before
        if np.isfinite(diff).any():
            guess = guess + float(np.nanmean(diff))
    out[DAY_AHEAD_COLUMN] = np.where(unknown, guess, values)
    out["price.is_forecast"] = unknown


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
