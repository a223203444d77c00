"""``energiemodell release`` and ``run`` against the plant simulator served on 127.0.0.1."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from connectors.modbus_server import ModbusSimServer
from connectors.overrides import apply_device_overrides, simulator_overrides, site_devices_or_file
from connectors.simulator import PlantSimulator
from energiemodell.site import Site
from energiemodell.store import open_db, operator_actions_between, writes_between
from scheduler.cli_run import release

pytestmark = pytest.mark.integration

RUN_APP = """
import logging, sys, typer
from scheduler.cli_run import run
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
typer.run(run)
"""


@pytest.fixture
def served(reference_site: Site, tmp_path: Path) -> Iterator[tuple[PlantSimulator, Path]]:
    """The reference campus simulated and served; a devices file pointing at the server."""
    site = site_devices_or_file(reference_site)
    sim = PlantSimulator(site, start=pd.Timestamp("2024-03-12T05:00Z"))
    units = {i: d.name for i, d in enumerate(site.devices, start=1)}
    with ModbusSimServer(sim, {0: units}) as srv:
        port = srv.ports[0]
        pointed = apply_device_overrides(
            site, simulator_overrides(site, host="127.0.0.1", port=port)
        )
        devices = tmp_path / "devices.yaml"
        devices.write_text(
            yaml.safe_dump([d.model_dump(mode="json") for d in pointed.devices]), encoding="utf-8"
        )
        yield sim, devices


def _remote_enable(sim: PlantSimulator) -> dict[str, object]:
    return {
        n: d.value("remote_enable")
        for n, d in sim.devices.items()
        if "remote_enable" in d.rmap.points
    }


def test_release_hands_every_device_back_and_is_audited(served, tmp_path: Path):
    sim, devices = served
    for name in _remote_enable(sim):  # the optimiser had remote control
        dev = sim.devices[name]
        dev.set_value(
            "remote_enable", True if dev.rmap.points["remote_enable"].table == "coil" else 1
        )
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    app = typer.Typer()
    app.command()(release)
    result = CliRunner().invoke(
        app,
        [
            "reference_campus",
            "--reason",
            "boiler house maintenance",
            "--db",
            url,
            "--devices",
            str(devices),
        ],
    )
    assert result.exit_code == 0, result.output
    assert not any(_remote_enable(sim).values())
    db = open_db(url)
    now = datetime.now(UTC)
    (action,) = operator_actions_between(db=db, start=now - timedelta(hours=1), end=now)
    assert action.action == "release"
    assert action.reason == "boiler house maintenance"
    writes = writes_between(db=db, start=now - timedelta(hours=1), end=now)
    assert {w.device for w in writes} == {"chp1_ctrl", "chp2_ctrl", "bms_gateway"}
    assert all(w.result == "confirmed" and w.value == 0.0 for w in writes)
    db.dispose()


def test_release_needs_a_reason(served):
    _, devices = served
    app = typer.Typer()
    app.command()(release)
    result = CliRunner().invoke(
        app, ["reference_campus", "--reason", " ", "--devices", str(devices)]
    )
    assert result.exit_code == 2
    assert "--reason" in result.output


def test_run_stops_on_sigterm_and_hands_back_to_local_control(served, tmp_path: Path):
    sim, devices = served
    url = f"sqlite:///{tmp_path / 'run.sqlite'}"
    with socket.socket() as s:  # a free port for the dashboard served beside the loop
        s.bind(("127.0.0.1", 0))
        web_port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUN_APP,
            "reference_campus",
            "--mode",
            "auto",
            "--devices",
            str(devices),
            "--port",
            str(web_port),
        ],
        env={
            "ENERGIEMODELL_DB_URL": url,
            "ENERGIEMODELL_HORIZON_H": "4",
            "ENERGIEMODELL_WEB_SECRET_KEY": "x" * 40,
            "PATH": "/usr/bin:/bin",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # running once the heartbeat reaches the gateway
            if sim.devices["bms_gateway"].value("heartbeat"):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the service never beat")
        live = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/health/live", timeout=10)
        assert live.status == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "mode auto" in out
    jobs = next(line for line in out.splitlines() if line.startswith("jobs: "))
    assert "control cycle" in jobs
    assert "heartbeat" in jobs
    assert "housekeeping" in jobs  # the daily retention purges
    assert "stopped (SIGTERM)" in out
    db = open_db(url)
    now = datetime.now(UTC)
    writes = writes_between(db=db, start=now - timedelta(hours=1), end=now + timedelta(minutes=1))
    db.dispose()
    # a control cycle may fall into the test's window (its trigger is the wall clock): its writes
    # come first, the hand-back writes last, and they clear every remote-enable request
    stopped = [w for w in writes if "service stopped (SIGTERM)" in w.reason]
    assert writes[len(writes) - len(stopped) :] == stopped
    assert {w.device for w in stopped} == {"chp1_ctrl", "chp2_ctrl", "bms_gateway"}
    assert all(w.point == "remote_enable" and w.value == 0.0 for w in stopped)
    assert not any(_remote_enable(sim).values())


@pytest.mark.slow
@pytest.mark.solver
def test_demo_command_runs_the_last_two_hours_of_a_day(tmp_path: Path):
    from scheduler.cli_run import demo

    app = typer.Typer()
    app.command()(demo)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["--start", "2024-03-12T22:00", "--out", str(out), "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    assert "8 intervals" in result.output
    assert "0 missed, 0 unconfirmed writes" in result.output
    for label in ("control loop (simulated)", "heat-led rules", "perfect foresight (1 plan)"):
        assert label in result.output
    summary = yaml.safe_load((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["rungs"] == {"fresh": 8}
    assert summary["loop"]["cost_eur"] > 0
    assert (out / "store.sqlite").exists()
    assert len((out / "cycles.csv").read_text(encoding="utf-8").splitlines()) == 9
    # the dashboard the demo serves afterwards reads that store (run directory as "now")
    from fastapi.testclient import TestClient

    from scheduler.cli_run import demo_app

    with TestClient(demo_app(out, datetime(2024, 3, 12, 23, 0, tzinfo=UTC))) as client:
        health = client.get("/health")
    assert health.status_code == 200, health.text
