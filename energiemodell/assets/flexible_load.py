"""A flexible load: an energy to deliver within a daily local-time window."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Literal

import numpy as np
import pyomo.environ as pyo
from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register
from energiemodell.model.data import HorizonData


class FlexibleLoadParams(AssetParams):
    """Parameters of a flexible load (EV charging, DHW charging, non-critical ventilation)."""

    type: Literal["flexible_load"] = "flexible_load"
    carrier: Literal["electricity", "heat", "cooling"] = Field(
        default="electricity", description="Carrier the load draws"
    )
    p_max_kw: PositiveFloat = Field(description="Maximum power")
    energy_kwh: PositiveFloat = Field(description="Energy to deliver in each daily window")
    window_start: time = Field(description="Local time the window opens")
    window_end: time = Field(description="Local time it closes (before start: next day)")
    included_in_demand: bool = Field(
        default=True,
        description="The demand series already holds this load spread evenly over the window",
    )
    critical: bool = Field(default=False, description="Critical loads are never shifted")
    p_min_kw: NonNegativeFloat = Field(default=0.0, description="Minimum power in the window")

    @model_validator(mode="after")
    def _deliverable(self) -> FlexibleLoadParams:
        hours = _window_hours(self.window_start, self.window_end)
        if self.energy_kwh > self.p_max_kw * hours + 1e-9:
            msg = f"energy_kwh {self.energy_kwh} exceeds p_max_kw x window ({hours:g} h)"
            raise ValueError(msg)
        if self.p_min_kw * hours > self.energy_kwh + 1e-9:
            msg = "p_min_kw over the whole window exceeds energy_kwh"
            raise ValueError(msg)
        return self


def _window_hours(start: time, end: time) -> float:
    s = timedelta(hours=start.hour, minutes=start.minute)
    e = timedelta(hours=end.hour, minutes=end.minute)
    if e <= s:
        e += timedelta(days=1)
    return (e - s).total_seconds() / 3600


@register("flexible_load")
class FlexibleLoad(Asset[FlexibleLoadParams]):
    """Flexible load.

    Notes
    -----
    ``p_kw[t] <= p_max * inwin[t]``, ``p_kw[t] >= p_min * inwin[t]``; for each window ``k``
    touching the horizon, ``sum(member_k[t] * p_kw[t]) * dt == required_k`` where a window only
    partly inside the horizon requires its share of the energy pro rata. If the demand series
    includes the load, the even profile ``base[t] = energy / window_hours`` is added back, so
    the flow into the balance is ``base[t] - p_kw[t]`` and nothing is counted twice.
    A critical load has ``p_kw[t] == base_shape[t]`` (never shifted).
    """

    params_model = FlexibleLoadParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        p = self.params
        windows = int(np.ceil(ctx.n * ctx.dt_h / 24)) + 1
        b.K = pyo.Set(initialize=range(windows), ordered=True)
        b.p_kw = pyo.Var(ctx.T, bounds=(0, p.p_max_kw))
        for name in ("inwin", "base"):
            setattr(b, name, pyo.Param(ctx.T, mutable=True, initialize=0.0, within=pyo.Reals))
        b.member = pyo.Param(b.K, ctx.T, mutable=True, initialize=0.0, within=pyo.Reals)
        b.required = pyo.Param(b.K, mutable=True, initialize=0.0, within=pyo.Reals)
        b.in_window = pyo.Constraint(ctx.T, rule=lambda b, t: b.p_kw[t] <= p.p_max_kw * b.inwin[t])
        b.min_power = pyo.Constraint(ctx.T, rule=lambda b, t: b.p_kw[t] >= p.p_min_kw * b.inwin[t])
        b.energy = pyo.Constraint(
            b.K,
            rule=lambda b, k: (
                ctx.dt_h * sum(b.member[k, t] * b.p_kw[t] for t in ctx.T) == b.required[k]
            ),
        )
        if p.critical:
            b.fixed = pyo.Constraint(ctx.T, rule=lambda b, t: b.p_kw[t] == b.base[t])

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        p = self.params
        hours = _window_hours(p.window_start, p.window_end)
        even_kw = p.energy_kwh / hours
        step = timedelta(hours=data.dt_h)
        opens: list[datetime] = []
        member = np.zeros((len(b.K), data.n))
        for t, ts in enumerate(data.local):
            start = ts.to_pydatetime()
            day_open = datetime.combine(start.date(), p.window_start, tzinfo=start.tzinfo)
            if day_open > start:
                day_open -= timedelta(days=1)
            close = day_open + timedelta(hours=hours)
            if start + step <= close:
                if day_open not in opens:
                    opens.append(day_open)
                k = opens.index(day_open)
                if k < len(b.K):
                    member[k, t] = 1.0
        inwin = member.sum(axis=0)
        for t in ctx.T:
            b.inwin[t] = float(inwin[t])
            b.base[t] = even_kw * float(inwin[t])
        for k in b.K:
            for t in ctx.T:
                b.member[k, t] = float(member[k, t])
            share = member[k].sum() * data.dt_h / hours
            b.required[k] = p.energy_kwh * share

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        base = b.base[t] if self.params.included_in_demand else 0.0
        return {Carrier(self.params.carrier): base - b.p_kw[t]}

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        terms = {"base_kw": 1.0} if self.params.included_in_demand else {}
        return {Carrier(self.params.carrier): {**terms, "p_kw": -1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        return {"p_kw": (0.0, self.params.p_max_kw)}

    def outputs(self, b: Any) -> dict[str, Any]:
        return {"p_kw": b.p_kw, "base_kw": b.base}
