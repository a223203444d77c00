"""Photovoltaics: forecast output per kWp times the installed power, curtailable."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyomo.environ as pyo
from pydantic import Field, PositiveFloat

from energiemodell.assets import _common as c
from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register
from energiemodell.errors import ModelBuildError
from energiemodell.model.data import HorizonData


class PvParams(AssetParams):
    """Parameters of a PV array."""

    type: Literal["pv"] = "pv"
    p_kwp: PositiveFloat = Field(description="Installed DC power (kWp)")
    curtailable: bool = Field(default=True, description="Output may be reduced below forecast")


@register("pv")
class Pv(Asset[PvParams]):
    """PV array.

    Notes
    -----
    ``p_el_kw[t] <= avail_kw[t] = p_kwp * pv.kw_per_kwp[t]`` (equal when not curtailable).
    """

    params_model = PvParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        b.p_el_kw = pyo.Var(ctx.T, bounds=(0, None))
        b.avail_kw = pyo.Param(ctx.T, mutable=True, initialize=0.0, within=pyo.Reals)
        if self.params.curtailable:
            b.forecast_limit = pyo.Constraint(
                ctx.T, rule=lambda b, t: b.p_el_kw[t] <= b.avail_kw[t]
            )
        else:
            b.forecast_limit = pyo.Constraint(
                ctx.T, rule=lambda b, t: b.p_el_kw[t] == b.avail_kw[t]
            )

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        profile = data.pv_kw_per_kwp
        if np.isnan(profile).any():
            msg = f"{self.name}: the Forecast has no pv.kw_per_kwp column"
            raise ModelBuildError(msg)
        avail = c.available_units(data, self.name, 1)
        c.set_series(b.avail_kw, np.clip(profile, 0, None) * self.params.p_kwp * avail)

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {Carrier.ELECTRICITY: b.p_el_kw[t]}

    def capacity_kw(self, carrier: Carrier) -> float:
        return self.params.p_kwp if carrier == Carrier.ELECTRICITY else 0.0

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {Carrier.ELECTRICITY: {"p_el_kw": 1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        return {"p_el_kw": (0.0, float("inf")), "curtailed_kw": (0.0, float("inf"))}

    def outputs(self, b: Any) -> dict[str, Any]:
        return {
            "p_el_kw": b.p_el_kw,
            "curtailed_kw": [b.avail_kw[t] - b.p_el_kw[t] for t in b.p_el_kw],
        }
