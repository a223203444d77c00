"""The site: the plant, its tariffs, security rules, devices and control policy, from YAML.

``load_site(path_or_name)`` reads a site file, validates it with the pydantic models
(``extra="forbid"``, units in every name) and returns a :class:`Site`. Every problem is reported
as ``FILE: path.to.field: problem (hint)``; see :class:`energiemodell.errors.SiteError`.

This module holds :class:`Site`, the checks that span its sections, and loading and dumping it.
The models of the sections (tariffs, security rules, control policy, devices, ...) live in
:mod:`energiemodell.site_sections` and are re-exported here.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from energiemodell import assets as _assets  # noqa: F401  (registers every asset type)
from energiemodell.assets.base import ASSET_TYPES, Asset, AssetParams, make_asset
from energiemodell.errors import Problem, SiteError
from energiemodell.site_sections import (
    FORECAST_COLUMNS,
    ControlPolicy,
    DeviceBinding,
    ElectricityTariff,
    GasTariff,
    HighLoadWindow,
    Location,
    Model,
    Penalties,
    PointBinding,
    ReviewPolicy,
    SecurityRules,
    SeriesFile,
    TariffPeriod,
)

__all__ = [
    "FORECAST_COLUMNS",
    "SITES_DIR",
    "SITE_FILE_NAME",
    "AnyAsset",
    "ControlPolicy",
    "DeviceBinding",
    "ElectricityTariff",
    "FieldProblem",
    "GasTariff",
    "HighLoadWindow",
    "Location",
    "Model",
    "Penalties",
    "PointBinding",
    "ReviewPolicy",
    "SecurityRules",
    "SeriesFile",
    "Site",
    "TariffPeriod",
    "load_site",
    "local_date",
    "resolve_site_path",
    "site_from_dict",
    "site_to_yaml",
]

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


# --- site ---------------------------------------------------------------------------------------


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
