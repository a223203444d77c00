"""The site: the plant, its tariffs, security rules, devices and control policy, from YAML.

``load_site(path_or_name)`` reads a site file, validates it with the pydantic models below
(``extra="forbid"``, units in every name) and returns a :class:`Site`. Every problem is reported
as ``FILE: path.to.field: problem (hint)``; see :class:`energiemodell.errors.SiteError`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from energiemodell import assets as _assets  # noqa: F401  (registers every asset type)
from energiemodell.assets.base import ASSET_TYPES, Asset, AssetParams, Carrier, make_asset
from energiemodell.errors import Problem, SiteError

SITES_DIR = Path(__file__).parent / "sites"
SITE_FILE_NAME = "site.yaml"


if TYPE_CHECKING:
    AnyAsset = AssetParams
else:
    # A discriminated union over every registered asset type: unknown types list the known ones.
    AnyAsset = Annotated[
        Union[tuple(cls.params_model for cls in ASSET_TYPES.values())],  # noqa: UP007
        Field(discriminator="type"),
    ]


class FieldProblem(ValueError):
    """A validator's problem that belongs to a field below the validated model.

    Pydantic locates a model validator's error at the model itself; ``path`` (relative to the
    model, e.g. ``devices.meter1.asset``) and ``hint`` let :func:`site_from_dict` say exactly where.
    """

    def __init__(self, message: str, *, path: str, hint: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.hint = hint


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
        description="Schedule column (e.g. chp1.p_el_kw) -> writable map point name",
    )


# --- site ---------------------------------------------------------------------------------------


class Location(Model):
    """Where the site is (for solar geometry and public holidays)."""

    latitude_deg: Annotated[float, Field(ge=-90, le=90)]
    longitude_deg: Annotated[float, Field(ge=-180, le=180)]
    country: str = Field(default="DE", description="ISO country code for public holidays")
    subdivision: str | None = Field(default="SN", description="State code for public holidays")


class Site(Model):
    """A campus: plant, tariffs, security rules, devices and control policy."""

    version: Literal[1] = Field(default=1, description="Site format version")
    name: str = Field(description="Site name (reports, the store)")
    description: str = Field(default="", description="Free text")
    timezone: str = Field(default="Europe/Berlin", description="Local time of the site (IANA)")
    step_min: Literal[5, 15, 30, 60] = Field(default=15, description="Planning step (minutes)")
    location: Location | None = Field(default=None, description="For PV and public holidays")
    series: list[SeriesFile] = Field(
        default_factory=list, description="Series files that make the site's own Forecast"
    )
    tariffs: list[TariffPeriod] = Field(min_length=1)
    security: SecurityRules = Field(default_factory=SecurityRules)
    penalties: Penalties = Field(default_factory=Penalties)
    control: ControlPolicy = Field(default_factory=ControlPolicy)
    assets: list[AnyAsset] = Field(min_length=1)
    devices: list[DeviceBinding] = Field(default_factory=list)

    _base_dir: Path = PrivateAttr(default=Path())
    _source: str = PrivateAttr(default="<memory>")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            msg = f"unknown time zone {v!r} (use an IANA name such as Europe/Berlin)"
            raise ValueError(msg) from exc
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Site:
        names = [a.name for a in self.assets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            msg = f"duplicate asset names: {', '.join(dupes)}"
            raise FieldProblem(msg, path="assets", hint="give every asset its own name")
        dev_names = [d.name for d in self.devices]
        dupes = sorted({n for n in dev_names if dev_names.count(n) > 1})
        if dupes:
            msg = f"duplicate device names: {', '.join(dupes)}"
            raise FieldProblem(msg, path="devices", hint="give every device its own name")
        for d in self.devices:
            if d.asset is not None and d.asset not in names:
                msg = f"device {d.name!r} is bound to asset {d.asset!r}, which does not exist"
                hint = f"assets: {', '.join(names)}"
                raise FieldProblem(msg, path=f"devices.{d.name}.asset", hint=hint)
        periods = sorted(self.tariffs, key=lambda p: p.valid_from)
        for a, b in pairwise(periods):
            if b.valid_from < a.valid_to:
                msg = (
                    f"tariff periods overlap: {a.valid_from}..{a.valid_to} "
                    f"and {b.valid_from}..{b.valid_to}"
                )
                hint = "valid_to is exclusive: the next period may start on that date"
                raise FieldProblem(msg, path="tariffs", hint=hint)
        if 60 % self.step_min and self.step_min != 60:
            msg = "step_min must divide an hour"
            raise ValueError(msg)
        return self

    # --- derived ------------------------------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        """The site's local time zone."""
        return ZoneInfo(self.timezone)

    @property
    def base_dir(self) -> Path:
        """Directory that relative series paths are resolved against."""
        return self._base_dir

    @property
    def source(self) -> str:
        """The file the site was loaded from (for messages)."""
        return self._source

    @cached_property
    def asset_objects(self) -> list[Asset[Any]]:
        """The assets as model objects, in site order."""
        return [make_asset(p) for p in self.assets]

    def asset(self, name: str) -> AssetParams:
        """The parameters of the asset called ``name``."""
        for a in self.assets:
            if a.name == name:
                return a
        msg = f"no asset named {name!r}"
        raise KeyError(msg)

    def tariff_at(self, day: date) -> TariffPeriod | None:
        """The tariff period valid on the local date ``day``."""
        for p in self.tariffs:
            if p.valid_from <= day < p.valid_to:
                return p
        return None

    def content_hash(self) -> str:
        """SHA-256 of the validated content (what a schedule was planned for)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def with_base(self, base_dir: Path, source: str) -> Site:
        """Set where relative paths resolve and which file the site came from."""
        self._base_dir = base_dir
        self._source = source
        return self


def resolve_site_path(name_or_path: str | Path) -> Path:
    """Find a site file: a path to a file or directory, or the name of a shipped site."""
    p = Path(name_or_path)
    if p.is_dir():
        p = p / SITE_FILE_NAME
    if p.exists():
        return p
    shipped = SITES_DIR / str(name_or_path) / SITE_FILE_NAME
    if shipped.exists():
        return shipped
    known = sorted(d.name for d in SITES_DIR.iterdir() if (d / SITE_FILE_NAME).exists())
    msg = f"no such file, and not a shipped site (shipped: {', '.join(known)})"
    raise SiteError.one(str(name_or_path), "", msg, "give a path to a site YAML file")


def _loc_to_path(loc: tuple[Any, ...], data: Any) -> str:
    """Turn a pydantic error location into ``assets.chp1.p_el_max_kw`` style paths."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
            label = node.get("name") if isinstance(node, dict) else None
            parts.append(str(label) if label else str(item))
        elif isinstance(item, str):
            if item in ASSET_TYPES and parts and parts[-1] not in ("assets",):
                continue  # union tag in the location, not a field
            parts.append(item)
            node = node.get(item) if isinstance(node, dict) else None
        else:
            parts.append(str(item))
            node = None
    return ".".join(parts)


