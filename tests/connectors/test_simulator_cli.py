"""``energiemodell simulate``: bad input, and a served campus driven through its clock unit."""

from __future__ import annotations

import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import typer
import yaml
from pyModbusTCP.client import ModbusClient
from typer.testing import CliRunner

from connectors.map_files import load_map
from connectors.registers import decode
from scheduler.cli_simulate import simulate

APP = """
import typer
from scheduler.cli_simulate import simulate
app = typer.Typer()
app.command()(simulate)
app()
"""


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(simulate)
    return app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_site"], "not a shipped site"),
        (["reference_campus", "--speed", "fast"], "--speed: 'fast' is not a positive number"),
        (["reference_campus", "--speed", "-2"], "is not a positive number"),
        (["reference_campus", "--start", "2024-03-31T02:30"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_message(args: list[str], message: str, tmp_path: Path):
    out = tmp_path / "devices.yaml"
    result = CliRunner().invoke(_app(), [*args, "--devices-out", str(out), "--run-for", "0"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists()


def test_a_site_without_devices_is_refused(write_site, tmp_path: Path):
    site = write_site(tmp_path / "site")
    result = CliRunner().invoke(_app(), [str(site), "--run-for", "0"])
    assert result.exit_code == 2
    assert "has no devices and no devices.yaml" in result.output


def _words_of_epoch(ts: pd.Timestamp) -> list[int]:
    return list(struct.unpack(">4H", struct.pack(">Q", int(ts.timestamp()))))


@pytest.mark.integration
def test_simulate_serves_the_campus_and_a_client_drives_the_clock(tmp_path: Path):
    out = tmp_path / "sim-devices.yaml"
    cmd = [sys.executable, "-c", APP, "reference_campus", "--port", "0", "--speed", "max"]
    cmd += ["--devices-out", str(out), "--run-for", "30"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + 20
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written before the table is printed
        entries = yaml.safe_load(out.read_text(encoding="utf-8"))
        assert [e["unit_id"] for e in entries] == list(range(1, 11))
        assert entries[0] == {
            "name": "grid_meter",
            "host": "127.0.0.1",
            "port": entries[0]["port"],
            "unit_id": 1,
        }
        port = entries[0]["port"]
        c = ModbusClient(host="127.0.0.1", port=port, unit_id=11, timeout=5.0, auto_open=True)
        try:
            start = pd.Timestamp("2024-03-12T00:00:00+01:00")
            assert c.read_holding_registers(0, 4) == _words_of_epoch(start)
            later = start + pd.Timedelta(hours=6)
            assert c.write_multiple_registers(0, _words_of_epoch(later))
            assert c.read_holding_registers(0, 4) == _words_of_epoch(later)
            assert not c.write_multiple_registers(0, _words_of_epoch(start))  # no way back
            assert c.last_except == 3
            c.unit_id = 1  # the grid meter's export counter has run for six hours
            words = c.read_holding_registers(19076, 2)
            exported_wh = decode(load_map("janitza_umg96rm"), "e_19076_wh", words)
            assert isinstance(exported_wh, float)
            assert exported_wh > 0
        finally:
            c.close()
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    assert "simulating reference_campus at speed max from 2024-03-12T00:00:00+01:00" in stdout
    assert "  10  " in stdout
    assert "bms_gateway" in stdout
    assert "(simulation clock)" in stdout
