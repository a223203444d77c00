"""Time handling and the site's series files: UTC inside, local time only at the edges.

A Forecast is a DataFrame on a UTC :class:`pandas.DatetimeIndex` at the site step, with the
columns of :data:`energiemodell.site.FORECAST_COLUMNS` plus ``demand.<carrier>_critical_pu`` and
``price.is_forecast`` (True where a price is a forecast rather than a published value); the
forecasters of :mod:`energiemodell.forecast` add ``weather.is_fallback``.

Resampling rules, by column kind, when a file's resolution differs from the site step:

- mean powers (``*_kw``, ``*_kw_per_kwp``, ``*_w_m2``): repeated when upsampled, averaged
  when downsampled (energy is conserved);
- prices (``*_eur_per_mwh``): forward-filled when upsampled (an hourly price holds for its four
  quarter-hours), averaged when downsampled;
- temperatures (``*_c``): interpolated linearly in time when upsampled, averaged when downsampled.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energiemodell.errors import SiteError

if TYPE_CHECKING:
    from energiemodell.site import SeriesFile, Site

logger = logging.getLogger(__name__)

Forecast = pd.DataFrame
"""Alias documenting that a frame follows the Forecast layout (see the module docstring)."""

_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def horizon_index(start: datetime | pd.Timestamp, n: int, step_min: int) -> pd.DatetimeIndex:
    """The ``n`` interval starts of a horizon beginning at ``start`` (UTC)."""
    ts = pd.Timestamp(start)
    if ts.tzinfo is None:
        msg = "horizon start must be timezone-aware"
        raise ValueError(msg)
    return pd.date_range(ts.tz_convert("UTC"), periods=n, freq=f"{step_min}min")


def parse_duration_steps(text: str, step_min: int, *, option: str = "--horizon") -> int:
    """Parse ``<n>min|h|d`` into a number of site steps; it must be a whole multiple."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(min|h|d)\s*", text)
    if not m:
        msg = f"{text!r} is not a duration (use e.g. 90min, 48h or 7d)"
        raise SiteError.one(option, "", msg)
    minutes = float(m.group(1)) * {"min": 1, "h": 60, "d": 1440}[m.group(2)]
    if minutes <= 0 or minutes % step_min:
        msg = f"{text} is not a positive multiple of the site step ({step_min} min)"
        raise SiteError.one(option, "", msg)
    return int(minutes // step_min)


def parse_local_start(text: str, tz_name: str, *, option: str = "--start") -> pd.Timestamp:
    """Parse a local date or date-time at the site and return it in UTC.

    A time that does not exist (spring forward) or exists twice (fall back) is refused:
    give a UTC offset (``2024-10-27T02:30+01:00``) to say which one is meant.
    """
    try:
        ts = pd.Timestamp(text)
    except ValueError:
        msg = f"{text!r} is not a date or date-time (use 2024-03-12 or 2024-03-12T06:00)"
        raise SiteError.one(option, "", msg) from None
    if ts.tzinfo is not None:
        return ts.tz_convert("UTC")
    try:
        local = ts.tz_localize(tz_name, ambiguous="raise", nonexistent="raise")
    except Exception:  # pandas 2 raises pytz's classes here, pandas 3 a ValueError
        # A time in the spring-forward gap has no local instant at all; a fall-back time has two.
        if pd.isna(ts.tz_localize(tz_name, ambiguous=True, nonexistent="NaT")):
            msg = f"{text} does not exist in {tz_name} (the clocks skip it: daylight saving starts)"
            hint = "choose a time outside the skipped hour, or give a UTC offset"
        else:
            first, second = (
                ts.tz_localize(tz_name, ambiguous=a).isoformat() for a in (True, False)
            )
            msg = f"{text} is ambiguous in {tz_name} (it occurs twice: daylight saving ends)"
            hint = f"give a UTC offset: {first} is the first, {second} the second"
        raise SiteError.one(option, "", msg, hint) from None
    return local.tz_convert("UTC")


def local_midnight_utc(day: date, tz_name: str) -> pd.Timestamp:
    """The UTC instant of local midnight starting ``day``."""
    return pd.Timestamp(day).tz_localize(tz_name).tz_convert("UTC")


def _kind(column: str) -> str:
    if column.endswith("_eur_per_mwh"):
        return "price"
    if column.endswith("_c"):
        return "temperature"
    return "mean"


@lru_cache(maxsize=32)
def _read_series_file(path: str, mtime_ns: int, ts_col: str, cols: tuple[str, ...]) -> pd.DataFrame:
    """Read and check one series file (cached per path and modification time)."""
    del mtime_ns  # part of the cache key only
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise SiteError.one(path, "", f"cannot read the CSV file: {exc}") from None
    except pd.errors.EmptyDataError:
        raise SiteError.one(path, "", "the file is empty") from None
    missing = [c for c in (ts_col, *cols) if c not in raw.columns]
    if missing:
        msg = f"missing column(s) {', '.join(missing)}; the file has {', '.join(raw.columns)}"
        raise SiteError.one(path, "", msg, "fix the header or the site's series.columns")
    if raw.empty:
        raise SiteError.one(path, "", "the file has a header but no rows")
    stamps = raw[ts_col].str.strip()
    no_offset = ~stamps.str.contains(_OFFSET)
    if no_offset.any():
        row = int(np.argmax(no_offset.to_numpy()))
        msg = f"row {row + 2}: timestamp {stamps.iloc[row]!r} has no UTC offset"
        raise SiteError.one(path, ts_col, msg, "write 2024-01-01T00:00:00Z or ...+01:00")
    try:
        index = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        raise SiteError.one(path, ts_col, f"unparseable timestamp: {exc}") from None
    if index.has_duplicates:
        row = int(np.argmax(index.duplicated()))
        msg = f"row {row + 2}: duplicated timestamp {index[row].isoformat()} (after UTC conversion)"
        raise SiteError.one(path, ts_col, msg, "each interval must appear once")
    diffs = np.diff(index.asi8)
    if (diffs <= 0).any():
        row = int(np.argmax(diffs <= 0)) + 1
        msg = f"row {row + 2}: timestamp {index[row].isoformat()} is not after the previous one"
        raise SiteError.one(path, ts_col, msg, "sort the file by time")
    if len(diffs) and (diffs != diffs[0]).any():
        row = int(np.argmax(diffs != diffs[0])) + 1
        gap = (index[row] - index[row - 1]).to_pytimedelta()
        step = (index[1] - index[0]).to_pytimedelta()
        msg = (
            f"row {row + 2}: gap before {index[row].isoformat()} ({gap} after the previous row; "
            f"the file's step is {step})"
        )
        raise SiteError.one(path, ts_col, msg, "the series must be regular without gaps")
    frame = pd.DataFrame(index=index)
    for c in cols:
        values = pd.to_numeric(raw[c].str.strip(), errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            msg = f"row {row + 2}: value {raw[c].iloc[row]!r} is missing or not a number"
            raise SiteError.one(path, c, msg, "fill the gap in the source data")
        frame[c] = values
    return frame


def read_series_file(sf: SeriesFile, base_dir: Path) -> pd.DataFrame:
    """One series file as a frame on its own UTC index, columns renamed to Forecast names."""
    path = (base_dir / sf.file).resolve()
    if not path.exists():
        raise SiteError.one(str(path), "", "series file not found", "check series[].file")
    cols = tuple(sf.columns)
    frame = _read_series_file(str(path), path.stat().st_mtime_ns, sf.timestamp_column, cols)
    return frame.rename(columns=sf.columns)


def _native_step(frame: pd.DataFrame, path: str) -> pd.Timedelta:
    if len(frame.index) < 2:
        raise SiteError.one(path, "", "a series needs at least two rows to know its resolution")
    return pd.Timedelta(frame.index[1] - frame.index[0])


def resample_to(frame: pd.DataFrame, index: pd.DatetimeIndex, *, path: str) -> pd.DataFrame:
    """Resample a regular frame onto ``index`` by the rules of the module docstring."""
    native = _native_step(frame, path)
    step = pd.Timedelta(minutes=index.freq.n) if index.freq is not None else native
    first, last_end = frame.index[0], frame.index[-1] + native
    if index[0] < first or index[-1] + step > last_end:
        msg = (
            f"covers {first.isoformat()} to {last_end.isoformat()}, but "
            f"{index[0].isoformat()} to {(index[-1] + step).isoformat()} is needed"
        )
        raise SiteError.one(path, "", msg, "extend the series or choose another period")
    out = pd.DataFrame(index=index)
    if native == step:
        return frame.reindex(index)
    if native > step:
        if native % step:
            msg = (
                f"resolution {native.to_pytimedelta()} is not a multiple of {step.to_pytimedelta()}"
            )
            raise SiteError.one(path, "", msg)
        lo = index[0].floor(native) if index[0] >= first else first
        fine = pd.date_range(lo, index[-1] + step, freq=step, inclusive="left")
        coarse = frame.loc[lo : index[-1]]
        for c in frame.columns:
            s = coarse[c].reindex(coarse.index.union(fine))
            if _kind(str(c)) == "temperature":
                nxt = frame[c].loc[coarse.index[-1] :]  # the file row after the last one used
                s = pd.concat([s, nxt.iloc[1:2]]).sort_index()
                s = s[~s.index.duplicated()].interpolate(method="time").ffill()
            else:
                s = s.ffill()
            out[c] = s.reindex(index).to_numpy()
        return out
    if step % native:
        msg = (
            f"resolution {native.to_pytimedelta()} does not divide the step {step.to_pytimedelta()}"
        )
        raise SiteError.one(path, "", msg)
    sub = frame.loc[index[0] : index[-1] + step - native]
    return sub.resample(step, origin=index[0]).mean().reindex(index)


def load_forecast(site: Site, start: pd.Timestamp, n: int) -> Forecast:
    """The site's own series over ``n`` steps from ``start``: a perfect-foresight Forecast."""
    index = horizon_index(start, n, site.step_min)
    out = pd.DataFrame(index=index)
    for sf in site.series:
        frame = read_series_file(sf, site.base_dir)
        res = resample_to(frame, index, path=str((site.base_dir / sf.file).resolve()))
        for c in res.columns:
            out[c] = res[c].to_numpy(dtype=float)
    for carrier, share in site.security.critical_share_pu.items():
        out[f"demand.{carrier}_critical_pu"] = share
    out["price.is_forecast"] = False
    return out


def series_coverage(site: Site) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Per Forecast column: the UTC span its file covers (start, end exclusive)."""
    cover: dict[str, tuple[pd.Timestamp, pd.Timestamp]] = {}
    for sf in site.series:
        frame = read_series_file(sf, site.base_dir)
        native = _native_step(frame, sf.file)
        for c in frame.columns:
            cover[str(c)] = (frame.index[0], frame.index[-1] + native)
    return cover


def step_delta(site: Site) -> timedelta:
    """The site step as a timedelta."""
    return timedelta(minutes=site.step_min)
