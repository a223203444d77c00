"""Site binding checks, asset limits of setpoints, and the storage-level estimate."""

from __future__ import annotations

from connectors.binding import asset_limits, check_site_devices
from connectors.estimates import storage_level_kwh
from energiemodell.site import load_site


def test_check_site_devices_names_each_problem(make_site_file):
    site = load_site(
        make_site_file(
            [
                {
                    "name": "meter",
                    "map": "janitza_umg96rm",
                    "host": "h",
                    "asset": "grid",
                    "points": {
                        "p_sum_w": {"quantity": "grid.import_kw", "scale": 0.001},
                        "p_total_w": {"quantity": "grid.export_kw"},
                    },
                },
                {
                    "name": "meter2",
                    "map": "siemens_pac3200",
                    "host": "h",
                    "points": {"p_total_w": {"quantity": "grid.import_kw"}},
                    "setpoints": {"grid.import_kw": "p_total_w"},
                },
                {"name": "x", "map": "no_such_map", "host": "h"},
            ]
        )
    )
    problems = check_site_devices(site)
    src = site.source
    assert f"{src}: devices.meter.points.p_total_w: map janitza_umg96rm has no point" in problems[0]
    assert "(known: u_l1_v," in problems[0]
    assert any(
        "devices.meter2.points.p_total_w: quantity grid.import_kw is also measured by "
        "meter.p_sum_w" in p
        for p in problems
    )
    assert any(
        "devices.meter2.setpoints.grid.import_kw: point p_total_w is not writable" in p
        for p in problems
    )
    assert any(p.startswith(f"{src}: devices.x.map: no such register map") for p in problems)
    assert len(problems) == 4


def test_asset_limits_from_the_setpoint_binding(make_site_file):
    site = load_site(
        make_site_file(
            [
                {
                    "name": "bms",
                    "map": "bms_gateway",
                    "host": "h",
                    "asset": "grid",
                    "setpoints": {
                        "grid.import_kw": "chp1_p_el_kw_set",
                        "grid.other_pct": "heartbeat",
                    },
                },
            ]
        )
    )
    (d,) = site.devices
    lim = asset_limits(site, d, "chp1_p_el_kw_set")
    assert lim is not None
    assert (lim.min, lim.max) == (0.0, 1000.0)  # the grid's max_import_kw
    assert asset_limits(site, d, "chp2_p_el_kw_set") is None


def test_storage_level_estimate():
    assert storage_level_kwh([90, 90, 90], capacity_kwh=6000, t_empty_c=60, t_full_c=90) == 6000
    assert storage_level_kwh([90, 75, 60], capacity_kwh=6000, t_empty_c=60, t_full_c=90) == 3000
    assert storage_level_kwh([50, None, 40], capacity_kwh=100, t_empty_c=60, t_full_c=90) == 0
    assert storage_level_kwh([None, None, 80], capacity_kwh=100, t_empty_c=60, t_full_c=90) is None
    # chilled water: full when cold
    assert storage_level_kwh([6, 6, 12, 12], capacity_kwh=800, t_empty_c=12, t_full_c=6) == 400


def test_a_map_file_next_to_the_site_is_found(make_site_file, tmp_path):
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "probe.yaml").write_text(
        "model: probe\npoints:\n  t_c: {table: input, address: 7, type: int16, scale: 0.1}\n",
        encoding="utf-8",
    )
    site = load_site(
        make_site_file(
            [
                {
                    "name": "p",
                    "map": "maps/probe.yaml",
                    "host": "h",
                    "points": {
                        "t_c": {"quantity": "tes1.t_top_c"},
                        "t_x": {"quantity": "tes1.t_x_c"},
                    },
                },
            ]
        )
    )
    (problem,) = check_site_devices(site)
    assert "devices.p.points.t_x: map probe has no point 't_x' (known: t_c)" in problem
