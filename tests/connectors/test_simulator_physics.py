"""The simulated plant's physics without sockets: balances close, limits and ramps hold."""

from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd
import pytest

from connectors.errors import WriteRejected
from connectors.overrides import site_devices_or_file
from connectors.sim_units import Unit
from connectors.simulator import PaceDriver, PlantSimulator, SimulatorConfig, StepRecord
from connectors.writer import Heartbeat, MemorySink, SafeWriter
from energiemodell.errors import SiteError
from energiemodell.heat_led import RuleState, heat_led_step
from energiemodell.site import Site, site_from_dict
from energiemodell.state import PlantState, UnitState
from energiemodell.timeseries import load_forecast

START = "2024-03-12T00:00:00+01:00"
END = "2024-03-13T00:00:00+01:00"
TOL = 1e-6


def assert_balances(site: Site, rec: StepRecord) -> None:
    """The three carrier balances of one step, rebuilt from the model's own balance columns.

    Every asset's :meth:`~energiemodell.assets.base.Asset.balance_columns` says how its
    Schedule columns enter each carrier's balance (the grid's import and export included), so
    ``sum(k * flow) + unserved == demand`` per carrier holds for any asset type the site has.
    """
    f = rec.flows
    supply = dict.fromkeys(("electricity", "heat", "cooling"), 0.0)
    for a in site.asset_objects:
        for carrier, terms in a.balance_columns().items():
            for quantity, k in terms.items():
                column = f"{a.name}.{quantity}"
                assert column in f, (rec.ts, column)
                supply[str(carrier)] += k * f[column]
    assert supply["electricity"] == pytest.approx(f["demand.electricity_kw"], abs=TOL), (
        rec.ts,
        "electricity",
    )
    assert min(f["grid.import_kw"], f["grid.export_kw"]) == 0.0
    assert supply["heat"] + f["unserved.heat_kw"] == pytest.approx(f["demand.heat_kw"], abs=TOL), (
        rec.ts,
        "heat",
    )
    assert supply["cooling"] + f["unserved.cooling_kw"] == pytest.approx(
        f["demand.cooling_kw"], abs=TOL
    ), (rec.ts, "cooling")
    for k, v in f.items():
        if k.endswith(("_kw", "_kwh")) and k not in ("grid.net_import_kw", "weather.temp_c"):
            assert v >= -TOL, (rec.ts, k, v)


def run_day(site: Site, **kw: Any) -> tuple[PlantSimulator, list[StepRecord]]:
    sim = PlantSimulator(site, start=START, devices=[], **kw)
    return sim, sim.advance_to(END)


@pytest.fixture(scope="module")
def day(reference_site: Site) -> tuple[PlantSimulator, list[StepRecord]]:
    return run_day(reference_site)


def test_balances_close_in_every_step_of_a_simulated_day(reference_site: Site, day):
    sim, records = day
    assert len(records) == 24 * 60  # one-minute steps
    assert sum(r.dt_s for r in records) == 86400
    for r in records:
        assert_balances(reference_site, r)
    # The day is a real one: heat, cooling and PV all move, CHPs and boilers run.
    assert max(r.flows["pv.p_kw"] for r in records) > 50
    assert max(r.flows["boilers.q_kw"] for r in records) > 1000
    assert max(r.flows["chp1.p_el_kw"] for r in records) == pytest.approx(800)
    # Energy totals integrate the flows.
    imported = sum(r.flows["grid.import_kw"] * r.dt_s / 3600 for r in records)
    exported = sum(r.flows["grid.export_kw"] * r.dt_s / 3600 for r in records)
    assert sim.totals["grid.import_kwh"] == pytest.approx(imported)
    assert sim.totals["grid.export_kwh"] == pytest.approx(exported)


def test_demands_follow_the_sites_series_at_simulated_time(reference_site: Site, day):
    _, records = day
    fc = load_forecast(reference_site, pd.Timestamp(START), 96)
    for r in records[::7]:
        ts = pd.Timestamp(r.ts).floor("15min")
        assert r.flows["demand.heat_kw"] == pytest.approx(fc.at[ts, "demand.heat_kw"])
        assert r.flows["demand.electricity_kw"] == pytest.approx(fc.at[ts, "demand.electricity_kw"])
        assert r.flows["pv.p_kw"] == pytest.approx(500 * fc.at[ts, "pv.kw_per_kwp"])


