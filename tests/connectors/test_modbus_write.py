"""Writing over real sockets: verified writes, heartbeat and the remote-enable handshake."""

from __future__ import annotations

import time

import pytest
from modbus_servers import Bank, BmsBehaviour, FaultServer, serve

from connectors.map_files import load_map
from connectors.modbus import ModbusDevice
from connectors.registers import Table
from connectors.writer import (
    Heartbeat,
    MemorySink,
    SafeWriter,
    WriteResult,
    enable_remote,
    release_remote,
    remote_state,
    wait_for_state,
)

pytestmark = pytest.mark.integration
SERVERS = ["pymodbus", "pyModbusTCP"]


def device(rmap, port):
    return ModbusDevice(
        name="dev", rmap=rmap, host="127.0.0.1", port=port, timeout_s=0.3, retries=0
    )


@pytest.mark.parametrize("kind", SERVERS)
def test_writes_of_every_kind_are_confirmed_on_the_wire(kind):
    chp, sun = load_map("chp_controller"), load_map("sunspec_124_battery")
    bank_c, bank_s = Bank.for_map(chp), Bank.for_map(sun)
    bank_s.set(sun, "in_out_w_rte_sf", -1)
    with serve(kind, bank_c) as s1, serve(kind, bank_s) as s2:
        dc, ds = device(chp, s1.port), device(sun, s2.port)
        sink = MemorySink()
        try:
            wc, ws = SafeWriter(dc, sink), SafeWriter(ds, sink)
            assert wc.write("p_el_setpoint_kw", 812.3, reason="t").result is WriteResult.CONFIRMED
            assert wc.write("start_request", True, reason="t").result is WriteResult.CONFIRMED
            assert ws.write("out_w_rte", -55.5, reason="t").result is WriteResult.CONFIRMED
            assert ws.write("stor_ctl_mod", 2, reason="t").result is WriteResult.CONFIRMED
            refused = wc.write("p_el_setpoint_kw", 6000, reason="t")
        finally:
            dc.close()
            ds.close()
    # what the server holds, decoded independently of our decoder
    assert bank_c.get_words(Table.HOLDING, 100, 1) == [8123]
    assert bank_c.get_words(Table.COIL, 0, 1) == [1]
    assert bank_s.get_words(Table.HOLDING, 40134, 1) == [65536 - 555]
    assert bank_s.get_words(Table.HOLDING, 40127, 1) == [2]
    assert refused.result is WriteResult.REFUSED
    assert len(sink.reports) == 5


@pytest.mark.parametrize("kind", SERVERS)
def test_device_range_check_exception_is_a_refusal(kind):
    rmap = load_map("bms_gateway")
    bank = Bank.for_map(rmap)
    bank.exception_at[(Table.HOLDING, 10)] = 3  # the gateway's own range check
    with serve(kind, bank) as srv:
        dev = device(rmap, srv.port)
        try:
            rep = SafeWriter(dev, MemorySink()).write("chp1_p_el_kw_set", 100, reason="t")
        finally:
            dev.close()
    assert rep.result is WriteResult.REFUSED
    assert "exception 03" in rep.detail


def test_write_to_a_silent_device_fails_without_hanging():
    with FaultServer("silent") as srv:
        dev = device(load_map("bms_gateway"), srv.port)
        t0 = time.monotonic()
        rep = SafeWriter(dev, MemorySink()).write("chp1_p_el_kw_set", 100, reason="t")
        dev.close()
    assert rep.result is WriteResult.FAILED
    assert time.monotonic() - t0 < 1.0


@pytest.mark.parametrize("kind", SERVERS)
def test_heartbeat_remote_enable_and_heartbeat_loss(kind):
    rmap = load_map("bms_gateway")
    bank = Bank.for_map(rmap)
    BmsBehaviour(rmap, bank, watchdog_s=0.6)
    with serve(kind, bank) as srv:
        dev = device(rmap, srv.port)
        sink = MemorySink()
        writer = SafeWriter(dev, sink)
        hb = Heartbeat(dev, period_s=0.1)
        try:
            assert remote_state(dev) is False
            with hb:
                rep = enable_remote(writer, hb, reason="test handshake", timeout_s=2)
                assert rep.result is WriteResult.CONFIRMED
                assert remote_state(dev) is True
                time.sleep(0.8)  # longer than the watchdog: the beating keeps it remote
                assert remote_state(dev) is True
                assert hb.counter >= 5
                assert hb.failures == 0
            # heartbeat stopped: the gateway falls back to local control
            assert wait_for_state(dev, False, timeout_s=2, poll_s=0.05)
            assert bank.get_words(Table.HOLDING, 1, 1) == [0]
            release = release_remote(writer, reason="test done")
            assert release.ok
        finally:
            hb.stop()
            dev.close()
    beats = [w for w in bank.writes if w[1] == 0]
    values = [w[2][0] for w in beats]
    assert values == sorted(values)  # incrementing counter
    assert len(set(values)) == len(values)


def test_remote_enable_not_confirmed_without_a_live_gateway_logic():
    rmap = load_map("bms_gateway")
    bank = Bank.for_map(rmap)  # no BmsBehaviour: local_state stays 0
    with serve("pymodbus", bank) as srv:
        dev = device(rmap, srv.port)
        sink = MemorySink()
        try:
            with Heartbeat(dev, period_s=0.1) as hb:
                rep = enable_remote(SafeWriter(dev, sink), hb, reason="t", timeout_s=0.3)
        finally:
            dev.close()
    assert rep.result is WriteResult.NOT_CONFIRMED
    assert "did not report remote control" in rep.detail
    assert sink.reports[-1] is rep
