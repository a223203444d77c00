"""Stationary battery with an optional backup reserve."""

from __future__ import annotations

from typing import Any, Literal

import pyomo.environ as pyo
from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from energiemodell.assets import _common as c
from energiemodell.assets.base import (
    Asset,
    AssetParams,
    BuildContext,
    Carrier,
    StorageSpec,
    register,
)
from energiemodell.model.data import HorizonData


class BatteryParams(AssetParams):
    """Parameters of a battery."""

    type: Literal["battery"] = "battery"
    capacity_kwh: PositiveFloat = Field(description="Nominal energy capacity")
    charge_max_kw: PositiveFloat = Field(description="Maximum charging power (AC)")
    discharge_max_kw: PositiveFloat = Field(description="Maximum discharging power (AC)")
    eta_charge: float = Field(default=0.95, gt=0, le=1, description="Charging efficiency")
    eta_discharge: float = Field(default=0.95, gt=0, le=1, description="Discharging efficiency")
    soc_min_pu: float = Field(default=0.1, ge=0, le=1, description="Lowest state of charge")
    soc_max_pu: float = Field(default=0.95, gt=0, le=1, description="Highest state of charge")
    initial_soc_pu: float = Field(default=0.5, ge=0, le=1, description="If none is measured")
    loss_pu_per_h: float = Field(default=0.0, ge=0, lt=1, description="Self-discharge per hour")
    cycle_cost_eur_per_mwh: NonNegativeFloat = Field(
        default=0.0, description="Wear cost per MWh discharged"
    )
    backup_reserve_kwh: NonNegativeFloat = Field(
        default=0.0, description="Energy kept for backup that arbitrage never touches"
    )
    end_value_eur_per_mwh: NonNegativeFloat | None = Field(
        default=None, description="Value the end content at this price instead of end >= start"
    )
    penalty_shortfall_eur_per_mwh: PositiveFloat = Field(
        default=1000.0, description="Penalty for ending below the start level"
    )

    @model_validator(mode="after")
    def _bounds(self) -> BatteryParams:
        if self.soc_min_pu >= self.soc_max_pu:
            msg = f"soc_min_pu {self.soc_min_pu} is not below soc_max_pu {self.soc_max_pu}"
            raise ValueError(msg)
        if self.backup_reserve_kwh > self.soc_max_pu * self.capacity_kwh:
            msg = "backup_reserve_kwh exceeds the highest allowed level"
            raise ValueError(msg)
        return self


@register("battery")
class Battery(Asset[BatteryParams]):
    """Battery (see :func:`~energiemodell.assets._common.add_storage` for the level equations).

    Notes
    -----
    ``charge_kw[t] <= P_c * mode[t]``, ``discharge_kw[t] <= P_d * (1 - mode[t])`` with a binary
    ``mode``: never charging and discharging at once, even at negative prices.
    The backup reserve is enforced by the security rules as ``level_kwh[t] + reserve_short[t]
    >= backup_reserve_kwh`` (penalised slack, so a measured level below it recovers).
    """

    params_model = BatteryParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        p = self.params
        c.add_storage(
            b,
            ctx,
            capacity_kwh=p.capacity_kwh,
            level_min_pu=p.soc_min_pu,
            level_max_pu=p.soc_max_pu,
            charge_max_kw=p.charge_max_kw,
            discharge_max_kw=p.discharge_max_kw,
            eta_charge=p.eta_charge,
            eta_discharge=p.eta_discharge,
            loss_pu_per_h=p.loss_pu_per_h,
            end_value=p.end_value_eur_per_mwh is not None,
        )
        b.mode = pyo.Var(ctx.T, within=pyo.Binary)
        b.charge_mode = pyo.Constraint(
            ctx.T, rule=lambda b, t: b.charge_kw[t] <= p.charge_max_kw * b.mode[t]
        )
        b.no_simultaneous_charge = pyo.Constraint(
            ctx.T, rule=lambda b, t: b.discharge_kw[t] <= p.discharge_max_kw * (1 - b.mode[t])
        )

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        p = self.params
        c.update_storage(
            b,
            data,
            name=p.name,
            capacity_kwh=p.capacity_kwh,
            lo=p.soc_min_pu * p.capacity_kwh,
            hi=p.soc_max_pu * p.capacity_kwh,
            default_pu=p.initial_soc_pu,
        )

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {Carrier.ELECTRICITY: b.discharge_kw[t] - b.charge_kw[t]}

    def costs(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        out = c.storage_costs(b, ctx, self.params.end_value_eur_per_mwh)
        if self.params.cycle_cost_eur_per_mwh:
            rate = self.params.cycle_cost_eur_per_mwh / 1000 * ctx.dt_h
            out[c.WEAR] = rate * sum(b.discharge_kw[t] for t in ctx.T)
        return out

    def constant_eur(self, b: Any, ctx: BuildContext) -> dict[str, float]:
        v = self.params.end_value_eur_per_mwh
        return {} if v is None else {c.STORAGE_VALUE: v / 1000 * float(b.level0.value)}

    def penalties(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        return c.storage_penalties(b, self.params.penalty_shortfall_eur_per_mwh)

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {Carrier.ELECTRICITY: {"discharge_kw": 1.0, "charge_kw": -1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        p = self.params
        return {
            "charge_kw": (0.0, p.charge_max_kw),
            "discharge_kw": (0.0, p.discharge_max_kw),
            "level_kwh": (p.soc_min_pu * p.capacity_kwh, p.soc_max_pu * p.capacity_kwh),
        }

    def storage_spec(self) -> StorageSpec:
        p = self.params
        return StorageSpec(
            carrier=Carrier.ELECTRICITY,
            level_min_kwh=p.soc_min_pu * p.capacity_kwh,
            level_max_kwh=p.soc_max_pu * p.capacity_kwh,
            level_default_kwh=p.initial_soc_pu * p.capacity_kwh,
            eta_charge=p.eta_charge,
            eta_discharge=p.eta_discharge,
            loss_pu_per_h=p.loss_pu_per_h,
            exclusive=True,
        )

    def outputs(self, b: Any) -> dict[str, Any]:
        return {"charge_kw": b.charge_kw, "discharge_kw": b.discharge_kw, "level_kwh": b.level_kwh}

    def storage_capacity_kwh(self) -> float:
        return self.params.capacity_kwh

    def capacity_kw(self, carrier: Carrier) -> float:
        return self.params.discharge_max_kw if carrier == Carrier.ELECTRICITY else 0.0
