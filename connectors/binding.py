"""The site's device bindings seen by the connectors: checks, devices, asset limits.

The site loader validates a ``DeviceBinding``'s own fields and its asset; the names it uses from
register maps (map, points, setpoint points) are checked here, because only the connectors know
the maps. The lead's ``energiemodell validate`` calls :func:`check_site_devices`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from connectors.map_files import load_map
from connectors.modbus import ModbusDevice, device_from_binding
from connectors.registers import Limits, RegisterMap
from energiemodell.errors import Problem, SiteError

if TYPE_CHECKING:
    from energiemodell.site import DeviceBinding, Site

_UNIT_SUFFIX = re.compile(r"^(?P<stem>[a-z0-9_]+?)_(?P<unit>kw|kwh|c|pct|pu)$")
_UNITS = {"kw": "kw", "kwh": "kwh", "c": "degc", "pct": "%", "pu": ""}


def _known(rmap: RegisterMap) -> str:
    return ", ".join(rmap.points)


def check_site_devices(site: Site) -> list[str]:
    """Check every device binding against its register map.

    Returns
    -------
    One ``FILE: devices.NAME.points.X: problem (hint)`` string per problem; empty if all is well.
    """
    src = site.source
    problems: list[Problem] = []
    measured: dict[str, str] = {}
    for d in site.devices:
        where = f"devices.{d.name}"
        try:
            rmap = _map_of(site, d)
        except SiteError as exc:
            first = exc.problems[0]
            problems.append(Problem(src, f"{where}.map", f"{first.message}", first.hint))
            continue
        for point, pb in d.points.items():
            if point not in rmap.points:
                problems.append(
                    Problem(
                        src,
                        f"{where}.points.{point}",
                        f"map {rmap.model} has no point {point!r}",
                        f"known: {_known(rmap)}",
                    )
                )
                continue
            other = measured.get(pb.quantity)
            if other is not None:
                problems.append(
                    Problem(
                        src,
                        f"{where}.points.{point}",
                        f"quantity {pb.quantity} is also measured by {other}",
                        "bind each quantity to one point",
                    )
                )
            measured[pb.quantity] = f"{d.name}.{point}"
        for column, point in d.setpoints.items():
            p = rmap.points.get(point)
            if p is None:
                problems.append(
                    Problem(
                        src,
                        f"{where}.setpoints.{column}",
                        f"map {rmap.model} has no point {point!r}",
                        f"known: {_known(rmap)}",
                    )
                )
            elif not p.writable:
                problems.append(
                    Problem(
                        src,
                        f"{where}.setpoints.{column}",
                        f"point {point} is not writable (access: {p.access})",
                        "setpoints need a read_write point",
                    )
                )
    return [str(p) for p in problems]


def build_devices(site: Site) -> dict[str, ModbusDevice]:
    """Return a :class:`ModbusDevice` for every device of the site, by name.

    Raises
    ------
    SiteError
        If :func:`check_site_devices` finds problems.
    """
    problems = check_site_devices(site)
    if problems:
        raise SiteError([Problem(site.source, "", p) for p in problems])
    return {d.name: device_from_binding(d, rmap=_map_of(site, d)) for d in site.devices}


def _map_of(site: Site, d: DeviceBinding) -> RegisterMap:
    """Load the binding's map: a shipped model name, or a path relative to the site file."""
    is_path = "/" in d.map or d.map.endswith((".yaml", ".yml"))
    return load_map(site.base_dir / d.map if is_path else d.map)


STORE_TYPES = ("thermal_storage", "battery")
"""Asset types whose ``charge_kw`` and ``discharge_kw`` columns may go out as one signed value."""
_OPPOSITE = {"charge_kw": "discharge_kw", "discharge_kw": "charge_kw"}


def _store_column(site: Site, d: DeviceBinding, point: str) -> tuple[str, str, Any] | None:
    """(store, ``charge_kw`` or ``discharge_kw``, its parameters) if ``point`` is bound to one."""
    column = next((c for c, p in d.setpoints.items() if p == point), None)
    if column is None:
        return None
    asset_name, _, quantity = column.partition(".")
    if quantity not in _OPPOSITE:
        return None
    try:
        params = site.asset(asset_name)
    except KeyError:
        return None
    return (asset_name, quantity, params) if params.type in STORE_TYPES else None


def net_column(site: Site, d: DeviceBinding, point: str) -> str | None:
    """The column subtracted from a store's column before it is written to a signed point.

    A point whose limits reach below zero (a BMS gateway's ``tes_charge_kw_set``, positive =
    charge) bound to a store's ``charge_kw`` receives the net charge ``charge_kw -
    discharge_kw``; bound to ``discharge_kw``, the net discharge. Schedule flows are never
    negative, so written as they are, such a point would hold the store whenever the plan
    discharges it. ``None`` for every other binding.
    """
    store = _store_column(site, d, point)
    limits = _map_of(site, d).point(point).limits
    if store is None or limits is None or limits.min >= 0:
        return None
    return f"{store[0]}.{_OPPOSITE[store[1]]}"


def setpoint_scale(site: Site, d: DeviceBinding, point: str) -> float:
    """The factor from a store's kW column to a point that takes percent of its rated power.

    A SunSpec storage inverter takes its rates in percent: ``InWRte`` of ``WChaMax`` (bound to
    the battery's ``charge_kw``) and ``OutWRte`` of ``WDisChaMax`` (bound to ``discharge_kw``);
    the battery's ``charge_max_kw`` and ``discharge_max_kw`` stand for those ratings. With the
    net flow (:func:`net_column`) the two rates pin the inverter to the plan's power. 1 for every
    other binding.
    """
    store = _store_column(site, d, point)
    if store is None or _map_of(site, d).point(point).unit != "%":
        return 1.0
    _, quantity, params = store
    return 100.0 / float(getattr(params, f"{quantity.removesuffix('_kw')}_max_kw"))


def asset_limits(site: Site, d: DeviceBinding, point: str) -> Limits | None:
    """Return the asset's limits for a writable point bound to a schedule column, if known.

    Notes
    -----
    For a setpoint ``asset.q_kw -> point``, the asset's ``q_max_kw`` or ``max_q_kw`` (times
    ``units`` for unit groups) is the maximum and 0 the minimum, since schedule flows are
    non-negative. A store's net setpoint (:func:`net_column`) reaches down to minus the opposite
    direction's maximum. It applies only when the point's unit is the column's unit (kW); other
    points have no asset limits.
    """
    rmap = _map_of(site, d)
    net = net_column(site, d, point)
    for column, p in d.setpoints.items():
        if p != point:
            continue
        asset_name, _, quantity = column.partition(".")
        m = _UNIT_SUFFIX.match(quantity)
        if m is None or _UNITS[m["unit"]] != rmap.point(point).unit.lower():
            return None
        try:
            params = site.asset(asset_name)
        except KeyError:
            return None
        stem, unit = m["stem"], m["unit"]
        max_value = getattr(
            params, f"{stem}_max_{unit}", getattr(params, f"max_{stem}_{unit}", None)
        )
        if not isinstance(max_value, int | float):
            return None
        units = getattr(params, "units", 1)
        if net is not None:
            opposite = getattr(params, f"{_OPPOSITE[quantity].removesuffix('_kw')}_max_kw")
            return Limits(min=-float(opposite), max=float(max_value))
        return Limits(min=0.0, max=float(max_value) * (units if isinstance(units, int) else 1))
    return None
