"""The control cycle: poll, store, estimate, forecast, plan, choose, dispatch, read back, audit.

:func:`run_cycle` is the whole cycle as plain function calls; it is the only place in the
scheduler that catches broadly, at the cycle boundary: whatever fails (the forecast, the solver,
the rules), the failure becomes an alarm and the loop steps down the fallback ladder
(:mod:`scheduler.policy`) instead of stopping. Time comes from the deps' clock, so the same
cycle runs in production (apscheduler, :mod:`scheduler.jobs`) and in simulated time
(:func:`drive`).

A restart resumes from the store (:func:`resume`): the last valid solver plan, the intervals
whose setpoints were already written (never written twice) and, through the state estimate,
the peak so far, the KWKG hours and each unit's time in state.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pandas as pd

from connectors.device import Device
from connectors.poller import read_devices, site_quantities
from connectors.writer import Heartbeat, SafeWriter, WriteReport
from energiemodell.heat_led import heat_led_dispatch
from energiemodell.model.schedule import Schedule
from energiemodell.site import Site
from energiemodell.state import PlantState
from energiemodell.store import (
    Database,
    StoredState,
    aggregate_readings,
    operator_actions_between,
    plant_state,
    schedule_content,
    schedule_versions,
    writes_between,
)
from scheduler.clock import Clock, SimulatedClock, target_interval
from scheduler.dispatch import (
    SetpointBinding,
    dispatch,
    engage,
    plan_problems,
    release,
    setpoints_for,
)
from scheduler.forecasting import ForecastSource
from scheduler.journal import STORE_ERRORS, Journal, Ref
from scheduler.policy import (
    Alarm,
    Choice,
    Mode,
    Policy,
    Rung,
    StoredPlan,
    choose_plan,
    safety_gate,
)
from scheduler.state_estimate import Estimate, UnitMemory, estimate_state

logger = logging.getLogger(__name__)

WRITE_OK = ("confirmed", "unchanged")
_INTERVAL_TAG = re.compile(r"^interval (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z): \w+ plan v\d+$")
"""The reason of a setpoint write of a plan (what :func:`resume` looks for)."""


class PlanMaker(Protocol):
    """The planner as the loop uses it (:class:`energiemodell.model.planner.Planner`)."""

    n: int

    def plan(self, forecast: pd.DataFrame, state: PlantState) -> Schedule:
        """Plan the forecast's horizon from ``state``."""
        ...


@dataclass(frozen=True)
class LoopLimits:
    """The loop's timing and safety limits (from :class:`scheduler.settings.Settings`)."""

    lead_time_s: float = 120.0
    stale_limit_s: float = 300.0
    last_plan_max_age: timedelta = timedelta(hours=6)
    confirm_timeout_s: float = 10.0
    standby_quantities: tuple[str, ...] = ("site.standby", "grid.outage")
    tank_temps_c: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: {"heat": (60.0, 90.0), "cooling": (12.0, 6.0)}
    )


@dataclass
class Runtime:
    """What the loop carries from one cycle to the next (rebuilt from the store on restart)."""

    started_at: datetime
    resumed: bool = False
    last_valid: StoredPlan | None = None
    last_row: pd.Series | None = None
    dispatched: set[datetime] = field(default_factory=set)
    engaged: bool | None = None
    stored: StoredState | None = None
    memory: UnitMemory = field(default_factory=UnitMemory)


@dataclass(frozen=True)
class CycleDeps:
    """Everything a cycle needs, built once (``scheduler.cli_run``), fakes in the tests."""

    site: Site
    db: Database
    clock: Clock
    devices: Mapping[str, Device]
    writers: Mapping[str, SafeWriter]
    heartbeats: Mapping[str, Heartbeat]
    bindings: list[SetpointBinding]
    planner: PlanMaker
    forecaster: ForecastSource
    policy: Policy
    journal: Journal
    limits: LoopLimits
    runtime: Runtime
    site_yaml: str
    """The site content stored with every schedule version (``site_to_yaml``, made once)."""


