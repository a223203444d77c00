"""Setpoints from a plan row: a store's net flow on a signed point, written and read back."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml

from connectors.write_reports import MemorySink, WriteResult
from connectors.writer import SafeWriter
from energiemodell.site import Site, load_site
from scheduler.dispatch import dispatch, setpoint_bindings, setpoints_for
from tests.conftest import write_site_files
from tests.scheduler.conftest import ASSETS, DEVICES, SIGNALS_MAP, plant_devices

BATTERY = {
    "name": "battery",
    "type": "battery",
    "capacity_kwh": 500,
    "charge_max_kw": 250,
    "discharge_max_kw": 200,
}


@pytest.fixture
def signed_site(tmp_path: Path) -> Site:
    """The tiny site whose gateway steers the heat store and a battery by their signed points."""
    devices = copy.deepcopy(DEVICES)
    gateway = next(d for d in devices if d["name"] == "gateway")
    gateway["setpoints"] |= {
        "tes.charge_kw": "tes_charge_kw_set",  # positive = charge
        "battery.discharge_kw": "battery_p_kw_set",  # positive = discharge
    }
    directory = tmp_path / "site"
    directory.mkdir()
    (directory / "signals.yaml").write_text(yaml.safe_dump(SIGNALS_MAP), encoding="utf-8")
    path = write_site_files(
        directory, assets=[*ASSETS, BATTERY], devices=devices, control={"mode": "auto"}
    )
    return load_site(path)


def test_a_store_on_a_signed_point_gets_its_net_flow_within_the_store_limits(signed_site: Site):
    devices = plant_devices(signed_site)
    bindings = {b.point: b for b in setpoint_bindings(signed_site, devices)}
    tes, battery = bindings["tes_charge_kw_set"], bindings["battery_p_kw_set"]
    assert (tes.minus, battery.minus) == ("tes.discharge_kw", "battery.charge_kw")
    assert tes.asset_limits is not None
    assert battery.asset_limits is not None
    assert (tes.asset_limits.min, tes.asset_limits.max) == (-400.0, 400.0)
    assert (battery.asset_limits.min, battery.asset_limits.max) == (-250.0, 200.0)
    assert bindings["boiler_q_kw_set"].minus is None  # not a store: written as it is

    row = pd.Series(
        {
            "chp1.p_el_kw": 400.0,
            "chp1.on": 1.0,
            "boilers.q_kw": 500.0,
            "tes.charge_kw": 0.0,
            "tes.discharge_kw": 150.0,  # the plan discharges the heat store
            "battery.charge_kw": 80.0,  # and charges the battery
            "battery.discharge_kw": 0.0,
        }
    )
    setpoints, problems = setpoints_for(row, list(bindings.values()))
    assert problems == []
    values = {sp.binding.point: sp.value for sp in setpoints}
    assert values["tes_charge_kw_set"] == -150.0  # discharge, not "hold"
    assert values["battery_p_kw_set"] == -80.0  # charge
    assert values["boiler_q_kw_set"] == 500.0

    sink = MemorySink()
    writers = {name: SafeWriter(dev, sink) for name, dev in devices.items()}
    reports = dispatch(setpoints, writers, reason="test")
    by_point = {r.point: r for r in reports}
    for point in ("tes_charge_kw_set", "battery_p_kw_set"):
        assert by_point[point].result is WriteResult.CONFIRMED, by_point[point]
        assert by_point[point].read_back == values[point]


def test_a_net_flow_beyond_the_store_limits_is_refused(signed_site: Site):
    devices = plant_devices(signed_site)
    bindings = [
        b for b in setpoint_bindings(signed_site, devices) if b.point == "tes_charge_kw_set"
    ]
    row = pd.Series({"tes.charge_kw": 0.0, "tes.discharge_kw": 450.0})  # over discharge_max_kw
    setpoints, problems = setpoints_for(row, bindings)
    assert problems == []
    sink = MemorySink()
    (report,) = dispatch(setpoints, {"gateway": SafeWriter(devices["gateway"], sink)}, reason="t")
    assert report.result is WriteResult.REFUSED
    assert "-400" in report.detail


def test_a_plan_without_the_opposite_column_is_a_problem(signed_site: Site):
    devices = plant_devices(signed_site)
    bindings = [
        b for b in setpoint_bindings(signed_site, devices) if b.point == "tes_charge_kw_set"
    ]
    setpoints, problems = setpoints_for(pd.Series({"tes.charge_kw": 10.0}), bindings)
    assert setpoints == []
    assert problems == ["gateway.tes_charge_kw_set: the plan has no column tes.discharge_kw"]
