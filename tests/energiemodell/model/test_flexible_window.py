"""Flexible loads across plans: energy drawn so far, energy not deliverable, costing a dispatch.

The horizon is 01:00-02:00 local (four quarter-hours from 00:00 UTC on 2024-03-12) with the
second quarter-hour cheap. The loads are outside the demand series, so a plan's ``ev.p_kw`` is
all they draw.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from energiemodell.model.checks import check_schedule
from energiemodell.model.planner import Planner
from energiemodell.rolling.carry import carry_state
from energiemodell.state import PlantState

pytestmark = pytest.mark.solver

DT = 0.25
PRICES = [100, 10, 100, 100]


def ev(**kw):
    return {
        "name": "ev",
        "type": "flexible_load",
        "p_max_kw": 100,
        "energy_kwh": 50,
        "window_start": "00:00",  # opened an hour before the horizon
        "window_end": "02:00",  # closes with it
        "included_in_demand": False,
        **kw,
    }


def drawn_kwh(schedule) -> float:
    return float(schedule.frame["ev.p_kw"].sum() * DT)


@pytest.mark.parametrize(
    ("state", "due_kwh"),
    [
        (PlantState(), 25.0),  # nothing known: the window's even share of its last hour
        (PlantState(flexible_kwh={"ev": 0.0}), 50.0),  # nothing drawn yet: all of it
        (PlantState(flexible_kwh={"ev": 45.0}), 5.0),
        (PlantState(flexible_kwh={"ev": 60.0}), 0.0),  # more than its energy: nothing
    ],
)
def test_a_plan_owes_what_the_window_has_not_drawn(tiny, state, due_kwh):
    site = tiny.site([tiny.grid(), ev()])
    fc = tiny.forecast(site, 4, price=PRICES)
    s = tiny.plan(site, fc, state)
    assert check_schedule(site, s, state=state) == []
    assert drawn_kwh(s) == pytest.approx(due_kwh)
    # the cheap quarter-hour first: at 100 kW it takes 25 kWh
    assert s.frame["ev.p_kw"].iloc[1] == pytest.approx(min(due_kwh, 25.0) / DT)
    assert s.unserved_kwh == pytest.approx(0.0)


def test_energy_the_window_cannot_take_any_more_is_reported_not_infeasible(tiny):
    # 50 kWh due in the last hour at 30 kW: 30 kWh drawn, 20 kWh short at 20,000 EUR/MWh
    site = tiny.site([tiny.grid(), ev(p_max_kw=30)])
    fc = tiny.forecast(site, 4, price=PRICES)
    state = PlantState(flexible_kwh={"ev": 0.0})
    s = tiny.plan(site, fc, state)
    assert s.origin == "optimal"
    assert drawn_kwh(s) == pytest.approx(30.0)
    assert list(s.frame["ev.unserved_kw"]) == pytest.approx([0, 0, 0, 20 / DT])
    assert s.unserved_kwh == pytest.approx(20.0)
    assert s.penalties["flexible_shortfall.ev"] == pytest.approx(20 * 20.0)
    assert "ev: 20.0 kWh of its window not delivered" in s.alarms


def test_costing_a_dispatch_lets_a_window_past_the_horizon_defer(tiny):
    # window 01:00-05:00 local, 100 kWh at up to 100 kW: after this hour, three hours can take
    # 300 kWh, so a dispatch that draws nothing now owes nothing yet; a plan draws its share
    site = tiny.site([tiny.grid(), ev(energy_kwh=100, window_start="01:00", window_end="05:00")])
    fc = tiny.forecast(site, 4, price=PRICES)
    planned = tiny.plan(site, fc)
    assert drawn_kwh(planned) == pytest.approx(25.0)
    evaluator = Planner(site, 4, fixed_dispatch=True)
    idle = pd.DataFrame({"ev.p_kw": 0.0}, index=fc.index)
    s = evaluator.evaluate(fc, PlantState(), idle)
    assert s.origin == "heat_led"
    assert s.unserved_kwh == pytest.approx(0.0)
    assert s.penalty_eur == pytest.approx(0.0)
    # ... and a window that closes within the horizon owes all that is due
    site = tiny.site([tiny.grid(), ev()])
    evaluator = Planner(site, 4, fixed_dispatch=True)
    state = PlantState(flexible_kwh={"ev": 20.0})
    half = pd.DataFrame({"ev.p_kw": [0.0, 100.0, 0.0, 0.0]}, index=fc.index)  # 25 of 30 kWh
    s = evaluator.evaluate(fc, state, half)
    assert s.unserved_kwh == pytest.approx(5.0)
    # more than due is costed as it is, not refused
    s = evaluator.evaluate(fc, state, pd.DataFrame({"ev.p_kw": 100.0}, index=fc.index))
    assert s.origin == "heat_led"
    assert s.unserved_kwh == pytest.approx(0.0)


def test_the_drawn_energy_is_carried_from_block_to_block(tiny):
    site = tiny.site([tiny.grid(), ev(window_start="00:30", window_end="03:30")])
    fc = tiny.forecast(site, 4, price=PRICES)
    frame = pd.DataFrame({"ev.p_kw": [0.0, 40.0, 40.0, 0.0]}, index=fc.index)  # 20 kWh
    counts = pd.Series(1.0, index=fc.index).to_numpy()
    # the window opened 30 minutes before the block: its even share then (50 / 3 h * 0.5 h)
    after = carry_state(site, PlantState(), frame, counts=counts, state_year=2024)
    assert after.flexible_kwh == {"ev": pytest.approx(50 / 6 + 20)}
    known = PlantState(flexible_kwh={"ev": 3.0})
    after = carry_state(site, known, frame, counts=counts, state_year=2024)
    assert after.flexible_kwh == {"ev": pytest.approx(23.0)}
    # a window that closed with the block is not carried
    site = tiny.site([tiny.grid(), ev()])
    after = carry_state(site, known, frame, counts=counts, state_year=2024)
    assert after.flexible_kwh == {}


@pytest.mark.parametrize("tz", [ZoneInfo("Europe/Berlin"), timezone(timedelta(hours=1)), None])
def test_windows_are_wall_clock_times_whatever_the_time_zone_object(tiny, tz):
    site = tiny.site([tiny.grid(), ev(window_start="22:00", window_end="02:00")])
    params = site.asset("ev")
    at = datetime(2024, 3, 12, 1, 30, tzinfo=tz)
    assert params.window_at(at) == (datetime(2024, 3, 11, 22, 0), datetime(2024, 3, 12, 2, 0))
    assert params.still_due(at, 20.0) == (30.0, 0.5)
    assert params.still_due(at, None) == (pytest.approx(50 / 8), 0.5)  # its even share
