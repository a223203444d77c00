"""Every asset type in the simulated plant: balances, setpoints, stores, local control, devices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from test_simulator_physics import assert_balances

from connectors.sim_devices import SimulatedDevice
from connectors.simulator import PlantSimulator, SimulatorConfig
from connectors.writer import Heartbeat
from energiemodell.assets import ASSET_TYPES
from energiemodell.errors import SiteError
from energiemodell.site import Site, site_from_dict

START = pd.Timestamp("2024-03-12T00:00:00+01:00")
TOL = 1e-6

EXTRA_ASSETS: list[dict[str, Any]] = [
    {"name": "eboiler", "type": "electric_boiler", "q_max_kw": 500, "eta": 0.98},
    {
        "name": "hp",
        "type": "heat_pump",
        "q_max_kw": 400,
        "units": 2,
        "q_min_pu": 0.3,
        "cop_by_temp_c": [[-10, 2.2], [7, 3.0], [20, 4.0]],
        "start_time_min": 5,
    },
    {"name": "dh", "type": "district_heat", "q_max_kw": 3000, "price_eur_per_mwh": 80},
    {"name": "dump", "type": "heat_dump", "q_max_kw": 600},
    {
        "name": "bat",
        "type": "battery",
        "capacity_kwh": 1000,
        "charge_max_kw": 400,
        "discharge_max_kw": 500,
        "loss_pu_per_h": 0.001,
    },
    {
        "name": "dhw",
        "type": "flexible_load",
        "carrier": "heat",
        "p_max_kw": 400,
        "energy_kwh": 600,
        "window_start": "02:00",
        "window_end": "05:00",
        "included_in_demand": False,
    },
]

GATEWAY_MAP = {
    "model": "plant_gateway",
    "description": "the site's own gateway for the units the shipped one has no points for",
    "word_order": "big",
    "watchdog_s": 10,
    "points": {
        "heartbeat": {"table": "holding", "address": 0, "type": "uint16", "access": "read_write",
                      "role": "heartbeat", "limits": {"min": 0, "max": 65535}},
        "remote_enable": {"table": "holding", "address": 1, "type": "uint16",
                          "access": "read_write", "role": "remote_enable",
                          "limits": {"min": 0, "max": 1}, "persistent": True},
        "local_state": {"table": "input", "address": 0, "type": "uint16", "role": "local_state",
                        "remote_values": [1]},
        **{
            f"{n}_set": {"table": "holding", "address": 10 + 2 * i, "type": "float32",
                         "unit": "kW", "access": "read_write", "limits": {"min": 0, "max": 5000},
                         "revert_s": 1800}
            for i, n in enumerate(("hp", "eboiler", "dh", "dump", "chp1", "chp2", "ev", "dhw"))
        },
    },
}  # fmt: skip


def every_type_site(
    reference: Site, tmp: Path, devices: list[dict[str, Any]], **changes: dict[str, Any]
) -> Site:
    """The reference campus with one small boiler and one asset of every other type."""
    (tmp / "plant_gateway.yaml").write_text(yaml.safe_dump(GATEWAY_MAP), encoding="utf-8")
    data = reference.model_dump(mode="json")
    data["assets"] += EXTRA_ASSETS
    for a in data["assets"]:
        a.update({"units": 1, "q_max_kw": 1000} if a["name"] == "boilers" else {})
        a.update(changes.get(a["name"], {}))
    for s in data["series"]:
        s["file"] = str(reference.base_dir / s["file"])
    data["devices"] = devices
    return site_from_dict(data, source="<every type>", base_dir=tmp)


def dev(name: str, map_: str, asset: str | None = None, **kw: Any) -> dict[str, Any]:
    return {"name": name, "map": map_, "host": "127.0.0.1", "asset": asset, **kw}


DEVICES = [
    dev("gw", "plant_gateway.yaml", setpoints={
        "hp.q_kw": "hp_set", "eboiler.q_kw": "eboiler_set", "dh.q_kw": "dh_set",
        "dump.q_kw": "dump_set", "chp1.p_el_kw": "chp1_set", "chp2.p_el_kw": "chp2_set",
        "ev_charging.p_kw": "ev_set", "dhw.p_kw": "dhw_set",
    }),
    dev("bms", "bms_gateway", setpoints={
        "bat.discharge_kw": "battery_p_kw_set", "tes_heat.charge_kw": "tes_charge_kw_set",
    }),
]  # fmt: skip


class Clock:
    """The watchdogs' wall clock, moved by hand."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def plant(reference_site: Site, tmp_path: Path) -> tuple[PlantSimulator, Clock]:
    clock = Clock()
    site = every_type_site(reference_site, tmp_path, DEVICES)
    sim = PlantSimulator(site, start=START, config=SimulatorConfig(monotonic=clock))
    return sim, clock


