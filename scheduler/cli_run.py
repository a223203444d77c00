"""``energiemodell run`` and ``release``: the control loop from the command line.

The lead registers these in ``scheduler/cli.py`` (``app.command()(run)`` ...). Exit codes as in
docs/cli.md: 0 done, 1 failed or refused at run time, 2 bad input. The ``demo`` command lives in
``scheduler.cli_demo`` and is re-exported here, where it used to be.
"""

from __future__ import annotations

import getpass
import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from connectors.binding import build_devices
from connectors.overrides import load_devices_file, site_devices_or_file, site_with_devices
from connectors.writer import SafeWriter
from energiemodell.errors import SiteError
from energiemodell.site import Site, load_site
from energiemodell.store import StoreError, open_db, upgrade
from scheduler.alarms import bms_writer, delivery_from
from scheduler.cli_demo import demo, demo_app
from scheduler.clock import SystemClock
from scheduler.deps import build_deps
from scheduler.dispatch import release as release_devices
from scheduler.housekeeping import housekeeping_job
from scheduler.jobs import start_jobs
from scheduler.journal import Journal
from scheduler.loop import CycleReport, run_cycle
from scheduler.policy import Mode
from scheduler.settings import Settings
from scheduler.web import BackgroundServer, ConfigError, WebSettings, create_app

__all__ = ["demo", "demo_app", "release", "run"]

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2

SiteArg = Annotated[str, typer.Argument(help="Site file, directory or shipped name")]
DbOpt = Annotated[
    str | None, typer.Option("--db", help="Store URL (default: $ENERGIEMODELL_DB_URL)")
]
DevicesOpt = Annotated[
    Path | None,
    typer.Option("--devices", help="YAML list of device bindings replacing the site's devices"),
]


def _fail_input(message: object) -> typer.Exit:
    typer.echo(str(message), err=True)
    return typer.Exit(EXIT_INPUT)


