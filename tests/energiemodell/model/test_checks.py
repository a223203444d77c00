"""The checks of energiemodell.model.checks: silent on a solved plan, loud on a tampered one."""

from __future__ import annotations

import copy

import pytest

from energiemodell.model.checks import (
    check_alarms,
    check_balances,
    check_bounds,
    check_costs,
    check_schedule,
    check_storage,
)
from energiemodell.state import PlantState

pytestmark = pytest.mark.solver


@pytest.fixture(scope="module")
def solved(tiny):
    site = tiny.site(
        [
            tiny.grid(max_import_kw=300),
            {
                "name": "bat",
                "type": "battery",
                "capacity_kwh": 100,
                "charge_max_kw": 50,
                "discharge_max_kw": 50,
            },
            {"name": "boiler", "type": "boiler", "q_max_kw": 200, "eta": 0.9},
            {
                "name": "tes",
                "type": "thermal_storage",
                "carrier": "heat",
                "capacity_kwh": 100,
                "charge_max_kw": 50,
                "discharge_max_kw": 50,
                "loss_pu_per_h": 0.01,
            },
        ],
        gas={"commodity_eur_per_mwh": 30.0},
    )
    fc = tiny.forecast(site, 4, electricity=[100, 250, 400, 100], heat=100, price=[10, 90, 90, 10])
    state = PlantState(storage_kwh={"bat": 60.0})
    return site, tiny.plan(site, fc, state), state


def tampered(schedule):
    return copy.deepcopy(schedule)


def test_a_solved_plan_passes(solved):
    site, s, state = solved
    assert s.unserved_kwh > 0  # 400 kW against 300 kW import and a 50 kW battery
    assert check_schedule(site, s, state=state) == []


def test_unbalanced_interval_is_found(solved):
    site, s, _ = solved
    bad = tampered(s)
    bad.frame.loc[bad.frame.index[1], "grid.import_kw"] += 1.0
    assert check_balances(site, bad) == [
        "electricity does not balance in 1 intervals, first at "
        f"{s.frame.index[1].isoformat()} (off by 1 kW)"
    ]


def test_missing_column_is_found(solved):
    site, s, _ = solved
    bad = tampered(s)
    bad.frame = bad.frame.drop(columns=["boiler.q_kw"])
    assert any("boiler.q_kw missing" in v for v in check_balances(site, bad))


def test_bounds_are_checked(solved):
    site, s, _ = solved
    bad = tampered(s)
    bad.frame["bat.level_kwh"] = 99.0  # above soc_max 0.95 x 100
    bad.frame.loc[bad.frame.index[0], "unserved.heat_kw"] = -1.0
    found = check_bounds(site, bad)
    assert any(v.startswith("bat.level_kwh outside 10..95") for v in found)
    assert "unserved.heat_kw outside 0..demand" in found


def test_storage_dynamics_and_exclusivity(solved):
    site, s, state = solved
    bad = tampered(s)
    bad.frame["bat.charge_kw"] += 10.0
    bad.frame["bat.discharge_kw"] += 10.0 / 0.95 * 0.95 * 0.95  # same level change, both at once
    found = check_storage(site, bad, state=state)
    assert any("charges and discharges at once in 4 intervals" in v for v in found)
    start = tampered(s)
    start.frame.loc[start.frame.index[0], "tes.level_kwh"] += 1.0
    assert any("tes: level does not follow" in v for v in check_storage(site, start, state=state))


def test_cost_identities(solved):
    _, s, _ = solved
    bad = tampered(s)
    bad.costs["electricity_energy"] += 0.5
    found = check_costs(bad)
    assert "cost electricity_energy: the assets' costs do not sum to the total" in found
    assert any(v.startswith("cost ") and "!= objective" in v for v in found)


def test_slack_without_alarm_is_found(solved):
    site, s, _ = solved
    bad = tampered(s)
    bad.alarms = [a for a in bad.alarms if not a.startswith("unserved")]
    assert check_alarms(site, bad) == ["unserved.electricity_kw is used but no alarm says so"]


def test_critical_shed_before_non_critical_is_found(tiny):
    site = tiny.site(
        [tiny.grid(max_import_kw=100)],
        security={"critical_share_pu": {"electricity": 0.6, "heat": 1.0, "cooling": 1.0}},
    )
    s = tiny.plan(site, tiny.forecast(site, 4, electricity=[50, 150, 300, 100], price=50))
    assert check_bounds(site, s) == []
    bad = tampered(s)
    t = bad.frame.index[1]  # 50 kW shed, all non-critical: call 10 kW of it critical
    bad.frame.loc[t, "unserved.electricity_critical_kw"] = 10.0
    assert check_bounds(site, bad) == [
        f"electricity: critical demand shed before non-critical at {t.isoformat()}"
    ]
