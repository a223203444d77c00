"""Reading over real TCP sockets on 127.0.0.1: two independent servers, and faults."""

from __future__ import annotations

import time

import pytest
from modbus_servers import Bank, FaultServer, PymodbusServer, free_port, serve

from connectors.device import Quality
from connectors.map_files import load_map, map_from_dict
from connectors.modbus import ModbusDevice
from connectors.planning import plan_reads
from connectors.poller import read_devices
from connectors.registers import Table

pytestmark = pytest.mark.integration
SERVERS = ["pymodbus", "pyModbusTCP"]


def device(rmap, port, **kw):
    kw.setdefault("timeout_s", 0.3)
    kw.setdefault("retries", 0)
    return ModbusDevice(name=kw.pop("name", "dev"), rmap=rmap, host="127.0.0.1", port=port, **kw)


def count_reads(bank):
    seen = []
    bank.before_read.append(lambda _b: seen.append(1))
    return seen


@pytest.mark.parametrize("kind", SERVERS)
def test_janitza_block_in_one_request(kind):
    rmap = load_map("janitza_umg96rm")
    bank = Bank.for_map(rmap)
    values = {"u_l1_v": 231.5, "p_sum_w": -123456.0, "f_hz": 49.98, "e_19068_wh": 1.5e6}
    for n, v in values.items():
        bank.set(rmap, n, v)
    reads = count_reads(bank)
    with serve(kind, bank) as srv:
        dev = device(rmap, srv.port, quantities={"p_sum_w": "grid.import_kw"})
        try:
            readings = {r.point: r for r in dev.read_points()}
        finally:
            dev.close()
    assert len(reads) == 1
    assert all(r.quality is Quality.GOOD for r in readings.values())
    for n, v in values.items():
        assert readings[n].value == pytest.approx(v, rel=1e-6)
    r = readings["p_sum_w"]
    assert (r.quantity, r.unit, r.device) == ("grid.import_kw", "W", "dev")
    assert r.ts.utcoffset() is not None
    assert r.ts.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("kind", SERVERS)
def test_float64_counters_scale_factors_bits(kind):
    pac = load_map("siemens_pac3200")
    sun = load_map("sunspec_124_battery")
    chp = load_map("chp_controller")
    banks = {m.model: Bank.for_map(m) for m in (pac, sun, chp)}
    banks[pac.model].set(pac, "e_import_wh", 123456789.125)
    banks[pac.model].set(pac, "p_total_w", 4200.5)
    b = banks[sun.model]
    b.set(sun, "sunspec_marker", 0x53756E53)
    b.set(sun, "cha_state_sf", -1)
    b.set(sun, "cha_state", 55.5, -1)
    b.set(sun, "w_sf", 1)
    b.set(sun, "w", -2500.0, 1)
    b.set_words(Table.HOLDING, sun.points["st"].address, [0xFFFF])  # not implemented
    b = banks[chp.model]
    b.set(chp, "p_el_kw", 799.5)
    b.set(chp, "running", True)
    b.set(chp, "p_el_setpoint_kw", 800.0)
    with (
        serve(kind, banks["siemens_pac3200"]) as s1,
        serve(kind, banks["sunspec_124_battery"]) as s2,
        serve(kind, banks["chp_controller"]) as s3,
    ):
        devs = [
            device(pac, s1.port, name="pac"),
            device(sun, s2.port, name="bat"),
            device(chp, s3.port, name="chp"),
        ]
        try:
            got = {(r.device, r.point): r for r in read_devices(devs)}
        finally:
            for d in devs:
                d.close()
    assert got["pac", "e_import_wh"].value == 123456789.125
    assert got["pac", "p_total_w"].value == pytest.approx(4200.5)
    assert got["bat", "sunspec_marker"].value == 0x53756E53
    assert got["bat", "cha_state"].value == pytest.approx(55.5)
    assert got["bat", "w"].value == pytest.approx(-2500.0)
    assert got["bat", "st"].quality is Quality.BAD
    assert got["bat", "st"].value is None
    assert got["chp", "running"].value is True
    assert got["chp", "fault"].value is False
    assert got["chp", "p_el_setpoint_kw"].value == pytest.approx(800.0)
    assert got["chp", "p_el_kw"].quality is Quality.GOOD


GAPPY = {
    "model": "gappy",
    "max_gap": 20,
    "points": {
        "a": {"table": "holding", "address": 0, "type": "int16"},
        "b": {"table": "holding", "address": 5, "type": "int16"},
        "c": {"table": "holding", "address": 12, "type": "int16"},
    },
}


@pytest.mark.parametrize("kind", SERVERS)
def test_illegal_address_is_isolated_to_the_point(kind):
    rmap = map_from_dict(GAPPY)
    assert len(plan_reads(rmap)) == 1
    bank = Bank({Table.HOLDING: (0, 10)})  # the device has no register 12
    bank.set(rmap, "a", -7)
    bank.set(rmap, "b", 9)
    with serve(kind, bank) as srv:
        dev = device(rmap, srv.port)
        try:
            got = {r.point: r for r in dev.read_points()}
        finally:
            dev.close()
    assert (got["a"].value, got["b"].value) == (-7, 9)
    assert got["c"].quality is Quality.BAD
    assert "exception 02" in got["c"].detail
    assert "configuration error" in got["c"].detail


