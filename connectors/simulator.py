"""The plant simulator: the site's plant in memory, behind its devices' registers.

:class:`PlantSimulator` runs the physics of :mod:`connectors.sim_plant` at simulated time, with
demands, PV and weather from the site's series (:func:`energiemodell.timeseries.load_forecast`),
and shows the plant through one :class:`~connectors.sim_devices.PlantDevice` per device binding.
Serve it over Modbus TCP with :mod:`connectors.modbus_server`, or use :meth:`PlantSimulator.device`
(the Device protocol, no sockets).

Control (MODBUS.md section 2.6):

* A unit follows a setpoint written to the point bound to its Schedule column (``chp1.p_el_kw``)
  only while that setpoint is valid: the controlling device is in remote mode (its
  ``remote_enable`` is set and its heartbeat changed within the watchdog time) and the setpoint
  is younger than the point's ``revert_s``. Devices without heartbeat and remote-enable points
  (boiler or chiller controllers) take their mode from the site's gateway (a device with both
  roles and no asset).
* Otherwise the unit runs under local control: the heat-led rules of
  :func:`energiemodell.heat_led.heat_led_step`, decided once per site interval from the simulated
  levels and unit states, exactly the rules of the scenarios' baseline.
* The heartbeat watchdog counts wall-clock seconds (it watches the link, and a simulated day may
  pass in seconds); setpoint expiry counts simulated seconds (it is about plan validity). A
  watchdog that trips clears ``remote_enable``, so going back to remote needs a new request.
* Permissives while remote: ``release`` / ``start_request`` false stop a unit, ``load_limit_pct``
  / ``capacity_limit_pct`` cap it (they revert to 100 % after their ``revert_s``).

Tank temperatures follow the stored heat through the inverse of
:func:`connectors.estimates.storage_level_kwh`: five layers, filled from the top, between
``t_empty_c`` and ``t_full_c`` of :data:`TANK_TEMPS_C` (the state estimate must use the same two).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from connectors.map_files import load_map
from connectors.registers import DataType, RegisterMap, Role, Table, Value
from connectors.sim_devices import FaultKind, PlantDevice, SimulatedDevice
from connectors.sim_plant import Demand, Flows, Plant, Store, Unit
from energiemodell.errors import Problem, SiteError
from energiemodell.heat_led import RuleState, heat_led_step
from energiemodell.site import DeviceBinding, Site
from energiemodell.state import PlantState, UnitState
from energiemodell.timeseries import load_forecast

logger = logging.getLogger(__name__)

TANK_TEMPS_C: dict[str, tuple[float, float]] = {"heat": (60.0, 90.0), "cooling": (12.0, 6.0)}
"""Carrier -> (t_empty_c, t_full_c) of the simulated tanks (30 K hot-water spread, 6/12 degC)."""

METERS: dict[str, tuple[str, str, str]] = {
    "janitza_umg96rm": ("p_sum_w", "e_19068_wh", "e_19076_wh"),
    "siemens_pac3200": ("p_total_w", "e_import_wh", "e_export_wh"),
}
"""Meter model -> (power point, counter of the positive direction, of the negative one)."""

CONTROLLERS = {
    "chp_controller": ("chp",),
    "boiler_controller": ("boiler",),
    "chiller_controller": ("chiller", "absorption"),
}
_KINDS = {
    "chp": ("chp", "p_el_kw"),
    "boiler": ("boiler", "q_kw"),
    "compression_chiller": ("chiller", "cold_kw"),
    "absorption_chiller": ("absorption", "cold_kw"),
}
_PASSIVE = {"grid", "pv", "thermal_storage", "emergency_generator", "flexible_load"}


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


@dataclass
class _Link:
    """Remote-control state of a device with heartbeat and remote-enable points."""

    heartbeat_at: float = -math.inf
    heartbeat_value: Value | None = None
    tripped: bool = False
    written_at: dict[str, datetime] = field(default_factory=dict)


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
        self.plant = self._build_plant()
        self._runs = self._test_runs()
        self._demand_at: tuple[pd.Timestamp, Demand] | None = None
        self._state = PlantState()
        self._rules = RuleState.from_plant(site, self._state)
        self._forecast = pd.DataFrame()
        self._interval: pd.Timestamp | None = None
        self._local: dict[str, float] = {}
        self.totals: dict[str, float] = {}
        self.flows: Flows = {}
        bindings = list(site.devices if devices is None else devices)
        self.devices: dict[str, PlantDevice] = {}
        self._links: dict[str, _Link] = {}
        self._meter_wh: dict[str, list[float]] = {}
        self._build_devices(bindings)
        self._setpoints = self._bind_setpoints(bindings)
        self._enter_interval(warm=True)
        self.flows = self._physics(0.0)
        self._publish()

    # --- construction -----------------------------------------------------------------------------

    def _build_plant(self) -> Plant:
        units: list[Unit] = []
        stores: list[Store] = []
        pv: dict[str, float] = {}
        curves: dict[str, tuple[list[float], list[float]]] = {}
        self._emergency: list[Any] = []
        self._flex: list[Any] = []
        for a in self.site.asset_objects:
            p = a.params
            if p.type in _KINDS:
                kind, q = _KINDS[p.type]
                unit_max = p.p_el_max_kw if kind == "chp" else getattr(p, "q_max_kw", None)
                unit_max = unit_max or p.cold_max_kw
                n = getattr(p, "units", 1)
                min_pu = getattr(p, "p_el_min_pu", getattr(p, "q_min_pu", None))
                min_pu = getattr(p, "cold_min_pu", 0.0) if min_pu is None else min_pu
                ramp = getattr(p, "ramp_kw_per_min", None)
                if ramp is None and p.start_time_min > 0:
                    ramp = unit_max * n / p.start_time_min
                units.append(
                    Unit(
                        a.name,
                        kind,
                        f"{a.name}.{q}",
                        unit_max,
                        n,
                        float(min_pu or 0.0),
                        ramp,
                        asset=a,
                    )
                )
                if kind == "chiller" and p.eer_by_temp_c:
                    pts = sorted(p.eer_by_temp_c)
                    curves[a.name] = ([t for t, _ in pts], [e for _, e in pts])
            elif p.type == "thermal_storage":
                lo, hi = p.level_min_pu * p.capacity_kwh, p.level_max_pu * p.capacity_kwh
                level = min(max(p.initial_level_pu * p.capacity_kwh, lo), hi)
                stores.append(
                    Store(
                        a.name, p.carrier, p.capacity_kwh, p.charge_max_kw, p.discharge_max_kw,
                        p.loss_pu_per_h, lo, hi, level,
                    )
                )  # fmt: skip
            elif p.type == "pv":
                pv[a.name] = p.p_kwp
            elif p.type == "emergency_generator":
                self._emergency.append(p)
            elif p.type == "flexible_load":
                if not p.included_in_demand and p.carrier != "electricity":
                    self._unsupported(a.name, "a heat or cooling flexible load outside the demand")
                self._flex.append(p)
            elif p.type not in _PASSIVE:
                self._unsupported(a.name, f"asset type {p.type}")
        return Plant(units=units, stores=stores, pv_kwp=pv, eer_curves=curves)

    def _unsupported(self, name: str, what: str) -> None:
        msg = f"the plant simulator does not model {what}"
        raise SiteError([Problem(self.site.source, f"assets.{name}", msg, "")])

    def _map(self, d: DeviceBinding) -> RegisterMap:
        is_path = "/" in d.map or d.map.endswith((".yaml", ".yml"))
        return load_map(self.site.base_dir / d.map if is_path else d.map)

    def _build_devices(self, bindings: list[DeviceBinding]) -> None:
        problems: list[Problem] = []
        for d in bindings:
            rmap = self._map(d)
            where = f"devices.{d.name}"
            kinds = CONTROLLERS.get(rmap.model)
            unit = self.plant.units.get(d.asset or "")
            if kinds is not None and (unit is None or unit.kind not in kinds):
                msg = f"a {rmap.model} must be bound to a unit of kind {'/'.join(kinds)}"
                problems.append(Problem(self.site.source, f"{where}.asset", msg, ""))
            elif rmap.model == "tank_sensors" and (d.asset or "") not in self.plant.stores:
                msg = "tank_sensors must be bound to a thermal_storage asset"
                problems.append(Problem(self.site.source, f"{where}.asset", msg, ""))
            elif kinds is None and rmap.model not in (*METERS, "tank_sensors", "bms_gateway"):
                msg = f"the plant simulator has no behaviour for map {rmap.model}"
                problems.append(Problem(self.site.source, f"{where}.map", msg, ""))
            dev = PlantDevice(d, rmap, self._on_write, lock=self._lock, on_read=self._refresh)
            self.devices[d.name] = dev
            self._links[d.name] = _Link()
            self._meter_wh[d.name] = [0.0, 0.0]
        if problems:
            raise SiteError(problems)

    def _bind_setpoints(self, bindings: list[DeviceBinding]) -> dict[str, tuple[str, str]]:
        columns = {u.column for u in self.plant.units.values()}
        out: dict[str, tuple[str, str]] = {}
        for d in bindings:
            for column, point in d.setpoints.items():
                if column in columns:
                    out[column] = (d.name, point)
                else:
                    logger.warning("%s: the simulator does not follow setpoint %s", d.name, column)
        return out

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
            n = 24 * 60 // self.site.step_min
            self._forecast = load_forecast(self.site, ts, n)
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
        rs.storage_kwh = {s.name: s.level_kwh for s in self.plant.stores.values()}
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
        assert self._interval is not None  # noqa: S101
        self._watchdogs()
        d = self._demand(self._interval)
        targets, caps = {}, {}
        for u in self.plant.units.values():
            remote = self._valid_setpoint(u.column)
            targets[u.column] = self._local[u.column] if remote is None else remote
            caps[u.name] = self._cap_pu(u.name)
        flows = self.plant.step(
            dt_s,
            d,
            targets=targets,
            caps=caps,
            extra_el_kw=self._flex_kw(),
            emergency_kw=self._emergency_kw(),
        )
        flows["flexible.shift_kw"] = 0.0  # no device shifts a flexible load in the simulator
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
                w = self._meter_power_w(dev)
                self._meter_wh[name][0] += max(w, 0.0) * dt_h
                self._meter_wh[name][1] += max(-w, 0.0) * dt_h
        return flows

    def _flex_kw(self) -> dict[str, float]:
        out: dict[str, float] = {}
        local = self.now.tz_convert(self.site.tz).time()
        for p in self._flex:
            if p.included_in_demand:
                continue
            start, end = p.window_start, p.window_end
            hours = ((end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)) % 1440 / 60
            inside = start <= local < end if start < end else (local >= start or local < end)
            out[p.name] = p.energy_kwh / hours if inside and hours > 0 else 0.0
        return out

    def _test_runs(self) -> list[tuple[str, pd.Timestamp, pd.Timestamp, float]]:
        """Emergency generator test runs as (name, UTC start, UTC end, kW)."""
        runs = []
        for p in self._emergency:
            for run in p.test_runs:
                t0 = pd.Timestamp(run.start)
                t0 = (t0.tz_localize(self.site.tz) if t0.tzinfo is None else t0).tz_convert("UTC")
                t1 = t0 + pd.Timedelta(hours=run.duration_h)
                runs.append((p.name, t0, t1, run.load_pu * p.p_el_kw))
        return runs

    def _emergency_kw(self) -> dict[str, float]:
        out = {p.name: 0.0 for p in self._emergency}
        for name, t0, t1, kw in self._runs:
            if t0 <= self.now < t1:
                out[name] = kw
        return out

    def _authority(self, dev: PlantDevice) -> PlantDevice | None:
        """The device whose heartbeat and remote-enable decide ``dev``'s mode."""
        if self._has_link(dev):
            return dev
        return next(
            (g for g in self.devices.values() if g.binding.asset is None and self._has_link(g)),
            None,
        )

    @staticmethod
    def _has_link(dev: PlantDevice) -> bool:
        r = dev.rmap
        return (
            r.with_role(Role.HEARTBEAT) is not None and r.with_role(Role.REMOTE_ENABLE) is not None
        )

    def _watchdog_s(self, dev: PlantDevice) -> float:
        return self.config.watchdog_s or dev.rmap.watchdog_s or math.inf

    def _remote(self, dev: PlantDevice | None) -> bool:
        if dev is None:
            return True
        en = dev.rmap.with_role(Role.REMOTE_ENABLE)
        return bool(en and dev.value(en)) and self._alive(dev)

    def _alive(self, dev: PlantDevice) -> bool:
        age = self.config.monotonic() - self._links[dev.name].heartbeat_at
        return age <= self._watchdog_s(dev)

    def _fresh(self, dev: PlantDevice, point: str) -> bool:
        at = self._links[dev.name].written_at.get(point)
        if at is None:
            return False
        revert = dev.rmap.points[point].revert_s
        return revert is None or (self.now - at).total_seconds() <= revert

    def _valid_setpoint(self, column: str) -> float | None:
        where = self._setpoints.get(column)
        if where is None:
            return None
        dev = self.devices[where[0]]
        if not (self._remote(self._authority(dev)) and self._fresh(dev, where[1])):
            return None
        v = dev.value(where[1])
        return None if v is None else float(v)

    def _cap_pu(self, asset: str) -> float:
        cap = 1.0
        for dev in self.devices.values():
            if dev.binding.asset != asset or not self._remote(self._authority(dev)):
                continue
            for point in ("release", "start_request"):
                if point in dev.rmap.points and dev.value(point) is False:
                    cap = 0.0
            for point in ("load_limit_pct", "capacity_limit_pct"):
                if point in dev.rmap.points and self._fresh(dev, point):
                    cap = min(cap, float(dev.value(point) or 0.0) / 100.0)
        return cap

    def _on_write(self, dev: PlantDevice, point: str, value: Value) -> None:
        """A client wrote ``point`` (called under the lock, after the registers changed)."""
        link = self._links[dev.name]
        role = dev.rmap.points[point].role
        if role is Role.HEARTBEAT and value != link.heartbeat_value:
            link.heartbeat_at = self.config.monotonic()
            link.heartbeat_value = value
        elif role is Role.REMOTE_ENABLE and value:
            link.tripped = False
        link.written_at[point] = self.now

    def _watchdogs(self) -> None:
        """Trip every remote-enabled device whose heartbeat stopped changing."""
        for dev in self.devices.values():
            en = dev.rmap.with_role(Role.REMOTE_ENABLE)
            if en and self._has_link(dev) and dev.value(en) and not self._alive(dev):
                logger.warning("%s: heartbeat lost, back to local control", dev.name)
                dev.set_value(en, 0)
                self._links[dev.name].tripped = True

    def _refresh(self) -> None:
        """Apply the watchdogs and publish every device's mode and alarm points."""
        with self._lock:
            self._watchdogs()
            for dev in self.devices.values():
                dev.publish(self._status_values(dev))

    def _status_values(self, dev: PlantDevice) -> dict[str, Value]:
        out: dict[str, Value] = {}
        own = [p for c, (n, p) in self._setpoints.items() if n == dev.name]
        written = [p for p in own if p in self._links[dev.name].written_at]
        expired = any(not self._fresh(dev, p) for p in written)
        remote = self._remote(self._authority(dev))
        ls = dev.rmap.with_role(Role.LOCAL_STATE)
        if ls is not None:
            if self._has_link(dev):
                state = (2 if expired else 1) if remote else 0
            else:
                asset = dev.binding.asset
                cols = [u.column for u in self.plant.units.values() if u.name == asset]
                state = int(any(self._valid_setpoint(c) is not None for c in cols))
            is_bool = dev.rmap.points[ls].dtype is DataType.BOOL
            out[ls] = (state == 1) if is_bool else state
        for name, p in dev.rmap.points.items():
            if p.role is Role.ALARM and p.bits:
                unserved = self.flows.get("unserved.heat_kw", 0.0) + self.flows.get(
                    "unserved.cooling_kw", 0.0
                )
                flags = {
                    "heartbeat_lost": self._links[dev.name].tripped,
                    "setpoint_expired": remote and expired,
                    "plant_fault": unserved > 1e-6,
                }
                out[name] = sum(1 << i for b, i in p.bits.items() if flags.get(b, False))
            elif p.role is Role.ALARM:
                out[name] = False
        if "setpoint_age_s" in dev.rmap.points:
            ages = [
                (self.now - self._links[dev.name].written_at[p]).total_seconds() for p in written
            ]
            out["setpoint_age_s"] = min(int(min(ages, default=65535)), 65535)
        return out

    # --- publishing -------------------------------------------------------------------------------

    def _publish(self) -> None:
        for dev in self.devices.values():
            dev.publish(self._values(dev))
        self._refresh()

    def _meter_power_w(self, dev: PlantDevice) -> float:
        pb = dev.binding.points.get(METERS[dev.rmap.model][0])
        if pb is None or pb.quantity not in self.flows:
            return 0.0
        return self.flows[pb.quantity] / (pb.scale * pb.sign)

    def _values(self, dev: PlantDevice) -> dict[str, Value]:
        model, f = dev.rmap.model, self.flows
        a = dev.binding.asset or ""
        if model in METERS:
            return self._meter_values(dev)
        if model == "tank_sensors":
            s = self.plant.stores[a]
            t_empty, t_full = TANK_TEMPS_C[s.carrier]
            share = s.level_kwh / s.capacity_kwh
            names = list(dev.rmap.points)  # top to bottom
            if s.carrier == "cooling":
                names.reverse()  # cold water sits at the bottom
            n = len(names)
            return {
                name: t_empty + min(max(share * n - i, 0.0), 1.0) * (t_full - t_empty)
                for i, name in enumerate(names)
            }
        if model not in CONTROLLERS:
            return {}
        u = self.plant.units[a]
        load = u.output_kw / u.capacity_kw
        common: dict[str, Value] = {"running": u.on}
        if model == "chp_controller":
            full = u.output_kw >= u.min_kw - 1e-6
            return common | {
                "p_el_kw": f[f"{a}.p_el_kw"],
                "q_th_kw": f[f"{a}.q_kw"],
                "engine_state": (2 if full else 1) if u.on else 0,
                "run_hours_h": int(u.run_h),
                "starts": u.starts,
                "ready": True,
            }
        if model == "boiler_controller":
            return common | {
                "q_th_kw": f[f"{a}.q_kw"],
                "t_flow_c": 70.0 + 10.0 * load if u.on else 60.0,
                "t_return_c": 55.0 + 5.0 * load if u.on else 58.0,
                "firing_rate_pct": 100.0 * load,
            }
        el = f[f"{a}.p_el_kw"] if u.kind == "chiller" else f[f"{a}.aux_el_kw"]
        return common | {
            "cold_kw": f[f"{a}.cold_kw"],
            "p_el_kw": el,
            "t_chw_supply_c": 6.0 if u.on else 10.0,
            "t_chw_return_c": 12.0,
        }

    def _meter_values(self, dev: PlantDevice) -> dict[str, Value]:
        power, pos, neg = METERS[dev.rmap.model]
        w = self._meter_power_w(dev)
        var = 0.33 * w  # cos phi about 0.95
        amps = abs(w) / 3 / (230.0 * 0.95)
        out: dict[str, Value] = {power: w, pos: self._meter_wh[dev.name][0]}
        out[neg] = self._meter_wh[dev.name][1]
        for name in dev.rmap.points:
            if name.startswith("u_l"):
                out[name] = 230.0
            elif name.startswith("i_l") or name == "i_avg_a":
                out[name] = amps
            elif name == "i_sum_a":
                out[name] = 3 * amps
            elif name.startswith("p_l"):
                out[name] = w / 3
            elif name.startswith("q_l"):
                out[name] = var / 3
            elif name in ("q_sum_var", "q_total_var"):
                out[name] = var
            elif name == "f_hz":
                out[name] = 50.0
        return out

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


class PaceDriver:
    """Advance a simulator's time at ``speed`` times real time on a background thread.

    Every ``tick_s`` wall seconds the simulator is advanced to
    ``start + speed * (wall time since start)``; a plant that cannot keep up lags, it never skips.
    """

    def __init__(self, sim: PlantSimulator, speed: float, *, tick_s: float = 0.2) -> None:
        if not speed > 0:
            msg = f"speed must be positive, not {speed}"
            raise ValueError(msg)
        self.sim, self.speed, self.tick_s = sim, speed, tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        wall0, sim0 = time.monotonic(), self.sim.now
        while not self._stop.wait(self.tick_s):
            target = sim0 + pd.Timedelta(seconds=self.speed * (time.monotonic() - wall0))
            try:
                self.sim.advance_to(target)
            except Exception as exc:  # e.g. the end of the series: stop and report, not crash
                logger.exception("the simulation stopped at %s", self.sim.now)
                self.error = exc
                return

    def start(self) -> PaceDriver:
        """Start advancing time."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim-pace", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop advancing time and join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> PaceDriver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
