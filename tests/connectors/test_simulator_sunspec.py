"""Devices of the newly simulated points over Modbus TCP: a SunSpec battery, flow temperatures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from pyModbusTCP.client import ModbusClient
from test_simulator_assets import dev, every_type_site

from connectors.binding import build_devices
from connectors.modbus import ModbusDevice
from connectors.modbus_server import ModbusSimServer
from connectors.overrides import apply_device_overrides, simulator_overrides, unit_plan
from connectors.simulator import PlantSimulator
from connectors.writer import Heartbeat, MemorySink, SafeWriter, enable_remote
from energiemodell.site import Site
from scheduler.dispatch import dispatch, engage, release, setpoint_bindings, setpoints_for

pytestmark = pytest.mark.integration

START = pd.Timestamp("2024-03-12T00:00:00+01:00")


@contextlib.contextmanager
def serving(site: Site) -> Iterator[tuple[PlantSimulator, dict[str, ModbusDevice], int]]:
    sim = PlantSimulator(site, start=START)
    units = {0: {u: name for name, _, u in unit_plan(site, 0)}}
    with ModbusSimServer(sim, units) as srv:
        port = srv.ports[0]
        bound = apply_device_overrides(site, simulator_overrides(site, host="127.0.0.1", port=port))
        devices = build_devices(bound)
        try:
            yield sim, devices, port
        finally:
            for d in devices.values():
                d.close()


def value(device: ModbusDevice, point: str) -> float:
    (r,) = device.read_points([point])
    assert r.quality.value == "good", r
    return float(r.value)  # type: ignore[arg-type]


def test_a_sunspec_battery_follows_its_storage_controls_over_modbus(
    reference_site: Site, tmp_path: Path
):
    site = every_type_site(reference_site, tmp_path, [dev("inv", "sunspec_124_battery", "bat")])
    with serving(site) as (sim, devices, port):
        inv = devices["inv"]
        assert value(inv, "sunspec_marker") == 0x53756E53
        assert value(inv, "cha_state") == pytest.approx(50)  # initial_soc_pu 0.5
        assert (value(inv, "w"), value(inv, "cha_st")) == (0, 6)  # idle: holding
        # Forced charge at 50 % of WChaMax (400 kW): both limits on, OutWRte negative.
        inv.write_point("in_out_w_rte_rvrt_tms", 600)
        inv.write_point("stor_ctl_mod", 3)
        inv.write_point("in_w_rte", 50.0)
        inv.write_point("out_w_rte", -50.0)
        records = sim.advance_to(START + pd.Timedelta(minutes=9))
        assert all(r.flows["bat.charge_kw"] == pytest.approx(200) for r in records)
        assert value(inv, "w") == pytest.approx(-200_000)  # positive = discharging
        assert value(inv, "cha_st") == 4  # charging
        soc = 100 * (500 * (1 - 0.001 / 60) ** 9 + 0.95 * 200 * 9 / 60) / 1000
        assert value(inv, "cha_state") == pytest.approx(soc, abs=0.05)
        # An independent client reads the same power: int16 W times 10^W_SF.
        client = ModbusClient(host="127.0.0.1", port=port, unit_id=1, timeout=2)
        raw, sf = client.read_holding_registers(40084, 2)
        client.close()
        assert (raw - 0x10000 if raw >= 0x8000 else raw) * 10.0**sf == pytest.approx(-200_000)
        # The rates revert after InOutWRte_RvrtTms: the inverter idles again.
        sim.advance_to(START + pd.Timedelta(minutes=15))
        assert value(inv, "w") == 0
        assert sim.quantities()["bat.charge_kw"] == 0


def test_the_loop_drives_a_sunspec_battery_to_the_plans_power(reference_site: Site, tmp_path: Path):
    # the rates bound to the battery's columns: the loop writes its net flow in percent of the
    # ratings (charge 400 kW, discharge 500 kW), both directions at once, which pins the power
    rates = {"bat.charge_kw": "in_w_rte", "bat.discharge_kw": "out_w_rte"}
    inverter = dev("inv", "sunspec_124_battery", "bat", setpoints=rates)
    site = every_type_site(reference_site, tmp_path, [inverter])
    with serving(site) as (sim, devices, _):
        sink = MemorySink()
        writers = {n: SafeWriter(d, sink) for n, d in devices.items()}
        bindings = setpoint_bindings(site, devices)
        (engaged,) = engage(writers, {}, reason="test", timeout_s=1.0)
        assert (engaged.point, engaged.written, engaged.ok) == ("stor_ctl_mod", 3, True)
        for charge, discharge, rates_pct in (
            (0.0, 300.0, (-75.0, 60.0)),
            (200.0, 0.0, (50.0, -40.0)),
        ):
            row = pd.Series({"bat.charge_kw": charge, "bat.discharge_kw": discharge})
            setpoints, problems = setpoints_for(row, bindings)
            assert problems == []
            reports = dispatch(setpoints, writers, reason="plan")
            assert [(r.point, r.read_back) for r in reports] == list(
                zip(("in_w_rte", "out_w_rte"), rates_pct, strict=True)
            )
            assert all(r.ok for r in reports)
            records = sim.advance_to(sim.now + pd.Timedelta(minutes=5))
            assert all(r.flows["bat.charge_kw"] == pytest.approx(charge) for r in records)
            assert all(r.flows["bat.discharge_kw"] == pytest.approx(discharge) for r in records)
        # handed back: StorCtl_Mod 0, the rates no longer limit, the inverter idles
        (released,) = release(writers, reason="stop")
        assert (released.point, released.written, released.ok) == ("stor_ctl_mod", 0, True)
        last = sim.advance_to(sim.now + pd.Timedelta(minutes=5))[-1].flows
        assert last["bat.charge_kw"] == last["bat.discharge_kw"] == 0


def test_flow_temperature_setpoints_are_held_and_reported(reference_site: Site):
    from connectors.overrides import site_devices_or_file

    campus = site_devices_or_file(reference_site)
    with serving(campus) as (sim, devices, _):
        gw, boiler = devices["bms_gateway"], devices["boiler_ctrl"]
        q_before = sim.quantities()["boilers.q_kw"]
        assert value(boiler, "t_flow_c") == pytest.approx(70 + 10 * q_before / 12000, abs=0.05)
        writer = SafeWriter(gw, MemorySink(), clock=lambda: sim.now.to_pydatetime())
        with Heartbeat(gw, period_s=0.2) as hb:
            assert enable_remote(writer, hb, reason="test", timeout_s=3).ok
            boiler.write_point("t_flow_setpoint_c", 82.5)
            sim.advance_to(sim.now + pd.Timedelta(minutes=5))
            load = sim.quantities()["boilers.q_kw"] / 12000
            assert value(boiler, "t_flow_c") == pytest.approx(82.5)
            assert value(boiler, "t_return_c") == pytest.approx(82.5 - 15 - 5 * load, abs=0.05)
            # The temperature changes nothing in the energy: the heat is what it was.
            assert sim.quantities()["boilers.q_kw"] == pytest.approx(q_before)
            # Expired (revert_s 1800 simulated seconds): the boiler's own curve again.
            sim.advance_to(sim.now + pd.Timedelta(minutes=30))
            load = sim.quantities()["boilers.q_kw"] / 12000
            assert value(boiler, "t_flow_c") == pytest.approx(70 + 10 * load, abs=0.05)
