"""The models of a site file's sections: series files, tariffs, rules, policies, devices, location.

Each is a frozen pydantic model that refuses unknown keys (:class:`Model`), with a unit in every
field name and a ``description`` that ``scripts/gen_site_docs.py`` turns into
docs/site-format.md. The :class:`energiemodell.site.Site` model composes them; import them from
:mod:`energiemodell.site`, which re-exports every one.
"""

from __future__ import annotations

from datetime import date, time
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from energiemodell.assets.base import Carrier


class Model(BaseModel):
    """Base of the site models: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- series -------------------------------------------------------------------------------------

FORECAST_COLUMNS: dict[str, str] = {
    "demand.electricity_kw": "mean power: repeated when upsampled, averaged when downsampled",
    "demand.heat_kw": "mean power: repeated when upsampled, averaged when downsampled",
    "demand.cooling_kw": "mean power: repeated when upsampled, averaged when downsampled",
    "pv.kw_per_kwp": "mean power per kWp: repeated when upsampled, averaged down",
    "price.day_ahead_eur_per_mwh": "price: forward-filled when upsampled, averaged down",
    "weather.temp_c": "temperature: interpolated in time when upsampled",
    "weather.ghi_w_m2": "mean irradiance: repeated when upsampled",
}
"""Forecast columns a series file may provide, with their resampling rule."""


class SeriesFile(Model):
    """One CSV file (optionally gzip-compressed) of time series for the Forecast."""

    file: str = Field(description="CSV path, relative to the site file; .csv or .csv.gz")
    timestamp_column: str = Field(
        default="timestamp",
        description="Interval-start timestamps, ISO 8601 with UTC offset (Z or +01:00)",
    )
    columns: dict[str, str] = Field(
        description="File column -> Forecast column (see FORECAST_COLUMNS)", min_length=1
    )

    @field_validator("columns")
    @classmethod
    def _known_targets(cls, v: dict[str, str]) -> dict[str, str]:
        for target in v.values():
            if target not in FORECAST_COLUMNS:
                msg = f"unknown Forecast column {target!r}; known: {', '.join(FORECAST_COLUMNS)}"
                raise ValueError(msg)
        return v


# --- tariffs ------------------------------------------------------------------------------------


class HighLoadWindow(Model):
    """A DSO high-load time window (§19(2) S.1 StromNEV, 'Hochlastzeitfenster'), local time."""

    months: list[Annotated[int, Field(ge=1, le=12)]] = Field(description="Months it applies in")
    start: time = Field(description="Local start time")
    end: time = Field(description="Local end time (exclusive)")
    working_days_only: bool = Field(default=True, description="Monday to Friday, not holidays")


class ElectricityTariff(Model):
    """Grid electricity supply contract, grid fees, levies and taxes (EUR/MWh unless named)."""

    energy_price: Literal["day_ahead", "fixed"] = Field(
        description="Spot-indexed (day-ahead + margin) or a fixed energy price"
    )
    supplier_margin_eur_per_mwh: float = Field(default=0.0, description="Added to day-ahead")
    fixed_price_eur_per_mwh: NonNegativeFloat | None = Field(
        default=None, description="Energy price of a fixed-price contract"
    )
    grid_energy_charge_eur_per_mwh: NonNegativeFloat = Field(
        default=0.0, description="Arbeitspreis of the grid fee"
    )
    levies_eur_per_mwh: dict[str, float] = Field(
        default_factory=dict,
        description="Levies and taxes on imported energy by name (electricity tax, KWKG levy, ...)",
    )
    demand_charge_eur_per_kw_a: NonNegativeFloat = Field(
        default=0.0, description="Leistungspreis on the year's highest 15-min import"
    )
    peak_floor_kw: NonNegativeFloat = Field(
        default=0.0, description="Import the year's peak is planned to reach anyway (kW)"
    )
    high_load_windows: list[HighLoadWindow] | None = Field(
        default=None,
        description="If set, only imports inside these windows count for the peak (§19 StromNEV)",
    )
    export_price: Literal["day_ahead", "fixed", "none"] = Field(
        default="day_ahead", description="Remuneration of power fed into the grid"
    )
    export_fixed_eur_per_mwh: float = Field(default=0.0, description="With export_price: fixed")
    co2_t_per_mwh: NonNegativeFloat = Field(
        default=0.0, description="Grid emission factor for CO2 reporting (t/MWh)"
    )

    @model_validator(mode="after")
    def _fixed_needs_price(self) -> ElectricityTariff:
        if self.energy_price == "fixed" and self.fixed_price_eur_per_mwh is None:
            msg = "energy_price is fixed but fixed_price_eur_per_mwh is missing"
            raise ValueError(msg)
        return self


class GasTariff(Model):
    """Natural gas: all in EUR/MWh of fuel on the lower heating value (LHV)."""

    commodity_eur_per_mwh: NonNegativeFloat = Field(description="Energy price (THE-based)")
    grid_fees_eur_per_mwh: NonNegativeFloat = Field(default=0.0, description="Gas grid, metering")
    energy_tax_eur_per_mwh: NonNegativeFloat = Field(default=0.0, description="EnergieStG")
    co2_price_eur_per_t: NonNegativeFloat = Field(default=0.0, description="BEHG/ETS price")
    co2_t_per_mwh: NonNegativeFloat = Field(default=0.201, description="Emission factor (LHV)")


class TariffPeriod(Model):
    """Tariff values valid from ``valid_from`` (inclusive) to ``valid_to`` (exclusive), local."""

    valid_from: date = Field(description="First local date the values apply (inclusive)")
    valid_to: date = Field(description="Local date they stop applying (exclusive)")
    electricity: ElectricityTariff
    gas: GasTariff
    source: str = Field(default="", description="Where the values come from")

    @model_validator(mode="after")
    def _ordered(self) -> TariffPeriod:
        if self.valid_to <= self.valid_from:
            msg = f"valid_to {self.valid_to} is not after valid_from {self.valid_from}"
            raise ValueError(msg)
        return self


# --- security, penalties, control -----------------------------------------------------------------


class SecurityRules(Model):
    """Hospital supply security. Each rule can be switched off; shortfalls are penalised slacks."""

    critical_share_pu: dict[Carrier, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: {c: 1.0 for c in Carrier},
        description="Share of each carrier's demand that must never be shed",
    )
    heat_n1: bool = Field(default=True, description="Heat supply N-1 in every interval")
    cooling_n1: bool = Field(default=False, description="Cooling supply N-1 (critical cooling)")
    n1_cooling_demand: Literal["critical", "total"] = Field(
        default="critical", description="Cooling demand N-1 must cover"
    )
    response_time_min: NonNegativeFloat = Field(
        default=15.0, description="Stopped units that start within this time count for N-1"
    )
    bridge_time_h: PositiveFloat = Field(
        default=1.0, description="Storage counts for N-1 with at most level / bridge_time_h"
    )
    battery_reserve: bool = Field(
        default=True, description="Keep each battery's backup_reserve_kwh untouched by arbitrage"
    )


class Penalties(Model):
    """Soft-constraint prices (EUR/MWh); the strict order is checked on load."""

    unserved_critical_eur_per_mwh: PositiveFloat = Field(
        default=100_000.0, description="Critical demand not served (ORs, ICU, MRI, IT)"
    )
    unserved_noncritical_eur_per_mwh: PositiveFloat = Field(
        default=20_000.0, description="Non-critical demand not served, or surplus no asset takes"
    )
    n1_shortfall_eur_per_mwh: PositiveFloat = Field(
        default=5_000.0, description="N-1 cover missing for heat or cooling"
    )
    reserve_shortfall_eur_per_mwh: PositiveFloat = Field(
        default=2_000.0, description="Battery level below its backup reserve (per MWh and hour)"
    )

    @model_validator(mode="after")
    def _strict_order(self) -> Penalties:
        order = [
            self.unserved_critical_eur_per_mwh,
            self.unserved_noncritical_eur_per_mwh,
            self.n1_shortfall_eur_per_mwh,
            self.reserve_shortfall_eur_per_mwh,
        ]
        if any(a <= b for a, b in pairwise(order)):
            msg = "penalties must fall strictly: unserved critical > non-critical > N-1 > reserve"
            raise ValueError(msg)
        return self


class ReviewPolicy(Model):
    """Review mode: when tomorrow's plan is ready, when it must be approved, what it covers.

    An approval covers one plan version and an envelope around it: the same on/off pattern,
    every output within ``band_kw`` and every storage level within ``storage_band_kwh``.
    """

    ready_by: time = Field(
        default="14:00", validate_default=True, description="Tomorrow's plan is ready by (local)"
    )
    approve_by: time = Field(
        default="18:00",
        validate_default=True,
        description="Tomorrow's plan must be approved by (local time)",
    )
    band_kw: NonNegativeFloat = Field(
        default=100.0, description="Re-plans within this many kW of the approved output pass"
    )
    storage_band_kwh: NonNegativeFloat = Field(
        default=500.0, description="Re-plans within this many kWh of the approved level pass"
    )
    on_missed: Literal["heat_led", "auto"] = Field(
        default="heat_led",
        description="Without approval by approve_by: heat-led rules, or automatic dispatch",
    )

    @model_validator(mode="after")
    def _order(self) -> ReviewPolicy:
        if self.approve_by <= self.ready_by:
            msg = f"approve_by {self.approve_by} is not after ready_by {self.ready_by}"
            raise ValueError(msg)
        return self


class ControlPolicy(Model):
    """How plans are made and used."""

    horizon_h: PositiveFloat = Field(default=48.0, description="Planning horizon (h)")
    time_limit_s: PositiveFloat = Field(default=30.0, description="Solver time limit per plan")
    mip_gap_pu: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.005, description="Relative MIP gap at which a plan is accepted"
    )
    threads: PositiveInt = Field(default=1, description="Solver threads")
    seed: int = Field(default=0, description="Solver random seed (reproducible plans)")
    co2_weight_eur_per_t: NonNegativeFloat = Field(
        default=0.0, description="Extra weight on all CO2 in the objective (reported apart)"
    )
    mode: Literal["shadow", "review", "auto"] = Field(
        default="shadow", description="shadow plans only; auto dispatches; review needs approval"
    )
    lead_time_s: NonNegativeFloat = Field(
        default=120.0, description="Plans are made this long before the interval starts"
    )
    review: ReviewPolicy = Field(
        default_factory=ReviewPolicy, description="Approvals in review mode (mode: review)"
    )


# --- devices ------------------------------------------------------------------------------------


class PointBinding(Model):
    """A device point that measures a site quantity: ``quantity = sign * scale * value``."""

    quantity: str = Field(
        description="Site quantity, e.g. grid.import_kw or tes1.level_kwh",
        pattern=r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$",
    )
    scale: float = Field(default=1.0, description="Unit conversion, e.g. 0.001 for W -> kW")
    sign: Literal[1, -1] = Field(default=1, description="-1 where the device counts the other way")


class DeviceBinding(Model):
    """One device instance: where it is, which register map it speaks, what it measures."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Unique device name")
    map: str = Field(description="Register map: a shipped model name or a path to a YAML map")
    host: str = Field(description="Host name or IP address")
    port: Annotated[int, Field(ge=1, le=65535, description="Modbus TCP port")] = 502
    unit_id: Annotated[int, Field(ge=0, le=255, description="Modbus unit (slave) id")] = 1
    asset: str | None = Field(default=None, description="Asset this device belongs to")
    poll_s: PositiveFloat = Field(default=10.0, description="Poll period (s)")
    timeout_s: PositiveFloat = Field(default=1.0, description="Per-request timeout (s)")
    retries: Annotated[int, Field(ge=0, le=5)] = Field(default=1, description="Retries per read")
    points: dict[str, PointBinding] = Field(
        default_factory=dict, description="Map point name -> measured site quantity"
    )
    setpoints: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Schedule column (e.g. chp1.p_el_kw) -> writable map point name; a store's "
            "charge_kw or discharge_kw on a point with negative limits receives its net flow"
        ),
    )


# --- location -----------------------------------------------------------------------------------


class Location(Model):
    """Where the site is (for solar geometry and public holidays)."""

    latitude_deg: Annotated[float, Field(ge=-90, le=90)]
    longitude_deg: Annotated[float, Field(ge=-180, le=180)]
    country: str = Field(default="DE", description="ISO country code for public holidays")
    subdivision: str | None = Field(default="SN", description="State code for public holidays")