def remote(sim: PlantSimulator, *names: str) -> dict[str, SimulatedDevice]:
    out = {}
    for n in names:
        d = sim.device(n)
        assert Heartbeat(d, period_s=60).beat()
        d.write_point("remote_enable", 1)
        out[n] = d
    return out


def test_the_test_site_has_every_asset_type_and_a_day_balances(reference_site, tmp_path):
    site = every_type_site(reference_site, tmp_path, [])
    assert {a.type for a in site.assets} == set(ASSET_TYPES)
    sim = PlantSimulator(site, start=START, devices=[])
    level = sim.plant.stores["bat"].level_kwh
    records = sim.advance_to(START + pd.Timedelta(days=1))
    assert len(records) == 24 * 60
    for r in records:
        assert_balances(site, r)
        f = r.flows
        assert f["hp.p_el_kw"] == pytest.approx(f["hp.q_kw"] / sim.plant.efficiency(
            sim.plant.units["hp"], f["weather.temp_c"]))  # fmt: skip
        assert f["eboiler.p_el_kw"] == pytest.approx(f["eboiler.q_kw"] / 0.98)
        # Heat-led rules: the battery idles (standing loss only), nothing is dumped.
        assert f["bat.charge_kw"] == f["bat.discharge_kw"] == f["dump.q_kw"] == 0
        level *= 1 - 0.001 * r.dt_s / 3600
        assert f["bat.level_kwh"] == pytest.approx(level)
        local = pd.Timestamp(r.ts).tz_convert("Europe/Berlin")
        assert f["dhw.p_kw"] == (200.0 if 2 <= local.hour < 5 else 0.0)
    # A March day needs more heat than CHPs and the small boiler give: the rules call in the
    # electric boiler, the heat pumps and district heat, in that order.
    for col in ("eboiler.q_kw", "hp.q_kw", "dh.q_kw"):
        assert max(r.flows[col] for r in records) > 100, col
    assert max(r.flows["unserved.heat_kw"] for r in records) == 0


def test_new_units_follow_setpoints_within_ramps(plant):
    sim, _ = plant
    gw = remote(sim, "gw")["gw"]
    before = sim.quantities()["hp.q_kw"]
    for point, value in (("hp_set", 800.0), ("eboiler_set", 300.0), ("dh_set", 1200.0)):
        gw.write_point(point, value)
    records = sim.advance_to(sim.now + pd.Timedelta(minutes=10))
    prev = before
    for r in records:  # two 400 kW heat pumps from zero to full in 5 min: 160 kW/min
        assert abs(r.flows["hp.q_kw"] - prev) <= 160 * r.dt_s / 60 + TOL
        prev = r.flows["hp.q_kw"]
        assert r.flows["eboiler.q_kw"] >= 300 - TOL  # instantaneous; a setpoint is a floor
        assert_balances(sim.site, r)
    last = records[-1].flows
    assert last["hp.q_kw"] == pytest.approx(800)
    assert last["dh.q_kw"] >= 1200 - TOL
    # Below one heat pump's minimum load (30 % of 400 kW) a running group holds 120 kW.
    gw.write_point("hp_set", 50.0)
    last = sim.advance_to(sim.now + pd.Timedelta(minutes=10))[-1].flows
    assert last["hp.q_kw"] == pytest.approx(120)