def _settings(**given: Any) -> Settings:
    """Settings from the environment, with the CLI flags that were given on top."""
    try:
        return Settings(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        msg = f"settings: {exc}"
        raise _fail_input(msg) from None


def _site(ref: str, devices_file: Path | None) -> Site:
    try:
        site = load_site(ref)
        if devices_file is not None:
            return site_with_devices(site, load_devices_file(devices_file))
        return site_devices_or_file(site)
    except SiteError as exc:
        raise _fail_input(exc) from None


# --- run ------------------------------------------------------------------------------------------


def run(
    site: SiteArg,
    db: DbOpt = None,
    mode: Annotated[
        str | None, typer.Option(help="shadow | review | auto (default: the site's, shadow)")
    ] = None,
    devices: DevicesOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Serve the dashboard on this address (default 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Serve the dashboard on this port (default: not served)")
    ] = None,
) -> None:
    """Run the control loop: read, plan and (in auto mode) dispatch every interval until stopped.

    SIGTERM or SIGINT stop it gracefully: a running cycle finishes (one waiting for its interval
    writes nothing), then every device is handed back to local control (unless in shadow mode,
    which never writes).
    """
    if mode is not None and mode not in ("shadow", "review", "auto"):
        msg = f"--mode: {mode!r} is not shadow, review or auto"
        raise _fail_input(msg)
    settings = _settings(db_url=db, mode=mode, devices_file=devices, host=host, port=port)
    s = _site(site, settings.devices_file)
    try:
        store = open_db(settings.db_url)
        upgrade(db=store)
    except StoreError as exc:
        typer.echo(f"store: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    try:
        modbus = build_devices(s)
    except SiteError as exc:
        raise _fail_input(exc) from None
    web = None
    if host is not None or port is not None:
        try:
            web_settings = WebSettings(db_url=settings.db_url, site=site)
            web_settings.check()
            web = BackgroundServer(create_app(web_settings), settings.host, settings.port)
        except (ConfigError, ValidationError) as exc:
            msg = f"dashboard: {exc}"
            raise _fail_input(msg) from None
    clock = SystemClock()
    deps = build_deps(s, db=store, clock=clock, devices=dict(modbus), settings=settings)
    writes = deps.policy.mode is not Mode.SHADOW
    alarms = delivery_from(
        db=store,
        site=s.name,
        bms=bms_writer(deps.writers) if writes else None,
        smtp_host=settings.alarm_smtp_host,
        smtp_port=settings.alarm_smtp_port,
        sender=settings.alarm_email_from,
        recipients=settings.alarm_email_to,
        webhook_url=settings.alarm_webhook_url,
        min_severity=settings.alarm_min_severity,
    )

    def cycle() -> None:
        report = run_cycle(deps, clock.now())
        alarms.after_cycle(report.alarms, now=report.started_at, journal=deps.journal)
        _report(report)

    typer.echo(
        f"energiemodell run: site {s.name}, {len(modbus)} devices, mode {deps.policy.mode}, "
        f"store {store!r}, horizon {deps.planner.n} intervals, lead {s.control.lead_time_s:g} s"
    )

    def beat() -> None:
        for hb in deps.heartbeats.values():
            hb.beat()

    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()
        clock.interrupt()

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    if web is not None:
        web.start()
        typer.echo(f"dashboard: {web.url}/")
    scheduler = start_jobs(
        cycle=cycle,
        heartbeat=beat if writes else None,
        period_s=60 * s.step_min,
        lead_s=s.control.lead_time_s,
        heartbeat_s=settings.heartbeat_s,
        misfire_grace_s=settings.misfire_grace_s,
        housekeeping=housekeeping_job(db=store, now=clock.now),
    )
    typer.echo("jobs: " + ", ".join(f"{j.name} ({j.trigger})" for j in scheduler.get_jobs()))
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        if web is not None:
            web.stop()
        for sig, handler in old.items():
            signal.signal(sig, handler)
        why = received[0] if received else "stop"
        if writes:
            for r in release_devices(deps.writers, reason=f"service stopped ({why})"):
                typer.echo(f"released {r.device}.{r.point}: {r.result} {r.detail}".rstrip())
        deps.journal.flush()
        for dev in modbus.values():
            dev.close()
        store.dispose()
    typer.echo(f"stopped ({why}); {deps.journal.pending} records could not be stored")


def _report(r: CycleReport) -> None:
    logger.info(
        "interval %s: %s, %s, schedule v%s, %d writes, %d alarms",
        r.interval_start.isoformat(),
        r.rung,
        "written" if r.written else "not written",
        r.schedule_id,
        len(r.writes),
        len(r.alarms),
    )


# --- release --------------------------------------------------------------------------------------


def release(
    site: SiteArg,
    reason: Annotated[str, typer.Option(help="Why control is handed back (audited)")],
    db: DbOpt = None,
    devices: DevicesOpt = None,
) -> None:
    """Hand every device back to local control at once (remote-enable off), audited.

    A running ``energiemodell run`` sees the release in the store and stays in local control
    until it is restarted or an operator approves again.
    """
    if not reason.strip():
        msg = "--reason: say why control is handed back"
        raise _fail_input(msg)
    settings = _settings(db_url=db, devices_file=devices)
    s = _site(site, settings.devices_file)
    try:
        modbus = build_devices(s)
    except SiteError as exc:
        raise _fail_input(exc) from None
    try:
        store = open_db(settings.db_url)
        upgrade(db=store)
    except StoreError as exc:
        typer.echo(f"store: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    journal = Journal(store, source="release")
    now = datetime.now(UTC)
    actor = f"cli:{getpass.getuser()}"
    journal.operator_action(ts=now, actor=actor, action="release", reason=reason)
    writers = {n: SafeWriter(d, journal) for n, d in modbus.items()}
    try:
        reports = release_devices(writers, reason=f"operator release by {actor}: {reason}")
    finally:
        for dev in modbus.values():
            dev.close()
        stored = journal.flush()
        store.dispose()
    for r in reports:
        typer.echo(f"{r.device}.{r.point}: {r.result} {r.detail}".rstrip())
    if not reports:
        typer.echo(f"{s.source}: no device has a remote-enable point; nothing to release")
    if not stored:
        typer.echo(f"store: the release could not be recorded: {journal.last_error}", err=True)
    if not stored or not all(r.ok for r in reports):
        raise typer.Exit(EXIT_FAILED)
