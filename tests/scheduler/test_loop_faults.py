"""Fault tests of the control loop on the tiny site: each fault lands on its rung at once.

Every test runs the real planner (HiGHS), the real state estimate, policy, dispatch and store
(SQLite) against fake devices with a fake plant behind them, in simulated time.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import event

from connectors.errors import DeviceUnavailable
from connectors.registers import Table
from energiemodell.errors import SolveError
from energiemodell.model.planner import Planner
from energiemodell.model.schedule import Schedule
from energiemodell.state import PlantState
from energiemodell.store import (
    alarms_between,
    readings_between,
    schedule_versions,
    writes_between,
)
from scheduler.loop import drive, run_cycle
from scheduler.policy import Rung
from tests.scheduler.conftest import LEAD, START

pytestmark = pytest.mark.solver

STEP = timedelta(minutes=15)
END = START + timedelta(hours=6)


class Faulty:
    """The real planner, with a fault switched on for chosen calls."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner
        self.n = planner.n
        self.fault: str | None = None

    def plan(self, forecast, state: PlantState) -> Schedule:
        if self.fault == "crash":
            raise SolveError("HiGHS crashed: segmentation fault in presolve")
        schedule = self.planner.plan(forecast, state)
        if self.fault == "time_limited":
            schedule.status, schedule.origin, schedule.mip_gap = "time_limit", "time_limited", 0.03
        elif self.fault == "over_limit":
            schedule.frame = schedule.frame.copy()
            schedule.frame["chp1.p_el_kw"] = 900.0  # above the CHP's 400 kW
        return schedule


def faulty(rig_factory, **overrides):
    r = rig_factory(**overrides)
    f = Faulty(r.deps.planner)
    r.rebuild(planner=f, **overrides)
    return r, f


def alarm_codes(db, at) -> set[str]:
    """Codes of the alarms stored by the cycle of the interval starting at ``at``."""
    return {a.code for a in alarms_between(db=db, start=at - LEAD, end=at + STEP - LEAD)}


def interval_writes(db, at):
    """The setpoint writes of the plan for the interval starting at ``at``."""
    tag = f"interval {at:%Y-%m-%dT%H:%M}Z: "
    return [
        w for w in writes_between(db=db, start=START - LEAD, end=END) if w.reason.startswith(tag)
    ]


def test_normal_cycles_are_fresh_written_confirmed_and_stored(rig, db):
    r = rig()
    reports = drive(r.deps, r.clock, intervals=4)
    assert [x.rung for x in reports] == [Rung.FRESH] * 4
    assert all(x.written and x.writes_ok for x in reports)
    assert [x.interval_start for x in reports] == [START + k * STEP for k in range(4)]
    versions = schedule_versions(db=db, day=START.date(), tz="Europe/Berlin")
    assert [v.origin for v in versions] == ["optimal"] * 4
    for rep, v in zip(reports, versions, strict=True):
        assert rep.schedule_id == v.id
        stored = interval_writes(db, rep.interval_start)
        assert {w.point for w in stored} == {"p_el_setpoint_kw", "start_request", "boiler_q_kw_set"}
        assert all(w.schedule_id == v.id and w.result == "confirmed" for w in stored)
    # the CHP holds what the last plan said, within its limits
    chp = r.devices["chp1_ctrl"]
    (sp,) = chp.read_points(["p_el_setpoint_kw"])
    assert sp.value == pytest.approx(reports[-1].setpoints["chp1.p_el_kw"], abs=0.1)
    assert 0 <= sp.value <= 400
    polls = readings_between(db=db, start=START - LEAD, end=END)
    assert polls["ts"].nunique() == 4
    assert polls["device"].nunique() == 3


def test_time_limit_without_incumbent_falls_back_to_last_valid_plan(rig, db):
    r = rig()
    first = drive(r.deps, r.clock, intervals=2)
    r.deps.planner.solver._opt.config.time_limit = 1e-4  # HiGHS stops before any solution
    (hit,) = drive(r.deps, r.clock, intervals=1)
    assert hit.rung is Rung.LAST_VALID
    assert hit.written
    assert hit.schedule_id == first[-1].schedule_id
    assert {"plan.none", "fallback.last_valid"} <= alarm_codes(db, hit.interval_start)
    last = r.deps.runtime.last_valid.schedule
    assert hit.setpoints["chp1.p_el_kw"] == pytest.approx(
        last.row_at(hit.interval_start)["chp1.p_el_kw"]
    )
    r.deps.planner.solver._opt.config.time_limit = 20.0
    (again,) = drive(r.deps, r.clock, intervals=1)
    assert again.rung is Rung.FRESH