def test_storage_charge_setpoints_steer_the_heat_store_and_the_battery(plant):
    sim, _ = plant
    bms = remote(sim, "bms")["bms"]
    bms.write_point("tes_charge_kw_set", 900.0)  # positive: charge the heat store
    bms.write_point("battery_p_kw_set", 300.0)  # positive: discharge the battery
    levels = {n: sim.plant.stores[n].level_kwh for n in ("tes_heat", "bat")}
    records = sim.advance_to(sim.now + pd.Timedelta(minutes=30))
    for r in records:
        f, dt_h = r.flows, r.dt_s / 3600
        assert_balances(sim.site, r)
        assert (f["tes_heat.charge_kw"], f["tes_heat.discharge_kw"]) == (pytest.approx(900), 0)
        assert (f["bat.discharge_kw"], f["bat.charge_kw"]) == (pytest.approx(300), 0)
        tes = levels["tes_heat"] * (1 - 0.002 * dt_h) + 900 * dt_h
        bat = levels["bat"] * (1 - 0.001 * dt_h) - 300 / 0.95 * dt_h
        assert (f["tes_heat.level_kwh"], f["bat.level_kwh"]) == (
            pytest.approx(tes),
            pytest.approx(bat),
        )
        levels = {"tes_heat": tes, "bat": bat}
    # Negative values reverse the direction; the battery's charge limit (400 kW) holds.
    bms.write_point("tes_charge_kw_set", -1500.0)
    bms.write_point("battery_p_kw_set", -1000.0)
    f = sim.advance_to(sim.now + pd.Timedelta(minutes=5))[-1].flows
    assert f["tes_heat.discharge_kw"] == pytest.approx(1500)
    assert f["bat.charge_kw"] == pytest.approx(400)


def test_a_store_setpoint_yields_to_the_demand_and_to_its_level(reference_site, tmp_path):
    """A discharge setpoint ends at the store's lowest level; the units take over, no shortfall."""
    site = every_type_site(reference_site, tmp_path, DEVICES)
    sim = PlantSimulator(site, start=START)
    remote(sim, "bms")["bms"].write_point("tes_charge_kw_set", -2000.0)
    records = sim.advance_to(sim.now + pd.Timedelta(minutes=90))
    assert records[-1].flows["tes_heat.level_kwh"] == pytest.approx(0, abs=1e-6)
    assert records[-1].flows["tes_heat.discharge_kw"] == pytest.approx(0, abs=1e-6)
    assert max(r.flows["unserved.heat_kw"] for r in records) == 0
    for r in records:
        assert_balances(site, r)


def test_heartbeat_loss_hands_every_new_unit_back_to_local_control(plant):
    sim, clock = plant
    devs = remote(sim, "gw", "bms")
    devs["gw"].write_point("dh_set", 2500.0)
    devs["bms"].write_point("battery_p_kw_set", 400.0)
    devs["bms"].write_point("tes_charge_kw_set", 1000.0)
    f = sim.advance_to(sim.now + pd.Timedelta(minutes=5))[-1].flows
    assert (f["bat.discharge_kw"], f["tes_heat.charge_kw"]) == (400, pytest.approx(1000))
    assert f["dh.q_kw"] >= 2500 - TOL
    clock.t += 11  # both gateways watch a 10 s heartbeat
    records = sim.advance_to(sim.now + pd.Timedelta(minutes=15))
    last = records[-1].flows
    assert last["bat.discharge_kw"] == last["bat.charge_kw"] == 0  # idle, as the rules say
    rules = sim._local  # the heat-led decisions of this interval
    assert last["dh.q_kw"] == pytest.approx(rules["dh.q_kw"])
    assert devs["bms"].read_points(["local_state"])[0].value == 0
    assert devs["bms"].read_points(["alarm"])[0].value & 1  # heartbeat_lost
    for r in records:
        assert_balances(sim.site, r)


