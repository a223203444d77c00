"""Electric heat pump with a constant or temperature-dependent COP."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyomo.environ as pyo
from pydantic import Field, PositiveFloat, PositiveInt

from energiemodell.assets import _common as c
from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register
from energiemodell.model.data import HorizonData


class HeatPumpParams(AssetParams):
    """Parameters of a heat pump."""

    type: Literal["heat_pump"] = "heat_pump"
    q_max_kw: PositiveFloat = Field(description="Maximum heat output per unit")
    cop: PositiveFloat = Field(default=3.0, description="Coefficient of performance")
    cop_by_temp_c: list[tuple[float, PositiveFloat]] | None = Field(
        default=None,
        description="COP against ambient temperature [[temp_c, cop], ...], linear in between",
    )
    q_min_pu: float = Field(default=0.0, ge=0, le=1, description="Minimum load per running unit")
    units: PositiveInt = Field(default=1, description="Identical units")
    start_time_min: float = Field(default=5.0, ge=0, description="Start to full load")


@register("heat_pump")
class HeatPump(Asset[HeatPumpParams]):
    """Heat pump.

    Notes
    -----
    ``q_kw[t]`` within :func:`~energiemodell.assets._common.add_output`;
    ``p_el_kw[t] = q_kw[t] / cop[t]`` with ``cop[t]`` constant or interpolated from ambient
    temperature (a mutable coefficient).
    """

    params_model = HeatPumpParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        p = self.params
        c.add_output(b, ctx, max_kw=p.q_max_kw, units=p.units, min_pu=p.q_min_pu)
        b.inv_cop = pyo.Param(ctx.T, mutable=True, initialize=1 / p.cop, within=pyo.Reals)

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        p = self.params
        c.update_output(b, data, name=self.name, units=p.units)
        cop = (
            c.curve_at(p.cop_by_temp_c, data.temp_c, asset=self.name)
            if p.cop_by_temp_c
            else np.full(data.n, p.cop)
        )
        c.set_series(b.inv_cop, 1 / cop)

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {Carrier.HEAT: b.out_kw[t], Carrier.ELECTRICITY: -b.inv_cop[t] * b.out_kw[t]}

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {Carrier.HEAT: {"q_kw": 1.0}, Carrier.ELECTRICITY: {"p_el_kw": -1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        p = self.params
        return {"q_kw": (0.0, p.q_max_kw * p.units), "on": (0.0, float(p.units))}

    def outputs(self, b: Any) -> dict[str, Any]:
        out = {"q_kw": b.out_kw, "p_el_kw": [b.inv_cop[t] * b.out_kw[t] for t in b.out_kw]}
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