def test_storage_levels_integrate_charge_discharge_and_losses(reference_site: Site):
    sim = PlantSimulator(reference_site, start=START, devices=[])
    before = {s.name: s.level_kwh for s in sim.plant.stores.values()}
    moved = dict.fromkeys(before, 0.0)
    for _ in range(600):
        r = sim.step()
        dt_h = r.dt_s / 3600
        for n, level in before.items():
            f = r.flows
            expect = (
                level + (f[f"{n}.charge_kw"] - f[f"{n}.discharge_kw"] - f[f"{n}.loss_kw"]) * dt_h
            )
            assert f[f"{n}.level_kwh"] == pytest.approx(expect, abs=1e-9)
            p = reference_site.asset(n)
            assert -TOL <= f[f"{n}.level_kwh"] <= p.capacity_kwh + TOL
            assert f[f"{n}.charge_kw"] <= p.charge_max_kw + TOL
            assert f[f"{n}.discharge_kw"] <= p.discharge_max_kw + TOL
            moved[n] += f[f"{n}.charge_kw"] + f[f"{n}.discharge_kw"]
            before[n] = f[f"{n}.level_kwh"]
    assert moved["tes_heat"] > 1000, moved  # the heat store buffers the plant
    # The rules hold the cold store: it only loses its standing loss.
    start_cold = reference_site.asset("tes_cold").initial_level_pu * 1500
    assert before["tes_cold"] == pytest.approx(start_cold * (1 - 0.003 / 60) ** 600)


def test_units_respect_capacity_minimum_load_and_ramp(day):
    _, records = day
    prev: dict[str, float] = {}
    mins = {"boilers.q_kw": 800, "chillers.cold_kw": 200, "absorption.cold_kw": 150}
    for r in records:
        f = r.flows
        assert f["boilers.q_kw"] <= 3 * 4000 + TOL
        assert f["chillers.cold_kw"] <= 3 * 1000 + TOL
        assert f["absorption.cold_kw"] <= 500 + TOL
        mins |= {"chp1.p_el_kw": 400, "chp2.p_el_kw": 400}
        for col, lo in mins.items():
            # off, or every running unit at least at minimum load, except while starting up
            rising = col in prev and f[col] > prev[col]
            assert f[col] == 0 or f[col] >= lo - TOL or rising, (r.ts, col, f[col])
        for n in ("chp1", "chp2"):
            p = f[f"{n}.p_el_kw"]
            assert 0 <= p <= 800 + TOL
            if f"{n}.p_el_kw" in prev and p > 0:  # 160 kW/min (start_time_min 5); stops: at once
                assert abs(p - prev[f"{n}.p_el_kw"]) <= 160 * r.dt_s / 60 + TOL
        prev = {col: f[col] for col in mins}


def test_local_control_follows_the_heat_led_rules(reference_site: Site):
    """Without setpoints every unit ends each interval where heat_led_step put it."""
    sim = PlantSimulator(reference_site, start=START, devices=[])
    for _ in range(8):  # two hours, interval by interval
        ts = sim.now
        rs = RuleState(
            units={
                n: UnitState(on=u.on, time_in_state_h=u.time_in_state_h, p_kw=u.output_kw)
                for n, u in sim.plant.units.items()
                if u.kind == "chp"
            },
            storage_kwh={n: s.level_kwh for n, s in sim.plant.stores.items()},
        )
        fc = load_forecast(reference_site, ts, 1)
        demand = {
            c: float(fc[f"demand.{c}_kw"].iloc[0]) for c in ("electricity", "heat", "cooling")
        }
        rules = heat_led_step(reference_site, rs, ts=ts, demand_kw=demand, plant=PlantState())
        records = sim.advance_to(ts + pd.Timedelta(minutes=15))
        last = records[-1].flows
        for col in ("chp1.p_el_kw", "chp2.p_el_kw", "absorption.cold_kw", "chillers.cold_kw"):
            assert last[col] == pytest.approx(rules[col], abs=1e-6), (ts, col)


