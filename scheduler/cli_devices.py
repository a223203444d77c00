"""``energiemodell devices read|write|check``: the site's Modbus devices from the command line.

Exit codes: 0 done, 1 failed or refused at run time (a bad reading, a refused or unconfirmed
write, a failed commissioning step), 2 bad input (site file, device, point or value).
The lead wires this in ``scheduler/cli.py`` with ``app.add_typer(devices_app, name="devices")``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from connectors.binding import asset_limits, build_devices
from connectors.commissioning import CheckStatus, commission
from connectors.device import Quality
from connectors.poller import read_devices
from connectors.registers import DataType, Value
from connectors.writer import MemorySink, SafeWriter, WriteResult
from energiemodell.errors import SiteError

if TYPE_CHECKING:
    from connectors.modbus import ModbusDevice
    from energiemodell.site import Site

logger = logging.getLogger(__name__)

devices_app = typer.Typer(
    help="Read, write and commission the site's Modbus devices.", no_args_is_help=True
)

SiteArg = Annotated[str, typer.Argument(help="Site name (reference_campus) or path to site.yaml")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON Lines instead of a table")]


def _fail_input(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _load(site_ref: str) -> Site:
    # pymodbus logs every failed frame at ERROR; the connectors report each fault once, with the
    # device and point, in the output, so keep pymodbus's own messages off the terminal.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    from energiemodell.site import load_site  # the site model pulls in every asset module

    try:
        return load_site(site_ref)
    except SiteError as exc:
        raise _fail_input(str(exc)) from None


@contextmanager
def _devices(site: Site, names: list[str] | None) -> Iterator[list[ModbusDevice]]:
    try:
        all_devices = build_devices(site)
    except SiteError as exc:
        raise _fail_input(str(exc)) from None
    unknown = [n for n in names or [] if n not in all_devices]
    if unknown:
        known = ", ".join(all_devices) or "none"
        msg = f"{site.source}: no device {', '.join(unknown)} (devices: {known})"
        raise _fail_input(msg)
    chosen = [all_devices[n] for n in names] if names else list(all_devices.values())
    if not chosen:
        typer.echo(f"{site.source}: the site has no devices", err=True)
    try:
        yield chosen
    finally:
        for d in all_devices.values():
            d.close()


def _echo_json(obj: dict[str, object]) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False))


@devices_app.command("read")
def read(
    site: SiteArg,
    device: Annotated[
        list[str] | None, typer.Option("--device", help="Only this device (repeatable)")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Read every point of the site's devices (or one device) once.

    Prints one line per point: ts (UTC), device, point, quantity, value, unit, quality.
    Exit 0 if every reading is good, 1 if any is bad.
    """
    s = _load(site)
    with _devices(s, device) as devs:
        readings = read_devices(devs)
    for r in readings:
        if json_out:
            _echo_json(r.as_dict())
        else:
            value = (
                "-"
                if r.value is None
                else f"{r.value:.10g}"
                if isinstance(r.value, float)
                else r.value
            )
            typer.echo(
                f"{r.ts:%Y-%m-%dT%H:%M:%SZ}  {r.device:<16} {r.point:<24} {value!s:>14} "
                f"{r.unit:<5} {r.quantity or '':<22} {r.quality.value}"
                + (f"  {r.detail}" if r.detail else "")
            )
    if any(r.quality is Quality.BAD for r in readings):
        raise typer.Exit(1)


def _parse_value(text: str, dtype: DataType) -> Value:
    if dtype is DataType.BOOL:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        msg = f"a coil takes true or false, not {text!r}"
        raise ValueError(msg)
    v = float(text)
    if not math.isfinite(v):
        msg = f"{text!r} is not a finite number"
        raise ValueError(msg)
    return v


@devices_app.command("write")
def write(
    site: SiteArg,
    device: Annotated[str, typer.Argument(help="Device name from the site")],
    point: Annotated[str, typer.Argument(help="Point name from the device's register map")],
    value: Annotated[str, typer.Argument(help="Engineering units; true/false for coils")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded with the write)")],
    json_out: JsonOpt = False,
) -> None:
    """Write one point: validate against the point's and asset's limits, write, read back.

    Exit 0 if the read-back confirms the value, 1 if refused or not confirmed, 2 for bad input.
    """
    s = _load(site)
    binding = next((d for d in s.devices if d.name == device), None)
    with _devices(s, [device]) as (dev,):
        rmap = dev.register_map
        if point not in rmap.points:
            msg = f"{rmap.model} has no point {point!r} (points: {', '.join(rmap.points)})"
            raise _fail_input(msg)
        try:
            v = _parse_value(value, rmap.point(point).dtype)
        except ValueError as exc:
            msg = f"{device}.{point}: {exc}"
            raise _fail_input(msg) from None
        limits = asset_limits(s, binding, point) if binding is not None else None
        sink = MemorySink()
        rep = SafeWriter(dev, sink).write(point, v, reason=reason, asset_limits=limits, force=True)
    if json_out:
        _echo_json(rep.as_dict())
    else:
        typer.echo(
            f"{rep.ts:%Y-%m-%dT%H:%M:%SZ} {rep.device}.{rep.point} <- {rep.requested!r}: "
            f"{rep.result.value}; written {rep.written!r}, read back {rep.read_back!r}"
            + (f" ({rep.detail})" if rep.detail else "")
        )
    if rep.result is not WriteResult.CONFIRMED:
        raise typer.Exit(1)


@devices_app.command("check")
def check(
    site: SiteArg,
    device: Annotated[
        list[str] | None, typer.Option("--device", help="Only this device (repeatable)")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Commission the devices: read every point, write back safe values, heartbeat drill.

    Exit 0 if no step failed, 1 otherwise.
    """
    s = _load(site)
    sink = MemorySink()
    with _devices(s, device) as devs:
        report = commission(devs, sink)
    for item in report.items:
        if json_out:
            _echo_json(item.as_dict())
        else:
            value = "" if item.value is None else f" = {item.value!r}"
            expected = f" (expected {item.expected})" if item.expected else ""
            detail = f": {item.detail}" if item.detail else ""
            typer.echo(
                f"{item.status.value.upper():<4} {item.device:<16} {item.step:<15} "
                f"{item.point}{value}{expected}{detail}"
            )
    failed = sum(i.status is CheckStatus.FAIL for i in report.items)
    if not json_out:
        typer.echo(f"{len(report.items)} steps, {failed} failed, {len(sink.reports)} writes")
    if failed:
        raise typer.Exit(1)
