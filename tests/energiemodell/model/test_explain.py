"""Plain-word explanations: the limits that bind in each interval of a plan."""

from __future__ import annotations

import pytest

from energiemodell.state import PlantState, UnitState

pytestmark = pytest.mark.solver

CHP = {"name": "chp", "type": "chp", "p_el_max_kw": 100, "p_el_min_pu": 0.5, "eta_el": 0.4}
CHP |= {"eta_th": 0.4, "min_up_h": 2.0}
GAS = {"commodity_eur_per_mwh": 30.0}


def boiler(q_max_kw: float = 500.0) -> dict[str, object]:
    return {"name": "boiler", "type": "boiler", "q_max_kw": q_max_kw, "eta": 1.0}


def words(schedule, t: int) -> list[str]:
    return schedule.explanations[schedule.frame.index[t].isoformat()]


def test_a_unit_held_on_runs_at_minimum_load_then_stops(tiny):
    # free power: the CHP only runs because its minimum up-time holds it (1.5 h = 6 steps)
    site = tiny.site([tiny.grid(), CHP, boiler()], gas=GAS)
    fc = tiny.forecast(site, 8, electricity=100, heat=200, price=0)
    state = PlantState(units={"chp": UnitState(on=True, time_in_state_h=0.5)})
    s = tiny.plan(site, fc, state)
    assert all("chp at minimum load" in words(s, t) for t in range(6))
    assert all("chp off" in words(s, t) for t in (6, 7))
    assert not any("boiler at maximum" in w for t in range(8) for w in words(s, t))


def test_grid_and_boiler_limits_are_named(tiny):
    site = tiny.site([tiny.grid(max_import_kw=120.0), boiler(q_max_kw=300.0)], gas=GAS)
    fc = tiny.forecast(site, 4, electricity=[50, 120, 120, 50], heat=[100, 300, 100, 100], price=50)
    s = tiny.plan(site, fc)
    assert words(s, 0) == []
    assert "grid import at the contracted limit" in words(s, 1)
    assert "boiler at maximum (300 kW)" in words(s, 1)
    assert "grid import at the contracted limit" in words(s, 2)
    assert "boiler at maximum (300 kW)" not in words(s, 2)
