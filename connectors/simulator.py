"""The plant simulator: the site's plant in memory, behind its devices' registers.

:class:`PlantSimulator` runs the physics of :mod:`connectors.sim_plant` at simulated time, with
demands, PV and weather from the site's series (:func:`energiemodell.timeseries.load_forecast`),
and shows the plant through one :class:`~connectors.sim_devices.PlantDevice` per device binding.
Serve it over Modbus TCP with :mod:`connectors.modbus_server`, or use :meth:`PlantSimulator.device`
(the Device protocol, no sockets).

A unit follows the setpoint written to the point bound to its Schedule column (``chp1.p_el_kw``)
while that setpoint is valid (:mod:`connectors.sim_control`: remote mode, live heartbeat, not
expired). Otherwise it runs under local control: the heat-led rules of
:func:`energiemodell.heat_led.heat_led_step`, decided once per site interval from the simulated
levels and unit states, the same rules as the scenarios' baseline.

Time: :meth:`PlantSimulator.advance_to` and :meth:`PlantSimulator.step` move simulated time (a
driving client such as the control loop's simulated clock); :class:`PaceDriver` moves it at a
multiple of real time. Devices show the state after the last advance (:mod:`connectors.sim_values`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from connectors.registers import Table, Value
from connectors.sim_build import build_plant
from connectors.sim_control import (
    RemoteControl,
    bind_setpoints,
    store_setpoints,
    sunspec_window,
)
from connectors.sim_devices import FaultKind, PlantDevice, SimulatedDevice
from connectors.sim_pace import PaceDriver
from connectors.sim_units import HEAT_PEAK, Demand, Flows
from connectors.sim_values import METERS, SUNSPEC, TANK_TEMPS_C, meter_power_w
from connectors.sim_wiring import build_sim_devices, device_values
from energiemodell.errors import Problem, SiteError
from energiemodell.heat_led import RuleState, heat_led_step
from energiemodell.site import DeviceBinding, Site
from energiemodell.state import PlantState, UnitState
from energiemodell.timeseries import load_forecast

logger = logging.getLogger(__name__)

__all__ = ["TANK_TEMPS_C", "PaceDriver", "PlantSimulator", "SimulatorConfig", "StepRecord"]


@dataclass(frozen=True)
class SimulatorConfig:
    """How the simulator runs.

    Parameters
    ----------
    step_s
        Physics step (simulated seconds); steps never straddle a site interval.
    watchdog_s
        Heartbeat watchdog (wall seconds) for every device, instead of each map's ``watchdog_s``.
    monotonic
        Wall clock of the watchdog (injectable for tests).
    """

    step_s: float = 60.0
    watchdog_s: float | None = None
    monotonic: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class StepRecord:
    """One physics step: its start (UTC), length and flows."""

    ts: datetime
    dt_s: float
    flows: Flows


def _utc(ts: datetime | pd.Timestamp | str) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        msg = f"simulated time must be timezone-aware, not {ts!r}"
        raise ValueError(msg)
    return t.tz_convert("UTC")


class PlantSimulator:
    """The site's plant at simulated time, seen through its devices.

    Parameters
    ----------
    site
        The validated site.
    start
        Simulated start (timezone-aware).
    devices
        Device bindings to simulate (default: the site's own).
    config
        Step length, watchdog override.

    Raises
    ------
    SiteError
        Assets or device maps the simulator does not model, devices bound to the wrong asset.
    """

    def __init__(
        self,
        site: Site,
        *,
        start: datetime | pd.Timestamp | str,
        devices: Sequence[DeviceBinding] | None = None,
        config: SimulatorConfig | None = None,
    ) -> None:
        self.site = site
        self.config = config or SimulatorConfig()
        self.start = _utc(start)
        self.now = self.start
        self._lock = threading.RLock()
        self._dt_step = timedelta(minutes=site.step_min)
        self.plant = build_plant(site)
        self._demand_at: tuple[pd.Timestamp, Demand] | None = None
        self._state = PlantState()
        self._rules = RuleState.from_plant(site, self._state)
        self._forecast = pd.DataFrame()
        self._interval: pd.Timestamp | None = None
        self._local: dict[str, float] = {}
        self.totals: dict[str, float] = {}
        self.flows: Flows = {}
        bindings = list(site.devices if devices is None else devices)
        self.devices = build_sim_devices(
            site, self.plant, bindings, self._on_write, lock=self._lock, on_read=self._refresh
        )
        self._meter_wh = {n: [0.0, 0.0] for n in self.devices}
        followed = {u.column for u in self.plant.units.values()}
        followed |= {f"{s}.{q}" for s in self.plant.stores for q in ("charge_kw", "discharge_kw")}
        followed |= {f"{d}.q_kw" for d in self.plant.dumps}
        followed |= {f"{p.name}.p_kw" for p in self.plant.flexible}
        setpoints, problems = bind_setpoints(site, self.devices, followed)
        if problems:
            raise SiteError(problems)
        self.control = RemoteControl(
            self.devices,
            setpoints,
            {u.name: u.column for u in self.plant.units.values()},
            now=lambda: self.now,
            monotonic=self.config.monotonic,
            watchdog_s=self.config.watchdog_s,
        )
        self._enter_interval(warm=True)
        self.flows = self._physics(0.0)
        self._publish()

    # --- construction -----------------------------------------------------------------------------

    def _on_write(self, dev: PlantDevice, point: str, value: Value) -> None:
        self.control.on_write(dev, point, value)

    # --- devices ----------------------------------------------------------------------------------

    def device(self, name: str, *, timeout_s: float | None = None) -> SimulatedDevice:
        """The named device behind the Device protocol (no sockets; readings at simulated time)."""
        dev = self.devices[name]
        b = dev.binding
        return SimulatedDevice(
            name=name,
            rmap=dev.rmap,
            quantities={p: pb.quantity for p, pb in b.points.items()},
            stale_after_s=3 * b.poll_s,
            clock=lambda: self.now.to_pydatetime(),
            plant_device=dev,
            timeout_s=b.timeout_s if timeout_s is None else timeout_s,
        )

    def set_fault(self, name: str, kind: FaultKind, *, code: int = 4, delay_s: float = 2.0) -> None:
        """Switch a fault on for one device (see :class:`~connectors.sim_devices.FaultKind`)."""
        with self._lock:
            self.devices[name].faults.set(kind, code=code, delay_s=delay_s)

    def clear_faults(self, name: str) -> None:
        """Switch every fault of one device off."""
        with self._lock:
            self.devices[name].faults.clear()

    # --- time -------------------------------------------------------------------------------------

    def step(self) -> StepRecord:
        """Advance one physics step (shorter at an interval boundary); return it."""
        with self._lock:
            rec = self._step_once()
            self._publish()
            return rec

    def advance_to(self, ts: datetime | pd.Timestamp | str) -> list[StepRecord]:
        """Advance simulated time to ``ts`` (no-op if it has passed); return the steps taken."""
        target = _utc(ts).floor("us")  # datetimes carry microseconds
        records: list[StepRecord] = []
        while self.now < target:
            with self._lock:
                records.append(self._step_once(until=target))
        with self._lock:
            self._publish()
        return records

    def _step_once(self, until: pd.Timestamp | None = None) -> StepRecord:
        if self._interval is None or self.now >= self._interval + self._dt_step:
            self._enter_interval(warm=False)
        assert self._interval is not None  # noqa: S101  (set by _enter_interval)
        end = min(
            self.now + pd.Timedelta(seconds=self.config.step_s), self._interval + self._dt_step
        )
        if until is not None:
            end = min(end, until)
        dt_s = (end - self.now).total_seconds()
        rec = StepRecord(self.now.to_pydatetime(), dt_s, self._physics(dt_s))
        self.now = end
        return rec

    def _demand(self, ts: pd.Timestamp) -> Demand:
        if self._demand_at is not None and self._demand_at[0] == ts:
            return self._demand_at[1]
        if ts not in self._forecast.index:
            try:  # a day at a time; near the end of the series, what is left
                self._forecast = load_forecast(self.site, ts, 24 * 60 // self.site.step_min)
            except SiteError:
                self._forecast = load_forecast(self.site, ts, 1)
        row = self._forecast.loc[ts].to_dict()

        def col(name: str) -> float:
            v = float(row.get(name, 0.0))
            if math.isnan(v):
                msg = f"the site's series have no {name} at {ts.isoformat()}"
                raise SiteError([Problem(self.site.source, "series", msg, "")])
            return v

        d = Demand(
            col("demand.electricity_kw"),
            col("demand.heat_kw"),
            col("demand.cooling_kw"),
            col("pv.kw_per_kwp"),
            col("weather.temp_c") if "weather.temp_c" in row else 15.0,
        )
        self._demand_at = (ts, d)
        return d

    def _enter_interval(self, *, warm: bool) -> None:
        """Decide the heat-led targets of the interval that starts at or before ``now``."""
        start = self.now.floor(f"{self.site.step_min}min")
        self._interval = start
        self._local = self._rules_for(start)
        # Start warm, as if the plant had been running by the rules: the second pass sees the
        # CHPs that the first one started (the absorption chiller runs on their heat).
        for _ in range(2 if warm else 0):
            for u in self.plant.units.values():
                u.set_output(u.feasible(self._local[u.column]))
                u.time_in_state_h = 1000.0
            self._local = self._rules_for(start)

    def _rules_for(self, start: pd.Timestamp) -> dict[str, float]:
        """The heat-led rules' outputs for the interval, from the simulated levels and units."""
        d = self._demand(start)
        rs = self._rules
        rs.storage_kwh = {
            s.name: s.level_kwh for s in self.plant.stores.values() if s.carrier in TANK_TEMPS_C
        }
        for u in self.plant.units.values():
            if u.kind == "chp":
                rs.units[u.name] = UnitState(
                    on=u.on, time_in_state_h=u.time_in_state_h, p_kw=u.output_kw
                )
        demand = {"electricity": d.electricity_kw, "heat": d.heat_kw, "cooling": d.cooling_kw}
        out = heat_led_step(self.site, rs, ts=start, demand_kw=demand, plant=self._state)
        return {u.column: out.get(u.column, 0.0) for u in self.plant.units.values()}

    # --- physics and control ----------------------------------------------------------------------

    def _physics(self, dt_s: float) -> Flows:
        assert self._interval is not None  # noqa: S101  (set by _enter_interval)
        self.control.watchdogs()
        flows = self.plant.step(
            dt_s,
            self._demand(self._interval),
            targets=self._targets(),
            caps={u.name: self.control.cap_pu(u.name) for u in self.plant.units.values()},
            flexible_kw=self._flexible_kw(),
            emergency_kw=self.plant.emergency_kw(self.now),
            store_kw=self._store_kw(),
            dump_kw={
                d: v
                for d in self.plant.dumps
                if (v := self.control.setpoint(f"{d}.q_kw")) is not None
            },
        )
        dt_h = dt_s / 3600.0
        for key, col in (
            ("grid.import_kwh", "grid.import_kw"),
            ("grid.export_kwh", "grid.export_kw"),
            *((f"{n}.energy_kwh", f"{n}.p_kw") for n in self.plant.pv_kwp),
        ):
            self.totals[key] = self.totals.get(key, 0.0) + flows[col] * dt_h
        self.flows = flows
        for name, dev in self.devices.items():
            if dev.rmap.model in METERS:
                w = meter_power_w(dev, flows)
                self._meter_wh[name][0] += max(w, 0.0) * dt_h
                self._meter_wh[name][1] += max(-w, 0.0) * dt_h
        return flows

    def _flexible_kw(self) -> dict[str, tuple[float, float]]:
        """Each flexible load's even profile and what it draws: its valid setpoint, else that."""
        base = self.plant.flexible_kw(self.now.tz_convert(self.site.tz).time())
        out: dict[str, tuple[float, float]] = {}
        for p in self.plant.flexible:
            v = self.control.setpoint(f"{p.name}.p_kw")
            out[p.name] = (
                base[p.name],
                base[p.name] if v is None else min(max(v, 0.0), p.p_max_kw),
            )
        return out

    def _store_kw(self) -> dict[str, float]:
        """Valid net-charge setpoints of the stores, inside a SunSpec inverter's rate window."""
        out = store_setpoints(self.control, self.plant.stores)
        for dev in self.devices.values():
            if dev.rmap.model == SUNSPEC:
                s = self.plant.stores[dev.binding.asset or ""]
                lo, hi = sunspec_window(self.control, dev, s.charge_max_kw, s.discharge_max_kw)
                if math.isfinite(lo) or math.isfinite(hi):
                    out[s.name] = min(hi, max(lo, out.get(s.name, 0.0)))  # charge limit wins
        return out

    def _targets(self) -> dict[str, float]:
        """Each unit's target: its valid setpoint, else the heat-led rules' value.

        Notes
        -----
        Local peak heat units (boilers, then electric boilers, heat pumps, district heat: the
        rules' order) also cover the heat that the rules did not plan for, as a sequencer holding
        the flow temperature does: CHPs under remote control that give less heat than the rules
        expected, and absorption chillers still drawing drive heat while they ramp down::

            q_boiler = max(0, q_rules + sum(q_chp_rules - q_chp_set) + sum(q_in_abs - q_in_rules))
        """
        targets: dict[str, float] = {}
        local: set[str] = set()
        for u in self.plant.units.values():
            remote = self.control.setpoint(u.column)
            targets[u.column] = self._local[u.column] if remote is None else remote
            if remote is None:
                local.add(u.name)
        gap = sum(
            u.heat_kw(u.feasible(self._local[u.column])) - u.heat_kw(u.feasible(targets[u.column]))
            for u in self.plant.units.values()
            if u.kind == "chp" and u.name not in local
        )
        gap += sum(
            (u.output_kw - self._local[u.column]) / u.asset.params.cop
            for u in self.plant.units.values()
            if u.kind == "absorption"
        )
        peak = sorted(
            (u for u in self.plant.units.values() if u.kind in HEAT_PEAK),
            key=lambda u: HEAT_PEAK.index(u.kind),
        )
        for u in peak:
            if u.name in local and abs(gap) > 1e-9:
                new = max(0.0, targets[u.column] + gap)
                gap -= new - targets[u.column]
                targets[u.column] = new
        return targets

    # --- publishing -------------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Apply the watchdogs and publish every device's mode and alarm points."""
        with self._lock:
            self.control.watchdogs()
            unserved = self.flows.get("unserved.heat_kw", 0.0) + self.flows.get(
                "unserved.cooling_kw", 0.0
            )
            for dev in self.devices.values():
                dev.publish(self.control.status_values(dev, plant_fault=unserved > 1e-6))

    def _publish(self) -> None:
        for dev in self.devices.values():
            dev.publish(device_values(dev, self.plant, self.flows, self.control, self._meter_wh))
        self._refresh()

    # --- inspection -------------------------------------------------------------------------------

    def quantities(self) -> dict[str, float]:
        """Every simulated site quantity now: the last step's flows and the energy totals."""
        with self._lock:
            return {**self.flows, **self.totals}

    def read_words(self, name: str, table: Table, address: int, count: int) -> list[int] | int:
        """Serve a read for the Modbus server (registers or an exception code)."""
        return self.devices[name].read(table, address, count)

    def write_words(self, name: str, table: Table, address: int, words: list[int]) -> int | None:
        """Serve a write for the Modbus server (``None`` or an exception code)."""
        return self.devices[name].write(table, address, words)
