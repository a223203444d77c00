"""District heating supply at an energy price up to a contracted maximum."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat

from energiemodell.assets import _common as c
from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register
from energiemodell.model.data import HorizonData


class DistrictHeatParams(AssetParams):
    """Parameters of a district heating connection."""

    type: Literal["district_heat"] = "district_heat"
    q_max_kw: PositiveFloat = Field(description="Contracted maximum heat")
    price_eur_per_mwh: NonNegativeFloat = Field(description="Energy price of delivered heat")
    co2_t_per_mwh: NonNegativeFloat = Field(default=0.0, description="Emission factor")


@register("district_heat")
class DistrictHeat(Asset[DistrictHeatParams]):
    """District heat.

    Notes
    -----
    ``0 <= q_kw[t] <= q_max_kw * avail[t]``; cost ``price * q_kw * dt``.
    """

    params_model = DistrictHeatParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        c.add_output(b, ctx, max_kw=self.params.q_max_kw, units=1, min_pu=0.0)

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        c.update_output(b, data, name=self.name, units=1)

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {Carrier.HEAT: b.out_kw[t]}

    def costs(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        rate = self.params.price_eur_per_mwh / 1000 * ctx.dt_h
        return {c.DISTRICT_HEAT: rate * sum(b.out_kw[t] for t in ctx.T)}

    def emissions_t(self, b: Any, ctx: BuildContext) -> Any:
        f = self.params.co2_t_per_mwh / 1000 * ctx.dt_h
        return f * sum(b.out_kw[t] for t in ctx.T)

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {Carrier.HEAT: {"q_kw": 1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        return {"q_kw": (0.0, self.params.q_max_kw)}

    def outputs(self, b: Any) -> dict[str, Any]:
        return {"q_kw": b.out_kw}

    def capacity_kw(self, carrier: Carrier) -> float:
        return self.params.q_max_kw if carrier == Carrier.HEAT else 0.0