@dataclass(frozen=True)
class CycleReport:
    """What one cycle did."""

    interval_start: datetime
    started_at: datetime
    finished_at: datetime
    rung: Rung
    mode: Mode
    written: bool
    duplicate: bool
    schedule_id: int | None
    origin: str | None
    mip_gap: float | None
    solve_s: float
    setpoints: dict[str, float]
    writes: list[WriteReport]
    alarms: list[Alarm]
    store_pending: int

    @property
    def writes_ok(self) -> bool:
        """Whether every write of the cycle was confirmed (or already held)."""
        return all(w.ok for w in self.writes)


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
    estimate = estimate_state(
        site,
        values,
        at=now,
        stored=_stored_state(deps, now),
        previous_row=rt.last_row,
        memory=rt.memory,
        stale_limit_s=deps.limits.stale_limit_s,
        standby_quantities=deps.limits.standby_quantities,
        tank_temps_c=deps.limits.tank_temps_c,
    )
    alarms: list[Alarm] = []
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
            if failed:
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


def _plan(deps: CycleDeps, now: datetime, at: datetime, estimate: Estimate) -> tuple[Choice, float]:
    """Forecast, plan and walk the ladder; every failure becomes an alarm, never an exception."""
    site, rt, n = deps.site, deps.runtime, deps.planner.n
    forecast: pd.DataFrame | None = None
    fresh: StoredPlan | None = None
    error: str | None = None
    solve_s = 0.0
    state = deps.policy.plan_state(estimate.state, now=at)  # operator overrides enter the plan
    try:
        forecast = deps.forecaster.forecast(at, n)
        deps.journal.forecast(forecast, issued_at=now, source=deps.forecaster.name)
        schedule = deps.planner.plan(forecast, state)
        schedule.created_at = deps.clock.now()  # the loop's time (simulated in simulations)
        solve_s = schedule.timings.get("solve_s", 0.0)
        ref, _ = deps.journal.schedule(
            schedule, site_yaml=deps.site_yaml, inputs=_inputs(deps, at, estimate, "planner")
        )
        fresh = StoredPlan(schedule, ref)
    except Exception as exc:  # the cycle boundary: any planning failure steps down the ladder
        logger.exception("planning for %s failed", at.isoformat())
        error = f"{type(exc).__name__}: {exc}"

    def rules() -> StoredPlan | None:
        try:
            fc = forecast if forecast is not None else deps.forecaster.forecast(at, n)
            decisions, _ = heat_led_dispatch(site, fc, state)
        except Exception:  # the cycle boundary: without rules the ladder ends in a release
            logger.exception("heat-led rules for %s failed", at.isoformat())
            return None
        schedule = Schedule(
            frame=decisions.astype(float),
            costs={},
            costs_by_asset={},
            penalties={},
            kpis={},
            status="fallback",
            mip_gap=None,
            origin="heat_led",
            site_hash=site.content_hash(),
            created_at=deps.clock.now(),
        )
        ref, _ = deps.journal.schedule(
            schedule, site_yaml=deps.site_yaml, inputs=_inputs(deps, at, estimate, "heat_led")
        )
        return StoredPlan(schedule, ref)

    forced = deps.policy.rules_only(at=at, now=deps.clock.now())
    if forced is not None:  # the operator's heat-led operation or review mode's fallback
        by_rules = rules()
        if by_rules is not None and not plan_problems(site, by_rules.schedule):
            return Choice(Rung.HEAT_LED, by_rules, [forced]), solve_s
    choice = choose_plan(
        site,
        fresh=fresh,
        fresh_error=error,
        last_valid=rt.last_valid,
        at=at,
        max_age=deps.limits.last_plan_max_age,
        heat_led=rules,
    )
    if choice.rung in (Rung.FRESH, Rung.TIME_LIMITED):
        rt.last_valid = choice.plan
    return choice, solve_s


