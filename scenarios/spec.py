"""ScenarioSpec: a what-if study as data (YAML), validated before anything is solved.

The format is documented in ``docs/scenario-format.md``. Every problem is reported as
``FILE: path.to.field: problem (hint)`` through :class:`energiemodell.errors.SiteError`.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from energiemodell.errors import Problem, SiteError

StrategyName = Literal["perfect_foresight", "mpc", "heat_led"]
ForecastName = Literal["profile", "persistence"]
"""mpc's forecasters (as :data:`energiemodell.rolling.FORECASTERS`)."""
Scalar = float | int | str | bool | None
Value = Scalar | list[Any] | dict[str, Any]


class Model(BaseModel):
    """Base of the scenario models: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(Model):
    """The studied period in local time at the site: ``start`` inclusive, ``end`` exclusive.

    Dates mean local midnight; a date-time without offset is local, with offset it is exact.
    """

    start: datetime | date
    end: datetime | date


class SetChange(Model):
    """Set the value at ``path`` (any YAML value: number, text, list, mapping)."""

    path: str = Field(min_length=1, description="e.g. assets.chp2.p_el_max_kw")
    set: Value


class ScaleChange(Model):
    """Multiply the number at ``path`` by ``scale``."""

    path: str = Field(min_length=1, description="e.g. tariffs.0.gas.commodity_eur_per_mwh")
    scale: float


class AddAsset(Model):
    """Add an asset (a mapping in the site format, with ``name`` and ``type``)."""

    add_asset: dict[str, Any]


class RemoveAsset(Model):
    """Remove the asset of this name (devices bound to it are removed too)."""

    remove_asset: str


class SeriesReplacement(Model):
    """A CSV file that supplies one Forecast column instead of the site's series."""

    forecast_column: str = Field(description="e.g. demand.heat_kw")
    file: str = Field(description="CSV path, relative to the scenario file")
    column: str = Field(description="Column of the file holding the values")
    timestamp_column: str = "timestamp"


class ReplaceSeries(Model):
    """Replace the series of one Forecast column."""

    replace_series: SeriesReplacement


class AvailabilityWindow(Model):
    """An asset out of service from ``start`` to ``end`` (local, end exclusive)."""

    asset: str
    start: datetime | date
    end: datetime | date
    units: int | None = Field(default=None, ge=1, description="For groups: units out")
    reason: str = ""


class Availability(Model):
    """Take an asset out of service for a window (an outage in the plant state)."""

    availability: AvailabilityWindow


Change = SetChange | ScaleChange | AddAsset | RemoveAsset | ReplaceSeries | Availability


class Sweep(Model):
    """One parameter over a list of values, or an inclusive range ``from``..``to`` by ``step``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: str = Field(min_length=1)
    values: list[float] | None = None
    from_: float | None = Field(default=None, alias="from")
    to: float | None = None
    step: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Sweep:
        ranged = (self.from_, self.to, self.step)
        if self.values is not None:
            if any(v is not None for v in ranged):
                msg = "give either values or from/to/step, not both"
                raise ValueError(msg)
            if not self.values:
                msg = "values is empty"
                raise ValueError(msg)
        elif any(v is None for v in ranged):
            msg = "give values, or all of from, to and step"
            raise ValueError(msg)
        elif self.to is not None and self.from_ is not None and self.to < self.from_:
            msg = f"to {self.to} is below from {self.from_}"
            raise ValueError(msg)
        return self

    def points(self) -> list[float]:
        """The swept values, in order (a range includes its end within rounding)."""
        if self.values is not None:
            return list(self.values)
        if self.from_ is None or self.to is None or self.step is None:  # excluded by validation
            return []
        count = int((self.to - self.from_) / self.step + 1e-9) + 1
        return [round(self.from_ + k * self.step, 10) for k in range(count)]


class RollingSettings(Model):
    """How the period is cut into windows (see :class:`energiemodell.rolling.RollingOptions`)."""

    window_h: PositiveFloat = 48.0
    commit_h: PositiveFloat = 24.0
    replan_min: PositiveFloat = 60.0
    storage_value_eur_per_mwh: dict[str, NonNegativeFloat] = Field(default_factory=dict)


class ReportSettings(Model):
    """What the report shows."""

    week_start: date | None = Field(
        default=None, description="Local date the dispatch week starts (default: coldest week)"
    )


class ScenarioSpec(Model):
    """A what-if study: a base site, a period, a strategy, changes and an optional sweep."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    base_site: str = Field(description="Shipped site name or path (relative to the scenario file)")
    period: Period
    strategy: StrategyName
    forecast: ForecastName | None = Field(
        default=None, description="mpc only: the forecaster (default profile, as the live loop)"
    )
    changes: list[Change] = Field(default_factory=list)
    sweep: Sweep | None = None
    baseline: bool = Field(default=True, description="Also run the heat-led rules on each site")
    rolling: RollingSettings = Field(default_factory=RollingSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)

    @field_validator("forecast")
    @classmethod
    def _forecast_is_for_mpc(
        cls, value: ForecastName | None, info: ValidationInfo
    ) -> ForecastName | None:
        strategy = info.data.get("strategy")
        if value is not None and strategy is not None and strategy != "mpc":
            msg = f"only the mpc strategy forecasts; remove forecast for strategy {strategy}"
            raise ValueError(msg)
        return value

    @property
    def forecaster(self) -> ForecastName:
        """The forecaster mpc runs: ``forecast``, or the live loop's default (profile)."""
        return self.forecast or "profile"


