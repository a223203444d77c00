"""Device-binding overrides: point a site's devices at other addresses (the plant simulator).

An override file is YAML, a list of ``{name, host, port, unit_id}``, one entry per device::

    - {name: grid_meter, host: 127.0.0.1, port: 5020, unit_id: 1}
    - {name: chp1_ctrl, host: 127.0.0.1, port: 5020, unit_id: 2}

:func:`apply_device_overrides` returns the site with those addresses replaced and validated
again; ``energiemodell simulate`` writes such a file and ``run``/``demo`` read it. A devices file
(``devices.yaml`` beside a site that has no ``devices:`` section yet) is a YAML list of device
bindings in the site format; :func:`site_with_devices` adds it to a site.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from energiemodell.errors import Problem, SiteError
from energiemodell.site import DeviceBinding, Site, site_from_dict

DEVICES_FILE_NAME = "devices.yaml"


class DeviceOverride(BaseModel):
    """Where one device of the site is to be reached instead."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Device name in the site")
    host: str = Field(description="Host name or IP address")
    port: Annotated[int, Field(ge=1, le=65535)]
    unit_id: Annotated[int, Field(ge=0, le=255)]


def _read_yaml_list(path: Path, what: str) -> list[Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SiteError.one(str(path), "", f"cannot read the {what}: {exc}") from None
    if not isinstance(data, list):
        msg = f"the {what} must be a YAML list, not {type(data).__name__}"
        raise SiteError.one(str(path), "", msg, "one entry per device")
    return data


def _validate(model: type[Any], items: list[Any], source: str) -> list[Any]:
    out, problems = [], []
    for i, item in enumerate(items):
        label = item.get("name", i) if isinstance(item, dict) else i
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(x) for x in (label, *err["loc"]))
                problems.append(Problem(source, where, err["msg"].removeprefix("Value error, ")))
    if problems:
        raise SiteError(problems)
    return out


def load_device_overrides(path: Path) -> list[DeviceOverride]:
    """Read and validate an override file."""
    items = _read_yaml_list(path, "device override file")
    return _validate(DeviceOverride, items, str(path))


def write_device_overrides(path: Path, overrides: Sequence[DeviceOverride]) -> None:
    """Write an override file (YAML list, one mapping per device)."""
    doc = [o.model_dump() for o in overrides]
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def apply_device_overrides(
    site: Site, path_or_list: Path | str | Sequence[DeviceOverride | dict[str, Any]]
) -> Site:
    """Return ``site`` with the overridden devices' host, port and unit id, re-validated.

    Raises
    ------
    SiteError
        The file is unreadable or invalid, or names a device the site does not have.
    """
    if isinstance(path_or_list, str | Path):
        overrides = load_device_overrides(Path(path_or_list))
        source = str(path_or_list)
    else:
        items = [o.model_dump() if isinstance(o, DeviceOverride) else o for o in path_or_list]
        overrides = _validate(DeviceOverride, items, "<overrides>")
        source = "<overrides>"
    by_name = {o.name: o for o in overrides}
    known = {d.name for d in site.devices}
    unknown = sorted(set(by_name) - known)
    if unknown:
        hint = f"the site's devices: {', '.join(sorted(known)) or 'none'}"
        msg = f"no such device in site {site.name}: {', '.join(unknown)}"
        raise SiteError.one(source, "", msg, hint)
    devices = []
    for d in site.devices:
        o = by_name.get(d.name)
        dump = d.model_dump(mode="json")
        if o is not None:
            dump.update(host=o.host, port=o.port, unit_id=o.unit_id)
        devices.append(dump)
    return _replace_devices(site, devices)


def load_devices_file(path: Path) -> list[DeviceBinding]:
    """Read a YAML list of device bindings (the site's ``devices:`` format)."""
    return _validate(DeviceBinding, _read_yaml_list(path, "devices file"), str(path))


def site_with_devices(site: Site, devices: Sequence[DeviceBinding]) -> Site:
    """Return ``site`` with ``devices`` as its device list, re-validated."""
    return _replace_devices(site, [d.model_dump(mode="json") for d in devices])


def site_devices_or_file(site: Site) -> Site:
    """The site with its own devices, or with ``devices.yaml`` beside its file if it has none."""
    path = site.base_dir / DEVICES_FILE_NAME
    if site.devices or not path.exists():
        return site
    return site_with_devices(site, load_devices_file(path))


def _replace_devices(site: Site, devices: list[dict[str, Any]]) -> Site:
    data = site.model_dump(mode="json")
    data["devices"] = devices
    return site_from_dict(data, source=site.source, base_dir=site.base_dir)


def unit_plan(site: Site, port: int | None) -> list[tuple[str, int, int]]:
    """(device, port, unit id) of every device of the site on the simulator.

    With ``port``, every device is served on that port with unit ids 1..N in site order;
    without, each keeps the port and unit id the site gives it.
    """
    if port is None:
        return [(d.name, d.port, d.unit_id) for d in site.devices]
    if len(site.devices) > 247:
        msg = f"{len(site.devices)} devices do not fit the unit ids 1..247 of one port"
        raise SiteError.one(site.source, "devices", msg, "serve them on the site's own ports")
    return [(d.name, port, i) for i, d in enumerate(site.devices, start=1)]


def simulator_overrides(site: Site, *, host: str, port: int | None) -> list[DeviceOverride]:
    """Override entries that point the site's devices at a simulator on ``host`` (see unit_plan)."""
    return [
        DeviceOverride(name=n, host=host, port=p, unit_id=u) for n, p, u in unit_plan(site, port)
    ]
