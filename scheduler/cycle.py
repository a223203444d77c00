"""The control cycle's data: its dependencies, limits, runtime memory and report.

:class:`CycleDeps` is built once (:func:`scheduler.deps.build_deps`) and handed to every
:func:`scheduler.loop.run_cycle`; :class:`Runtime` is what the loop carries from one cycle to
the next (rebuilt from the store on restart, :func:`scheduler.store_view.resume`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pandas as pd

from connectors.device import Device
from connectors.writer import Heartbeat, SafeWriter, WriteReport
from energiemodell.model.schedule import Schedule
from energiemodell.site import Site
from energiemodell.state import PlantState
from energiemodell.store import Database, StoredState
from scheduler.clock import Clock
from scheduler.dispatch import SetpointBinding
from scheduler.forecasting import ForecastSource
from scheduler.journal import Journal
from scheduler.policy import Alarm, Mode, Policy, Rung, StoredPlan
from scheduler.state_estimate import UnitMemory


class PlanMaker(Protocol):
    """The planner as the loop uses it (:class:`energiemodell.model.planner.Planner`)."""

    n: int

    def plan(self, forecast: pd.DataFrame, state: PlantState) -> Schedule:
        """Plan the forecast's horizon from ``state``."""
        ...


@dataclass(frozen=True)
class LoopLimits:
    """The loop's timing and safety limits (from :class:`scheduler.settings.Settings`)."""

    lead_time_s: float = 120.0
    stale_limit_s: float = 300.0
    last_plan_max_age: timedelta = timedelta(hours=6)
    confirm_timeout_s: float = 10.0
    standby_quantities: tuple[str, ...] = ("site.standby", "grid.outage")
    tank_temps_c: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: {"heat": (60.0, 90.0), "cooling": (12.0, 6.0)}
    )


@dataclass
class Runtime:
    """What the loop carries from one cycle to the next (rebuilt from the store on restart)."""

    started_at: datetime
    resumed: bool = False
    last_valid: StoredPlan | None = None
    last_row: pd.Series | None = None
    dispatched: set[datetime] = field(default_factory=set)
    engaged: bool | None = None
    stored: StoredState | None = None
    memory: UnitMemory = field(default_factory=UnitMemory)


@dataclass(frozen=True)
class CycleDeps:
    """Everything a cycle needs, built once (``scheduler.cli_run``), fakes in the tests."""

    site: Site
    db: Database
    clock: Clock
    devices: Mapping[str, Device]
    writers: Mapping[str, SafeWriter]
    heartbeats: Mapping[str, Heartbeat]
    bindings: list[SetpointBinding]
    planner: PlanMaker
    forecaster: ForecastSource
    policy: Policy
    journal: Journal
    limits: LoopLimits
    runtime: Runtime
    site_yaml: str
    """The site content stored with every schedule version (``site_to_yaml``, made once)."""


@dataclass(frozen=True)
class CycleReport:
    """What one cycle did."""

    interval_start: datetime
    started_at: datetime
    finished_at: datetime
    rung: Rung
    mode: Mode
    written: bool
    duplicate: bool
    schedule_id: int | None
    origin: str | None
    mip_gap: float | None
    solve_s: float
    setpoints: dict[str, float]
    writes: list[WriteReport]
    alarms: list[Alarm]
    store_pending: int

    @property
    def writes_ok(self) -> bool:
        """Whether every write of the cycle was confirmed (or already held)."""
        return all(w.ok for w in self.writes)


def interval_tag(at: datetime) -> str:
    """An interval's start as write reasons and schedule inputs name it (``...T05:00Z``)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
