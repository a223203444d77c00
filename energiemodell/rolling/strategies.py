"""What decides a committed block under each strategy, and what mpc's forecaster may know.

Under ``mpc`` the forecaster gets what the live loop hands its forecaster
(:mod:`scheduler.forecasting`: the site's series over the last :data:`HISTORY_DAYS` days),
cut to what was known at the decision time: every column before it, and the day-ahead prices
published by then (:func:`~energiemodell.forecast.day_ahead_known_until`). Nothing else from
the decision time on reaches the forecaster: no measured demand, PV or weather, and so no
weather forecast (the live loop reads the site's weather series ahead as a perfect one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import pandas as pd

from energiemodell.assets.battery import Battery
from energiemodell.assets.chp import Chp
from energiemodell.assets.flexible_load import FlexibleLoad
from energiemodell.forecast import (
    DAY_AHEAD_COLUMN,
    Forecaster,
    PersistenceForecaster,
    ProfileForecaster,
    day_ahead_known_until,
)
from energiemodell.heat_led import heat_led_dispatch
from energiemodell.model.schedule import Schedule
from energiemodell.rolling.costing import Planners
from energiemodell.rolling.windows import Strategy
from energiemodell.site import Site
from energiemodell.state import PlantState

logger = logging.getLogger(__name__)

HISTORY_DAYS = 35
"""Days of history handed to the mpc forecaster, as the live loop does (the profile forecaster
averages the last four Sundays and holidays and fits its temperature slope on four weeks)."""

ForecastName = Literal["profile", "persistence"]
FORECASTERS: dict[ForecastName, Callable[[], Forecaster]] = {
    "profile": ProfileForecaster,
    "persistence": PersistenceForecaster,
}
"""The forecasters mpc can run, by the name a scenario gives (``forecast:``)."""
DEFAULT_FORECAST: ForecastName = "profile"
"""The live loop's default forecaster, and so mpc's."""


def make_forecaster(name: ForecastName) -> Forecaster:
    """A new forecaster of this name (see :data:`FORECASTERS`)."""
    return FORECASTERS[name]()


def history_known_at(
    site: Site, data: pd.DataFrame, now: pd.Timestamp, *, days: float = HISTORY_DAYS
) -> pd.DataFrame:
    """What a forecaster may know at ``now`` of the real ``data`` (UTC index, Forecast columns).

    The rows of the ``days`` before ``now`` (every column), and from ``now`` on only the
    day-ahead prices published by then, up to :func:`day_ahead_known_until`; on those rows
    the other columns are missing (NaN; flags such as ``price.is_forecast`` False).
    """
    index = pd.DatetimeIndex(data.index)
    past = data.loc[(index >= now - pd.Timedelta(days=days)) & (index < now)]
    if DAY_AHEAD_COLUMN not in data.columns:
        return past
    known_until = day_ahead_known_until(now, site.timezone)
    published = data.loc[(index >= now) & (index < known_until), DAY_AHEAD_COLUMN]
    out = past.reindex(past.index.union(published.index))
    out.loc[published.index, DAY_AHEAD_COLUMN] = published
    for column in past.select_dtypes(include="bool").columns:
        out[column] = out[column].eq(True)  # the reindexed rows are NaN: not set
    return out


def setpoint_columns(site: Site, columns: pd.Index) -> list[str]:
    """Plan columns the plant follows as setpoints under mpc (the rest balance locally).

    CHP output and status, battery flows and flexible loads' power are dispatched (what a
    flexible load drew is carried to the next plan, which owes the rest of its window);
    boilers, chillers and thermal stores are left to their local controllers, which meet the
    real demand.
    """
    wanted: list[str] = []
    for a in site.asset_objects:
        if isinstance(a, Chp):
            wanted += [f"{a.name}.p_el_kw", f"{a.name}.on"]
        elif isinstance(a, Battery):
            wanted += [f"{a.name}.charge_kw", f"{a.name}.discharge_kw"]
        elif isinstance(a, FlexibleLoad):
            wanted.append(f"{a.name}.p_kw")
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

    ``m`` is the planning horizon (intervals from ``b0``); ``actual`` the real data, of which
    the mpc forecaster sees only :func:`history_known_at` ``b0``.
    """
    step = pd.Timedelta(minutes=site.step_min)
    block_actual = actual.loc[b0 : b0 + (n - 1) * step]
    if strategy == "heat_led":
        return heat_led_dispatch(site, block_actual, state)[0], None
    if strategy == "perfect_foresight":
        fc = actual.loc[b0 : b0 + (m - 1) * step]
    else:
        fc = forecaster.forecast(site, history_known_at(site, actual, b0), b0, m)
    plan = planners.plan(m).plan(fc, state, marginal_prices=False)
    if plan.origin == "none":
        logger.warning("%s: no plan (%s); heat-led rules for this block", b0, plan.status)
        return heat_led_dispatch(site, block_actual, state)[0], plan
    committed = plan.frame.iloc[:n]
    if strategy == "mpc":
        committed = committed[setpoint_columns(site, committed.columns)]
    return committed.set_axis(block_actual.index), plan
