"""The control cycle: poll, store, estimate, forecast, plan, choose, dispatch, read back, audit.

:func:`run_cycle` is the whole cycle as plain function calls; it is the only place in the
scheduler that catches broadly, at the cycle boundary: whatever fails (the forecast, the solver,
the rules), the failure becomes an alarm and the loop steps down the fallback ladder
(:mod:`scheduler.plan_choice`, :mod:`scheduler.policy`) instead of stopping. Time comes from the
deps' clock, so the same cycle runs in production (apscheduler, :mod:`scheduler.jobs`) and in
simulated time (:func:`drive`).

A restart resumes from the store (:func:`resume`, :mod:`scheduler.store_view`): the last valid
solver plan, the intervals whose setpoints were already written (never written twice) and,
through the state estimate, the peak so far, the KWKG hours and each unit's time in state.

The cycle's data types live in :mod:`scheduler.cycle` and are importable from here too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd

from connectors.poller import read_devices, site_quantities
from connectors.writer import WriteReport
from energiemodell.store import aggregate_readings
from scheduler.clock import SimulatedClock, target_interval
from scheduler.cycle import CycleDeps, CycleReport, LoopLimits, PlanMaker, Runtime
from scheduler.cycle import interval_tag as _tag
from scheduler.dispatch import dispatch, engage, release, setpoints_for
from scheduler.journal import STORE_ERRORS, Ref
from scheduler.plan_choice import plan_interval as _plan
from scheduler.plant_alarms import plant_alarms
from scheduler.policy import Alarm, Choice, Mode, Rung, safety_gate
from scheduler.state_estimate import estimate_state
from scheduler.store_view import WRITE_OK, flexible_drawn, resume
from scheduler.store_view import operator_release as _operator_release
from scheduler.store_view import stored_state as _stored_state

__all__ = [
    "WRITE_OK",
    "CycleDeps",
    "CycleReport",
    "LoopLimits",
    "PlanMaker",
    "Runtime",
    "drive",
    "resume",
    "run_cycle",
]

logger = logging.getLogger(__name__)


def run_cycle(deps: CycleDeps, now: datetime) -> CycleReport:
    """Run one control cycle for the interval that starts next (or is running) at ``now``.

    Never raises: a failure outside the ladder's own steps (a defect, a device layer that
    raised) is a critical alarm, and every device is handed back to local control.
    """
    at = target_interval(now, deps.site.step_min, deps.limits.lead_time_s)
    try:
        report = _run_cycle(deps, now, at)
    except Exception as exc:  # the cycle boundary: record, release, carry on
        report = _failed_cycle(deps, now, at, exc)
    deps.journal.cycle(
        started_at=report.started_at,
        finished_at=report.finished_at,
        interval_start=at,
        rung=str(report.rung),
        solve_s=report.solve_s,
    )
    return report


def _failed_cycle(deps: CycleDeps, now: datetime, at: datetime, exc: Exception) -> CycleReport:
    """Release every device after a cycle failed outside the ladder's steps; alarm."""
    logger.exception("cycle for %s failed", at.isoformat())
    alarm = Alarm("cycle.error", "critical", f"the cycle failed: {type(exc).__name__}: {exc}")
    writes: list[WriteReport] = []
    if deps.policy.mode is not Mode.SHADOW:
        deps.journal.schedule_ref = Ref()
        try:
            writes = _release(deps, f"release at interval {_tag(at)}: cycle.error")
        except Exception:  # the cycle boundary: the devices' own watchdogs take over
            logger.exception("release after a failed cycle failed too")
    deps.journal.alarm(ts=now, code=alarm.code, severity=alarm.severity, message=alarm.message)
    return CycleReport(
        interval_start=at,
        started_at=now,
        finished_at=deps.clock.now(),
        rung=Rung.RELEASE,
        mode=deps.policy.mode,
        written=False,
        duplicate=False,
        schedule_id=None,
        origin=None,
        mip_gap=None,
        solve_s=0.0,
        setpoints={},
        writes=writes,
        alarms=[alarm],
        store_pending=deps.journal.pending,
    )


