"""A flexible load: an energy to deliver within a daily local-time window."""

from __future__ import annotations

import math
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
    penalty_shortfall_eur_per_mwh: PositiveFloat = Field(
        default=20_000.0, description="Penalty for window energy not delivered (EUR/MWh)"
    )

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

    @property
    def window_h(self) -> float:
        """The window's length (h)."""
        return _window_hours(self.window_start, self.window_end)

    def window_at(self, ts: datetime) -> tuple[datetime, datetime]:
        """(open, close) of the last window to open at or before the local time ``ts``.

        Windows are wall-clock times: ``ts`` loses its time zone, if it has one, and the result
        is naive (a time zone attached with ``datetime.combine`` would be pytz's LMT offset).
        """
        wall = ts.replace(tzinfo=None)
        opened = datetime.combine(wall.date(), self.window_start)
        if opened > wall:
            opened -= timedelta(days=1)
        return opened, opened + timedelta(hours=self.window_h)

    def still_due(self, at: datetime, drawn: float | None) -> tuple[float, float]:
        """(kWh still due, hours left) in the window open at the local time ``at``.

        ``drawn`` is what the load drew in that window before ``at``; ``None`` (and a critical
        load, which is never shifted) means its even share.
        """
        wall = at.replace(tzinfo=None)
        opened, closes = self.window_at(wall)
        left_h = (closes - wall) / timedelta(hours=1)
        if drawn is None or opened == wall or self.critical:
            return self.energy_kwh * left_h / self.window_h, left_h
        return max(self.energy_kwh - drawn, 0.0), left_h


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
    touching the horizon, ``lo_k <= dt * sum(member_k[t] * p_kw[t]) + short_k <= hi_k`` with
    ``short_k >= 0`` penalised. The energy still due in a window is ``energy`` less what the
    load drew before the horizon (``PlantState.flexible_kwh``; without it, and for critical
    loads, its even share); a window that runs past the horizon end owes its share pro rata,
    and at least what its rest cannot take at ``p_max``. A plan holds ``lo_k = hi_k``. Costing
    a given dispatch (:meth:`Planner.evaluate`) takes any excess (``hi_k`` infinite) and lets a
    window that runs past the horizon end deliver as little as that least. ``unserved_kw``
    reports ``short_k`` in the window's last interval of the horizon. If the demand series
    includes the load, the even profile ``base[t] = energy / window_hours`` is added back, so
    the flow into the balance is ``base[t] - p_kw[t]`` and nothing is counted twice. A critical
    load has ``p_kw[t] == base[t]`` (never shifted).
    """

    params_model = FlexibleLoadParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        p = self.params
        windows = int(np.ceil(ctx.n * ctx.dt_h / 24)) + 1
        b.K = pyo.Set(initialize=range(windows), ordered=True)
        b.p_kw = pyo.Var(ctx.T, bounds=(0, p.p_max_kw))
        b.short_kwh = pyo.Var(b.K, bounds=(0, None))
        for name in ("inwin", "base"):
            setattr(b, name, pyo.Param(ctx.T, mutable=True, initialize=0.0, within=pyo.Reals))
        for name in ("member", "last"):
            setattr(b, name, pyo.Param(b.K, ctx.T, mutable=True, initialize=0.0, within=pyo.Reals))
        b.lo = pyo.Param(b.K, mutable=True, initialize=0.0, within=pyo.Reals)
        b.hi = pyo.Param(b.K, mutable=True, initialize=0.0, within=pyo.Reals)
        b.in_window = pyo.Constraint(ctx.T, rule=lambda b, t: b.p_kw[t] <= p.p_max_kw * b.inwin[t])
        b.min_power = pyo.Constraint(ctx.T, rule=lambda b, t: b.p_kw[t] >= p.p_min_kw * b.inwin[t])
        b.energy = pyo.Constraint(
            b.K,
            rule=lambda b, k: pyo.inequality(
                b.lo[k],
                ctx.dt_h * sum(b.member[k, t] * b.p_kw[t] for t in ctx.T) + b.short_kwh[k],
                b.hi[k],
            ),
        )
        b.unserved_kw = pyo.Expression(
            ctx.T, rule=lambda b, t: sum(b.last[k, t] * b.short_kwh[k] for k in b.K) / ctx.dt_h
        )
        if p.critical:
            b.fixed = pyo.Constraint(ctx.T, rule=lambda b, t: b.p_kw[t] == b.base[t])

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        p = self.params
        hours = p.window_h
        step = timedelta(hours=data.dt_h)
        windows: list[tuple[datetime, datetime]] = []
        member = np.zeros((len(b.K), data.n))
        for t, ts in enumerate(data.local):
            start = ts.to_pydatetime().replace(tzinfo=None)
            window = p.window_at(start)
            if start + step <= window[1]:
                if window not in windows:
                    windows.append(window)
                k = windows.index(window)
                if k < len(b.K):
                    member[k, t] = 1.0
        inwin = member.sum(axis=0)
        for t in ctx.T:
            b.inwin[t] = float(inwin[t])
            b.base[t] = p.energy_kwh / hours * float(inwin[t])
        first = data.local[0].to_pydatetime().replace(tzinfo=None)
        drawn = data.state.flexible_kwh.get(p.name)
        for k in b.K:
            inside = np.flatnonzero(member[k])
            for t in ctx.T:
                b.member[k, t] = float(member[k, t])
                b.last[k, t] = 1.0 if len(inside) and t == inside[-1] else 0.0
            if not len(inside):
                b.lo[k] = b.hi[k] = 0.0
                continue
            if windows[k][0] <= first:
                due, left_h = p.still_due(first, drawn)
            else:
                due, left_h = p.energy_kwh, hours
            in_h = len(inside) * data.dt_h
            after_h = max(left_h - in_h, 0.0)  # of the window, after the horizon end
            least = max(due - p.p_max_kw * after_h, p.p_min_kw * in_h)
            share = max(due * in_h / left_h, least)
            b.lo[k] = least if data.evaluating and after_h > 0 else share
            b.hi[k] = math.inf if data.evaluating else share

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        base = b.base[t] if self.params.included_in_demand else 0.0
        return {Carrier(self.params.carrier): base - b.p_kw[t]}

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        terms = {"base_kw": 1.0} if self.params.included_in_demand else {}
        return {Carrier(self.params.carrier): {**terms, "p_kw": -1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        return {"p_kw": (0.0, self.params.p_max_kw)}

    def penalties(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        price = self.params.penalty_shortfall_eur_per_mwh / 1000
        return {"flexible_shortfall": price * pyo.quicksum(b.short_kwh.values())}

    def outputs(self, b: Any) -> dict[str, Any]:
        return {"p_kw": b.p_kw, "base_kw": b.base, "unserved_kw": b.unserved_kw}
