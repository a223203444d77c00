"""Supply security (issue 4): heat and cooling N-1, the storage bridge, the battery reserve.

Every rule is a penalised slack: a plan that cannot keep it says so (column, alarm, penalty).
dt = 0.25 h; penalties in EUR/MWh: N-1 5,000, reserve 2,000 (the site defaults).
"""

from __future__ import annotations

import pytest

from energiemodell.model.checks import check_schedule
from energiemodell.state import Outage, PlantState

pytestmark = pytest.mark.solver

DT = 0.25


def unit(name, *, start_time_min, **kw):
    """A 1000 kW boiler with a minimum load, so it has an on/off decision and a start time."""
    return {
        "name": name,
        "type": "boiler",
        "q_max_kw": 1000,
        "q_min_pu": 0.2,
        "eta": 1.0,
        "start_cost_eur": 10.0,
        "start_time_min": start_time_min,
        **kw,
    }


def consistent(site, schedule, state):
    assert schedule.status == "optimal"
    assert check_schedule(site, schedule, state=state) == []


@pytest.mark.parametrize(
    ("start_time_min", "running", "cost"),
    [
        # 30 min > 15 min response: a stopped boiler does not count, so losing either running
        # boiler must leave 500 kW: both run. Gas 500 kWh at 0.03 + two starts.
        (30, 2, 15.0 + 20.0),
        # 5 min: the stopped boiler is standby that counts; one start is enough.
        (5, 1, 15.0 + 10.0),
    ],
)
def test_heat_n1_starts_a_second_unit_when_starts_are_slow(tiny, start_time_min, running, cost):
    site = tiny.site(
        [unit("b1", start_time_min=start_time_min), unit("b2", start_time_min=start_time_min)],
        gas={"commodity_eur_per_mwh": 30.0},
        security={"heat_n1": True, "response_time_min": 15},
    )
    fc = tiny.forecast(site, 4, heat=500)
    s = tiny.plan(site, fc)
    consistent(site, s, PlantState())
    on = s.frame["b1.on"] + s.frame["b2.on"]
    assert list(on) == [running] * 4
    assert list(s.frame["n1.heat_shortfall_kw"]) == [0] * 4
    assert s.cost_eur == pytest.approx(cost)
    assert s.penalty_eur == pytest.approx(0)


def test_heat_n1_shortfall_reported_when_a_unit_is_out_of_service(tiny):
    # b2 out: losing b1 leaves nothing, 500 kW short in every interval:
    # penalty 5000 EUR/MWh x 500 kW x 1 h = 2500 EUR; the plan still supplies the heat.
    site = tiny.site(
        [unit("b1", start_time_min=30), unit("b2", start_time_min=30)],
        gas={"commodity_eur_per_mwh": 30.0},
        security={"heat_n1": True},
    )
    fc = tiny.forecast(site, 4, heat=500)
    state = PlantState(outages=[Outage(asset="b2", reason="maintenance")])
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert list(s.frame["n1.heat_shortfall_kw"]) == pytest.approx([500] * 4)
    assert s.penalties["n1_shortfall_heat"] == pytest.approx(2500.0)
    assert any(a.startswith("N-1 heat not secured in 4 intervals") for a in s.alarms)
    assert list(s.frame["b1.q_kw"]) == pytest.approx([500] * 4)
    assert s.unserved_kwh == 0


def test_heat_store_bridges_n1_by_its_level_over_the_bridge_time(tiny):
    # One slow boiler: the store is the only N-1 cover, at most level / 1 h. It starts at
    # 400 kWh: 100 kW short in interval 0, while the boiler charges 400 kW (100 kWh) into it,
    # so from interval 1 on the bridge reaches 500 kW. Penalty 5 EUR/kWh x 100 kW x 0.25 h.
    site = tiny.site(
        [
            unit("b1", start_time_min=30, q_max_kw=2000),
            {
                "name": "tes",
                "type": "thermal_storage",
                "carrier": "heat",
                "capacity_kwh": 1000,
                "charge_max_kw": 1000,
                "discharge_max_kw": 1000,
            },
        ],
        gas={"commodity_eur_per_mwh": 30.0},
        security={"heat_n1": True, "bridge_time_h": 1.0},
    )
    fc = tiny.forecast(site, 4, heat=500)
    state = PlantState(storage_kwh={"tes": 400.0})
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert list(s.frame["n1.heat_shortfall_kw"]) == pytest.approx([100, 0, 0, 0])
    assert s.penalties["n1_shortfall_heat"] == pytest.approx(125.0)
    # The level at the start of intervals 1..3 (the end of 0..2) keeps 500 kW of bridge.
    assert s.frame["tes.level_kwh"].iloc[:-1].min() >= 500 - 1e-6