def _run_cycle(deps: CycleDeps, now: datetime, at: datetime) -> CycleReport:
    site, rt, journal = deps.site, deps.runtime, deps.journal
    if not rt.resumed:
        resume(deps, now)
    journal.flush()
    readings = read_devices(list(deps.devices.values()))
    stored_ok = journal.readings(readings)
    if stored_ok:
        _aggregate(deps, now)
    values = site_quantities(readings, site.devices)
    peak_before = None if rt.stored is None else rt.stored.peak_import_kw
    stored = _stored_state(deps, now)
    estimate = estimate_state(
        site,
        values,
        at=now,
        stored=stored,
        previous_row=rt.last_row,
        memory=rt.memory,
        stale_limit_s=deps.limits.stale_limit_s,
        standby_quantities=deps.limits.standby_quantities,
        tank_temps_c=deps.limits.tank_temps_c,
        flexible_kwh=flexible_drawn(deps, at),
    )
    alarms = plant_alarms(
        site,
        values,
        at=now,
        peak_before_kw=peak_before,
        peak_now_kw=estimate.state.peak_import_kw,
    )
    if not stored_ok:
        msg = f"store unavailable, {journal.pending} records wait in memory: {journal.last_error}"
        alarms.append(Alarm("store.unavailable", "warning", msg))
    gate = safety_gate(estimate, operator_release=_operator_release(deps, now))
    solve_s = 0.0
    if gate:
        choice = Choice(Rung.RELEASE, None, gate)
    else:
        choice, solve_s = _plan(deps, now, at, estimate)
    alarms += choice.alarms
    writes: list[WriteReport] = []
    written = duplicate = False
    setpoints: dict[str, float] = {}
    rung = choice.rung
    if choice.plan is not None:
        journal.schedule_ref = choice.plan.ref
        row = choice.plan.schedule.row_at(at)
        decision = deps.policy.decide(choice.plan, row, now=now)
        alarms += decision.alarms
        setpoints = {
            b.column: float(decision.row.get(b.column, float("nan"))) for b in deps.bindings
        }
        rt.last_row = decision.row
        if decision.write and at in rt.dispatched:
            duplicate = True
            logger.info("interval %s was dispatched before: not written again", at.isoformat())
        elif decision.write:
            writes, failed = _dispatch(deps, at, choice, decision.row)
            written = not failed
            if failed == STOPPING:  # the service hands every device back as it stops
                logger.info("interval %s: %s", at.isoformat(), failed)
            elif failed:
                rung = Rung.RELEASE
                alarms.append(Alarm("release.write_not_confirmed", "critical", failed))
                writes += _release(deps, f"release at interval {_tag(at)}: {failed}")
    elif deps.policy.mode is not Mode.SHADOW and rt.engaged is not False:
        journal.schedule_ref = Ref()
        reason = "; ".join(a.code for a in choice.alarms) or "release"
        writes += _release(deps, f"release at interval {_tag(at)}: {reason}")
    for a in alarms:
        ref = choice.plan.ref if choice.plan is not None else None
        journal.alarm(ts=now, code=a.code, severity=a.severity, message=a.message, ref=ref)
    plan = choice.plan.schedule if choice.plan is not None else None
    return CycleReport(
        interval_start=at,
        started_at=now,
        finished_at=deps.clock.now(),
        rung=rung,
        mode=deps.policy.mode,
        written=written,
        duplicate=duplicate,
        schedule_id=choice.plan.ref.id if choice.plan is not None else None,
        origin=None if plan is None else plan.origin,
        mip_gap=None if plan is None else plan.mip_gap,
        solve_s=solve_s,
        setpoints=setpoints,
        writes=writes,
        alarms=alarms,
        store_pending=journal.pending,
    )


STOPPING = "the service is stopping: setpoints not written ahead of their interval"
"""What :func:`_dispatch` reports when a shutdown woke it before the interval started."""


def _dispatch(
    deps: CycleDeps, at: datetime, choice: Choice, row: pd.Series
) -> tuple[list[WriteReport], str]:
    """Engage remote control if needed, wait for the interval start, write; return failures."""
    rt = deps.runtime
    setpoints, problems = setpoints_for(row, deps.bindings)
    if problems:
        return [], "setpoints not dispatched: " + "; ".join(problems[:5])
    deps.clock.sleep_until(at)
    if deps.clock.now() < at:  # woken early: only a shutdown interrupts the clock
        return [], STOPPING
    assert choice.plan is not None  # noqa: S101  (only plans are dispatched)
    reports: list[WriteReport] = []
    if not rt.engaged:
        reports += engage(
            deps.writers,
            deps.heartbeats,
            reason=f"remote control for the {choice.rung} plan of interval {_tag(at)}",
            timeout_s=deps.limits.confirm_timeout_s,
        )
        bad = [r for r in reports if not r.ok]
        if bad:
            return reports, "remote control not confirmed: " + _describe(bad)
        rt.engaged = True
    version = choice.plan.ref.id
    reason = f"interval {_tag(at)}: {choice.rung} plan v{version}"
    reports += dispatch(setpoints, deps.writers, reason=reason)
    bad = [r for r in reports if not r.ok]
    if bad:
        return reports, "writes not confirmed: " + _describe(bad)
    rt.dispatched.add(at)
    return reports, ""


def _release(deps: CycleDeps, reason: str) -> list[WriteReport]:
    reports = release(deps.writers, reason=reason)
    deps.runtime.engaged = False
    return reports


def _describe(reports: list[WriteReport]) -> str:
    return "; ".join(f"{r.device}.{r.point} {r.result} ({r.detail})" for r in reports[:5])


def _aggregate(deps: CycleDeps, now: datetime) -> None:
    try:
        aggregate_readings(db=deps.db, until=now)
    except STORE_ERRORS as exc:
        logger.warning("aggregation postponed: %s", exc)


def drive(
    deps: CycleDeps,
    clock: SimulatedClock,
    *,
    intervals: int,
    after: Callable[[CycleReport], None] | None = None,
) -> list[CycleReport]:
    """Run ``intervals`` cycles in simulated time, each at its lead time before the interval.

    The clock is moved by the cycle itself (it waits for the interval start before writing)
    and then to the next cycle's start; whatever simulates the plant follows the clock
    (:meth:`~scheduler.clock.SimulatedClock.subscribe`).
    """
    reports = []
    step = timedelta(minutes=deps.site.step_min)
    lead = timedelta(seconds=deps.limits.lead_time_s)
    for _ in range(intervals):
        report = run_cycle(deps, clock.now())
        clock.sleep_until(report.interval_start + step - lead)
        reports.append(report)
        if after is not None:
            after(report)
    return reports