def test_time_limited_plan_is_dispatched_with_its_gap_alarmed(rig, db):
    r, f = faulty(rig)
    drive(r.deps, r.clock, intervals=1)
    f.fault = "time_limited"
    (hit,) = drive(r.deps, r.clock, intervals=1)
    assert hit.rung is Rung.TIME_LIMITED
    assert hit.written
    (alarm,) = [
        a for a in alarms_between(db=db, start=START, end=END) if a.code == "fallback.time_limited"
    ]
    assert "3.00 %" in alarm.message
    assert alarm.schedule_id == hit.schedule_id


def test_solver_failure_uses_last_valid_plan_then_heat_led_rules(rig, db):
    r, f = faulty(rig, last_plan_max_age_h=0.3)
    ok = drive(r.deps, r.clock, intervals=1)[0]
    f.fault = "crash"
    reports = drive(r.deps, r.clock, intervals=2)
    assert [x.rung for x in reports] == [Rung.LAST_VALID, Rung.HEAT_LED]
    assert reports[0].schedule_id == ok.schedule_id
    assert "plan.error" in alarm_codes(db, reports[0].interval_start)
    assert "fallback.heat_led" in alarm_codes(db, reports[1].interval_start)
    rules = [v for v in schedule_versions(db=db, day=START.date()) if v.origin == "heat_led"]
    assert len(rules) == 1
    assert rules[0].id == reports[1].schedule_id
    assert reports[1].written
    assert reports[1].writes_ok
    assert 0 <= reports[1].setpoints["boilers.q_kw"] <= 2000


def test_solver_failure_from_the_start_goes_to_heat_led_rules(rig, db):
    r, f = faulty(rig)
    f.fault = "crash"
    (rep,) = drive(r.deps, r.clock, intervals=1)
    assert rep.rung is Rung.HEAT_LED
    assert rep.written


def test_plan_failing_its_checks_is_not_dispatched(rig, db):
    r, f = faulty(rig)
    drive(r.deps, r.clock, intervals=1)
    f.fault = "over_limit"
    (rep,) = drive(r.deps, r.clock, intervals=1)
    assert rep.rung is Rung.LAST_VALID
    assert rep.setpoints["chp1.p_el_kw"] <= 400
    assert "plan.checks_failed" in alarm_codes(db, rep.interval_start)
    assert all(
        w.value <= 400
        for w in writes_between(db=db, start=START - LEAD, end=END)
        if w.point == "p_el_setpoint_kw"
    )


def test_device_that_stops_answering_releases_to_local_control(rig, db):
    r = rig()
    drive(r.deps, r.clock, intervals=2)
    r.devices["chp1_ctrl"].fail_with = DeviceUnavailable("chp1_ctrl: no valid answer after 2 tries")
    (hit,) = drive(r.deps, r.clock, intervals=1)
    assert hit.rung is Rung.RELEASE
    assert not hit.written
    assert "release.stale_measurements" in alarm_codes(db, hit.interval_start)
    releases = [
        w
        for w in writes_between(db=db, start=hit.started_at, end=END)
        if w.point == "remote_enable"
    ]
    assert {(w.device, w.result) for w in releases} == {
        ("gateway", "confirmed"),
        ("chp1_ctrl", "failed"),
    }
    assert r.plant._remote("gateway") is False
    r.devices["chp1_ctrl"].fail_with = None
    (back,) = drive(r.deps, r.clock, intervals=1)
    assert back.rung is Rung.FRESH
    assert back.written
    assert r.plant._remote("gateway")


@pytest.mark.parametrize(("limit_s", "rung"), [(600.0, Rung.RELEASE), (1800.0, Rung.FRESH)])
def test_stale_meter_releases_beyond_the_limit_only(rig, db, limit_s, rung):
    r = rig(stale_limit_s=limit_s)
    drive(r.deps, r.clock, intervals=2)
    r.devices["signals"].fail_with = DeviceUnavailable("signals: timeout")
    (hit,) = drive(r.deps, r.clock, intervals=1)
    assert hit.rung is rung
    assert ("release.stale_measurements" in alarm_codes(db, hit.interval_start)) is (
        rung is Rung.RELEASE
    )