def test_battery_reserve_recovered_after_an_outage(tiny):
    # Measured 20 kWh after a grid outage, reserve 50 kWh: charge at the full 40 kW (10 kWh per
    # step) until the reserve is back: short 20 and 10 kWh after steps 0 and 1:
    # penalty 2 EUR/kWh x (20 + 10) kW x 0.25 h = 15 EUR; energy (100 + 30) kWh at 0.05.
    site = tiny.site(
        [
            tiny.grid(),
            {
                "name": "bat",
                "type": "battery",
                "capacity_kwh": 100,
                "charge_max_kw": 40,
                "discharge_max_kw": 40,
                "eta_charge": 1.0,
                "backup_reserve_kwh": 50,
            },
        ],
        security={"battery_reserve": True},
    )
    fc = tiny.forecast(site, 4, electricity=100, price=50)
    state = PlantState(storage_kwh={"bat": 20.0})
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert list(s.frame["bat.level_kwh"]) == pytest.approx([30, 40, 50, 50])
    assert list(s.frame["bat.charge_kw"]) == pytest.approx([40, 40, 40, 0])
    assert s.penalties["reserve_shortfall"] == pytest.approx(15.0)
    assert any(a.startswith("penalty reserve_shortfall") for a in s.alarms)
    assert s.cost_eur == pytest.approx(130 * 0.05)


def test_battery_reserve_untouched_by_arbitrage(tiny):
    # 100 kWh at 50 % with a 40 kWh reserve and a price spread worth cycling: it may deliver
    # only the 10 kWh above the reserve (end level >= start is refilled when cheap).
    site = tiny.site(
        [
            tiny.grid(),
            {
                "name": "bat",
                "type": "battery",
                "capacity_kwh": 100,
                "charge_max_kw": 100,
                "discharge_max_kw": 100,
                "eta_charge": 1.0,
                "eta_discharge": 1.0,
                "soc_min_pu": 0.0,
                "soc_max_pu": 1.0,
                "backup_reserve_kwh": 40,
            },
        ],
        security={"battery_reserve": True},
    )
    fc = tiny.forecast(site, 4, electricity=100, price=[500, 500, 10, 10])
    s = tiny.plan(site, fc)
    consistent(site, s, PlantState())
    assert s.frame["bat.level_kwh"].min() == pytest.approx(40)
    assert s.frame["bat.discharge_kw"].sum() * DT == pytest.approx(10)
    assert s.penalty_eur == pytest.approx(0)


@pytest.mark.parametrize(("cooling_n1", "running"), [(True, 2), (False, 1)])
def test_cooling_n1(tiny, cooling_n1, running):
    # Two slow 500 kW chillers, 300 kW critical cooling: with cooling N-1 both run.
    chiller = {
        "type": "compression_chiller",
        "cold_max_kw": 500,
        "cold_min_pu": 0.2,
        "eer": 4.0,
        "start_time_min": 30,
        "start_cost_eur": 5.0,
    }
    site = tiny.site(
        [tiny.grid(), {**chiller, "name": "c1"}, {**chiller, "name": "c2"}],
        security={"cooling_n1": cooling_n1, "n1_cooling_demand": "critical"},
    )
    fc = tiny.forecast(site, 4, cooling=300, price=100)
    s = tiny.plan(site, fc)
    consistent(site, s, PlantState())
    assert list(s.frame["c1.on"] + s.frame["c2.on"]) == [running] * 4
    # 75 kW of electricity for 1 h at 0.10, plus the starts.
    assert s.cost_eur == pytest.approx(7.5 + 5.0 * running)
    assert ("n1.cooling_shortfall_kw" in s.frame) is cooling_n1


def test_heat_store_out_of_service_bridges_nothing(tiny):
    # The same single slow boiler with a full store that is out of service: 500 kW short.
    site = tiny.site(
        [
            unit("b1", start_time_min=30),
            {
                "name": "tes",
                "type": "thermal_storage",
                "carrier": "heat",
                "capacity_kwh": 1000,
                "charge_max_kw": 1000,
                "discharge_max_kw": 1000,
            },
        ],
        security={"heat_n1": True},
    )
    fc = tiny.forecast(site, 4, heat=500)
    state = PlantState(storage_kwh={"tes": 1000.0}, outages=[Outage(asset="tes")])
    s = tiny.plan(site, fc, state)
    consistent(site, s, state)
    assert list(s.frame["n1.heat_shortfall_kw"]) == pytest.approx([500] * 4)