def _problem_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(str(item))
        elif item in {c.__name__ for c in Change.__args__}:
            continue  # union member in the location, not a field
        else:
            parts.append(str(item))
    return ".".join(parts)


def spec_from_dict(data: Any, *, source: str = "<memory>") -> ScenarioSpec:
    """Validate a parsed scenario document; raise :class:`SiteError` naming every problem."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        raise SiteError.one(
            source, "", f"the scenario file is {kind}", "see docs/scenario-format.md"
        )
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        problems = _change_problems(exc, data, source)
        raise SiteError(problems) from None


def _change_problems(exc: ValidationError, data: dict[str, Any], source: str) -> list[Problem]:
    """One problem per error; for changes, say which operation was meant and what is wrong."""
    problems: list[Problem] = []
    seen: set[int] = set()
    for err in exc.errors():
        loc = err["loc"]
        msg = err["msg"].removeprefix("Value error, ")
        if len(loc) >= 2 and loc[0] == "changes" and isinstance(loc[1], int):
            idx = loc[1]
            if idx in seen:
                continue
            seen.add(idx)
            change = data.get("changes", [])[idx]
            problems.append(Problem(source, f"changes.{idx}", _change_message(change), ""))
            continue
        problems.append(Problem(source, _problem_path(loc), msg, ""))
    return problems


_OPS = ("set", "scale", "add_asset", "remove_asset", "replace_series", "availability")


def _change_message(change: Any) -> str:
    """Why a change entry is invalid, in words (pydantic's union errors are long)."""
    if not isinstance(change, dict):
        return f"a change must be a mapping, got {change!r}"
    ops = [k for k in change if k in _OPS]
    unknown = [k for k in change if k not in (*_OPS, "path")]
    where = f" at {change['path']}" if "path" in change else ""
    if unknown:
        return f"unknown key(s) {', '.join(map(str, unknown))}; operations: {', '.join(_OPS)}"
    if len(ops) != 1:
        return f"a change has exactly one operation of {', '.join(_OPS)}; got {ops or 'none'}"
    op = ops[0]
    if op in ("set", "scale") and "path" not in change:
        return f"{op} needs a path, e.g. assets.chp2.p_el_max_kw"
    if op not in ("set", "scale") and "path" in change:
        return f"{op} takes no path"
    if op == "scale" and not isinstance(change["scale"], int | float):
        return f"scale{where} must be a number, got {change['scale']!r}"
    for model in Change.__args__:
        if op in model.model_fields:
            try:
                model.model_validate(change)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(x) for x in first["loc"])
                return f"{op}{where}: {field}: {first['msg']}"
    return f"invalid {op} change"


def load_spec(path: Path) -> ScenarioSpec:
    """Read and validate a scenario file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteError.one(str(path), "", f"cannot read the scenario file: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SiteError.one(str(path), where, f"YAML syntax error: {problem}") from None
    return spec_from_dict(data, source=str(path))
