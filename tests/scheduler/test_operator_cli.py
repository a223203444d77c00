"""The operator commands, run as the console script runs them (a Typer app of the same commands)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import typer
from typer.testing import CliRunner

from energiemodell.site import Site, site_to_yaml
from energiemodell.store import Database, audit_trail, raise_alarm, save_schedule
from scheduler.cli_operator import alarms_app, approve, override_app, reject
from tests.scheduler.test_operator_review import DAY, _plan

app = typer.Typer()
app.command()(approve)
app.command()(reject)
app.add_typer(override_app, name="override")
app.add_typer(alarms_app, name="alarms")
runner = CliRunner()


def _url(db: Database) -> str:
    return str(db.engine.url)


def test_approve_reject_and_alarms_from_the_command_line(tiny_site: Site, db: Database) -> None:
    site = str(tiny_site.source)
    v1 = save_schedule(
        db=db, schedule=_plan(tiny_site), site_yaml=site_to_yaml(tiny_site), inputs_summary={}
    )
    base = ["--date", DAY.isoformat(), "--db", _url(db)]
    missing = runner.invoke(app, ["reject", site, *base, "--user", "a.weber"])
    assert missing.exit_code == 2  # --reason is required
    done = runner.invoke(app, ["reject", site, *base, "--user", "a.weber", "--reason", "too hot"])
    assert done.exit_code == 0, done.output
    refused = runner.invoke(app, ["approve", site, *base, "--user", "m.keller"])
    assert refused.exit_code == 1
    assert f"plan v{v1} does not differ from v{v1}" in refused.output
    bad = runner.invoke(app, ["approve", site, "--date", "12.3.2024", "--user", "x"])
    assert bad.exit_code == 2
    now = datetime.now(UTC)
    alarm = raise_alarm(
        db=db, ts=now, source="loop", code="plan.error", severity="critical", message="m"
    )
    listed = runner.invoke(app, ["alarms", "list", "--open", "--json", "--db", _url(db)])
    assert [json.loads(line)["id"] for line in listed.output.splitlines()] == [alarm]
    ack = runner.invoke(
        app,
        [
            "alarms",
            "ack",
            str(alarm),
            "--user",
            "m.keller",
            "--note",
            "restarted",
            "--db",
            _url(db),
        ],
    )
    assert ack.exit_code == 0, ack.output
    again = runner.invoke(app, ["alarms", "ack", str(alarm), "--user", "x", "--db", _url(db)])
    assert again.exit_code == 1
    listed = runner.invoke(app, ["alarms", "list", "--open", "--db", _url(db)])
    assert listed.output == ""
    trail = audit_trail(
        db=db, start=now - timedelta(days=1), end=datetime.now(UTC) + timedelta(seconds=1)
    )
    summaries = [e.summary for e in trail if e.kind in ("operator_action", "alarm_ack")]
    assert summaries == [
        "reject review:2024-03-12 by a.weber: too hot",
        f"alarm {alarm} acknowledged by m.keller",
    ]


@pytest.mark.solver
def test_override_add_list_end_from_the_command_line(tiny_site: Site, db: Database) -> None:
    site = str(tiny_site.source)
    window = ["--from", "2024-03-12T06:00", "--to", "2099-01-01T00:00"]

    def add(*args: str) -> str:
        result = runner.invoke(app, ["override", "add", site, *args, "--db", _url(db)])
        assert result.exit_code == 0, result.output
        return result.output

    def refuse(*args: str) -> str:
        result = runner.invoke(app, ["override", "add", site, *args, "--db", _url(db)])
        assert result.exit_code == 1, result.output
        return result.output

    add("--kind", "out_of_service", "--subject", "chp1", *window, "--user", "a", "--reason", "r")
    # without the CHP, boilers held at zero leave the heat demand to a 400 kWh store
    out = refuse(
        "--kind",
        "pin",
        "--subject",
        "boilers.q_kw",
        "--value",
        "0",
        *window,
        "--user",
        "m.keller",
        "--reason",
        "test",
    )
    assert "demand unserved" in out
    missing = runner.invoke(
        app,
        [
            "override",
            "add",
            site,
            "--kind",
            "pin",
            "--subject",
            "chp9.p_el_kw",
            "--value",
            "1",
            *window,
            "--user",
            "a",
            "--reason",
            "r",
            "--db",
            _url(db),
        ],
    )
    assert missing.exit_code == 1
    assert "unknown asset 'chp9'" in missing.output
    added = runner.invoke(
        app,
        [
            "override",
            "add",
            site,
            "--kind",
            "heat_led",
            *window,
            "--user",
            "m.keller",
            "--reason",
            "commissioning week",
            "--db",
            _url(db),
        ],
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["override", "list", "--json", "--db", _url(db)])
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [(r["kind"], r["user"], r["reason"]) for r in rows] == [
        ("out_of_service", "a", "r"),
        ("heat_led", "m.keller", "commissioning week"),
    ]
    ended = runner.invoke(
        app,
        [
            "override",
            "end",
            str(rows[1]["id"]),
            "--user",
            "a.weber",
            "--reason",
            "done",
            "--db",
            _url(db),
        ],
    )
    assert ended.exit_code == 0, ended.output
    listed = runner.invoke(app, ["override", "list", "--db", _url(db)]).output
    assert "out_of_service chp1" in listed
    assert "heat_led" not in listed
