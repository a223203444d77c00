"""Gas-engine combined heat and power unit (BHKW)."""

from __future__ import annotations

from typing import Any, Literal

import pyomo.environ as pyo
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, model_validator

from energiemodell.assets import _common as c
from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register
from energiemodell.model.data import HorizonData


class KwkgTier(BaseModel):
    """One tier of the KWKG surcharge: the share of capacity between two powers (kW)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_kw: NonNegativeFloat
    to_kw: PositiveFloat
    ct_per_kwh: NonNegativeFloat


class Kwkg(BaseModel):
    """KWKG 2023 surcharge on CHP power fed into the public grid (§7, §8 KWKG)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tiers: list[KwkgTier] = Field(min_length=1, description="Tiers by plant capacity (§7(1))")
    max_full_load_hours_per_year: PositiveFloat = Field(
        default=3500.0, description="Yearly cap on subsidised full-load hours (§8(4))"
    )

    def blended_eur_per_kwh(self, p_el_max_kw: float) -> float:
        """The plant's blended rate: each tier applies to its share of the capacity."""
        total = 0.0
        for tier in self.tiers:
            share = max(0.0, min(p_el_max_kw, tier.to_kw) - tier.from_kw)
            total += share * tier.ct_per_kwh / 100.0
        return total / p_el_max_kw


class ChpParams(AssetParams):
    """Parameters of a CHP unit (electric output is the decision)."""

    type: Literal["chp"] = "chp"
    p_el_max_kw: PositiveFloat = Field(description="Rated electric output")
    p_el_min_pu: float = Field(default=0.5, ge=0, le=1, description="Minimum part load")
    eta_el: float = Field(gt=0, le=1, description="Electric efficiency at full load (LHV)")
    eta_th: float = Field(gt=0, le=1, description="Thermal efficiency at full load (LHV)")
    eta_el_min_load: float | None = Field(
        default=None, gt=0, le=1, description="Electric efficiency at minimum load (affine curve)"
    )
    eta_th_min_load: float | None = Field(
        default=None, gt=0, le=1, description="Thermal efficiency at minimum load"
    )
    start_cost_eur: NonNegativeFloat = Field(default=0.0, description="Cost per start")
    maintenance_eur_per_mwh_el: NonNegativeFloat = Field(default=0.0, description="O&M")
    min_up_h: NonNegativeFloat = Field(default=0.0, description="Minimum run time")
    min_down_h: NonNegativeFloat = Field(default=0.0, description="Minimum stop time")
    ramp_kw_per_min: PositiveFloat | None = Field(default=None, description="Ramp limit")
    start_time_min: NonNegativeFloat = Field(default=5.0, description="Start to full load")
    kwkg: Kwkg | None = Field(default=None, description="KWKG surcharge on fed-in power")

    @model_validator(mode="after")
    def _efficiencies(self) -> ChpParams:
        if self.eta_el + self.eta_th > 1:
            msg = f"eta_el + eta_th = {self.eta_el + self.eta_th:.2f} exceeds 1"
            raise ValueError(msg)
        if (self.eta_el_min_load is None) != (self.eta_th_min_load is None):
            msg = "give both eta_el_min_load and eta_th_min_load, or neither"
            raise ValueError(msg)
        return self


