"""What decides a committed block under each strategy."""

from __future__ import annotations

import logging

import pandas as pd

from energiemodell.assets.battery import Battery
from energiemodell.assets.chp import Chp
from energiemodell.forecast import Forecaster
from energiemodell.heat_led import heat_led_dispatch
from energiemodell.model.schedule import Schedule
from energiemodell.rolling.costing import Planners
from energiemodell.rolling.windows import Strategy
from energiemodell.site import Site
from energiemodell.state import PlantState

logger = logging.getLogger(__name__)

HISTORY_DAYS = 8
"""Days of data before the start handed to the mpc forecaster (it needs a week ago)."""


def setpoint_columns(site: Site, columns: pd.Index) -> list[str]:
    """Plan columns the plant follows as setpoints under mpc (the rest balance locally).

    CHP output and status and battery flows are dispatched; boilers, chillers and thermal
    stores are left to their local controllers, which meet the real demand. Flexible loads
    deliver their window's energy within the block (a block shorter than the plan's window gets
    its pro-rata share), so their timing inside the block is left to the evaluation too.
    """
    wanted: list[str] = []
    for a in site.asset_objects:
        if isinstance(a, Chp):
            wanted += [f"{a.name}.p_el_kw", f"{a.name}.on"]
        elif isinstance(a, Battery):
            wanted += [f"{a.name}.charge_kw", f"{a.name}.discharge_kw"]
    return [c for c in wanted if c in columns]


def decide(
    site: Site,
    strategy: Strategy,
    planners: Planners,
    actual: pd.DataFrame,
    forecaster: Forecaster,
    b0: pd.Timestamp,
    n: int,
    m: int,
    state: PlantState,
) -> tuple[pd.DataFrame, Schedule | None]:
    """The decisions for the block of ``n`` intervals at ``b0`` (and the plan, if any).

    ``m`` is the planning horizon (intervals from ``b0``); ``actual`` the real data.
    """
    step = pd.Timedelta(minutes=site.step_min)
    block_actual = actual.loc[b0 : b0 + (n - 1) * step]
    if strategy == "heat_led":
        return heat_led_dispatch(site, block_actual, state)[0], None
    if strategy == "perfect_foresight":
        fc = actual.loc[b0 : b0 + (m - 1) * step]
    else:
        fc = forecaster.forecast(site, actual, b0, m)
    plan = planners.plan(m).plan(fc, state, marginal_prices=False)
    if plan.origin == "none":
        logger.warning("%s: no plan (%s); heat-led rules for this block", b0, plan.status)
        return heat_led_dispatch(site, block_actual, state)[0], plan
    committed = plan.frame.iloc[:n]
    if strategy == "mpc":
        committed = committed[setpoint_columns(site, committed.columns)]
    return committed.set_axis(block_actual.index), plan