def test_transient_exception_is_reported_and_not_backed_off():
    rmap = load_map("tank_sensors")
    bank = Bank.for_map(rmap)
    bank.exception_at[(Table.INPUT, 2)] = 6
    with serve("pymodbus", bank) as srv:
        dev = device(rmap, srv.port)
        try:
            for _ in range(3):
                got = dev.read_points()
                assert {r.quality for r in got} == {Quality.BAD}
                assert "exception 06 (device busy, transient)" in got[0].detail
            del bank.exception_at[(Table.INPUT, 2)]
            assert {r.quality for r in dev.read_points()} == {Quality.GOOD}
        finally:
            dev.close()


def test_refused_connection_is_bad_fast():
    rmap = load_map("tank_sensors")
    dev = device(rmap, free_port())
    t0 = time.monotonic()
    got = dev.read_points()
    dev.close()
    assert time.monotonic() - t0 < 1.0
    assert {r.quality for r in got} == {Quality.BAD}
    assert all(r.value is None for r in got)
    assert "connection refused" in got[0].detail


@pytest.mark.parametrize(
    "mode",
    [
        "silent",
        "garbage",
        "truncated",
        "reset",
        "close",
        "slow",
        "wrong_tid",
        "wrong_unit",
        "bad_protocol",
        "short_count",
    ],
)
def test_faulty_server_gives_bad_readings_without_hanging(mode):
    rmap = load_map("tank_sensors")
    with FaultServer(mode) as srv:
        dev = device(rmap, srv.port, retries=1)
        t0 = time.monotonic()
        got = dev.read_points()
        elapsed = time.monotonic() - t0
        dev.close()
    assert {r.quality for r in got} == {Quality.BAD}
    assert all(r.value is None for r in got)
    # one block, two attempts of at most 0.3 s each, plus the pause between them
    assert elapsed < 1.2
    assert srv.requests >= 1


def test_response_in_one_byte_segments_is_decoded():
    rmap = load_map("tank_sensors")
    with FaultServer("split") as srv:
        dev = device(rmap, srv.port, timeout_s=1.0)
        got = dev.read_points()
        dev.close()
    assert {r.quality for r in got} == {Quality.GOOD}
    assert [r.value for r in got] == [0.0] * 5


def test_exception_response_from_a_foreign_server():
    rmap = load_map("tank_sensors")
    with FaultServer("exception:4") as srv:
        dev = device(rmap, srv.port)
        got = dev.read_points()
        dev.close()
    assert "exception 04 (device failure, transient)" in got[0].detail


def test_server_restart_mid_run_goes_stale_then_good():
    rmap = load_map("tank_sensors")
    bank = Bank.for_map(rmap)
    bank.set(rmap, "t_top_c", 85.3)
    port = free_port()
    dev = device(rmap, port, stale_after_s=60, backoff_base_s=0.0)
    try:
        with PymodbusServer(bank, port=port):
            first = {r.point: r for r in dev.read_points()}
        assert first["t_top_c"].quality is Quality.GOOD
        down = {r.point: r for r in dev.read_points()}
        assert down["t_top_c"].quality is Quality.STALE
        assert down["t_top_c"].value == pytest.approx(85.3)
        assert down["t_top_c"].ts == first["t_top_c"].ts  # the original time, not now
        bank.set(rmap, "t_top_c", 86.0)
        with PymodbusServer(bank, port=port):
            again = {r.point: r for r in dev.read_points()}
        assert again["t_top_c"].quality is Quality.GOOD
        assert again["t_top_c"].value == pytest.approx(86.0)
    finally:
        dev.close()


def test_failing_device_is_backed_off_and_does_not_stall_others():
    rmap = load_map("tank_sensors")
    bank = Bank.for_map(rmap)
    with FaultServer("silent") as dead, serve("pymodbus", bank) as alive:
        bad = device(rmap, dead.port, name="dead", backoff_base_s=30)
        good = [device(rmap, alive.port, name=f"ok{i}") for i in range(4)]
        try:
            t0 = time.monotonic()
            first = read_devices([bad, *good])
            t_first = time.monotonic() - t0
            read_devices([bad])  # second failure in a row: backed off from here
            t0 = time.monotonic()
            third = read_devices([bad, *good])
            t_third = time.monotonic() - t0
        finally:
            for d in (bad, *good):
                d.close()
    assert t_first < 0.6  # concurrent: the dead device costs one timeout, not one per device
    assert t_third < 0.2  # backed off: not asked at all
    assert {r.quality for r in first if r.device != "dead"} == {Quality.GOOD}
    dead_now = [r for r in third if r.device == "dead"]
    assert {r.quality for r in dead_now} == {Quality.BAD}
    assert "backed off" in dead_now[0].detail
