"""Electric compression chiller, or a group of identical chillers."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyomo.environ as pyo
from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt

from energiemodell.assets import _common as c
from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register
from energiemodell.model.data import HorizonData


class CompressionChillerParams(AssetParams):
    """Parameters of a compression chiller (per unit)."""

    type: Literal["compression_chiller"] = "compression_chiller"
    cold_max_kw: PositiveFloat = Field(description="Maximum cooling output per unit")
    eer: PositiveFloat = Field(default=4.5, description="Energy efficiency ratio (cold / el)")
    eer_by_temp_c: list[tuple[float, PositiveFloat]] | None = Field(
        default=None, description="EER against ambient temperature [[temp_c, eer], ...]"
    )
    cold_min_pu: float = Field(default=0.0, ge=0, le=1, description="Minimum load per unit")
    units: PositiveInt = Field(default=1, description="Identical units in the group")
    start_time_min: float = Field(default=5.0, ge=0, description="Start to full load")
    start_cost_eur: NonNegativeFloat = Field(
        default=0.0, description="Wear cost per unit start (discourages cycling)"
    )


@register("compression_chiller")
class CompressionChiller(Asset[CompressionChillerParams]):
    """Compression chiller.

    Notes
    -----
    ``cold_kw[t]`` within :func:`~energiemodell.assets._common.add_output`;
    ``p_el_kw[t] = cold_kw[t] / eer[t]``.
    """

    params_model = CompressionChillerParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        p = self.params
        c.add_output(b, ctx, max_kw=p.cold_max_kw, units=p.units, min_pu=p.cold_min_pu)
        b.inv_eer = pyo.Param(ctx.T, mutable=True, initialize=1 / p.eer, within=pyo.Reals)

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        p = self.params
        c.update_output(b, data, name=self.name, units=p.units)
        eer = (
            c.curve_at(p.eer_by_temp_c, data.temp_c, asset=self.name)
            if p.eer_by_temp_c
            else np.full(data.n, p.eer)
        )
        c.set_series(b.inv_eer, 1 / eer)

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {Carrier.COOLING: b.out_kw[t], Carrier.ELECTRICITY: -b.inv_eer[t] * b.out_kw[t]}

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {Carrier.COOLING: {"cold_kw": 1.0}, Carrier.ELECTRICITY: {"p_el_kw": -1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        p = self.params
        return {"cold_kw": (0.0, p.cold_max_kw * p.units), "on": (0.0, float(p.units))}

    def costs(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        if hasattr(b, "start") and self.params.start_cost_eur:
            return {c.STARTS: self.params.start_cost_eur * sum(b.start[t] for t in ctx.T)}
        return {}

    def outputs(self, b: Any) -> dict[str, Any]:
        out = {"cold_kw": b.out_kw, "p_el_kw": [b.inv_eer[t] * b.out_kw[t] for t in b.out_kw]}
        if hasattr(b, "on"):
            out["on"] = b.on
        return out

    def commitment(self, b: Any) -> Any | None:
        return getattr(b, "on", None)

    def units(self) -> int:
        return self.params.units

    def capacity_kw(self, carrier: Carrier) -> float:
        return self.params.cold_max_kw if carrier == Carrier.COOLING else 0.0

    def start_time_min(self) -> float:
        return self.params.start_time_min
