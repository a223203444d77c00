"""Device-binding override files and the devices file beside a site."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connectors import apply_device_overrides
from connectors.overrides import (
    DeviceOverride,
    load_device_overrides,
    simulator_overrides,
    site_devices_or_file,
    unit_plan,
    write_device_overrides,
)
from energiemodell.errors import SiteError
from energiemodell.site import Site


@pytest.fixture(scope="module")
def campus(reference_site: Site) -> Site:
    return site_devices_or_file(reference_site)


def test_the_reference_campus_gets_its_devices_file(reference_site: Site, campus: Site):
    assert [d.name for d in campus.devices][:3] == ["grid_meter", "pv_meter", "chp1_ctrl"]
    assert campus.source == reference_site.source
    assert campus.base_dir == reference_site.base_dir
    assert site_devices_or_file(campus) is campus  # a site with devices keeps its own


def test_overrides_round_trip_through_a_file_and_replace_only_the_address(
    campus: Site, tmp_path: Path
):
    path = tmp_path / "sim.yaml"
    write_device_overrides(path, simulator_overrides(campus, host="10.9.8.7", port=15020))
    assert yaml.safe_load(path.read_text())[1] == {
        "name": "pv_meter",
        "host": "10.9.8.7",
        "port": 15020,
        "unit_id": 2,
    }
    moved = apply_device_overrides(campus, path)
    assert isinstance(moved, Site)
    for before, after in zip(campus.devices, moved.devices, strict=True):
        assert (after.host, after.port) == ("10.9.8.7", 15020)
        assert after.model_dump(exclude={"host", "port", "unit_id"}) == before.model_dump(
            exclude={"host", "port", "unit_id"}
        )
    assert [d.unit_id for d in moved.devices] == list(range(1, 11))
    assert load_device_overrides(path)[0] == DeviceOverride(
        name="grid_meter", host="10.9.8.7", port=15020, unit_id=1
    )


def test_a_partial_override_list_leaves_the_other_devices_alone(campus: Site):
    moved = apply_device_overrides(
        campus, [{"name": "bms_gateway", "host": "127.0.0.2", "port": 1502, "unit_id": 7}]
    )
    gw = next(d for d in moved.devices if d.name == "bms_gateway")
    assert (gw.host, gw.port, gw.unit_id) == ("127.0.0.2", 1502, 7)
    assert moved.devices[0] == campus.devices[0]


def test_overrides_naming_unknown_devices_or_bad_values_are_refused(campus: Site, tmp_path: Path):
    with pytest.raises(SiteError, match="no such device in site reference_campus: nope"):
        apply_device_overrides(campus, [{"name": "nope", "host": "h", "port": 1, "unit_id": 1}])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: grid_meter, host: h, port: 0, unit_id: 1, extra: 2}\n")
    with pytest.raises(SiteError) as exc_info:
        apply_device_overrides(campus, bad)
    text = str(exc_info.value)
    assert "grid_meter.port" in text
    assert "grid_meter.extra" in text
    bad.write_text("grid_meter: 1\n")
    with pytest.raises(SiteError, match="must be a YAML list"):
        apply_device_overrides(campus, bad)


def test_unit_plan_keeps_the_sites_own_ports_when_asked(campus: Site):
    assert unit_plan(campus, None)[0] == ("grid_meter", 5020, 1)
    assert unit_plan(campus, 7000)[-1] == ("bms_gateway", 7000, 10)
