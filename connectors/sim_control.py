"""Device-side control logic of the simulated plant: remote mode, setpoint validity, watchdogs.

The conventions of MODBUS.md section 2.6, as a BMS gateway or unit controller implements them:

* A device with a ``heartbeat`` and a ``remote_enable`` point is *remote* while remote-enable is
  set and the heartbeat changed within the watchdog time. Devices without those points (boiler or
  chiller controllers) take their mode from the site's gateway (a device with both roles and no
  asset); with no gateway at all, only setpoint freshness counts.
* A setpoint (the point bound to a unit's Schedule column) is valid while its device is remote
  and it is younger than the point's ``revert_s``.
* The watchdog counts wall-clock seconds (it watches the link; a simulated day may pass in
  seconds); setpoint expiry counts simulated seconds (plan validity). A tripped watchdog clears
  ``remote_enable`` and raises the ``heartbeat_lost`` alarm: going back needs a new request.
* Permissives while remote: ``release`` / ``start_request`` false stop a unit; ``load_limit_pct``
  / ``capacity_limit_pct`` cap it until their ``revert_s`` passes.
* Read-backs: ``local_state`` is 1 (remote), 2 (fallback: remote, but a setpoint expired) or
  0 (local); a boolean one (``remote_active``) is true while the unit follows a setpoint or, on a
  device with its own heartbeat, while it is remote with nothing expired.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from connectors.registers import DataType, Role, Value
from connectors.sim_devices import PlantDevice
from energiemodell.errors import Problem

if TYPE_CHECKING:
    from energiemodell.site import Site

logger = logging.getLogger(__name__)


@dataclass
class Link:
    """Remote-control state of one device."""

    heartbeat_at: float = -math.inf
    heartbeat_value: Value | None = None
    tripped: bool = False
    written_at: dict[str, datetime] = field(default_factory=dict)


@dataclass
class RemoteControl:
    """Who may drive which unit right now.

    Parameters
    ----------
    devices
        The simulated devices by name.
    setpoints
        Schedule column -> (device, point) the column's setpoint is written to.
    columns
        Asset -> its unit's Schedule column (``chp1`` -> ``chp1.p_el_kw``).
    now
        Simulated time.
    monotonic
        Wall clock of the watchdogs.
    watchdog_s
        Watchdog for every device instead of each map's ``watchdog_s``.
    """

    devices: Mapping[str, PlantDevice]
    setpoints: Mapping[str, tuple[str, str]]
    columns: Mapping[str, str]
    now: Callable[[], pd.Timestamp]
    monotonic: Callable[[], float]
    watchdog_s: float | None = None
    links: dict[str, Link] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.links = {n: Link() for n in self.devices}
        self._gateway = next(
            (g for g in self.devices.values() if g.binding.asset is None and self.has_link(g)),
            None,
        )

    @staticmethod
    def has_link(dev: PlantDevice) -> bool:
        """Whether the device has its own heartbeat and remote-enable points."""
        r = dev.rmap
        return (
            r.with_role(Role.HEARTBEAT) is not None and r.with_role(Role.REMOTE_ENABLE) is not None
        )

    def authority(self, dev: PlantDevice) -> PlantDevice | None:
        """The device whose heartbeat and remote-enable decide ``dev``'s mode."""
        return dev if self.has_link(dev) else self._gateway

    def alive(self, dev: PlantDevice) -> bool:
        """Whether the heartbeat changed within the watchdog time."""
        at = self.links[dev.name].heartbeat_at
        limit = self.watchdog_s or dev.rmap.watchdog_s or math.inf
        return at > -math.inf and self.monotonic() - at <= limit  # never beaten: not alive

    def remote(self, dev: PlantDevice | None) -> bool:
        """Whether ``dev`` (an authority) is in remote mode; no authority counts as remote."""
        if dev is None:
            return True
        en = dev.rmap.with_role(Role.REMOTE_ENABLE)
        return bool(en and dev.value(en)) and self.alive(dev)

    def fresh(self, dev: PlantDevice, point: str) -> bool:
        """Whether ``point`` was written and is younger than its ``revert_s``."""
        at = self.links[dev.name].written_at.get(point)
        if at is None:
            return False
        revert = dev.rmap.points[point].revert_s
        return revert is None or (self.now() - at).total_seconds() <= revert

    def setpoint(self, column: str) -> float | None:
        """The valid setpoint of a Schedule column, or ``None`` (local control)."""
        where = self.setpoints.get(column)
        if where is None:
            return None
        dev = self.devices[where[0]]
        if not (self.remote(self.authority(dev)) and self.fresh(dev, where[1])):
            return None
        v = dev.value(where[1])
        return None if v is None else float(v)

    def valid(self, dev: PlantDevice, point: str) -> float | None:
        """A point's value while its device is remote and the point fresh, else ``None``."""
        if not (self.remote(self.authority(dev)) and self.fresh(dev, point)):
            return None
        v = dev.value(point)
        return None if v is None else float(v)

    def cap_pu(self, asset: str) -> float:
        """The share of the unit's capacity its permissives allow (1 while local)."""
        cap = 1.0
        for dev in self.devices.values():
            if dev.binding.asset != asset or not self.remote(self.authority(dev)):
                continue
            for point in LOCKS:
                if point in dev.rmap.points and dev.value(point) is False:
                    cap = 0.0
            for point in LIMITS:
                if point in dev.rmap.points and self.fresh(dev, point):
                    cap = min(cap, float(dev.value(point) or 0.0) / 100.0)
        return cap

    def on_write(self, dev: PlantDevice, point: str, value: Value) -> None:
        """Record a client's write (called under the lock, after the registers changed)."""
        link = self.links[dev.name]
        role = dev.rmap.points[point].role
        if role is Role.HEARTBEAT and value != link.heartbeat_value:
            link.heartbeat_at = self.monotonic()
            link.heartbeat_value = value
        elif role is Role.REMOTE_ENABLE and value:
            link.tripped = False
        link.written_at[point] = self.now()

    def watchdogs(self) -> None:
        """Trip every remote-enabled device whose heartbeat stopped changing."""
        for dev in self.devices.values():
            en = dev.rmap.with_role(Role.REMOTE_ENABLE)
            if en and self.has_link(dev) and dev.value(en) and not self.alive(dev):
                logger.warning("%s: heartbeat lost, back to local control", dev.name)
                dev.set_value(en, 0)
                self.links[dev.name].tripped = True

    def status_values(self, dev: PlantDevice, *, plant_fault: bool) -> dict[str, Value]:
        """The device's local-state, alarm and setpoint-age points."""
        out: dict[str, Value] = {}
        link = self.links[dev.name]
        own = [p for n, p in self.setpoints.values() if n == dev.name]
        written = [p for p in own if p in link.written_at]
        expired = any(not self.fresh(dev, p) for p in written)
        remote = self.remote(self.authority(dev))
        ls = dev.rmap.with_role(Role.LOCAL_STATE)
        if ls is not None:
            if self.has_link(dev):
                state = (2 if expired else 1) if remote else 0
            else:
                column = self.columns.get(dev.binding.asset or "")
                state = int(column is not None and self.setpoint(column) is not None)
            is_bool = dev.rmap.points[ls].dtype is DataType.BOOL
            out[ls] = (state == 1) if is_bool else state
        for name, p in dev.rmap.points.items():
            if p.role is Role.ALARM and p.writable:
                continue  # the optimiser's own alarm word: the device only holds it
            if p.role is Role.ALARM and p.bits:
                flags = {
                    "heartbeat_lost": link.tripped,
                    "setpoint_expired": remote and expired,
                    "plant_fault": plant_fault,
                }
                out[name] = sum(1 << i for b, i in p.bits.items() if flags.get(b, False))
            elif p.role is Role.ALARM:
                out[name] = False
        if "setpoint_age_s" in dev.rmap.points:
            ages = [(self.now() - link.written_at[p]).total_seconds() for p in written]
            out["setpoint_age_s"] = min(int(min(ages, default=65535)), 65535)
        return out


