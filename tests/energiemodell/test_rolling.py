"""Windows and the state carried between them (no solver: hand-made committed frames)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from energiemodell.errors import SiteError
from energiemodell.rolling import block_starts, carry_state, default_storage_values, value_storage
from energiemodell.site import Site
from energiemodell.state import PlantState, UnitState
from energiemodell.timeseries import local_midnight_utc


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