def test_write_not_confirmed_releases_at_once(rig, db):
    r = rig()
    (first,) = drive(r.deps, r.clock, intervals=1)
    assert first.setpoints["chp1.on"] == 1.0
    chp = r.devices["chp1_ctrl"]
    chp.ignore.add((Table.COIL, 0))  # the controller acknowledges start requests and drops them
    chp.set_value("start_request", False)
    (hit,) = drive(r.deps, r.clock, intervals=1)
    assert hit.rung is Rung.RELEASE
    assert not hit.written
    assert "release.write_not_confirmed" in alarm_codes(db, hit.interval_start)
    (bad,) = [w for w in interval_writes(db, hit.interval_start) if w.point == "start_request"]
    assert bad.result == "not_confirmed"
    assert bad.read_back == 0.0
    assert not r.plant._remote("chp1_ctrl")
    assert not r.plant._remote("gateway")


def test_database_briefly_unavailable_loses_nothing(rig, db, tmp_path):
    @event.listens_for(db.engine, "connect")
    def _short_busy_timeout(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA busy_timeout = 50")

    db.engine.dispose()
    r = rig()
    drive(r.deps, r.clock, intervals=2)
    lock = sqlite3.connect(tmp_path / "store.sqlite", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        (hit,) = drive(r.deps, r.clock, intervals=1)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert hit.rung is Rung.FRESH
    assert hit.written
    assert hit.store_pending > 0
    assert hit.schedule_id is None  # not saved yet
    (after,) = drive(r.deps, r.clock, intervals=1)
    assert after.store_pending == 0
    versions = schedule_versions(db=db, day=START.date())
    assert len(versions) == 4
    stored = interval_writes(db, hit.interval_start)
    assert len(stored) == 3
    assert {w.schedule_id for w in stored} == {versions[2].id}
    assert "store.unavailable" in alarm_codes(db, hit.interval_start)
    polls = readings_between(db=db, start=START - LEAD, end=END)
    assert polls["ts"].nunique() == 4


def test_standby_signal_stands_the_optimiser_down(rig, db):
    r = rig()
    drive(r.deps, r.clock, intervals=2)
    r.devices["signals"].set_value("standby", True)
    (hit,) = drive(r.deps, r.clock, intervals=1)
    assert hit.rung is Rung.RELEASE
    assert hit.schedule_id is None
    assert "release.standby" in alarm_codes(db, hit.interval_start)
    assert not r.plant._remote("chp1_ctrl")
    assert not r.plant._remote("gateway")
    r.devices["signals"].set_value("standby", False)
    (back,) = drive(r.deps, r.clock, intervals=1)
    assert back.rung is Rung.FRESH
    assert back.written


def test_restart_mid_day_resumes_without_duplicate_or_missing_dispatch(rig, db):
    r = rig()
    drive(r.deps, r.clock, intervals=3)
    last = run_cycle(r.deps, r.clock.now())  # dispatches 05:45 at 05:45
    assert last.written
    assert r.clock.now() == last.interval_start
    r.clock.sleep_until(last.interval_start + timedelta(minutes=5))  # crash and restart at 05:50
    deps = r.rebuild()
    rerun = run_cycle(deps, r.clock.now())
    assert rerun.interval_start == last.interval_start
    assert rerun.duplicate
    assert not rerun.writes
    assert deps.runtime.last_valid is not None
    r.clock.sleep_until(rerun.interval_start + STEP - LEAD)
    after = drive(deps, r.clock, intervals=2)
    assert [x.interval_start for x in after] == [START + 4 * STEP, START + 5 * STEP]
    assert all(x.rung is Rung.FRESH and x.written for x in after)
    assert deps.runtime.stored is not None
    assert deps.runtime.stored.peak_import_kw > 0
    for k in range(6):
        at = START + k * STEP
        assert len(interval_writes(db, at)) == 3, at


def test_shadow_mode_plans_and_writes_nothing(rig, db):
    r = rig(mode="shadow")
    reports = drive(r.deps, r.clock, intervals=2)
    assert all(x.rung is Rung.FRESH and not x.written and x.setpoints for x in reports)
    assert writes_between(db=db, start=START - LEAD, end=END) == []
    assert not any(req[0] == "write" for d in r.devices.values() for req in d.requests)


def test_unexpected_failure_in_a_cycle_releases_and_is_alarmed(rig, db):
    r = rig()
    drive(r.deps, r.clock, intervals=1)

    def broken(names=None):
        raise RuntimeError("driver defect")

    r.devices["signals"].read_points = broken
    (hit,) = drive(r.deps, r.clock, intervals=1)
    assert hit.rung is Rung.RELEASE
    assert "cycle.error" in alarm_codes(db, hit.interval_start)
    assert not r.plant._remote("gateway")
