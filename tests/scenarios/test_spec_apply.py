"""Scenario files and changes: parsed, applied to a copy of the site, validated again."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pandas as pd
import pytest

from energiemodell.errors import SiteError
from energiemodell.forecast import PersistenceForecaster, ProfileForecaster
from energiemodell.rolling import DEFAULT_FORECAST, FORECASTERS
from energiemodell.site import Site
from scenarios.apply import apply_changes, outages, sweep_changes
from scenarios.runner import forecaster_of, prepare
from scenarios.spec import ForecastName, load_spec, spec_from_dict
from tests.scenarios.conftest import SMOKE, write_scenario

LIBRARY = Path(__file__).parents[2] / "scenarios" / "library"


def _apply(site: Site, *changes: dict[str, object]) -> Site:
    spec = spec_from_dict({**SMOKE, "changes": list(changes)})
    return apply_changes(site, spec.changes)


def test_set_and_scale_edit_a_copy(reference_site: Site) -> None:
    changed = _apply(
        reference_site,
        {"path": "assets.chp2.p_el_max_kw", "set": 900},
        {"path": "tariffs.0.gas.commodity_eur_per_mwh", "scale": 1.3},
    )
    assert changed.asset("chp2").p_el_max_kw == 900  # type: ignore[attr-defined]
    assert changed.tariffs[0].gas.commodity_eur_per_mwh == pytest.approx(52.0)
    assert reference_site.asset("chp2").p_el_max_kw == 800  # type: ignore[attr-defined]
    assert changed.base_dir == reference_site.base_dir  # relative series paths still resolve


def test_add_and_remove_assets(reference_site: Site) -> None:
    battery = {
        "name": "bess",
        "type": "battery",
        "capacity_kwh": 2000,
        "charge_max_kw": 1000,
        "discharge_max_kw": 1000,
    }
    changed = _apply(reference_site, {"add_asset": battery}, {"remove_asset": "chp2"})
    names = [a.name for a in changed.assets]
    assert "bess" in names
    assert "chp2" not in names
    with pytest.raises(SiteError, match="duplicate asset names: chp1"):
        _apply(reference_site, {"add_asset": {**battery, "name": "chp1"}})


def test_high_load_windows_are_set_as_data(reference_site: Site) -> None:
    windows = [{"months": [1, 2, 12], "start": "08:00", "end": "12:00"}]
    changed = _apply(
        reference_site, {"path": "tariffs.0.electricity.high_load_windows", "set": windows}
    )
    hlw = changed.tariffs[0].electricity.high_load_windows
    assert hlw is not None
    assert hlw[0].months == [1, 2, 12]


def test_replace_series_points_one_column_at_a_new_file(
    reference_site: Site, tmp_path: Path
) -> None:
    csv = tmp_path / "heat.csv"
    idx = pd.date_range("2024-03-01", periods=24 * 40, freq="1h", tz="UTC")
    pd.DataFrame({"timestamp": [t.isoformat() for t in idx], "heat_kw": 1234.0}).to_csv(
        csv, index=False
    )
    spec = spec_from_dict(
        {
            **SMOKE,
            "changes": [
                {
                    "replace_series": {
                        "forecast_column": "demand.heat_kw",
                        "file": "heat.csv",
                        "column": "heat_kw",
                    }
                }
            ],
        }
    )
    changed = apply_changes(reference_site, spec.changes, spec_dir=tmp_path)
    from energiemodell.timeseries import load_forecast

    fc = load_forecast(changed, pd.Timestamp("2024-03-12T00:00Z"), 8)
    assert (fc["demand.heat_kw"] == 1234.0).all()
    assert fc["demand.electricity_kw"].iloc[0] > 0  # the other columns still come from the site


def test_availability_becomes_an_outage_in_utc(reference_site: Site) -> None:
    spec = spec_from_dict(
        {
            **SMOKE,
            "changes": [
                {"availability": {"asset": "chp2", "start": "2024-03-01", "end": "2024-04-01"}}
            ],
        }
    )
    site = apply_changes(reference_site, spec.changes)
    (o,) = outages(site, spec.changes)
    assert o.asset == "chp2"
    assert o.start == pd.Timestamp("2024-02-29T23:00Z")  # local midnight, winter time
    assert o.end == pd.Timestamp("2024-03-31T22:00Z")  # local midnight, summer time


def test_sweep_range_is_inclusive() -> None:
    spec = spec_from_dict(
        {
            **SMOKE,
            "sweep": {
                "path": "assets.tes_heat.capacity_kwh",
                "from": 1000,
                "to": 2000,
                "step": 500,
            },
        }
    )
    points = sweep_changes(spec)
    assert [v for _, v, _ in points] == [1000, 1500, 2000]
    assert points[0][0] == "smoke[assets.tes_heat.capacity_kwh=1000]"


def test_every_sweep_point_is_validated_before_solving(tmp_path: Path) -> None:
    doc = {**SMOKE, "sweep": {"path": "assets.tes_heat.capacity_kwh", "values": [1000, -1]}}
    path = write_scenario(tmp_path, doc)
    with pytest.raises(SiteError, match="capacity_kwh"):
        prepare(load_spec(path), path)


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.yaml")), ids=lambda p: p.stem)
def test_library_scenarios_are_valid(path: Path) -> None:
    spec = load_spec(path)
    tasks = prepare(spec, path)
    assert tasks
    assert tasks[0].strategy == spec.strategy


def test_library_has_the_worked_scenarios() -> None:
    names = {p.stem for p in LIBRARY.glob("*.yaml")}
    assert len(names) >= 7


def test_mpc_forecasts_with_the_profile_forecaster_unless_told() -> None:
    spec = spec_from_dict({**SMOKE, "strategy": "mpc"})
    assert spec.forecaster == "profile"
    assert type(forecaster_of(spec, "mpc")) is ProfileForecaster
    assert forecaster_of(spec, "heat_led") is None  # the baseline forecasts nothing
    told = spec_from_dict({**SMOKE, "strategy": "mpc", "forecast": "persistence"})
    assert type(forecaster_of(told, "mpc")) is PersistenceForecaster
    # a task's spec, dumped and read again on a worker, still validates
    for s in (spec, told, spec_from_dict(SMOKE)):
        again = spec_from_dict(s.model_dump(mode="json", by_alias=True, exclude_none=False))
        assert again.forecaster == s.forecaster


def test_the_spec_offers_the_forecasters_rolling_runs() -> None:
    assert set(get_args(ForecastName)) == set(FORECASTERS)
    assert spec_from_dict({**SMOKE, "strategy": "mpc"}).forecaster == DEFAULT_FORECAST