LOCKS = ("release", "start_request")
"""Permissive points that stop a unit while false (:meth:`RemoteControl.cap_pu`)."""
LIMITS = ("load_limit_pct", "capacity_limit_pct")
"""Permissive points that cap a unit's output (:meth:`RemoteControl.cap_pu`)."""

SIGNED_POINTS: dict[tuple[str, str], tuple[str, str]] = {
    ("bms_gateway", "tes_charge_kw_set"): ("thermal_storage", "charge_kw"),
    ("bms_gateway", "battery_p_kw_set"): ("battery", "discharge_kw"),
}
"""Signed setpoint points -> (the asset type they steer, the direction of positive values)."""

STORE_COLUMNS = {"charge_kw": 1.0, "discharge_kw": -1.0}
"""A store's setpoint columns and the sign of their value in its net charge."""


def bind_setpoints(
    site: Site, devices: Mapping[str, PlantDevice], followed: set[str]
) -> tuple[dict[str, tuple[str, str]], list[Problem]]:
    """Schedule column -> (device, point) for every setpoint the plant follows.

    ``followed`` are the columns the plant has a meaning for (units' outputs, stores' charge
    and discharge, heat dumps' heat). Other columns are held by the device and logged. A signed
    point bound against its sign (``tes_charge_kw_set`` to a ``discharge_kw`` column) or to an
    asset of another type is a problem.
    """
    out: dict[str, tuple[str, str]] = {}
    problems: list[Problem] = []
    types = {a.name: a.type for a in site.assets}
    for dev in devices.values():
        for column, point in dev.binding.setpoints.items():
            where = f"devices.{dev.name}.setpoints.{column}"
            asset, _, quantity = column.partition(".")
            signed = SIGNED_POINTS.get((dev.rmap.model, point))
            if signed is not None and (types.get(asset), quantity) != signed:
                msg = f"{point} steers a {signed[0]}; positive values are its {signed[1]}"
                hint = f"bind it to <{signed[0]}>.{signed[1]}"
                problems.append(Problem(site.source, where, msg, hint))
            elif dev.rmap.points[point].unit == "%" and quantity in STORE_COLUMNS:
                continue  # a storage inverter's rate: acts through its window (sunspec_window)
            elif column in followed:
                out[column] = (dev.name, point)
            elif point not in LOCKS + LIMITS:  # permissives act through RemoteControl.cap_pu
                logger.warning("%s: the simulator does not follow setpoint %s", dev.name, column)
    return out, problems


