"""Hot-water buffer or cold (ice, chilled water) storage."""

from __future__ import annotations

from typing import Any, Literal

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


class ThermalStorageParams(AssetParams):
    """Parameters of a thermal store."""

    type: Literal["thermal_storage"] = "thermal_storage"
    carrier: Literal["heat", "cooling"] = Field(description="What the store holds")
    capacity_kwh: PositiveFloat = Field(description="Usable capacity")
    charge_max_kw: PositiveFloat = Field(description="Maximum charging power")
    discharge_max_kw: PositiveFloat = Field(description="Maximum discharging power")
    loss_pu_per_h: float = Field(default=0.0, ge=0, lt=1, description="Standing loss per hour")
    level_min_pu: float = Field(default=0.0, ge=0, le=1, description="Lowest allowed level")
    level_max_pu: float = Field(default=1.0, gt=0, le=1, description="Highest allowed level")
    initial_level_pu: float = Field(
        default=0.5, ge=0, le=1, description="Level assumed when none is measured"
    )
    end_value_eur_per_mwh: NonNegativeFloat | None = Field(
        default=None, description="Value the end content at this price instead of end >= start"
    )
    penalty_shortfall_eur_per_mwh: PositiveFloat = Field(
        default=1000.0, description="Penalty for ending below the start level"
    )

    @model_validator(mode="after")
    def _bounds(self) -> ThermalStorageParams:
        if self.level_min_pu >= self.level_max_pu:
            msg = f"level_min_pu {self.level_min_pu} is not below level_max_pu {self.level_max_pu}"
            raise ValueError(msg)
        return self


@register("thermal_storage")
class ThermalStorage(Asset[ThermalStorageParams]):
    """Thermal store (see :func:`~energiemodell.assets._common.add_storage` for the equations).

    Notes
    -----
    Charging takes energy out of the carrier's balance, discharging puts it back.
    """

    params_model = ThermalStorageParams

    @property
    def carrier(self) -> Carrier:
        """The carrier the store holds."""
        return Carrier(self.params.carrier)

    def build(self, b: Any, ctx: BuildContext) -> None:
        p = self.params
        c.add_storage(
            b,
            ctx,
            capacity_kwh=p.capacity_kwh,
            level_min_pu=p.level_min_pu,
            level_max_pu=p.level_max_pu,
            charge_max_kw=p.charge_max_kw,
            discharge_max_kw=p.discharge_max_kw,
            eta_charge=1.0,
            eta_discharge=1.0,
            loss_pu_per_h=p.loss_pu_per_h,
            end_value=p.end_value_eur_per_mwh is not None,
        )

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        p = self.params
        c.update_storage(
            b,
            data,
            name=p.name,
            capacity_kwh=p.capacity_kwh,
            lo=p.level_min_pu * p.capacity_kwh,
            hi=p.level_max_pu * p.capacity_kwh,
            default_pu=p.initial_level_pu,
        )

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {self.carrier: b.discharge_kw[t] - b.charge_kw[t]}

    def costs(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        return c.storage_costs(b, ctx, self.params.end_value_eur_per_mwh)

    def constant_eur(self, b: Any, ctx: BuildContext) -> dict[str, float]:
        v = self.params.end_value_eur_per_mwh
        return {} if v is None else {c.STORAGE_VALUE: v / 1000 * float(b.level0.value)}

    def penalties(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        return c.storage_penalties(b, self.params.penalty_shortfall_eur_per_mwh)

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {self.carrier: {"discharge_kw": 1.0, "charge_kw": -1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        p = self.params
        return {
            "charge_kw": (0.0, p.charge_max_kw),
            "discharge_kw": (0.0, p.discharge_max_kw),
            "level_kwh": (p.level_min_pu * p.capacity_kwh, p.level_max_pu * p.capacity_kwh),
        }

    def storage_spec(self) -> StorageSpec:
        p = self.params
        return StorageSpec(
            carrier=self.carrier,
            level_min_kwh=p.level_min_pu * p.capacity_kwh,
            level_max_kwh=p.level_max_pu * p.capacity_kwh,
            level_default_kwh=p.initial_level_pu * p.capacity_kwh,
            eta_charge=1.0,
            eta_discharge=1.0,
            loss_pu_per_h=p.loss_pu_per_h,
            exclusive=False,
        )

    def outputs(self, b: Any) -> dict[str, Any]:
        return {"charge_kw": b.charge_kw, "discharge_kw": b.discharge_kw, "level_kwh": b.level_kwh}

    def storage_capacity_kwh(self) -> float:
        return self.params.capacity_kwh

    def storage_bridge(self, b: Any, t: int) -> tuple[Carrier, Any, Any, float] | None:
        level = b.level_kwh[t - 1] if t else b.level0
        lo = self.params.level_min_pu * self.params.capacity_kwh
        return self.carrier, level - lo, b.avail[t], self.params.discharge_max_kw