@register("chp")
class Chp(Asset[ChpParams]):
    """CHP unit with commitment, affine fuel and heat curves and the KWKG surcharge.

    Notes
    -----
    - ``p_el_min_pu * p_el_max_kw * on[t] <= p_el_kw[t] <= p_el_max_kw * on[t]``
    - ``fuel_kw[t] = a_f * p_el_kw[t] + b_f * on[t]``, ``q_kw[t] = a_q * p_el_kw[t] + b_q * on[t]``
      (lines through full and minimum load; constant efficiency gives ``b = 0``)
    - ramp: ``|p[t] - p[t-1]| <= R * dt + p_max * (start[t] | stop[t])``
    - KWKG: ``kwkg_kw[t] <= p_el_kw[t]``, ``kwkg_kw[t] <= p_max * eligible[t]`` (0 at day-ahead
      price <= 0), ``sum(kwkg_kw) * dt <= remaining_hours * p_max``; the model adds
      ``sum over CHP of kwkg_kw[t] <= grid export[t]``. Revenue ``rate * kwkg_kw * dt``.
    """

    params_model = ChpParams

    def _curves(self) -> tuple[float, float, float, float]:
        p = self.params
        p_max, p_min = p.p_el_max_kw, p.p_el_min_pu * p.p_el_max_kw
        f_max = p_max / p.eta_el
        q_max = f_max * p.eta_th
        if p.eta_el_min_load is None or p.eta_th_min_load is None or p_min <= 0:
            return 1 / p.eta_el, 0.0, p.eta_th / p.eta_el, 0.0
        f_min = p_min / p.eta_el_min_load
        q_min = f_min * p.eta_th_min_load
        a_f = (f_max - f_min) / (p_max - p_min)
        a_q = (q_max - q_min) / (p_max - p_min)
        return a_f, f_max - a_f * p_max, a_q, q_max - a_q * p_max

    def heat_at(self, p_el_kw: float) -> float:
        """Heat output (kW) when running at electric output ``p_el_kw``."""
        _, _, a_q, b_q = self._curves()
        return a_q * p_el_kw + b_q

    def power_for_heat(self, q_kw: float) -> float:
        """Electric output (kW) that yields heat ``q_kw`` (clipped to the load range)."""
        p = self.params
        _, _, a_q, b_q = self._curves()
        return min(max((q_kw - b_q) / a_q, p.p_el_min_pu * p.p_el_max_kw), p.p_el_max_kw)

    def build(self, b: Any, ctx: BuildContext) -> None:
        p = self.params
        c.add_commitment(b, ctx, units=1, min_up_h=p.min_up_h, min_down_h=p.min_down_h)
        c.add_fuel_prices(b, ctx)
        b.p_el_kw = pyo.Var(ctx.T, bounds=(0, p.p_el_max_kw))
        p_min = p.p_el_min_pu * p.p_el_max_kw
        b.max_load = pyo.Constraint(
            ctx.T, rule=lambda b, t: b.p_el_kw[t] <= p.p_el_max_kw * b.on[t]
        )
        b.min_load = pyo.Constraint(ctx.T, rule=lambda b, t: b.p_el_kw[t] >= p_min * b.on[t])
        a_f, b_f, a_q, b_q = self._curves()
        b.fuel_kw = [a_f * b.p_el_kw[t] + b_f * b.on[t] for t in ctx.T]
        b.q_kw = [a_q * b.p_el_kw[t] + b_q * b.on[t] for t in ctx.T]
        if p.ramp_kw_per_min is not None:
            r = p.ramp_kw_per_min * 60 * ctx.dt_h
            b.p0 = pyo.Param(mutable=True, initialize=0.0, within=pyo.Reals)

            def prev(b: Any, t: int) -> Any:
                return b.p_el_kw[t - 1] if t else b.p0

            b.ramp_up = pyo.Constraint(
                ctx.T, rule=lambda b, t: b.p_el_kw[t] - prev(b, t) <= r + p.p_el_max_kw * b.start[t]
            )
            b.ramp_down = pyo.Constraint(
                ctx.T, rule=lambda b, t: prev(b, t) - b.p_el_kw[t] <= r + p.p_el_max_kw * b.stop[t]
            )
        if p.kwkg is not None:
            b.kwkg_kw = pyo.Var(ctx.T, bounds=(0, p.p_el_max_kw))
            b.kwkg_ub = pyo.Param(ctx.T, mutable=True, initialize=0.0, within=pyo.Reals)
            b.kwkg_hours_left = pyo.Param(mutable=True, initialize=0.0, within=pyo.Reals)
            b.kwkg_le_output = pyo.Constraint(ctx.T, rule=lambda b, t: b.kwkg_kw[t] <= b.p_el_kw[t])
            b.kwkg_eligible = pyo.Constraint(ctx.T, rule=lambda b, t: b.kwkg_kw[t] <= b.kwkg_ub[t])
            b.kwkg_hour_cap = pyo.Constraint(
                expr=ctx.dt_h * sum(b.kwkg_kw[t] for t in ctx.T)
                <= b.kwkg_hours_left * p.p_el_max_kw
            )

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        p = self.params
        c.update_commitment(
            b, data, name=p.name, units=1, min_up_h=p.min_up_h, min_down_h=p.min_down_h
        )
        c.update_fuel_prices(b, data)
        st = data.state.units.get(p.name)
        if p.ramp_kw_per_min is not None:
            p0 = st.p_kw if st is not None and st.p_kw is not None else 0.0
            if st is not None and st.on and st.p_kw is None:
                p0 = p.p_el_max_kw  # running at an unknown output: do not bind the first ramp
            b.p0.set_value(float(p0))
        if p.kwkg is not None:
            used = data.state.kwkg_hours_used.get(p.name, 0.0)
            left = max(0.0, p.kwkg.max_full_load_hours_per_year - used)
            # Capped at the horizon's length: same effect, and no 1e6 right-hand side for HiGHS.
            b.kwkg_hours_left.set_value(min(left, data.n * data.dt_h))
            eligible = (data.day_ahead_eur_per_mwh > 0) & (left > 0)
            for t in ctx.T:
                b.kwkg_ub[t] = p.p_el_max_kw if bool(eligible[t]) else 0.0
            if left <= 0:
                data.alarms.append(f"{p.name}: KWKG hour cap for the year is used up")

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {Carrier.ELECTRICITY: b.p_el_kw[t], Carrier.HEAT: b.q_kw[t]}

    def costs(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        p = self.params
        out = c.fuel_costs(b, ctx, b.fuel_kw)
        out[c.STARTS] = p.start_cost_eur * sum(b.start[t] for t in ctx.T)
        out[c.O_AND_M] = (
            p.maintenance_eur_per_mwh_el / 1000 * ctx.dt_h * sum(b.p_el_kw[t] for t in ctx.T)
        )
        if p.kwkg is not None:
            rate = p.kwkg.blended_eur_per_kwh(p.p_el_max_kw)
            out[c.KWKG] = -rate * ctx.dt_h * sum(b.kwkg_kw[t] for t in ctx.T)
        return out

    def emissions_t(self, b: Any, ctx: BuildContext) -> Any:
        return c.fuel_emissions(b, ctx, b.fuel_kw)

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {Carrier.ELECTRICITY: {"p_el_kw": 1.0}, Carrier.HEAT: {"q_kw": 1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        p_max = self.params.p_el_max_kw
        out = {"p_el_kw": (0.0, p_max), "on": (0.0, 1.0)}
        if self.params.kwkg is not None:
            out["kwkg_kw"] = (0.0, p_max)
        return out

    def outputs(self, b: Any) -> dict[str, Any]:
        out = {"p_el_kw": b.p_el_kw, "q_kw": b.q_kw, "fuel_kw": b.fuel_kw, "on": b.on}
        if self.params.kwkg is not None:
            out["kwkg_kw"] = b.kwkg_kw
        return out

    def commitment(self, b: Any) -> Any:
        return b.on

    def subsidised_export_kw(self, b: Any, t: int) -> Any | None:
        """CHP power claimed as fed in for the KWKG surcharge (linked to grid export)."""
        return b.kwkg_kw[t] if self.params.kwkg is not None else None

    def capacity_kw(self, carrier: Carrier) -> float:
        _, _, a_q, b_q = self._curves()
        p = self.params
        return {Carrier.ELECTRICITY: p.p_el_max_kw, Carrier.HEAT: a_q * p.p_el_max_kw + b_q}.get(
            carrier, 0.0
        )

    def start_time_min(self) -> float:
        return self.params.start_time_min
