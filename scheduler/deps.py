"""Build the control loop's :class:`~scheduler.loop.CycleDeps` once (the composition root).

``energiemodell run`` and ``energiemodell demo`` call :func:`build_deps` with Modbus devices;
the tests call it with :class:`connectors.device.FakeDevice` objects.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from connectors.device import Device, RegisterDevice
from connectors.errors import ConnectorError
from connectors.writer import Heartbeat, SafeWriter
from energiemodell.model.planner import Planner
from energiemodell.site import Site, site_to_yaml
from energiemodell.store import Database
from scheduler.clock import Clock
from scheduler.dispatch import setpoint_bindings
from scheduler.forecasting import ForecastSource, HistoryForecast
from scheduler.journal import Journal
from scheduler.loop import CycleDeps, LoopLimits, PlanMaker, Runtime
from scheduler.policy import Mode, ModePolicy
from scheduler.settings import Settings

logger = logging.getLogger(__name__)


def horizon_steps(site: Site, settings: Settings) -> int:
    """The plan horizon in site steps (the settings' horizon, else the site's)."""
    hours = settings.horizon_h or site.control.horizon_h
    return max(1, round(hours * 60 / site.step_min))


def limits_from(site: Site, settings: Settings) -> LoopLimits:
    """The loop's limits: the site's lead time, the rest from the settings."""
    return LoopLimits(
        lead_time_s=site.control.lead_time_s,
        stale_limit_s=settings.stale_limit_s,
        last_plan_max_age=timedelta(hours=settings.last_plan_max_age_h),
        confirm_timeout_s=settings.confirm_timeout_s,
        standby_quantities=settings.standby_quantities,
        tank_temps_c=dict(settings.tank_temps_c),
    )


def build_deps(
    site: Site,
    *,
    db: Database,
    clock: Clock,
    devices: Mapping[str, Device],
    settings: Settings,
    planner: PlanMaker | None = None,
    forecaster: ForecastSource | None = None,
) -> CycleDeps:
    """Wire a site, its devices and the store into the loop's dependencies.

    Devices that read through the register logic get the loop's clock, so their readings carry
    simulated time in a simulation. The mode is the settings' (CLI flag or environment), else
    the site's ``control.mode``.
    """
    for dev in devices.values():
        if isinstance(dev, RegisterDevice):
            dev.clock = clock.now
    journal = Journal(db)
    writers = {name: SafeWriter(dev, journal, clock=clock.now) for name, dev in devices.items()}
    heartbeats = {}
    for name, dev in devices.items():
        try:
            heartbeats[name] = Heartbeat(dev, period_s=settings.heartbeat_s)
        except ConnectorError:
            continue  # a device without a heartbeat point (a meter)
    mode = Mode(settings.mode or site.control.mode)
    return CycleDeps(
        site=site,
        db=db,
        clock=clock,
        devices=dict(devices),
        writers=writers,
        heartbeats=heartbeats,
        bindings=setpoint_bindings(site, devices),
        planner=planner or Planner(site, horizon_steps(site, settings)),
        forecaster=forecaster or HistoryForecast(site, db),
        policy=ModePolicy(mode, db, site=site),
        journal=journal,
        limits=limits_from(site, settings),
        runtime=Runtime(started_at=clock.now()),
        site_yaml=site_to_yaml(site),
    )