def _site_with(site: Site, **changes: dict[str, Any]) -> Site:
    data = site.model_dump(mode="json")
    for a in data["assets"]:
        a.update(changes.get(a["name"], {}))
    return site_from_dict(data, source="<test>", base_dir=site.base_dir)


def test_a_shortfall_is_shown_as_unserved_and_balances_still_close(reference_site: Site):
    small = _site_with(
        reference_site,
        boilers={"units": 1, "q_max_kw": 1000},
        chp1={"p_el_max_kw": 200},
        chp2={"p_el_max_kw": 200},
        tes_heat={"capacity_kwh": 100, "initial_level_pu": 0.0},
    )
    _, records = run_day(small)
    short = [r for r in records if r.flows["unserved.heat_kw"] > 1]
    assert short, "a plant this small cannot serve the March heat demand"
    for r in records:
        assert_balances(small, r)
        # what is not served is exactly what the producers and the store could not give
        f = r.flows
        supplied = f["chp1.q_kw"] + f["chp2.q_kw"] + f["boilers.q_kw"] + f["tes_heat.discharge_kw"]
        if f["unserved.heat_kw"] > 0:
            assert f["tes_heat.charge_kw"] == 0
            assert supplied + f["unserved.heat_kw"] == pytest.approx(
                f["demand.heat_kw"] + f["absorption.q_in_kw"]
            )


def test_emergency_generator_test_run_feeds_the_electricity_balance(reference_site: Site):
    sim = PlantSimulator(reference_site, start="2024-03-05T09:45:00+01:00", devices=[])
    records = sim.advance_to("2024-03-05T10:30:00+01:00")
    during = [r for r in records if pd.Timestamp(r.ts) >= pd.Timestamp("2024-03-05T10:00+01:00")]
    before = [r for r in records if r not in during]
    assert all(r.flows["nea1.p_el_kw"] == 500 for r in during)
    assert all(r.flows["nea1.p_el_kw"] == 0 for r in before)
    for r in records:
        assert_balances(reference_site, r)


def test_a_simulated_start_needs_a_time_zone(reference_site: Site):
    with pytest.raises(ValueError, match="timezone-aware"):
        PlantSimulator(reference_site, start="2024-03-12T00:00", devices=[])


def test_physics_step_length_is_configurable(reference_site: Site):
    sim = PlantSimulator(
        reference_site, start=START, devices=[], config=SimulatorConfig(step_s=300)
    )
    records = sim.advance_to("2024-03-12T01:00:00+01:00")
    assert [r.dt_s for r in records] == [300.0] * 12
    assert math.isclose(
        sim.totals["grid.export_kwh"] + sim.totals["grid.import_kwh"],
        sum(
            (r.flows["grid.export_kw"] + r.flows["grid.import_kw"]) * r.dt_s / 3600 for r in records
        ),
    )


def test_the_reference_devices_file_binds_every_controlled_or_metered_asset(reference_site: Site):
    site = site_devices_or_file(reference_site)
    bound = {d.asset for d in site.devices}
    for a in ("grid", "pv", "chp1", "chp2", "boilers", "chillers", "absorption"):
        assert a in bound
    assert {"tes_heat", "tes_cold"} <= bound
    columns = {c for d in site.devices for c in d.setpoints}
    assert {"chp1.p_el_kw", "chp2.p_el_kw", "boilers.q_kw", "chillers.cold_kw"} <= columns


def test_the_simulation_runs_to_the_end_of_the_series_and_says_so(reference_site: Site):
    # The series end at 2025-01-01T00:00Z; run its last half hour, then past the end.
    sim = PlantSimulator(reference_site, start="2024-12-31T23:30:00Z", devices=[])
    sim.advance_to("2025-01-01T00:00:00Z")
    with pytest.raises(SiteError, match="covers 2024-01-01"):
        sim.advance_to("2025-01-01T00:15:00Z")
    with pytest.raises(SiteError, match="is needed"):
        PlantSimulator(reference_site, start="2026-01-01T00:00:00+01:00", devices=[])


