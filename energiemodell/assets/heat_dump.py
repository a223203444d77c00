"""Emergency cooler that rejects surplus CHP heat (off unless configured)."""

from __future__ import annotations

from typing import Any, Literal

import pyomo.environ as pyo
from pydantic import Field, NonNegativeFloat, PositiveFloat

from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register


class HeatDumpParams(AssetParams):
    """Parameters of a heat dump (table cooler)."""

    type: Literal["heat_dump"] = "heat_dump"
    q_max_kw: PositiveFloat = Field(description="Maximum heat rejected")
    cost_eur_per_mwh: NonNegativeFloat = Field(
        default=1.0, description="Fan electricity and wear per MWh rejected (discourages use)"
    )


@register("heat_dump")
class HeatDump(Asset[HeatDumpParams]):
    """Heat dump.

    Notes
    -----
    ``0 <= q_kw[t] <= q_max_kw``; takes heat out of the heat balance.
    """

    params_model = HeatDumpParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        b.q_kw = pyo.Var(ctx.T, bounds=(0, self.params.q_max_kw))

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {Carrier.HEAT: -b.q_kw[t]}

    def costs(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        rate = self.params.cost_eur_per_mwh / 1000 * ctx.dt_h
        return {"o_and_m": rate * sum(b.q_kw[t] for t in ctx.T)}

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {Carrier.HEAT: {"q_kw": -1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        return {"q_kw": (0.0, self.params.q_max_kw)}

    def outputs(self, b: Any) -> dict[str, Any]:
        return {"q_kw": b.q_kw}