def _dispatch(
    deps: CycleDeps, at: datetime, choice: Choice, row: pd.Series
) -> tuple[list[WriteReport], str]:
    """Engage remote control if needed, wait for the interval start, write; return failures."""
    rt = deps.runtime
    setpoints, problems = setpoints_for(row, deps.bindings)
    if problems:
        return [], "setpoints not dispatched: " + "; ".join(problems[:5])
    deps.clock.sleep_until(at)
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


def _tag(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _inputs(deps: CycleDeps, at: datetime, estimate: Estimate, made_by: str) -> dict[str, Any]:
    return {
        "interval": _tag(at),
        "made_by": made_by,
        "forecast": deps.forecaster.name,
        "state": estimate.state.model_dump(mode="json"),
        "stale": estimate.stale,
        "notes": estimate.notes,
    }


def _aggregate(deps: CycleDeps, now: datetime) -> None:
    try:
        aggregate_readings(db=deps.db, until=now)
    except STORE_ERRORS as exc:
        logger.warning("aggregation postponed: %s", exc)


def _stored_state(deps: CycleDeps, now: datetime) -> StoredState | None:
    """The store's view of the plant; the last one read when the store is unavailable."""
    rated = {
        f"{a.name}.p_el_kw": float(a.params.p_el_max_kw)
        for a in deps.site.asset_objects
        if getattr(a.params, "kwkg", None) is not None
    }
    try:
        deps.runtime.stored = plant_state(db=deps.db, at=now, rated_kw=rated, tz=deps.site.timezone)
    except STORE_ERRORS as exc:
        logger.warning("store state unavailable, using the last one read: %s", exc)
    return deps.runtime.stored


def _operator_release(deps: CycleDeps, now: datetime) -> str | None:
    """An operator's release in force: after the loop started, not yet followed by an approval."""
    try:
        actions = operator_actions_between(
            db=deps.db, start=deps.runtime.started_at, end=now + timedelta(seconds=1)
        )
    except STORE_ERRORS:
        return None
    last = None
    for a in actions:
        if a.action == "release" and a.target is None:
            last = a
        elif a.action == "approve" and a.schedule_id is None:
            last = None
    return None if last is None else f"released by {last.actor}: {last.reason}"


def resume(deps: CycleDeps, now: datetime) -> None:
    """Rebuild the runtime from the store: the last valid plan and what was already written."""
    rt, site = deps.runtime, deps.site
    rt.resumed = True
    try:
        day = pd.Timestamp(now).tz_convert(site.timezone).date()
        versions = [
            v
            for d in (day - timedelta(days=1), day)
            for v in schedule_versions(db=deps.db, day=d, tz=site.timezone)
        ]
        valid = [
            v
            for v in versions
            if v.origin in ("optimal", "time_limited") and v.valid_to > now and v.created_at <= now
        ]
        if valid and rt.last_valid is None:
            info = valid[-1]
            schedule = Schedule.from_dict(schedule_content(db=deps.db, schedule_id=info.id))
            rt.last_valid = StoredPlan(schedule, Ref(info.id))
            rt.last_row = schedule.row_at(now) if schedule.frame.index[0] <= now else None
        for w in writes_between(
            db=deps.db, start=now - timedelta(days=1), end=now + timedelta(hours=1)
        ):
            m = _INTERVAL_TAG.match(w.reason)
            if m and w.result in WRITE_OK and w.schedule_id is not None:
                rt.dispatched.add(
                    datetime.strptime(m.group(1), "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
                )
    except STORE_ERRORS as exc:
        rt.resumed = False  # try again next cycle
        logger.warning("cannot resume from the store yet: %s", exc)
        return
    if rt.last_valid is not None or rt.dispatched:
        logger.info(
            "resumed from the store: last valid plan v%s, %d intervals already dispatched",
            None if rt.last_valid is None else rt.last_valid.ref.id,
            len(rt.dispatched),
        )


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
