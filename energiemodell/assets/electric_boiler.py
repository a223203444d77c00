"""Electric boiler (power-to-heat)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from energiemodell.assets import _common as c
from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register
from energiemodell.model.data import HorizonData


class ElectricBoilerParams(AssetParams):
    """Parameters of an electric boiler."""

    type: Literal["electric_boiler"] = "electric_boiler"
    q_max_kw: PositiveFloat = Field(description="Maximum heat output per unit")
    eta: float = Field(default=0.99, gt=0, le=1, description="Electricity to heat efficiency")
    units: PositiveInt = Field(default=1, description="Identical units")


@register("electric_boiler")
class ElectricBoiler(Asset[ElectricBoilerParams]):
    """Electric boiler.

    Notes
    -----
    ``0 <= q_kw[t] <= q_max_kw * avail[t]``; ``p_el_kw[t] = q_kw[t] / eta``.
    """

    params_model = ElectricBoilerParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        p = self.params
        c.add_output(b, ctx, max_kw=p.q_max_kw, units=p.units, min_pu=0.0)

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        c.update_output(b, data, name=self.name, units=self.params.units)

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {Carrier.HEAT: b.out_kw[t], Carrier.ELECTRICITY: -b.out_kw[t] / self.params.eta}

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {Carrier.HEAT: {"q_kw": 1.0}, Carrier.ELECTRICITY: {"p_el_kw": -1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        return {"q_kw": (0.0, self.params.q_max_kw * self.params.units)}

    def outputs(self, b: Any) -> dict[str, Any]:
        return {"q_kw": b.out_kw, "p_el_kw": [b.out_kw[t] / self.params.eta for t in b.out_kw]}

    def units(self) -> int:
        return self.params.units

    def capacity_kw(self, carrier: Carrier) -> float:
        return self.params.q_max_kw if carrier == Carrier.HEAT else 0.0
