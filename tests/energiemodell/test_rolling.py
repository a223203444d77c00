"""Windows, the state carried between them, and what mpc's forecaster may know.

Most tests need no solver (hand-made committed frames); the mpc runs at the end solve short
periods of the reference data.
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import energiemodell
from energiemodell.errors import SiteError
from energiemodell.forecast import (
    DAY_AHEAD_COLUMN,
    Forecaster,
    PersistenceForecaster,
    ProfileForecaster,
    day_ahead_known_until,
)
from energiemodell.rolling import (
    HISTORY_DAYS,
    RollingOptions,
    RollingResult,
    block_starts,
    carry_state,
    default_storage_values,
    history_known_at,
    run_rolling,
    valuation_price,
    value_storage,
)
from energiemodell.site import Site, load_site
from energiemodell.state import PlantState, UnitState
from energiemodell.timeseries import load_forecast, local_midnight_utc


def test_daily_blocks_follow_local_days_across_dst(reference_site: Site) -> None:
    start = local_midnight_utc(pd.Timestamp("2024-03-30").date(), reference_site.timezone)
    end = local_midnight_utc(pd.Timestamp("2024-04-01").date(), reference_site.timezone)
    bounds = block_starts(reference_site, start, end, length_min=1440)
    steps = [int((b - a) / pd.Timedelta(minutes=15)) for a, b in itertools.pairwise(bounds)]
    assert steps == [96, 92]  # 31 March has 23 hours


def test_blocks_of_a_partial_first_day(reference_site: Site) -> None:
    start = pd.Timestamp("2024-01-01T00:00Z")  # 01:00 local
    end = local_midnight_utc(pd.Timestamp("2024-01-03").date(), reference_site.timezone)
    bounds = block_starts(reference_site, start, end, length_min=1440)
    assert bounds == [start, pd.Timestamp("2024-01-01T23:00Z"), end]
    with pytest.raises(SiteError, match="multiple of the site step"):
        block_starts(reference_site, start, end, length_min=20)


def _frame(start: str, n: int, **cols: list[float] | float) -> pd.DataFrame:
    idx = pd.date_range(start, periods=n, freq="15min", tz="UTC")
    return pd.DataFrame({k: np.broadcast_to(v, n) for k, v in cols.items()}, index=idx)


def test_carry_state_levels_units_peak_and_kwkg(reference_site: Site) -> None:
    state = PlantState(
        units={"chp1": UnitState(on=True, time_in_state_h=3.0), "chp2": UnitState(on=False)},
        peak_import_kw=500.0,
        kwkg_hours_used={"chp1": 10.0},
    )
    on1 = [1.0] * 8  # ran the whole block: time in state grows
    on2 = [0.0] * 4 + [1.0] * 4  # started an hour ago
    f = _frame(
        "2024-03-12T00:00Z",
        8,
        **{
            "tes_heat.level_kwh": [100.0] * 7 + [1234.0],
            "chp1.on": on1,
            "chp1.p_el_kw": 800.0,
            "chp1.kwkg_kw": 400.0,
            "chp2.on": on2,
            "chp2.p_el_kw": [0.0] * 4 + [600.0] * 4,
            "boilers.on": [2.0] * 8,
            "grid.import_kw": [300.0] * 7 + [700.0],
        },
    )
    new = carry_state(reference_site, state, f, counts=np.ones(8), state_year=2024)
    assert new.storage_kwh["tes_heat"] == 1234.0
    assert new.units["chp1"].on
    assert new.units["chp1"].time_in_state_h == pytest.approx(5.0)
    assert new.units["chp2"].on
    assert new.units["chp2"].time_in_state_h == pytest.approx(1.0)
    assert new.units["chp2"].p_kw == 600.0
    assert new.units["boilers"].units_on == 2
    assert new.peak_import_kw == 700.0
    assert new.kwkg_hours_used["chp1"] == pytest.approx(10.0 + 400 * 2 / 800)


def test_peak_counts_only_counted_intervals(reference_site: Site) -> None:
    f = _frame("2024-03-12T00:00Z", 4, **{"grid.import_kw": [900.0, 300.0, 300.0, 300.0]})
    counts = np.array([0.0, 1.0, 1.0, 1.0])  # the high import is outside the §19 windows
    new = carry_state(reference_site, PlantState(), f, counts=counts, state_year=2024)
    assert new.peak_import_kw == 300.0


def test_new_year_resets_peak_and_kwkg_hours(reference_site: Site) -> None:
    state = PlantState(peak_import_kw=2500.0, kwkg_hours_used={"chp1": 3400.0})
    # 22:30 to 23:30 UTC on 31 Dec: local New Year falls inside
    f = _frame(
        "2024-12-31T22:30Z",
        4,
        **{"grid.import_kw": [1000.0, 1000.0, 400.0, 500.0], "chp1.kwkg_kw": 800.0, "chp1.on": 1.0},
    )
    new = carry_state(reference_site, state, f, counts=np.ones(4), state_year=2024)
    assert new.peak_import_kw == 500.0
    assert new.kwkg_hours_used["chp1"] == pytest.approx(2 * 0.25)


def test_storage_values_default_from_tariffs(reference_site: Site) -> None:
    values = default_storage_values(reference_site, mean_day_ahead_eur_per_mwh=80.0)
    gas = 40 + 8 + 5.5 + 45 * 0.201
    assert values["tes_heat"] == pytest.approx(gas / 0.95)
    el = 80 + 5 + 10 + 20.5 + 2.75 + 6.56 + 0.5 + 1.1
    assert values["tes_cold"] == pytest.approx(el / 4.5)
    site, used = value_storage(reference_site, values, {"tes_cold": 12.0})
    assert used == {"tes_heat": pytest.approx(gas / 0.95, abs=1e-3), "tes_cold": 12.0}
    assert site.asset("tes_cold").end_value_eur_per_mwh == 12.0  # type: ignore[attr-defined]
    with pytest.raises(SiteError, match="not stores of the site"):
        value_storage(reference_site, values, {"chp1": 1.0})


# --- what mpc's forecaster may know ---------------------------------------------------------------

STEP = pd.Timedelta(minutes=15)
FLAG = "price.is_forecast"


@pytest.mark.parametrize(
    ("now", "prices_until"),
    [
        # 11:00 local: today's prices are published, not tomorrow's
        (pd.Timestamp("2024-03-12T10:00Z"), pd.Timestamp("2024-03-12T23:00Z")),
        # 12:00 local: tomorrow's too
        (pd.Timestamp("2024-03-12T11:00Z"), pd.Timestamp("2024-03-13T23:00Z")),
    ],
)
def test_history_is_what_was_known_at_the_time(
    reference_site: Site, now: pd.Timestamp, prices_until: pd.Timestamp
) -> None:
    data = load_forecast(reference_site, pd.Timestamp("2024-01-20T00:00Z"), 96 * 60)
    history = history_known_at(reference_site, data, now)
    assert history.index[0] == now - pd.Timedelta(days=HISTORY_DAYS)
    assert history.index.is_monotonic_increasing
    assert history.index.is_unique
    past = history.loc[: now - STEP]
    pd.testing.assert_frame_equal(past, data.loc[past.index])
    measured = [c for c in data.columns if c not in (DAY_AHEAD_COLUMN, FLAG)]
    assert history.loc[now:, measured].isna().all().all()  # nothing measured from now on
    assert not history[FLAG].any()
    prices = history[DAY_AHEAD_COLUMN]
    assert prices.index[-1] == prices_until - STEP
    assert prices.notna().all()
    pd.testing.assert_series_equal(prices, data.loc[prices.index, DAY_AHEAD_COLUMN])


def test_mpc_values_its_stores_at_the_prices_it_knew(reference_site: Site) -> None:
    data = load_forecast(reference_site, pd.Timestamp("2024-01-20T00:00Z"), 96 * 60)
    start, end = pd.Timestamp("2024-03-12T10:00Z"), pd.Timestamp("2024-03-15T00:00Z")
    later = data.copy()  # prices not yet published at start (from 13 March, local) change
    later.loc[pd.Timestamp("2024-03-12T23:00Z") :, DAY_AHEAD_COLUMN] += 500.0
    known = history_known_at(reference_site, data, start)[DAY_AHEAD_COLUMN].mean()
    for frame in (data, later):
        mpc = valuation_price(reference_site, frame, start, end, known_only=True)
        assert mpc == pytest.approx(known)
    run_prices = data.loc[start : end - STEP, DAY_AHEAD_COLUMN].mean()
    assert valuation_price(reference_site, data, start, end, known_only=False) == pytest.approx(
        run_prices
    )
    assert valuation_price(reference_site, later, start, end, known_only=False) > run_prices + 100


def test_history_reaches_back_as_far_as_the_live_loop() -> None:
    from scheduler.forecasting import HISTORY_DAYS as LOOP_HISTORY_DAYS

    assert HISTORY_DAYS == LOOP_HISTORY_DAYS


# Three hourly plans on 11 June 2024 (10:00, 11:00, 12:00 local), each looking 16 h ahead. At
# T_STAR (12:00 local) the prices of 12 June are published; on a copy of the reference data,
# everything measured from T_STAR on and the prices of 12 June are changed.
START = pd.Timestamp("2024-06-11T08:00Z")
T_STAR = pd.Timestamp("2024-06-11T10:00Z")
END = pd.Timestamp("2024-06-11T11:00Z")
PRICES_FROM = pd.Timestamp("2024-06-11T22:00Z")  # local midnight: 12 June
PRICE_RISE = 150.0
OPTIONS = RollingOptions(window_h=16, replan_min=60, commit_h=1)
LOADED = pd.Timedelta(hours=OPTIONS.window_h)
DECISIONS = ["chp1.p_el_kw", "chp1.on", "chp2.p_el_kw", "chp2.on"]


def _perturb(path: Path, since: pd.Timestamp, edits: dict[str, tuple[float, float]]) -> None:
    """Rewrite a series file: ``column -> (scale, offset)`` on rows at or after ``since``."""
    frame = pd.read_csv(path)
    later = pd.to_datetime(frame["timestamp"], utc=True) >= since
    assert later.any()
    assert not later.all()
    for column, (scale, offset) in edits.items():
        frame.loc[later, column] = frame.loc[later, column] * scale + offset
    frame.to_csv(path, index=False)


def _perturbed_site(directory: Path) -> Site:
    shutil.copytree(Path(energiemodell.__file__).parent / "sites" / "reference_campus", directory)
    series = directory / "series"
    loads = {"electricity_kw": (1.3, 0.0), "heat_kw": (2.0, 0.0), "cooling_kw": (2.0, 0.0)}
    _perturb(series / "campus_loads.csv.gz", T_STAR, loads)
    _perturb(series / "pv_per_kwp.csv.gz", T_STAR, {"pv_kw_per_kwp": (0.0, 0.0)})
    # hourly, the temperature interpolated: the first row after T_STAR
    weather = {"ghi_w_m2": (0.0, 0.0), "temp_c": (1.0, 8.0)}
    _perturb(series / "weather.csv.gz", T_STAR + pd.Timedelta(hours=1), weather)
    _perturb(series / "prices_day_ahead.csv.gz", PRICES_FROM, {"price_eur_mwh": (1.0, PRICE_RISE)})
    return load_site(directory)


@dataclass
class _Recording:
    """A forecaster that keeps, by decision time, the history it was given and its forecast."""

    inner: Forecaster = field(default_factory=ProfileForecaster)
    calls: dict[pd.Timestamp, tuple[pd.DataFrame, pd.DataFrame]] = field(default_factory=dict)

    def forecast(
        self, site: Site, history: pd.DataFrame, now: pd.Timestamp, n: int
    ) -> pd.DataFrame:
        out = self.inner.forecast(site, history, now, n)
        self.calls[now] = (history, out)
        return out


@dataclass
class _Runs:
    site: Site
    perturbed: Site
    mpc: RollingResult
    mpc_perturbed: RollingResult
    seen: _Recording
    seen_perturbed: _Recording


@pytest.fixture(scope="module")
def runs(reference_site: Site, tmp_path_factory: pytest.TempPathFactory) -> _Runs:
    """mpc with the profile forecaster, on the reference data and on the changed copy."""
    perturbed = _perturbed_site(tmp_path_factory.mktemp("perturbed") / "reference_campus")
    seen, seen_perturbed = _Recording(), _Recording()
    mpc = run_rolling(reference_site, START, END, strategy="mpc", options=OPTIONS, forecaster=seen)
    mpc_perturbed = run_rolling(
        perturbed, START, END, strategy="mpc", options=OPTIONS, forecaster=seen_perturbed
    )
    return _Runs(reference_site, perturbed, mpc, mpc_perturbed, seen, seen_perturbed)


@pytest.mark.solver
@pytest.mark.slow
def test_mpc_decides_on_no_information_from_the_future(runs: _Runs) -> None:
    before = slice(None, T_STAR - STEP)
    assert sorted(runs.seen.calls) == [START, START + pd.Timedelta(hours=1), T_STAR]
    for now, (history, _) in runs.seen_perturbed.calls.items():
        measured = history.drop(columns=[DAY_AHEAD_COLUMN, FLAG])
        assert measured.loc[now:].isna().all().all()
        # published prices, as far as the run loaded data (its end plus one window)
        known = min(day_ahead_known_until(now, runs.site.timezone), END + LOADED)
        assert history[DAY_AHEAD_COLUMN].dropna().index[-1] == known - STEP
    # the plans before T_STAR forecast the same, and so decided and cost the same
    for now in (START, START + pd.Timedelta(hours=1)):
        pd.testing.assert_frame_equal(runs.seen.calls[now][1], runs.seen_perturbed.calls[now][1])
        assert runs.seen.calls[now][1].loc[PRICES_FROM:, FLAG].all()
    pd.testing.assert_frame_equal(runs.mpc.frame.loc[before], runs.mpc_perturbed.frame.loc[before])
    costs = [b.costs for b in runs.mpc.blocks[:2]]
    assert costs == [b.costs for b in runs.mpc_perturbed.blocks[:2]]
    # at T_STAR the new prices of 12 June are published and used; the changed measurements
    # from T_STAR on are still unknown
    fc, fc_perturbed = runs.seen.calls[T_STAR][1], runs.seen_perturbed.calls[T_STAR][1]
    tomorrow = fc.index >= PRICES_FROM
    assert tomorrow.any()
    assert not fc_perturbed.loc[tomorrow, FLAG].any()
    rise = fc_perturbed.loc[tomorrow, DAY_AHEAD_COLUMN] - fc.loc[tomorrow, DAY_AHEAD_COLUMN]
    np.testing.assert_allclose(rise.to_numpy(), PRICE_RISE)
    loads = ["demand.electricity_kw", "demand.heat_kw", "demand.cooling_kw", "pv.kw_per_kwp"]
    pd.testing.assert_frame_equal(fc[loads], fc_perturbed[loads])


@pytest.mark.solver
@pytest.mark.slow
def test_the_changes_after_t_star_matter_to_a_plan_that_sees_them(runs: _Runs) -> None:
    # the control: perfect foresight sees the changed future, and decides otherwise before it
    before = slice(None, T_STAR - STEP)
    pf, pf_perturbed = (
        run_rolling(site, START, END, strategy="perfect_foresight", options=OPTIONS)
        for site in (runs.site, runs.perturbed)
    )
    columns = [*DECISIONS, "tes_heat.level_kwh", "boilers.q_kw"]
    a, b = pf.frame.loc[before, columns], pf_perturbed.frame.loc[before, columns]
    assert not np.allclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float), atol=1.0)


@pytest.mark.solver
@pytest.mark.slow
def test_mpc_forecasts_with_the_profile_forecaster_by_default(runs: _Runs) -> None:
    default = run_rolling(runs.site, START, END, strategy="mpc", options=OPTIONS)
    pd.testing.assert_frame_equal(default.frame, runs.mpc.frame)  # mpc: ProfileForecaster
    persistence = run_rolling(
        runs.site, START, END, strategy="mpc", options=OPTIONS, forecaster=PersistenceForecaster()
    )
    a = default.frame[DECISIONS].to_numpy(dtype=float)
    b = persistence.frame[DECISIONS].to_numpy(dtype=float)
    assert not np.allclose(a, b, atol=1.0)  # the forecaster matters on this day


@pytest.mark.solver
@pytest.mark.slow
def test_mpc_dispatches_flexible_loads_and_carries_what_they_drew(runs: _Runs) -> None:
    # the EV window opened at 06:00 local (04:00 UTC), four hours before START: its even share
    ev = runs.site.asset("ev_charging")
    before = ev.energy_kwh * 4 / ev.window_h
    drawn = float(runs.mpc.frame["ev_charging.p_kw"].sum()) * STEP / pd.Timedelta(hours=1)
    assert drawn > 0
    assert runs.mpc.end_state.flexible_kwh == {"ev_charging": pytest.approx(before + drawn)}