def test_flexible_loads_follow_their_setpoints_and_run_their_even_profile_without(plant):
    sim, clock = plant
    sim.advance_to(pd.Timestamp("2024-03-12T02:00:00+01:00"))  # the DHW window opens
    gw = remote(sim, "gw")["gw"]
    gw.write_point("dhw_set", 350.0)  # outside the demand series: drawn on top of it
    records = sim.advance_to(pd.Timestamp("2024-03-12T06:30:00+01:00"))
    for r in records:
        assert_balances(sim.site, r)
    dhw = [r.flows for r in records if r.ts < pd.Timestamp("2024-03-12T02:30:00+01:00")]
    assert {f["dhw.p_kw"] for f in dhw} == {350.0}
    assert {f["dhw.base_kw"] for f in dhw} == {200.0}  # 600 kWh over 3 h
    gw.write_point("ev_set", 250.0)  # in the demand series at 800 kWh / 12 h: shifted
    records = sim.advance_to(sim.now + pd.Timedelta(minutes=10))
    for r in records:
        assert_balances(sim.site, r)
        assert r.flows["ev_charging.p_kw"] == 250.0
        assert r.flows["ev_charging.base_kw"] == pytest.approx(800 / 12)
    clock.t += 11  # heartbeat lost: the loads run their even profile again
    f = sim.advance_to(sim.now + pd.Timedelta(minutes=5))[-1].flows
    assert f["ev_charging.p_kw"] == f["ev_charging.base_kw"] == pytest.approx(800 / 12)


def test_the_heat_dump_rejects_surplus_up_to_its_setpoint(reference_site, tmp_path):
    site = every_type_site(reference_site, tmp_path, DEVICES, tes_heat={"initial_level_pu": 0.95})
    july = pd.Timestamp("2024-07-12T02:00:00+02:00")  # a summer night: little heat demand
    sim = PlantSimulator(site, start=july)
    gw = remote(sim, "gw")["gw"]
    records = []
    for _ in range(12):  # the plan's setpoints, written every interval (they expire after 30 min)
        for point, value in (("chp1_set", 800.0), ("chp2_set", 800.0), ("dump_set", 600.0)):
            gw.write_point(point, value)
        records += sim.advance_to(sim.now + pd.Timedelta(minutes=15))
    dumped = [r for r in records if r.flows["dump.q_kw"] > 1]
    assert dumped, "the store fills up and the table cooler starts"
    for r in records:
        f = r.flows
        assert_balances(site, r)
        assert f["dump.q_kw"] <= 600 + TOL
        if 1 < f["dump.q_kw"] < 600 - TOL:  # the dump takes the whole surplus: the CHPs run on
            assert f["chp1.p_el_kw"] + f["chp2.p_el_kw"] == pytest.approx(1600)
            assert f["tes_heat.level_kwh"] == pytest.approx(3500, abs=1)
    gw.write_point("dump_set", 0.0)  # without the dump the CHPs back off
    f = sim.advance_to(sim.now + pd.Timedelta(minutes=5))[-1].flows
    assert f["dump.q_kw"] == 0
    assert f["chp1.q_kw"] + f["chp2.q_kw"] < 2 * 838


@pytest.mark.parametrize(
    ("setpoints", "field", "hint"),
    [
        ({"tes_heat.discharge_kw": "tes_charge_kw_set"}, "tes_heat.discharge_kw", "charge_kw"),
        ({"tes_heat.discharge_kw": "battery_p_kw_set"}, "tes_heat.discharge_kw", "<battery>"),
    ],
)
def test_a_signed_gateway_point_bound_against_its_meaning_is_refused(
    reference_site, tmp_path, setpoints, field, hint
):
    site = every_type_site(
        reference_site, tmp_path, [dev("bms", "bms_gateway", setpoints=setpoints)]
    )
    with pytest.raises(SiteError) as exc:
        PlantSimulator(site, start=START)
    (problem,) = exc.value.problems
    assert problem.path == f"devices.bms.setpoints.{field}"
    assert hint in problem.hint


def test_device_maps_must_fit_the_asset_they_are_bound_to(reference_site, tmp_path):
    site = every_type_site(
        reference_site,
        tmp_path,
        [dev("inv", "sunspec_124_battery", "tes_heat"), dev("tank", "tank_sensors", "bat")],
    )
    with pytest.raises(SiteError) as exc:
        PlantSimulator(site, start=START)
    fields = {p.path: p.message for p in exc.value.problems}
    assert "battery" in fields["devices.inv.asset"]
    assert "thermal_storage" in fields["devices.tank.asset"]
