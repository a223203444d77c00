"""PlantState: the plant at the start of a planning horizon."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    ValidationError,
)

from energiemodell.errors import Problem, SiteError


class UnitState(BaseModel):
    """A committable unit: running or not, for how long, at which output."""

    model_config = ConfigDict(extra="forbid")

    on: bool = Field(description="Running at the horizon start")
    time_in_state_h: NonNegativeFloat = Field(
        default=1000.0, description="Hours since the last start (on) or stop (off)"
    )
    p_kw: NonNegativeFloat | None = Field(
        default=None, description="Output in the interval before the horizon (for ramp limits)"
    )
    units_on: int | None = Field(
        default=None, ge=0, description="For groups of identical units: how many are running"
    )


class Outage(BaseModel):
    """An asset out of service between ``start`` and ``end`` (UTC; open ends allowed)."""

    model_config = ConfigDict(extra="forbid")

    asset: str = Field(description="Name of the asset out of service")
    start: AwareDatetime | None = Field(default=None, description="From (open: already out)")
    end: AwareDatetime | None = Field(default=None, description="Until, exclusive (open: unknown)")
    units: int | None = Field(
        default=None, ge=1, description="For groups: how many units are out (default: all)"
    )
    reason: str = Field(default="", description="Why (shown in alarms and the audit trail)")

    def covers(self, ts: datetime) -> bool:
        """Whether the outage covers the instant ``ts``."""
        return (self.start is None or self.start <= ts) and (self.end is None or ts < self.end)


class Pin(BaseModel):
    """An operator's fixed value for a Schedule column between ``start`` and ``end`` (UTC)."""

    model_config = ConfigDict(extra="forbid")

    value: float = Field(description="The value held, in the column's unit (kW, units on)")
    start: AwareDatetime | None = Field(default=None, description="From (open: already held)")
    end: AwareDatetime | None = Field(default=None, description="Until, exclusive (open: unknown)")
    reason: str = Field(default="", description="Why (shown in the audit trail)")

    def covers(self, ts: datetime) -> bool:
        """Whether the pin covers the interval starting at ``ts``."""
        return (self.start is None or self.start <= ts) and (self.end is None or ts < self.end)


class StorageTarget(BaseModel):
    """An operator's lowest storage level at the instant ``by`` (UTC)."""

    model_config = ConfigDict(extra="forbid")

    level_kwh: NonNegativeFloat = Field(description="Level the store holds at least at ``by``")
    by: AwareDatetime = Field(description="When (the end of the interval that ends then)")
    reason: str = Field(default="", description="Why (shown in the audit trail)")


class PlantState(BaseModel):
    """The plant at the start of a horizon. Omitted fields take the documented defaults.

    Defaults: storage half full, every unit off for long enough to start, no peak yet this
    billing year, no KWKG hours used, flexible loads on their even profile so far, nothing out
    of service, nothing pinned or targeted.
    Pins and storage targets are operator overrides: the planner holds them as hard limits.
    """

    model_config = ConfigDict(extra="forbid")

    storage_kwh: dict[str, float] = Field(
        default_factory=dict, description="Measured level per storage asset (kWh)"
    )
    units: dict[str, UnitState] = Field(
        default_factory=dict, description="Commitment state per committable asset"
    )
    peak_import_kw: NonNegativeFloat = Field(
        default=0.0, description="Highest 15-min import so far in the billing year (kW)"
    )
    kwkg_hours_used: dict[str, NonNegativeFloat] = Field(
        default_factory=dict, description="KWKG full-load hours used this calendar year per CHP"
    )
    flexible_kwh: dict[str, NonNegativeFloat] = Field(
        default_factory=dict,
        description=(
            "Energy each flexible load has drawn in its window open at the horizon start (kWh)"
        ),
    )
    outages: list[Outage] = Field(default_factory=list, description="Assets out of service")
    pins: dict[str, list[Pin]] = Field(
        default_factory=dict, description="Fixed values per Schedule column (chp1.p_el_kw)"
    )
    storage_targets: dict[str, list[StorageTarget]] = Field(
        default_factory=dict, description="Lowest levels by a time per storage asset"
    )

    def unavailable_units(self, asset: str, ts: datetime, units: int) -> int:
        """How many of the asset's ``units`` are out of service at ``ts``."""
        out = 0
        for o in self.outages:
            if o.asset == asset and o.covers(ts):
                out += units if o.units is None else o.units
        return min(out, units)


def load_state(path: Path) -> PlantState:
    """Read a PlantState JSON file; errors name the file and the field."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SiteError.one(str(path), "", f"cannot read the state file: {exc}") from None
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise SiteError.one(str(path), "", msg) from None
    try:
        return PlantState.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(str(path), ".".join(str(x) for x in e["loc"]), e["msg"]) for e in exc.errors()
        ]
        raise SiteError(problems) from None
