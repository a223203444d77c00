"""Compare a plan with the heat-led rules on the same forecast, by cost category."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from energiemodell.heat_led import heat_led_dispatch
from energiemodell.model.planner import Planner
from energiemodell.model.schedule import Schedule
from energiemodell.site import Site
from energiemodell.state import PlantState


@dataclass
class Comparison:
    """The heat-led schedule and the plan's savings against it (EUR, positive = plan cheaper)."""

    heat_led: Schedule
    savings_by_category: dict[str, float]
    savings_eur: float
    penalty_difference_eur: float

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "heat_led_cost_eur": round(self.heat_led.cost_eur, 4),
            "heat_led_penalty_eur": round(self.heat_led.penalty_eur, 4),
            "savings_eur": round(self.savings_eur, 4),
            "savings_by_category": {k: round(v, 4) for k, v in self.savings_by_category.items()},
            "penalty_difference_eur": round(self.penalty_difference_eur, 4),
            "heat_led_alarms": list(self.heat_led.alarms),
        }


def compare_with_heat_led(
    site: Site, forecast: pd.DataFrame, state: PlantState, plan: Schedule
) -> Comparison:
    """Run the heat-led rules on ``forecast`` and cost them with the planner's accounting."""
    decisions, _ = heat_led_dispatch(site, forecast, state)
    evaluator = Planner(site, len(forecast.index), fixed_dispatch=True)
    base = evaluator.evaluate(forecast, state, decisions)
    keys = sorted(set(base.costs) | set(plan.costs))
    savings = {k: base.costs.get(k, 0.0) - plan.costs.get(k, 0.0) for k in keys}
    return Comparison(
        heat_led=base,
        savings_by_category=savings,
        savings_eur=base.cost_eur - plan.cost_eur,
        penalty_difference_eur=base.penalty_eur - plan.penalty_eur,
    )
