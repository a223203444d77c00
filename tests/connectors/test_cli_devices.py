"""The devices CLI against real servers on 127.0.0.1, and the site binding checks."""

from __future__ import annotations

import json

import pytest
import yaml
from modbus_servers import Bank, BmsBehaviour, free_port, serve
from typer.testing import CliRunner

from connectors.map_files import load_map
from connectors.registers import Table
from scheduler.cli_devices import devices_app

pytestmark = pytest.mark.integration
runner = CliRunner()


def tank_bank(**temps):
    rmap = load_map("tank_sensors")
    bank = Bank.for_map(rmap)
    for name in rmap.points:
        bank.set(rmap, name, temps.get(name, 70.0))
    return bank


def chp_bank():
    rmap = load_map("chp_controller")
    bank = Bank.for_map(rmap)
    bank.set(rmap, "p_el_kw", 640.0)
    bank.set(rmap, "q_th_kw", 700.0)
    return bank


def test_read_json_lines_and_exit_codes(make_site_file):
    with serve("pyModbusTCP", tank_bank(t_top_c=88.8)) as srv:
        site = make_site_file(
            [
                {
                    "name": "tes1_sensors",
                    "map": "tank_sensors",
                    "host": "127.0.0.1",
                    "port": srv.port,
                    "timeout_s": 0.3,
                    "retries": 0,
                    "points": {"t_top_c": {"quantity": "tes1.t_top_c"}},
                },
            ]
        )
        ok = runner.invoke(devices_app, ["read", str(site), "--json"])
    assert ok.exit_code == 0, ok.output
    lines = [json.loads(x) for x in ok.output.splitlines()]
    assert len(lines) == 5
    top = lines[0]
    assert (top["device"], top["point"], top["quantity"], top["unit"], top["quality"]) == (
        "tes1_sensors",
        "t_top_c",
        "tes1.t_top_c",
        "degC",
        "good",
    )
    assert top["value"] == pytest.approx(88.8)
    assert top["ts"].endswith("Z")

    dead = make_site_file(
        [
            {
                "name": "gone",
                "map": "tank_sensors",
                "host": "127.0.0.1",
                "port": free_port(),
                "timeout_s": 0.3,
                "retries": 0,
            }
        ]
    )
    bad = runner.invoke(devices_app, ["read", str(dead), "--json"])
    assert bad.exit_code == 1
    assert {json.loads(x)["quality"] for x in bad.output.splitlines()} == {"bad"}


def test_read_bad_input_exits_2(make_site_file, tmp_path):
    site = make_site_file(
        [
            {
                "name": "m",
                "map": "tank_sensors",
                "host": "127.0.0.1",
                "points": {"t_nope_c": {"quantity": "tes1.t_top_c"}},
            }
        ]
    )
    res = runner.invoke(devices_app, ["read", str(site)])
    assert res.exit_code == 2
    assert "devices.m.points.t_nope_c: map tank_sensors has no point 't_nope_c'" in res.output
    site = make_site_file([{"name": "m", "map": "tank_sensors", "host": "127.0.0.1"}])
    assert runner.invoke(devices_app, ["read", str(site), "--device", "other"]).exit_code == 2
    assert runner.invoke(devices_app, ["read", str(tmp_path / "missing.yaml")]).exit_code == 2


def test_write_confirmed_refused_and_bad_input(make_site_file):
    bank = chp_bank()
    with serve("pymodbus", bank) as srv:
        site = make_site_file(
            [
                {
                    "name": "chp1_ctrl",
                    "map": "chp_controller",
                    "host": "127.0.0.1",
                    "port": srv.port,
                    "timeout_s": 0.3,
                    "retries": 0,
                },
            ]
        )
        args = ["write", str(site), "chp1_ctrl"]
        ok = runner.invoke(
            devices_app, [*args, "p_el_setpoint_kw", "700", "--reason", "test", "--json"]
        )
        coil = runner.invoke(devices_app, [*args, "start_request", "true", "--reason", "test"])
        refused = runner.invoke(devices_app, [*args, "p_el_setpoint_kw", "9000", "--reason", "t"])
        nan = runner.invoke(devices_app, [*args, "p_el_setpoint_kw", "nan", "--reason", "t"])
        junk = runner.invoke(devices_app, [*args, "p_el_setpoint_kw", "lots", "--reason", "t"])
        nopoint = runner.invoke(devices_app, [*args, "p_nope", "1", "--reason", "t"])
        readonly = runner.invoke(devices_app, [*args, "p_el_kw", "1", "--reason", "t"])
        noreason = runner.invoke(devices_app, [*args, "p_el_setpoint_kw", "700"])
    assert ok.exit_code == 0, ok.output
    rep = json.loads(ok.output)
    assert (rep["result"], rep["reason"], rep["read_back"]) == ("confirmed", "test", 700.0)
    assert bank.get_words(Table.HOLDING, 100, 1) == [7000]
    assert coil.exit_code == 0
    assert bank.get_words(Table.COIL, 0, 1) == [1]
    assert refused.exit_code == 1
    assert "refused" in refused.output
    assert "above the point's maximum 5000" in refused.output
    assert (nan.exit_code, junk.exit_code, nopoint.exit_code) == (2, 2, 2)
    assert readonly.exit_code == 1
    assert noreason.exit_code == 2


