"""Gas boiler, or a group of identical gas boilers run by one sequencer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt

from energiemodell.assets import _common as c
from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register
from energiemodell.model.data import HorizonData


class BoilerParams(AssetParams):
    """Parameters of a gas boiler (per unit; ``units`` identical units form one group)."""

    type: Literal["boiler"] = "boiler"
    q_max_kw: PositiveFloat = Field(description="Maximum heat output per unit")
    eta: float = Field(gt=0, le=1.1, description="Fuel to heat efficiency (LHV; condensing > 1)")
    units: PositiveInt = Field(default=1, description="Identical units in the group")
    q_min_pu: float = Field(default=0.0, ge=0, le=1, description="Minimum load per running unit")
    start_cost_eur: NonNegativeFloat = Field(default=0.0, description="Cost per unit start")
    start_time_min: NonNegativeFloat = Field(default=10.0, description="Start to full load")


@register("boiler")
class Boiler(Asset[BoilerParams]):
    """Gas boiler: fuel in, heat out, constant efficiency.

    Notes
    -----
    ``q_kw[t] = out_kw[t]`` within the limits of :func:`~energiemodell.assets._common.add_output`;
    ``fuel_kw[t] * eta == q_kw[t]``. With ``q_min_pu > 0`` the group's ``on[t]`` is an integer
    count of running units (no symmetry between identical boilers).
    """

    params_model = BoilerParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        p = self.params
        c.add_output(b, ctx, max_kw=p.q_max_kw, units=p.units, min_pu=p.q_min_pu)
        c.add_fuel_prices(b, ctx)
        b.fuel_kw = [b.out_kw[t] / p.eta for t in ctx.T]

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        c.update_output(b, data, name=self.name, units=self.params.units)
        c.update_fuel_prices(b, data)

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {Carrier.HEAT: b.out_kw[t]}

    def costs(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        out = c.fuel_costs(b, ctx, b.fuel_kw)
        if hasattr(b, "start") and self.params.start_cost_eur:
            out[c.STARTS] = self.params.start_cost_eur * sum(b.start[t] for t in ctx.T)
        return out

    def emissions_t(self, b: Any, ctx: BuildContext) -> Any:
        return c.fuel_emissions(b, ctx, b.fuel_kw)

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {Carrier.HEAT: {"q_kw": 1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        p = self.params
        return {"q_kw": (0.0, p.q_max_kw * p.units), "on": (0.0, float(p.units))}

    def outputs(self, b: Any) -> dict[str, Any]:
        out = {"q_kw": b.out_kw, "fuel_kw": b.fuel_kw}
        if hasattr(b, "on"):
            out["on"] = b.on
        return out

    def commitment(self, b: Any) -> Any | None:
        return getattr(b, "on", None)

    def units(self) -> int:
        return self.params.units

    def capacity_kw(self, carrier: Carrier) -> float:
        return self.params.q_max_kw if carrier == Carrier.HEAT else 0.0

    def start_time_min(self) -> float:
        return self.params.start_time_min
