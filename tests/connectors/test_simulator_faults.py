"""Faults injected into simulated devices, as the connectors see them (MODBUS.md section 4)."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator

import pandas as pd
import pytest

from connectors.binding import build_devices
from connectors.device import Quality
from connectors.errors import ConnectorError, DeviceUnavailable
from connectors.modbus import ModbusDevice
from connectors.modbus_server import ModbusSimServer
from connectors.overrides import (
    apply_device_overrides,
    simulator_overrides,
    site_devices_or_file,
    unit_plan,
)
from connectors.sim_devices import FaultKind
from connectors.simulator import PlantSimulator
from connectors.writer import MemorySink, SafeWriter, WriteResult
from energiemodell.site import Site

START = pd.Timestamp("2024-03-12T06:00:00+01:00")
TIMEOUT_S = 0.3


@pytest.fixture(scope="module")
def sim(reference_site: Site) -> PlantSimulator:
    return PlantSimulator(site_devices_or_file(reference_site), start=START)


@pytest.fixture(scope="module")
def served(sim: PlantSimulator) -> Iterator[dict[str, ModbusDevice]]:
    """Every device over Modbus, with short timeouts, no retries and almost no back-off."""
    units = {0: {u: name for name, _, u in unit_plan(sim.site, 0)}}
    with ModbusSimServer(sim, units) as srv:
        site = apply_device_overrides(
            sim.site, simulator_overrides(sim.site, host="127.0.0.1", port=srv.ports[0])
        )
        devices = {
            n: dataclasses.replace(d, timeout_s=TIMEOUT_S, retries=0, backoff_base_s=0.01)
            for n, d in build_devices(site).items()
        }
        yield devices
        for d in devices.values():
            d.close()


@pytest.fixture
def clean(sim: PlantSimulator) -> Iterator[PlantSimulator]:
    yield sim
    for name in sim.devices:
        sim.clear_faults(name)


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    out: list[float] = []
    t0 = time.monotonic()
    yield out
    out.append(time.monotonic() - t0)


def read_one(dev, point: str = "p_sum_w"):
    (r,) = dev.read_points([point])
    return r


pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("kind", "delay_s"), [(FaultKind.SILENT, 0.0), (FaultKind.SLOW, 1.0)])
def test_silent_or_too_slow_device_times_out_and_readings_go_stale(
    served, clean, kind: FaultKind, delay_s: float
):
    dev = served["grid_meter"]
    good = read_one(dev)
    assert good.quality is Quality.GOOD
    clean.set_fault("grid_meter", kind, delay_s=delay_s)
    with timed() as took:
        r = read_one(dev)
    # pymodbus: ModbusIOException after the timeout -> DeviceUnavailable -> last value, stale
    assert took[0] >= TIMEOUT_S * 0.9
    assert r.quality is Quality.STALE
    assert r.value == good.value
    assert r.ts == good.ts
    assert "no valid answer" in r.detail
    clean.clear_faults("grid_meter")
    time.sleep(0.05)  # past the back-off
    assert read_one(dev).quality is Quality.GOOD


def test_a_slow_device_within_the_timeout_answers_late(served, clean):
    dev = served["grid_meter"]
    clean.set_fault("grid_meter", FaultKind.SLOW, delay_s=0.15)
    with timed() as took:
        r = read_one(dev)
    assert r.quality is Quality.GOOD
    assert took[0] >= 0.15


@pytest.mark.parametrize(
    ("code", "kind"), [(4, "device failure, transient"), (2, "configuration error")]
)
def test_exception_codes_are_reported_with_their_class(served, clean, code: int, kind: str):
    dev = served["chp1_ctrl"]
    clean.set_fault("chp1_ctrl", FaultKind.EXCEPTION, code=code)
    readings = dev.read_points()
    assert {r.quality for r in readings} <= {Quality.BAD, Quality.STALE}
    assert all(f"exception {code:02d}" in r.detail and kind in r.detail for r in readings)
    error = DeviceUnavailable if code == 4 else ConnectorError
    with pytest.raises(error) as exc_info:
        dev.write_point("heartbeat", 1)
    assert exc_info.value.code == code


def test_a_dropped_connection_is_a_device_unavailable(served, clean):
    dev = served["pv_meter"]
    assert read_one(dev, "p_total_w").quality is Quality.GOOD
    clean.set_fault("pv_meter", FaultKind.DROP)
    with timed() as took:
        r = read_one(dev, "p_total_w")
    assert r.quality is Quality.STALE
    assert "no valid answer" in r.detail
    assert took[0] < TIMEOUT_S  # a FIN is seen at once, no timeout (MODBUS.md section 4)
    clean.set_fault("chp2_ctrl", FaultKind.DROP)
    with pytest.raises(DeviceUnavailable, match="no valid answer"):
        served["chp2_ctrl"].write_point("heartbeat", 1)


def test_a_frozen_meter_keeps_answering_with_an_old_value(served, clean):
    dev = served["grid_meter"]
    before = read_one(dev)
    clean.set_fault("grid_meter", FaultKind.STALE)
    clean.advance_to(clean.now + pd.Timedelta(hours=2))
    after = read_one(dev)
    truth = clean.quantities()["grid.net_import_kw"] * 1000
    # Good quality on the wire: only the value's standstill against the plant gives it away.
    assert after.quality is Quality.GOOD
    assert after.value == before.value
    assert truth != pytest.approx(before.value, abs=1000)
    clean.clear_faults("grid_meter")
    clean.advance_to(clean.now + pd.Timedelta(minutes=1))
    assert read_one(dev).value == pytest.approx(clean.quantities()["grid.net_import_kw"] * 1000)


def test_a_device_that_ignores_writes_fails_the_read_back(served, clean):
    dev = served["chp1_ctrl"]
    writer = SafeWriter(dev, MemorySink())
    clean.set_fault("chp1_ctrl", FaultKind.IGNORE_WRITES)
    report = writer.write("p_el_setpoint_kw", 480.0, reason="test")
    assert report.result is WriteResult.NOT_CONFIRMED
    assert report.read_back == pytest.approx(0.0)
    clean.clear_faults("chp1_ctrl")
    assert writer.write("p_el_setpoint_kw", 480.0, reason="test").result is WriteResult.CONFIRMED


def test_faults_surface_the_same_way_without_sockets(sim: PlantSimulator, clean):
    dev = sim.device("grid_meter", timeout_s=0.05)
    good = read_one(dev)
    assert good.quality is Quality.GOOD
    for kind in (FaultKind.SILENT, FaultKind.DROP):
        sim.set_fault("grid_meter", kind)
        r = read_one(dev)
        assert (r.quality, r.value) == (Quality.STALE, good.value)
        sim.clear_faults("grid_meter")
    sim.set_fault("grid_meter", FaultKind.EXCEPTION, code=6)
    assert "exception 06 (device busy, transient)" in read_one(dev).detail