def test_pace_driver_runs_simulated_time_at_a_multiple_of_real_time(reference_site: Site):
    sim = PlantSimulator(reference_site, start=START, devices=[])
    t0 = time.monotonic()
    with PaceDriver(sim, 600, tick_s=0.05):
        time.sleep(0.6)
    wall = time.monotonic() - t0
    moved_s = (sim.now - pd.Timestamp(START)).total_seconds()
    assert 0 < moved_s <= 600 * wall
    assert moved_s >= 60  # a loaded machine may lag, but not stand still


def test_permissives_and_device_side_limits_without_sockets(reference_site: Site):
    site = site_devices_or_file(reference_site)
    sim = PlantSimulator(site, start=START)
    gw, boiler = sim.device("bms_gateway"), sim.device("boiler_ctrl")
    writer = SafeWriter(gw, MemorySink(), clock=lambda: sim.now.to_pydatetime())
    hb = Heartbeat(gw, period_s=60)  # beats by hand below, no thread
    assert hb.beat()
    assert writer.write("remote_enable", 1, reason="test").ok
    assert writer.write("boiler_q_kw_set", 3000.0, reason="plan").ok
    sim.advance_to(sim.now + pd.Timedelta(minutes=5))
    assert sim.quantities()["boilers.q_kw"] == pytest.approx(3000)
    # The optimiser locks the boilers off: release is honoured while remote.
    boiler.write_point("release", False)
    sim.advance_to(sim.now + pd.Timedelta(minutes=5))
    assert sim.quantities()["boilers.q_kw"] == 0
    # A limit of 20 % of 3 x 4000 kW caps the group at 2400 kW.
    boiler.write_point("release", True)
    boiler.write_point("load_limit_pct", 20.0)
    sim.advance_to(sim.now + pd.Timedelta(minutes=10))
    assert sim.quantities()["boilers.q_kw"] == pytest.approx(2400)
    # The device refuses a value outside its point limits (exception 03) and keeps the old one.
    with pytest.raises(WriteRejected, match="exception 03"):
        gw.write_point("boiler_q_kw_set", 30000.0)
    assert gw.read_points(["boiler_q_kw_set"])[0].value == pytest.approx(3000)


def test_local_boilers_cover_what_remote_chps_do_not_give(reference_site: Site):
    site = site_devices_or_file(reference_site)
    sim = PlantSimulator(site, start=START)
    for name in ("chp1_ctrl", "chp2_ctrl"):
        dev = sim.device(name)
        writer = SafeWriter(dev, MemorySink(), clock=lambda: sim.now.to_pydatetime())
        assert Heartbeat(dev, period_s=60).beat()
        assert writer.write("remote_enable", True, reason="test").ok
        assert writer.write("p_el_setpoint_kw", 0.0, reason="plan: CHPs off").ok
    boilers_by_rules = sim.quantities()["boilers.q_kw"]
    chp_heat = sim.quantities()["chp1.q_kw"] + sim.quantities()["chp2.q_kw"]
    assert chp_heat > 1500  # the rules run both CHPs in this interval
    records = sim.advance_to(sim.now + pd.Timedelta(minutes=10))
    last = records[-1].flows
    assert (last["chp1.p_el_kw"], last["chp2.p_el_kw"]) == (0, 0)
    # The boiler sequencer makes up for the heat the CHPs no longer give.
    assert last["boilers.q_kw"] == pytest.approx(boilers_by_rules + chp_heat)
    records += sim.advance_to(sim.now + pd.Timedelta(minutes=50))
    assert max(r.flows["unserved.heat_kw"] for r in records) == 0
    for r in records:
        assert_balances(site, r)


def test_start_ups_ramp_and_stops_are_immediate():
    """As in the model: load changes follow the ramp, a stop frees it (no drive heat lingers)."""
    u = Unit("absorption", "absorption", "absorption.cold_kw", 500.0, ramp_kw_per_min=25.0)
    for expected in (25.0, 50.0, 75.0):  # from zero to full in its start time: 25 kW/min
        u.move(500.0, 1.0, 60.0)
        assert u.output_kw == pytest.approx(expected)
    u.move(500.0, 0.0, 60.0)  # locked off (release false)
    assert u.output_kw == 0
    assert not u.on