def test_check_commissions_and_runs_the_heartbeat_drill(make_site_file, tmp_path):
    fast = yaml.safe_load(load_map("bms_gateway").model_dump_json())
    fast["model"] = "bms_fast"
    fast["watchdog_s"] = 0.5
    map_file = tmp_path / "bms_fast.yaml"
    map_file.write_text(yaml.safe_dump(fast), encoding="utf-8")
    bms = load_map(map_file)
    bms_bank = Bank.for_map(bms)
    BmsBehaviour(bms, bms_bank, watchdog_s=0.5)
    boiler = load_map("boiler_controller")
    boiler_bank = Bank.for_map(boiler)
    for n, v in {
        "t_flow_c": 80.0,
        "t_return_c": 55.0,
        "t_flow_setpoint_c": 80.0,
        "q_th_kw": 900.0,
    }.items():
        boiler_bank.set(boiler, n, v)
    with (
        serve("pyModbusTCP", bms_bank) as s1,
        serve("pymodbus", boiler_bank) as s2,
        serve("pymodbus", tank_bank(t_bottom_c=130.0)) as s3,
    ):
        common = {"host": "127.0.0.1", "timeout_s": 0.3, "retries": 0}
        site = make_site_file(
            [
                {"name": "bms", "map": str(map_file), "port": s1.port, **common},
                {"name": "boiler1_ctrl", "map": "boiler_controller", "port": s2.port, **common},
            ]
        )
        ok = runner.invoke(devices_app, ["check", str(site), "--json"])
        site_bad = make_site_file(
            [{"name": "tank", "map": "tank_sensors", "port": s3.port, **common}]
        )
        bad = runner.invoke(devices_app, ["check", str(site_bad)])
    assert ok.exit_code == 0, ok.output
    items = [json.loads(x) for x in ok.output.splitlines()]
    by = {(i["device"], i["step"], i["point"]): i for i in items}
    assert by["bms", "heartbeat_drill", "local_state"]["status"] == "pass"
    assert by["boiler1_ctrl", "heartbeat_drill", ""]["status"] == "skip"
    assert by["boiler1_ctrl", "write", "t_flow_setpoint_c"]["status"] == "pass"
    assert by["boiler1_ctrl", "write", "load_limit_pct"]["value"] == pytest.approx(100.0)
    assert by["bms", "write", "chp1_p_el_kw_set"]["status"] == "pass"
    assert {i["step"] for i in items} == {"read", "write", "heartbeat_drill"}
    assert boiler_bank.get_words(Table.HOLDING, 11, 1) == [1000]  # safe_value 100 % written
    assert bms_bank.get_words(Table.HOLDING, 1, 1) == [0]  # released after the drill
    assert bad.exit_code == 1
    assert "FAIL tank" in bad.output
    assert "outside the expected range" in bad.output


def test_check_against_a_silent_gateway_fails_quickly(make_site_file):
    import time

    from modbus_servers import FaultServer

    with FaultServer("silent") as srv:
        site = make_site_file(
            [
                {
                    "name": "bms",
                    "map": "bms_gateway",
                    "host": "127.0.0.1",
                    "port": srv.port,
                    "timeout_s": 0.2,
                    "retries": 0,
                }
            ]
        )
        t0 = time.monotonic()
        res = runner.invoke(devices_app, ["check", str(site), "--json"])
        elapsed = time.monotonic() - t0
    assert res.exit_code == 1
    items = [json.loads(x) for x in res.output.splitlines()]
    assert {i["status"] for i in items} == {"fail"}
    drill = [i for i in items if i["step"] == "heartbeat_drill"]
    assert "heartbeat not accepted" in drill[0]["detail"]
    assert elapsed < 5