_BOUNDS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}

_HINTS = {
    "extra_forbidden": "unknown key: check the spelling against docs/site-format.md",
    "missing": "add this required field",
    "greater_than": "use a positive value",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "less_than": "use a smaller value",
}


def _problem(source: str, err: ErrorDetails, data: Any) -> Problem:
    """One pydantic error as ``FILE: path.to.field: problem (hint)``."""
    path = _loc_to_path(err["loc"], data)
    msg = err["msg"].removeprefix("Value error, ")
    hint = _HINTS.get(err["type"], "")
    ctx = err.get("ctx", {})
    cause = ctx.get("error")
    if isinstance(cause, FieldProblem):
        path, hint = ".".join(p for p in (path, cause.path) if p), cause.hint
    elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        # The only discriminated union of the site is the asset list.
        path = f"{path}.type"
        tag = ctx.get("tag")
        msg = f"unknown asset type {tag!r}" if tag is not None else "the asset has no type"
        hint = f"known types: {', '.join(sorted(ASSET_TYPES))}"
    elif err["type"] in _BOUNDS:
        msg = f"{msg}, not {err['input']!r}"
        if path.endswith("_pu"):
            hint = "a _pu value is a fraction of the rated value, from 0 to 1"
    return Problem(source, path, msg, hint)


def site_from_dict(data: Any, *, source: str = "<memory>", base_dir: Path | None = None) -> Site:
    """Validate a parsed site document; raise :class:`SiteError` listing every problem."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        raise SiteError.one(source, "", f"the site file is {kind}", "see docs/site-format.md")
    try:
        site = Site.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(source, err, data) for err in exc.errors()]
        raise SiteError(problems) from None
    return site.with_base(base_dir or Path(), source)


def load_site(name_or_path: str | Path) -> Site:
    """Load and validate a site by path or shipped name (``reference_campus``)."""
    path = resolve_site_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteError.one(str(path), "", f"cannot read the file: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SiteError.one(str(path), where, f"YAML syntax error: {problem}") from None
    return site_from_dict(data, source=str(path), base_dir=path.parent)


def site_to_yaml(site: Site) -> str:
    """The site as YAML (for storing the content with every schedule)."""
    return yaml.safe_dump(site.model_dump(mode="json", exclude_defaults=False), sort_keys=False)


def local_date(ts: datetime, site: Site) -> date:
    """The local calendar date of a UTC timestamp at the site."""
    return ts.astimezone(site.tz).date()
