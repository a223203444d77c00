"""Forecast, plan and walk the fallback ladder for one interval.

:func:`plan_interval` is the planning half of a cycle: the forecast (saved as issued), the
planner's plan (saved as a schedule version with its inputs), the heat-led rules when they are
needed, and the rung :func:`scheduler.policy.choose_plan` picks. Every failure on the way
becomes an alarm of the choice, never an exception.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import pandas as pd

from energiemodell.heat_led import heat_led_dispatch
from energiemodell.model.schedule import Schedule
from energiemodell.state import PlantState
from scheduler.cycle import CycleDeps, interval_tag
from scheduler.dispatch import plan_problems
from scheduler.policy import Choice, Rung, StoredPlan, choose_plan
from scheduler.state_estimate import Estimate

logger = logging.getLogger(__name__)


def plan_interval(
    deps: CycleDeps, now: datetime, at: datetime, estimate: Estimate
) -> tuple[Choice, float]:
    """Forecast, plan and walk the ladder; return the choice and the solver's time (s)."""
    site, rt, n = deps.site, deps.runtime, deps.planner.n
    forecast: pd.DataFrame | None = None
    fresh: StoredPlan | None = None
    error: str | None = None
    solve_s = 0.0
    state = deps.policy.plan_state(estimate.state, now=at)  # operator overrides enter the plan
    try:
        forecast = deps.forecaster.forecast(at, n)
        deps.journal.forecast(forecast, issued_at=now, source=deps.forecaster.name)
        schedule = deps.planner.plan(forecast, state)
        schedule.created_at = deps.clock.now()  # the loop's time (simulated in simulations)
        solve_s = schedule.timings.get("solve_s", 0.0)
        ref, _ = deps.journal.schedule(
            schedule, site_yaml=deps.site_yaml, inputs=plan_inputs(deps, at, estimate, "planner")
        )
        fresh = StoredPlan(schedule, ref)
    except Exception as exc:  # the cycle boundary: any planning failure steps down the ladder
        logger.exception("planning for %s failed", at.isoformat())
        error = f"{type(exc).__name__}: {exc}"

    def rules() -> StoredPlan | None:
        return _heat_led(deps, at, estimate, state, forecast)

    forced = deps.policy.rules_only(at=at, now=deps.clock.now())
    if forced is not None:  # the operator's heat-led operation or review mode's fallback
        by_rules = rules()
        if by_rules is not None and not plan_problems(site, by_rules.schedule):
            return Choice(Rung.HEAT_LED, by_rules, [forced]), solve_s
    choice = choose_plan(
        site,
        fresh=fresh,
        fresh_error=error,
        last_valid=rt.last_valid,
        at=at,
        max_age=deps.limits.last_plan_max_age,
        heat_led=rules,
    )
    if choice.rung in (Rung.FRESH, Rung.TIME_LIMITED):
        rt.last_valid = choice.plan
    return choice, solve_s


def _heat_led(
    deps: CycleDeps,
    at: datetime,
    estimate: Estimate,
    state: PlantState,
    forecast: pd.DataFrame | None,
) -> StoredPlan | None:
    """The heat-led rules' dispatch as a stored schedule version (None when the rules fail)."""
    site = deps.site
    try:
        fc = forecast if forecast is not None else deps.forecaster.forecast(at, deps.planner.n)
        decisions, _ = heat_led_dispatch(site, fc, state)
    except Exception:  # the cycle boundary: without rules the ladder ends in a release
        logger.exception("heat-led rules for %s failed", at.isoformat())
        return None
    schedule = Schedule(
        frame=decisions.astype(float),
        costs={},
        costs_by_asset={},
        penalties={},
        kpis={},
        status="fallback",
        mip_gap=None,
        origin="heat_led",
        site_hash=site.content_hash(),
        created_at=deps.clock.now(),
    )
    ref, _ = deps.journal.schedule(
        schedule, site_yaml=deps.site_yaml, inputs=plan_inputs(deps, at, estimate, "heat_led")
    )
    return StoredPlan(schedule, ref)


def plan_inputs(deps: CycleDeps, at: datetime, estimate: Estimate, made_by: str) -> dict[str, Any]:
    """What a schedule version was made from (stored with it)."""
    return {
        "interval": interval_tag(at),
        "made_by": made_by,
        "forecast": deps.forecaster.name,
        "state": estimate.state.model_dump(mode="json"),
        "stale": estimate.stale,
        "notes": estimate.notes,
    }