def store_setpoints(control: RemoteControl, stores: Iterable[str]) -> dict[str, float]:
    """The valid net-charge setpoint (kW, positive: charge) of each steered store."""
    out: dict[str, float] = {}
    for s in stores:
        for quantity, sign in STORE_COLUMNS.items():
            v = control.setpoint(f"{s}.{quantity}")
            if v is not None:
                out[s] = out.get(s, 0.0) + sign * v
    return out


def sunspec_window(
    control: RemoteControl, dev: PlantDevice, charge_max_kw: float, discharge_max_kw: float
) -> tuple[float, float]:
    """The net-charge window (kW) a SunSpec storage inverter's model 124 controls allow.

    With ``StorCtl_Mod`` bit 0 (charge) the charge rate is limited to ``InWRte`` % of
    ``WChaMax``; with bit 1 (discharge) the discharge rate to ``OutWRte`` % of the discharge
    maximum; a negative rate forces the other direction (``OutWRte = -50`` with both bits: charge
    at least at 50 % of the discharge maximum, capped by ``InWRte``: where the two disagree the
    charge limit wins). A rate older than ``InOutWRte_RvrtTms`` (once written, else the map's
    ``revert_s``) no longer limits: the rates are the inverter's own watchdog.
    """
    mode = int(dev.value("stor_ctl_mod") or 0)
    link = control.links[dev.name]
    tms = link.written_at.get("in_out_w_rte_rvrt_tms")
    revert = float(dev.value("in_out_w_rte_rvrt_tms") or 0.0) if tms is not None else None

    def rate(point: str) -> float | None:
        at = link.written_at.get(point)
        limit = revert if revert is not None else dev.rmap.points[point].revert_s
        if at is None or (limit is not None and (control.now() - at).total_seconds() > limit):
            return None
        return float(dev.value(point) or 0.0) / 100.0

    lo, hi = -math.inf, math.inf
    inw, outw = rate("in_w_rte"), rate("out_w_rte")
    if mode & 1 and inw is not None:
        hi = inw * charge_max_kw
    if mode & 2 and outw is not None:
        lo = -outw * discharge_max_kw
    return lo, hi
