"""Emergency diesel generator (Netzersatzanlage): never dispatched for cost."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import numpy as np
import pyomo.environ as pyo
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat

from energiemodell.assets import _common as c
from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register
from energiemodell.model.data import HorizonData


class TestRun(BaseModel):
    """A planned test run under load (DIN VDE 0100-710 practice: monthly, >= 1 h, >= 50 %)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime = Field(description="Local start (naive = site time, or with offset)")
    duration_h: PositiveFloat = Field(default=1.0)
    load_pu: float = Field(default=0.5, gt=0, le=1, description="Load as share of rating")


class EmergencyGeneratorParams(AssetParams):
    """Parameters of an emergency generator."""

    type: Literal["emergency_generator"] = "emergency_generator"
    p_el_kw: PositiveFloat = Field(description="Rated electric output")
    test_runs: list[TestRun] = Field(default_factory=list, description="Fixed test events")
    fuel_eur_per_kwh_el: NonNegativeFloat = Field(default=0.0, description="Diesel cost")
    co2_t_per_mwh_el: NonNegativeFloat = Field(default=0.0, description="Emissions per MWh")


@register("emergency_generator")
class EmergencyGenerator(Asset[EmergencyGeneratorParams]):
    """Emergency generator: its planned test runs are fixed events that reduce import.

    Notes
    -----
    ``p_el_kw[t] = test[t]`` (a mutable parameter, zero outside test runs). It is never a
    decision of the optimiser; its fuel cost is a constant kept out of the solver's objective.
    """

    params_model = EmergencyGeneratorParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        b.test_kw = pyo.Param(ctx.T, mutable=True, initialize=0.0, within=pyo.Reals)

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        p = self.params
        profile = np.zeros(data.n)
        for run in p.test_runs:
            start = pd_utc(run.start, str(data.local.tz))
            end = start + np.timedelta64(int(run.duration_h * 3600), "s")
            mask = (data.index >= start) & (data.index < end)
            profile[mask] = run.load_pu * p.p_el_kw
        c.set_series(b.test_kw, profile)

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {Carrier.ELECTRICITY: b.test_kw[t]}

    def constant_eur(self, b: Any, ctx: BuildContext) -> dict[str, float]:
        kwh = ctx.dt_h * sum(float(b.test_kw[t].value) for t in ctx.T)
        return {c.EMERGENCY: kwh * self.params.fuel_eur_per_kwh_el} if kwh else {}

    def emissions_t(self, b: Any, ctx: BuildContext) -> Any:
        f = self.params.co2_t_per_mwh_el / 1000 * ctx.dt_h
        return f * sum(b.test_kw[t] for t in ctx.T)

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {Carrier.ELECTRICITY: {"p_el_kw": 1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        return {"p_el_kw": (0.0, self.params.p_el_kw)}

    def outputs(self, b: Any) -> dict[str, Any]:
        return {"p_el_kw": b.test_kw}


def pd_utc(ts: datetime, tz: str) -> Any:
    """A naive local or aware datetime as a UTC pandas Timestamp."""
    import pandas as pd

    stamp = pd.Timestamp(ts)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(tz, ambiguous=False, nonexistent="shift_forward")
    return stamp.tz_convert("UTC")
