"""Operator control in the loop: overrides shape the dispatched plan; heat-led on request."""

from __future__ import annotations

from datetime import timedelta

from energiemodell.store import save_operator_action
from scheduler.loop import drive
from scheduler.overrides import OverrideKind, override_target
from scheduler.policy import Rung
from tests.scheduler.conftest import LEAD, START


def _override(db, kind, subject, value, hours=2.0, reason="test"):
    save_operator_action(
        db=db,
        ts=START - LEAD - timedelta(minutes=1),
        actor="m.keller",
        action="override",
        reason=reason,
        target=override_target(kind, subject),
        value=value,
        valid_from=START,
        valid_to=START + timedelta(hours=hours),
    )


def test_a_pinned_chp_is_dispatched_at_its_pin(rig, db):
    r = rig()
    _override(db, OverrideKind.PIN, "chp1.p_el_kw", 250.0)
    reports = drive(r.deps, r.clock, intervals=2)
    assert all(x.rung is Rung.FRESH and x.written for x in reports)
    assert [x.setpoints["chp1.p_el_kw"] for x in reports] == [250.0, 250.0]


def test_forced_heat_led_operation_runs_the_rules(rig, db):
    r = rig()
    _override(db, OverrideKind.HEAT_LED, "site", None, reason="commissioning week")
    (report,) = drive(r.deps, r.clock, intervals=1)
    assert report.rung is Rung.HEAT_LED
    assert report.written
    assert [a.code for a in report.alarms] == ["override.heat_led"]
    assert "commissioning week" in report.alarms[0].message


def test_review_mode_without_approval_runs_the_rules(rig, db):
    r = rig(mode="review")
    (report,) = drive(r.deps, r.clock, intervals=1)
    assert report.rung is Rung.HEAT_LED
    assert "review.approval_missed" in [a.code for a in report.alarms]
