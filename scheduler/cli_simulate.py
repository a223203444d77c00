"""``energiemodell simulate``: serve a site's plant simulator over Modbus TCP.

The lead registers it in ``scheduler/cli.py`` with ``app.command()(simulate)``.
Exit codes: 0 done (stopped with Ctrl-C or after ``--run-for``), 1 failed at run time (the port
is taken, the series ended), 2 bad input (site, devices, start, speed).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from connectors.binding import check_site_devices
from connectors.modbus_server import ModbusSimServer
from connectors.overrides import (
    DeviceOverride,
    site_devices_or_file,
    unit_plan,
    write_device_overrides,
)
from connectors.simulator import PaceDriver, PlantSimulator, SimulatorConfig
from energiemodell.errors import SiteError
from energiemodell.site import Site, load_site
from energiemodell.timeseries import parse_local_start

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


def _fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _site(ref: str) -> Site:
    try:
        site = site_devices_or_file(load_site(ref))
    except SiteError as exc:
        raise _fail(str(exc)) from None
    if not site.devices:
        msg = f"{site.source}: the site has no devices and no devices.yaml beside it"
        raise _fail(msg)
    problems = check_site_devices(site)
    if problems:
        raise _fail("\n".join(problems))
    return site


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = float("nan")
    if not speed > 0 or speed == float("inf"):
        msg = f"--speed: {text!r} is not a positive number or 'max'"
        raise _fail(msg)
    return speed


def simulate(
    site: Annotated[str, typer.Argument(help="Site name (reference_campus) or path to site.yaml")],
    host: Annotated[str, typer.Option(help="Address to serve on")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="One port for every device, unit ids 1..N in site order (0: free)")
    ] = 5020,
    site_ports: Annotated[
        bool, typer.Option("--site-ports", help="Serve each device on the port the site gives")
    ] = False,
    start: Annotated[
        str, typer.Option(help="Simulated start: local date or date-time at the site")
    ] = "2024-03-12",
    speed: Annotated[
        str, typer.Option(help="Simulated seconds per real second, or 'max' (a client drives)")
    ] = "1",
    devices_out: Annotated[
        Path, typer.Option(help="Device-binding override file to write (YAML)")
    ] = Path("simulator-devices.yaml"),
    watchdog_s: Annotated[
        float | None, typer.Option(help="Heartbeat watchdog (s) for every device (default: maps)")
    ] = None,
    run_for: Annotated[
        float | None, typer.Option(help="Stop after this many real seconds (default: Ctrl-C)")
    ] = None,
) -> None:
    """Serve every device of SITE over Modbus TCP from a physically consistent plant simulator."""
    logging.getLogger("asyncio").setLevel(logging.WARNING)
    s = _site(site)
    pace = _speed(speed)
    try:
        t0 = parse_local_start(start, s.timezone)
        sim = PlantSimulator(s, start=t0, config=SimulatorConfig(watchdog_s=watchdog_s))
    except SiteError as exc:
        raise _fail(str(exc)) from None
    try:
        plan = unit_plan(s, None if site_ports else port)
    except SiteError as exc:
        raise _fail(str(exc)) from None
    units: dict[int, dict[int, str]] = {}
    for name, p, unit in plan:
        units.setdefault(p, {})[unit] = name
    # With --speed max a client drives time through a clock unit next to the devices.
    clock_unit = None if pace is not None else max(u for _, _, u in plan) + 1
    if clock_unit is not None and clock_unit > 255:
        msg = "--speed max: no unit id is left for the simulation clock (all up to 255)"
        raise _fail(msg)
    server = ModbusSimServer(sim, units, host=host, clock_unit=clock_unit)
    try:
        server.start()
    except OSError as exc:
        msg = f"cannot serve on {host}: {exc}"
        raise _fail(msg, EXIT_FAILED) from None
    driver = PaceDriver(sim, pace) if pace is not None else None
    try:
        bound = [
            DeviceOverride(name=name, host=host, port=server.ports[p], unit_id=unit)
            for name, p, unit in plan
        ]
        write_device_overrides(devices_out, bound)
        _print_mapping(s, bound, devices_out, speed, clock_unit, server)
        if driver is not None:
            driver.start()
        _wait(run_for, driver)
    finally:
        if driver is not None:
            driver.stop()
        server.stop()
    if driver is not None and driver.error is not None:
        msg = f"the simulation stopped at {sim.now}: {driver.error}"
        raise _fail(msg, EXIT_FAILED)


def _wait(run_for: float | None, driver: PaceDriver | None) -> None:
    deadline = None if run_for is None else time.monotonic() + run_for
    try:
        while deadline is None or time.monotonic() < deadline:
            if driver is not None and driver.error is not None:
                return
            time.sleep(0.1 if deadline is None else min(0.1, max(deadline - time.monotonic(), 0)))
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)


def _print_mapping(
    site: Site,
    bound: list[DeviceOverride],
    devices_out: Path,
    speed: str,
    clock_unit: int | None,
    server: ModbusSimServer,
) -> None:
    echo = typer.echo
    ports = sorted({o.port for o in bound})
    where = ", ".join(f"{server.host}:{p}" for p in ports)
    t0 = server.sim.now.tz_convert(site.tz).isoformat()
    echo(f"simulating {site.name} at speed {speed} from {t0} on {where}")
    echo(f"device overrides written to {devices_out}")
    by_name = {d.name: d for d in site.devices}
    echo(f"{'unit':>4}  {'port':>5}  {'device':<20} {'map':<20} asset")
    for o in bound:
        d = by_name[o.name]
        echo(f"{o.unit_id:>4}  {o.port:>5}  {o.name:<20} {d.map:<20} {d.asset or '-'}")
    if clock_unit is not None:
        echo(
            f"{clock_unit:>4}  {ports[0]:>5}  {'(simulation clock)':<20} holding 0..3: uint64 "
            "UTC epoch seconds; write a later time to advance"
        )
