"""Hot-water driven absorption chiller."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat

from energiemodell.assets import _common as c
from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register
from energiemodell.model.data import HorizonData


class AbsorptionChillerParams(AssetParams):
    """Parameters of an absorption chiller."""

    type: Literal["absorption_chiller"] = "absorption_chiller"
    cold_max_kw: PositiveFloat = Field(description="Maximum cooling output")
    cop: float = Field(gt=0, le=2, description="Cold out per heat in")
    aux_el_kw_per_kw_cold: NonNegativeFloat = Field(
        default=0.02, description="Auxiliary electricity (pumps, cooling tower) per kW cold"
    )
    cold_min_pu: float = Field(default=0.0, ge=0, le=1, description="Minimum load")
    start_time_min: NonNegativeFloat = Field(default=15.0, description="Start to full load")
    start_cost_eur: NonNegativeFloat = Field(
        default=0.0, description="Wear cost per start (discourages cycling)"
    )


@register("absorption_chiller")
class AbsorptionChiller(Asset[AbsorptionChillerParams]):
    """Absorption chiller: heat and a little electricity in, cold out.

    Notes
    -----
    ``cold_kw[t]`` within :func:`~energiemodell.assets._common.add_output`;
    ``q_in_kw[t] = cold_kw[t] / cop``; ``p_el_kw[t] = aux * cold_kw[t]``. Its drive heat is
    shed-able and does not count in the heat N-1 rule.
    """

    params_model = AbsorptionChillerParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        p = self.params
        c.add_output(b, ctx, max_kw=p.cold_max_kw, units=1, min_pu=p.cold_min_pu)

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        c.update_output(b, data, name=self.name, units=1)

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        p = self.params
        return {
            Carrier.COOLING: b.out_kw[t],
            Carrier.HEAT: -b.out_kw[t] / p.cop,
            Carrier.ELECTRICITY: -p.aux_el_kw_per_kw_cold * b.out_kw[t],
        }

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {
            Carrier.COOLING: {"cold_kw": 1.0},
            Carrier.HEAT: {"q_in_kw": -1.0},
            Carrier.ELECTRICITY: {"p_el_kw": -1.0},
        }

    def column_limits(self) -> dict[str, tuple[float, float]]:
        return {"cold_kw": (0.0, self.params.cold_max_kw), "on": (0.0, 1.0)}

    def costs(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        if hasattr(b, "start") and self.params.start_cost_eur:
            return {c.STARTS: self.params.start_cost_eur * sum(b.start[t] for t in ctx.T)}
        return {}

    def outputs(self, b: Any) -> dict[str, Any]:
        p = self.params
        out = {
            "cold_kw": b.out_kw,
            "q_in_kw": [b.out_kw[t] / p.cop for t in b.out_kw],
            "p_el_kw": [p.aux_el_kw_per_kw_cold * b.out_kw[t] for t in b.out_kw],
        }
        if hasattr(b, "on"):
            out["on"] = b.on
        return out

    def commitment(self, b: Any) -> Any | None:
        return getattr(b, "on", None)

    def capacity_kw(self, carrier: Carrier) -> float:
        return self.params.cold_max_kw if carrier == Carrier.COOLING else 0.0

    def start_time_min(self) -> float:
        return self.params.start_time_min
