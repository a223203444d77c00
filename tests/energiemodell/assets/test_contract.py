"""The asset contract, for every registered type: params, a minimal site that solves, columns.

Adding an asset type means adding its minimal example to ``EXAMPLES`` (a test fails until then).
"""

from __future__ import annotations

import re
import typing
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

from energiemodell.assets import ASSET_TYPES
from energiemodell.assets.base import Carrier
from energiemodell.model.checks import check_schedule
from energiemodell.model.planner import Planner
from energiemodell.site import site_from_dict
from energiemodell.state import PlantState

UNIT_SUFFIX = re.compile(
    r"_(kw|kwh|kwp|eur|eur_per_mwh|eur_per_mwh_el|eur_per_kwh_el|eur_per_kw_a|h|min|pu|pu_per_h|c"
    r"|t_per_mwh|t_per_mwh_el|kw_per_kw_cold|per_kwh|per_year)$"
)

EXAMPLES: dict[str, dict[str, Any]] = {
    "absorption_chiller": {"cold_max_kw": 200, "cop": 0.7},
    "battery": {"capacity_kwh": 100, "charge_max_kw": 50, "discharge_max_kw": 50},
    "boiler": {"q_max_kw": 300, "eta": 0.95, "q_min_pu": 0.2, "units": 2},
    "chp": {"p_el_max_kw": 100, "eta_el": 0.4, "eta_th": 0.45, "min_up_h": 0.5},
    "compression_chiller": {"cold_max_kw": 200, "eer": 4.0},
    "district_heat": {"q_max_kw": 300, "price_eur_per_mwh": 60},
    "electric_boiler": {"q_max_kw": 100},
    "emergency_generator": {
        "p_el_kw": 100,
        "test_runs": [{"start": "2024-03-12T01:15:00", "duration_h": 0.5}],
    },
    "flexible_load": {
        "p_max_kw": 50,
        "energy_kwh": 10,
        "window_start": "01:00",
        "window_end": "02:00",
    },
    "grid": {"max_import_kw": 500, "max_export_kw": 100},
    "heat_dump": {"q_max_kw": 100},
    "heat_pump": {"q_max_kw": 100, "cop": 3.0},
    "pv": {"p_kwp": 100},
    "thermal_storage": {
        "carrier": "heat",
        "capacity_kwh": 200,
        "charge_max_kw": 100,
        "discharge_max_kw": 100,
    },
}

N = 4


def test_every_type_has_an_example() -> None:
    assert sorted(EXAMPLES) == sorted(ASSET_TYPES)


@pytest.fixture(params=sorted(ASSET_TYPES))
def type_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_params_model_names_its_type(type_name: str) -> None:
    model = ASSET_TYPES[type_name].params_model
    annotation = model.model_fields["type"].annotation
    assert typing.get_origin(annotation) is typing.Literal
    assert typing.get_args(annotation) == (type_name,)
    assert model.model_config.get("extra") == "forbid"


def test_every_field_has_a_description_or_a_unit(type_name: str) -> None:
    model = ASSET_TYPES[type_name].params_model
    # ``type`` is the discriminator: its Literal is its description (checked above).
    bare = [
        name
        for name, f in model.model_fields.items()
        if name != "type" and not (f.description or "").strip() and not UNIT_SUFFIX.search(name)
    ]
    assert bare == []


def _site(type_name: str) -> Any:
    example = {"name": "x", "type": type_name, **EXAMPLES[type_name]}
    assets = [example]
    if type_name != "grid":
        assets.append({"name": "grid", "type": "grid", "max_import_kw": 5000})
    assets.append(
        {"name": "dh", "type": "district_heat", "q_max_kw": 5000, "price_eur_per_mwh": 90}
    )
    return site_from_dict(
        {
            "name": f"contract_{type_name}",
            "tariffs": [
                {
                    "valid_from": "2024-01-01",
                    "valid_to": "2025-01-01",
                    "electricity": {"energy_price": "day_ahead"},
                    "gas": {"commodity_eur_per_mwh": 30.0},
                }
            ],
            "security": {"heat_n1": False},
            "assets": assets,
        }
    )


def _forecast(cooling_kw: float) -> pd.DataFrame:
    index = pd.date_range("2024-03-12T00:00Z", periods=N, freq="15min")
    return pd.DataFrame(
        {
            "demand.electricity_kw": [100.0, 120.0, 80.0, 100.0],
            "demand.heat_kw": [100.0, 150.0, 50.0, 100.0],
            "demand.cooling_kw": cooling_kw,
            "price.day_ahead_eur_per_mwh": [40.0, 120.0, -5.0, 60.0],
            "pv.kw_per_kwp": [0.0, 0.2, 0.5, 0.3],
            "weather.temp_c": 10.0,
            "price.is_forecast": False,
        },
        index=index,
    )


@pytest.mark.solver
def test_minimal_site_builds_solves_and_reports_its_flows(type_name: str) -> None:
    site = _site(type_name)
    asset = site.asset_objects[0]
    cooling = 100.0 if asset.capacity_kw(Carrier.COOLING) > 0 else 0.0
    planner = Planner(site, N)
    schedule = planner.plan(_forecast(cooling), PlantState())
    assert schedule.status == "optimal"
    assert schedule.unserved_kwh == 0
    assert check_schedule(site, schedule, state=PlantState()) == []
    # balance_columns() must say in Schedule columns exactly what flows() puts into the balances.
    b = planner.model.asset["x"]
    columns = asset.balance_columns()
    for t in range(N):
        flows = asset.flows(b, t)
        assert set(columns) == set(flows)
        for carrier, expr in flows.items():
            rebuilt = sum(k * schedule.frame[f"x.{q}"].iloc[t] for q, k in columns[carrier].items())
            assert rebuilt == pytest.approx(pyo.value(expr), abs=1e-6)
    for q, (lo, hi) in asset.column_limits().items():
        if f"x.{q}" in schedule.frame:
            values = schedule.frame[f"x.{q}"].to_numpy()
            assert np.all(values >= lo - 1e-6)
            assert np.all(values <= hi + 1e-6)
