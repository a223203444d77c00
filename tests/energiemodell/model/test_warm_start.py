"""A re-plan starts HiGHS from the previous plan, shifted, unless that plan was far from proven."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from energiemodell.model.planner import WARM_START_MAX_GAP_PU, Planner
from energiemodell.state import PlantState

pytestmark = pytest.mark.solver

CHP = {"name": "chp", "type": "chp", "p_el_max_kw": 100, "p_el_min_pu": 0.5, "eta_el": 0.4}
CHP |= {"eta_th": 0.4, "min_up_h": 1.0}
BOILER = {"name": "boiler", "type": "boiler", "q_max_kw": 500, "eta": 1.0}


def _replan_sees_a_start(tiny: Any, *, first_gap: float | None) -> bool:
    """Plan 8 intervals, then again 15 minutes later; whether HiGHS held a start at ``run()``.

    ``first_gap`` replaces the first solve's reported MIP gap (a poor time-limited plan).
    """
    site = tiny.site([tiny.grid(), CHP, BOILER], gas={"commodity_eur_per_mwh": 30.0})
    prices = [20, 20, 300, 300, 300, 300, 20, 20, 20]
    planner = Planner(site, 8)
    solve = planner.solver.solve

    def reporting(model: Any, **kw: Any) -> Any:
        out = solve(model, **kw)
        if first_gap is not None:
            out.mip_gap = first_gap
        return out

    planner.solver.solve = reporting  # type: ignore[method-assign]
    first = planner.plan(
        tiny.forecast(site, 8, electricity=50, heat=80, price=prices[:8]), PlantState()
    )
    assert first.frame["chp.on"].sum() > 0  # the dear hours make the CHP worth running
    planner.solver.solve = solve  # type: ignore[method-assign]
    highs = planner.solver.highs
    seen: list[bool] = []
    run = highs.run

    def recording_run() -> Any:
        seen.append(bool(highs.getSolution().value_valid))
        return run()

    highs.run = recording_run
    later = tiny.START + pd.Timedelta(minutes=15)
    fc = tiny.forecast(site, 8, electricity=50, heat=80, price=prices[1:], start=later)
    second = planner.plan(fc, PlantState())
    assert second.status == "optimal"
    assert len(seen) == 1
    return seen[0]


def test_a_replan_starts_from_the_previous_plan(tiny):
    assert _replan_sees_a_start(tiny, first_gap=None)


def test_a_plan_far_from_proven_is_no_start(tiny):
    assert not _replan_sees_a_start(tiny, first_gap=10 * WARM_START_MAX_GAP_PU)
