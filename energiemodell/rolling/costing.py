"""The one accounting of every committed block: its decisions fixed and costed on the real data.

Whatever made a block's decisions (a plan on the real data, a plan on a forecast, the heat-led
rules), the block is costed by the planner's fixed-dispatch evaluation
(:meth:`energiemodell.model.planner.Planner.evaluate`) on the real data, at a tight MIP gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from energiemodell.errors import SolveError
from energiemodell.model.planner import Planner
from energiemodell.model.schedule import Schedule
from energiemodell.site import Site, site_from_dict
from energiemodell.state import PlantState


@dataclass
class Block:
    """One committed block: who decided, what it cost, how long it took."""

    start: pd.Timestamp
    n: int
    origin: str
    status: str
    mip_gap: float | None
    costs: dict[str, float]
    penalties: dict[str, float]
    co2_t: float
    plan_s: float
    solve_s: float
    eval_s: float
    gap_eur: float = 0.0
    """MIP gap of the plan in money: ``mip_gap * |objective|`` of its whole window."""
    alarms: list[str] = field(default_factory=list)

    @property
    def cost_eur(self) -> float:
        """Money cost of the block (EUR, including the change of stored value)."""
        return float(sum(self.costs.values()))


class Planners:
    """Planners and evaluators by horizon length, built on first use and reused.

    The evaluators solve at ``eval_gap_pu`` (the few free binaries: grid direction).
    """

    def __init__(self, site: Site, eval_gap_pu: float) -> None:
        self.site = site
        data = site.model_dump()
        data["control"]["mip_gap_pu"] = eval_gap_pu
        self.eval_site = site_from_dict(data, source=site.source, base_dir=site.base_dir)
        self._plan: dict[int, Planner] = {}
        self._eval: dict[int, Planner] = {}

    def plan(self, n: int) -> Planner:
        """The planner of ``n`` intervals."""
        if n not in self._plan:
            self._plan[n] = Planner(self.site, n)
        return self._plan[n]

    def evaluate(self, n: int) -> Planner:
        """The fixed-dispatch evaluator of ``n`` intervals."""
        if n not in self._eval:
            self._eval[n] = Planner(self.eval_site, n, fixed_dispatch=True)
        return self._eval[n]


def evaluate_committed(
    evaluator: Planner, actual: pd.DataFrame, state: PlantState, decisions: pd.DataFrame
) -> Schedule:
    """Cost the committed ``decisions`` on the real data (the one accounting of every block)."""
    sched = evaluator.evaluate(actual, state, decisions)
    if sched.origin == "none":
        start = actual.index[0].isoformat()
        msg = f"{start}: the committed dispatch could not be costed: {sched.alarms}"
        raise SolveError(msg)
    return sched


def block_record(
    b0: pd.Timestamp, n: int, plan: Schedule | None, sched: Schedule, eval_s: float
) -> Block:
    """The :class:`Block` of a committed block: its plan (None: the rules decided) and costs."""
    if plan is None:
        origin, status, gap, plan_s, solve_s = "heat_led", "rules", None, 0.0, 0.0
    elif plan.origin == "none":
        origin, status, gap = "fallback_heat_led", plan.status, None
        plan_s = solve_s = float(plan.timings.get("solve_s", 0.0))
    else:
        origin, status, gap = plan.origin, plan.status, plan.mip_gap
        plan_s = float(sum(plan.timings.values()))
        solve_s = float(plan.timings.get("solve_s", 0.0))
    gap_eur = 0.0
    if plan is not None and plan.mip_gap is not None and plan.objective_eur is not None:
        gap_eur = plan.mip_gap * abs(plan.objective_eur)
    alarms = list(sched.alarms)
    if plan is not None and plan.origin == "none":
        alarms.insert(0, f"no plan ({plan.status}): heat-led rules used")
    return Block(
        start=b0,
        n=n,
        origin=origin,
        status=status,
        mip_gap=gap,
        costs=dict(sched.costs),
        penalties=dict(sched.penalties),
        co2_t=float(sched.co2_t),
        plan_s=plan_s,
        solve_s=solve_s,
        eval_s=eval_s,
        gap_eur=gap_eur,
        alarms=alarms,
    )
