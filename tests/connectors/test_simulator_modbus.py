"""The plant simulator over Modbus TCP, seen by the connectors and by an independent client."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator

import pandas as pd
import pytest
from pyModbusTCP.client import ModbusClient

from connectors.binding import build_devices
from connectors.commissioning import CheckStatus, commission
from connectors.device import Quality
from connectors.estimates import storage_level_kwh
from connectors.modbus import ModbusDevice
from connectors.modbus_server import ModbusSimServer
from connectors.overrides import (
    apply_device_overrides,
    simulator_overrides,
    site_devices_or_file,
    unit_plan,
)
from connectors.poller import read_devices, site_quantities
from connectors.registers import decode
from connectors.simulator import TANK_TEMPS_C, PlantSimulator, SimulatorConfig
from connectors.writer import Heartbeat, MemorySink, SafeWriter, WriteResult, enable_remote
from energiemodell.site import Site

pytestmark = pytest.mark.integration

START = pd.Timestamp("2024-03-12T00:00:00+01:00")


@pytest.fixture(scope="module")
def campus(reference_site: Site) -> Site:
    return site_devices_or_file(reference_site)


@dataclasses.dataclass
class Running:
    sim: PlantSimulator
    site: Site
    port: int
    devices: dict[str, ModbusDevice]

    def read(self, device: str, point: str):
        (r,) = self.devices[device].read_points([point])
        return r


@contextlib.contextmanager
def running(site: Site, *, watchdog_s: float | None = None) -> Iterator[Running]:
    sim = PlantSimulator(site, start=START, config=SimulatorConfig(watchdog_s=watchdog_s))
    units = {0: {u: name for name, _, u in unit_plan(site, 0)}}
    with ModbusSimServer(sim, units) as srv:
        port = srv.ports[0]
        bound = apply_device_overrides(site, simulator_overrides(site, host="127.0.0.1", port=port))
        devices = build_devices(bound)
        try:
            yield Running(sim, bound, port, devices)
        finally:
            for d in devices.values():
                d.close()


def sim_clock(sim: PlantSimulator):
    return lambda: sim.now.to_pydatetime()


def test_connectors_read_every_point_of_the_reference_campus_with_good_quality(campus: Site):
    with running(campus) as run:
        run.sim.advance_to(START + pd.Timedelta(minutes=45))
        readings = read_devices(list(run.devices.values()))
        expected = sum(len(d.register_map.points) for d in run.devices.values())
        assert len(readings) == expected
        assert [r for r in readings if r.quality is not Quality.GOOD] == []
        measured = site_quantities(readings, run.site.devices)
        truth = run.sim.quantities()
        compared = [q for q in measured if q in truth]
        for q in compared:  # float32 registers: about 7 significant digits
            assert measured[q].value == pytest.approx(truth[q], rel=1e-5, abs=1e-3), q
        assert len(compared) >= 14, compared
        for name in ("chp1.p_el_kw", "boilers.q_kw", "grid.net_import_kw", "pv.p_kw"):
            assert name in compared
        assert truth["grid.export_kwh"] > 0
        # Tank temperatures give back the stored heat through the connectors' estimate.
        for tank in ("tes_heat", "tes_cold"):
            store = run.sim.plant.stores[tank]
            temps = [
                measured[f"{tank}.t_{x}_c"].value
                for x in ("top", "upper", "middle", "lower", "bottom")
            ]
            t_empty, t_full = TANK_TEMPS_C[store.carrier]
            est = storage_level_kwh(
                temps, capacity_kwh=store.capacity_kwh, t_empty_c=t_empty, t_full_c=t_full
            )
            step = 0.05 / abs(t_full - t_empty) * store.capacity_kwh  # 0.1 K register steps
            assert est == pytest.approx(store.level_kwh, abs=step + 1e-6), tank


def test_an_independent_client_reads_and_writes_the_same_registers(campus: Site):
    with running(campus) as run:
        run.sim.advance_to(START + pd.Timedelta(minutes=30))
        grid_map = run.devices["grid_meter"].register_map
        chp_map = run.devices["chp1_ctrl"].register_map
        c = ModbusClient(host="127.0.0.1", port=run.port, unit_id=1, timeout=2.0, auto_open=True)
        try:
            words = c.read_holding_registers(19026, 2)
            assert decode(grid_map, "p_sum_w", words) == run.read("grid_meter", "p_sum_w").value
            c.unit_id = 3
            regs = c.read_input_registers(0, 4)
            assert decode(chp_map, "p_el_kw", regs[:2]) == run.read("chp1_ctrl", "p_el_kw").value
            assert decode(chp_map, "p_el_kw", regs[:2]) == pytest.approx(
                run.sim.quantities()["chp1.p_el_kw"]
            )
            assert c.read_discrete_inputs(0, 4) == [True, False, True, False]
            assert c.write_single_register(101, 4242)
            assert run.read("chp1_ctrl", "heartbeat").value == 4242
            c.unit_id = 99  # not served: gateway target failed to respond
            assert c.read_holding_registers(0, 1) is None
            assert c.last_except == 11
            c.unit_id = 3  # a write outside the limits is refused with exception 03
            assert not c.write_single_register(100, 60000)
            assert c.last_except == 3
        finally:
            c.close()


def test_a_written_setpoint_moves_the_chp_within_its_ramp(campus: Site):
    with running(campus) as run:
        sim, dev = run.sim, run.devices["chp1_ctrl"]
        assert run.read("chp1_ctrl", "p_el_kw").value == pytest.approx(800)  # local rules
        writer = SafeWriter(dev, MemorySink(), clock=sim_clock(sim))
        with Heartbeat(dev, period_s=0.2) as hb:
            assert enable_remote(writer, hb, reason="test", timeout_s=3).ok
            assert run.read("chp1_ctrl", "remote_active").value is True
            assert writer.write("p_el_setpoint_kw", 480.0, reason="plan").result is (
                WriteResult.CONFIRMED
            )
            t0 = sim.now
            seen = []
            for minutes in (1, 2, 5):
                sim.advance_to(t0 + pd.Timedelta(minutes=minutes))
                seen.append(run.read("chp1_ctrl", "p_el_kw").value)
            # 160 kW/min (800 kW over start_time_min 5): 800 -> 640 -> 480, then it holds
            assert seen == pytest.approx([640, 480, 480])
            assert run.read("chp2_ctrl", "p_el_kw").value == pytest.approx(800)  # still local


def test_boilers_follow_the_gateway_setpoint_and_report_remote(campus: Site):
    with running(campus) as run:
        sim, gw = run.sim, run.devices["bms_gateway"]
        before = run.read("boiler_ctrl", "q_th_kw").value
        assert before == pytest.approx(800)  # one boiler at minimum load: the store covers
        writer = SafeWriter(gw, MemorySink(), clock=sim_clock(sim))
        with Heartbeat(gw, period_s=0.2) as hb:
            assert enable_remote(writer, hb, reason="test", timeout_s=3).ok
            assert run.read("boiler_ctrl", "remote_active").value is False  # nothing to follow
            assert writer.write("boiler_q_kw_set", 3000.0, reason="plan").ok
            sim.advance_to(sim.now + pd.Timedelta(minutes=1))
            one_minute = run.read("boiler_ctrl", "q_th_kw").value
            sim.advance_to(sim.now + pd.Timedelta(minutes=4))
            assert run.read("boiler_ctrl", "q_th_kw").value == pytest.approx(3000)
            assert run.read("boiler_ctrl", "remote_active").value is True
            assert run.read("bms_gateway", "local_state").value == 1
        # 3 x 4000 kW over start_time_min 10: at most 1200 kW/min
        assert one_minute == pytest.approx(800 + 1200)


def test_heartbeat_loss_puts_the_device_into_local_control(campus: Site):
    with running(campus, watchdog_s=1.5) as run:
        sim, dev = run.sim, run.devices["chp1_ctrl"]
        writer = SafeWriter(dev, MemorySink(), clock=sim_clock(sim))
        hb = Heartbeat(dev, period_s=0.2).start()
        try:
            assert enable_remote(writer, hb, reason="test", timeout_s=3).ok
            assert writer.write("p_el_setpoint_kw", 480.0, reason="plan").ok
            sim.advance_to(sim.now + pd.Timedelta(minutes=3))
            assert run.read("chp1_ctrl", "p_el_kw").value == pytest.approx(480)
        finally:
            hb.stop()
        time.sleep(2.0)  # longer than the watchdog
        assert run.read("chp1_ctrl", "remote_active").value is False
        assert run.read("chp1_ctrl", "remote_enable").value is False  # a new request is needed
        sim.advance_to(sim.now + pd.Timedelta(minutes=1))
        assert run.read("chp1_ctrl", "p_el_kw").value == pytest.approx(640)  # ramping back
        sim.advance_to(sim.now + pd.Timedelta(minutes=2))
        assert run.read("chp1_ctrl", "p_el_kw").value == pytest.approx(800)  # the heat-led rules


def test_an_expired_setpoint_hands_the_unit_back_to_local_control(campus: Site):
    with running(campus) as run:
        sim, gw, chp = run.sim, run.devices["bms_gateway"], run.devices["chp1_ctrl"]
        w_gw = SafeWriter(gw, MemorySink(), clock=sim_clock(sim))
        w_chp = SafeWriter(chp, MemorySink(), clock=sim_clock(sim))
        with Heartbeat(gw, period_s=0.2) as hb_gw, Heartbeat(chp, period_s=0.2) as hb_chp:
            assert enable_remote(w_gw, hb_gw, reason="test", timeout_s=3).ok
            assert enable_remote(w_chp, hb_chp, reason="test", timeout_s=3).ok
            assert w_gw.write("boiler_q_kw_set", 2000.0, reason="plan").ok
            assert w_chp.write("p_el_setpoint_kw", 480.0, reason="plan").ok
            sim.advance_to(sim.now + pd.Timedelta(minutes=29))
            assert run.read("chp1_ctrl", "p_el_kw").value == pytest.approx(480)
            assert run.read("bms_gateway", "local_state").value == 1
            sim.advance_to(sim.now + pd.Timedelta(minutes=5))  # revert_s 1800 has passed
            assert run.read("chp1_ctrl", "remote_active").value is False
            assert run.read("bms_gateway", "local_state").value == 2  # fallback
            alarm = run.read("bms_gateway", "alarm").value
            assert alarm & 0b10  # setpoint_expired
            assert run.read("boiler_ctrl", "remote_active").value is False
        assert run.read("chp1_ctrl", "p_el_kw").value == pytest.approx(800)


def test_a_commissioning_rehearsal_against_the_simulator_passes(campus: Site):
    with running(campus, watchdog_s=1.0) as run:
        report = commission(list(run.devices.values()), MemorySink(), watchdog_s=1.0)
    assert [i for i in report.items if i.status is CheckStatus.FAIL] == []
    drills = {i.device for i in report.items if i.step == "heartbeat_drill"}
    passed = {
        i.device
        for i in report.items
        if i.step == "heartbeat_drill" and i.status is CheckStatus.PASS
    }
    assert passed == {"chp1_ctrl", "chp2_ctrl", "bms_gateway"}
    assert drills == set(campus_names(campus))


def campus_names(site: Site) -> list[str]:
    return [d.name for d in site.devices]
