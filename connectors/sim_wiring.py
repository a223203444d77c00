"""The simulated plant's devices: which map may show which asset, and what each one shows.

:func:`build_sim_devices` makes one :class:`~connectors.sim_devices.PlantDevice` per device
binding and checks that its map fits the asset it is bound to; :func:`device_values` gives the
measured values of one device from the plant after a step (:mod:`connectors.sim_values`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from connectors.map_files import load_map
from connectors.registers import RegisterMap, Role, Value
from connectors.sim_control import RemoteControl
from connectors.sim_devices import PlantDevice, WriteHook
from connectors.sim_plant import Plant
from connectors.sim_units import Flows
from connectors.sim_values import (
    CONTROLLERS,
    METERS,
    OTHER_MODELS,
    SUNSPEC,
    TANK_TEMPS_C,
    controller_values,
    meter_power_w,
    meter_values,
    sunspec_constants,
    sunspec_values,
    tank_values,
)
from energiemodell.errors import Problem, SiteError

if TYPE_CHECKING:
    from energiemodell.site import DeviceBinding, Site

FLOW_SETPOINTS = ("t_flow_setpoint_c", "t_chw_setpoint_c")
"""Supply-temperature setpoints of boiler and chiller controllers."""


def _map(site: Site, d: DeviceBinding) -> RegisterMap:
    is_path = "/" in d.map or d.map.endswith((".yaml", ".yml"))
    return load_map(site.base_dir / d.map if is_path else d.map)


def is_gateway(d: DeviceBinding, rmap: RegisterMap) -> bool:
    """A site's own gateway map: no asset, heartbeat and remote-enable points (setpoints)."""
    roles = {p.role for p in rmap.points.values()}
    return d.asset is None and {Role.HEARTBEAT, Role.REMOTE_ENABLE} <= roles


def build_sim_devices(
    site: Site,
    plant: Plant,
    bindings: Sequence[DeviceBinding],
    on_write: WriteHook,
    *,
    lock: threading.RLock,
    on_read: Callable[[], None],
) -> dict[str, PlantDevice]:
    """One register bank per device binding.

    Raises
    ------
    SiteError
        A map the simulator has no behaviour for, or bound to an asset it cannot show.
    """
    problems: list[Problem] = []
    devices: dict[str, PlantDevice] = {}

    def carrier(asset: str | None) -> str | None:
        store = plant.stores.get(asset or "")
        return None if store is None else store.carrier

    for d in bindings:
        rmap = _map(site, d)
        where = f"devices.{d.name}"
        kinds = CONTROLLERS.get(rmap.model)
        unit = plant.units.get(d.asset or "")
        if kinds is not None and (unit is None or unit.kind not in kinds):
            msg = f"a {rmap.model} must be bound to a unit of kind {'/'.join(kinds)}"
            problems.append(Problem(site.source, f"{where}.asset", msg, ""))
        elif rmap.model == "tank_sensors" and carrier(d.asset) not in TANK_TEMPS_C:
            msg = "tank_sensors must be bound to a thermal_storage asset"
            problems.append(Problem(site.source, f"{where}.asset", msg, ""))
        elif rmap.model == SUNSPEC and carrier(d.asset) != "electricity":
            msg = f"a {SUNSPEC} must be bound to a battery asset"
            problems.append(Problem(site.source, f"{where}.asset", msg, ""))
        elif kinds is None and rmap.model not in OTHER_MODELS and not is_gateway(d, rmap):
            msg = f"the plant simulator has no behaviour for map {rmap.model}"
            hint = (
                "simulated: meters, controllers, tank sensors, SunSpec batteries, and "
                "gateways (no asset, a heartbeat and a remote_enable point)"
            )
            problems.append(Problem(site.source, f"{where}.map", msg, hint))
        devices[d.name] = PlantDevice(d, rmap, on_write, lock=lock, on_read=on_read)
        if rmap.model == SUNSPEC and not problems:
            devices[d.name].publish(sunspec_constants(plant.stores[d.asset or ""]))
    if problems:
        raise SiteError(problems)
    return devices


def device_values(
    dev: PlantDevice,
    plant: Plant,
    flows: Flows,
    control: RemoteControl,
    meter_wh: dict[str, list[float]],
) -> dict[str, Value]:
    """What one device shows after a step (mode and alarm points: ``status_values``)."""
    model, asset = dev.rmap.model, dev.binding.asset or ""
    if model in METERS:
        return meter_values(dev, meter_power_w(dev, flows), meter_wh[dev.name])
    if model == "tank_sensors":
        return tank_values(dev, plant.stores[asset])
    if model in CONTROLLERS:
        valid = (control.valid(dev, p) for p in FLOW_SETPOINTS if p in dev.rmap.points)
        t_set = next((v for v in valid if v is not None), None)
        return controller_values(model, plant.units[asset], flows, t_set_c=t_set)
    if model == SUNSPEC:
        return sunspec_values(plant.stores[asset], flows)
    return {}
