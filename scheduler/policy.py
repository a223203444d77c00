"""Which plan goes out, if any: the fallback ladder, the safety gate and the control mode.

The ladder, top to bottom; every step below the first is an alarm in the store::

    fresh        this cycle's plan, solved to the site's MIP gap, invariants hold
    time_limited this cycle's plan, stopped by the time limit with an incumbent (gap in the alarm)
    last_valid   the newest solver plan that still covers the interval, younger than the limit
    heat_led     the conventional rules (energiemodell.heat_led) from the estimated state
    release      every device back to local control (remote-enable off)

The safety gate sends the loop straight to ``release`` whatever the plans say: measurements
stale beyond the limit, a standby signal (grid outage, emergency generators running), an
operator's release; and dispatch itself releases when devices do not confirm writes.

The mode decides what happens to the chosen plan: ``shadow`` shows the setpoints and writes
nothing, ``auto`` writes them, ``review`` writes a plan only once an operator approved that
schedule version. Operator overrides in force replace single setpoints (``auto`` and
``review``); both come from the store's operator actions.

With the site given, :class:`ModePolicy` applies issue 9's operator control: overrides enter the
next plan (:meth:`ModePolicy.plan_state`, :mod:`scheduler.overrides`), forced heat-led operation
and review mode's fallbacks ask for the rules (:meth:`ModePolicy.rules_only`), and review mode
dispatches re-plans inside an approval's envelope (:mod:`scheduler.review`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, cast

import pandas as pd

from energiemodell.model.schedule import Schedule
from energiemodell.site import Site
from energiemodell.state import PlantState
from energiemodell.store import Database, active_overrides, operator_actions_between
from scheduler import overrides, review
from scheduler.alarms import plan_alarms
from scheduler.dispatch import plan_problems
from scheduler.journal import STORE_ERRORS, Ref
from scheduler.state_estimate import Estimate

logger = logging.getLogger(__name__)


class Rung(StrEnum):
    """The steps of the fallback ladder, best first."""

    FRESH = "fresh"
    TIME_LIMITED = "time_limited"
    LAST_VALID = "last_valid"
    HEAT_LED = "heat_led"
    RELEASE = "release"


class Mode(StrEnum):
    """What the loop does with a chosen plan."""

    SHADOW = "shadow"
    REVIEW = "review"
    AUTO = "auto"


@dataclass(frozen=True)
class Alarm:
    """An alarm the cycle raises (stored by the loop)."""

    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class StoredPlan:
    """A plan together with its store reference (its version id once saved)."""

    schedule: Schedule
    ref: Ref


@dataclass(frozen=True)
class Choice:
    """The ladder's answer: the rung, the plan on it (none for release) and why."""

    rung: Rung
    plan: StoredPlan | None
    alarms: list[Alarm] = field(default_factory=list)


def safety_gate(estimate: Estimate, *, operator_release: str | None) -> list[Alarm]:
    """Reasons to release to local control before any plan is considered (empty: none)."""
    alarms = []
    if estimate.standby:
        msg = "standby signal set, the optimiser stands down: " + "; ".join(estimate.standby)
        alarms.append(Alarm("release.standby", "critical", msg))
    if estimate.stale:
        msg = "measurements stale beyond the limit: " + "; ".join(estimate.stale[:8])
        alarms.append(Alarm("release.stale_measurements", "critical", msg))
    if operator_release is not None:
        alarms.append(Alarm("release.operator", "warning", operator_release))
    return alarms


def choose_plan(
    site: Site,
    *,
    fresh: StoredPlan | None,
    fresh_error: str | None,
    last_valid: StoredPlan | None,
    at: datetime,
    max_age: timedelta,
    heat_led: Callable[[], StoredPlan | None],
) -> Choice:
    """Walk the fallback ladder for the interval starting at ``at``."""
    alarms: list[Alarm] = []
    if fresh is not None and fresh.schedule.origin in ("optimal", "time_limited"):
        problems = plan_problems(site, fresh.schedule)
        if not problems and fresh.schedule.origin == "optimal":
            return Choice(Rung.FRESH, fresh)
        if not problems:
            gap = fresh.schedule.mip_gap
            gap_text = "unknown" if gap is None else f"{100 * gap:.2f} %"
            msg = f"solver time limit hit: dispatching the time-limited plan (gap {gap_text})"
            return Choice(
                Rung.TIME_LIMITED, fresh, [Alarm("fallback.time_limited", "warning", msg)]
            )
        msg = "the plan fails its invariant checks and is not dispatched: " + "; ".join(
            problems[:5]
        )
        alarms.append(Alarm("plan.checks_failed", "critical", msg))
    elif fresh is not None:
        reasons = "; ".join(fresh.schedule.alarms[-2:]) or fresh.schedule.status
        alarms.append(Alarm("plan.none", "warning", f"no plan this cycle: {reasons}"))
    else:
        alarms.append(Alarm("plan.error", "critical", f"planning failed: {fresh_error}"))
    why_not = _unusable(site, last_valid, at=at, max_age=max_age)
    if why_not is None and last_valid is not None:
        made = last_valid.schedule.created_at.isoformat()
        msg = f"dispatching the last valid plan (made {made}, version {last_valid.ref.id})"
        alarms.append(Alarm("fallback.last_valid", "warning", msg))
        return Choice(Rung.LAST_VALID, last_valid, alarms)
    rules = heat_led()
    problems = (
        ["the rules gave no dispatch"] if rules is None else plan_problems(site, rules.schedule)
    )
    if not problems:
        msg = f"dispatching the heat-led rules ({why_not})"
        alarms.append(Alarm("fallback.heat_led", "warning", msg))
        return Choice(Rung.HEAT_LED, rules, alarms)
    msg = f"no plan and no usable rule-based dispatch ({'; '.join(problems[:3])})"
    alarms.append(Alarm("release.no_plan", "critical", msg))
    return Choice(Rung.RELEASE, None, alarms)


def _unusable(
    site: Site, plan: StoredPlan | None, *, at: datetime, max_age: timedelta
) -> str | None:
    """Why the last valid plan cannot be used for the interval at ``at`` (``None``: it can)."""
    if plan is None:
        return "no earlier valid plan"
    index = pd.DatetimeIndex(plan.schedule.frame.index)
    step = pd.Timedelta(minutes=site.step_min)
    stamp = pd.Timestamp(at)
    if len(index) == 0 or stamp < index[0] or stamp >= index[-1] + step:
        return "the last valid plan does not cover this interval"
    age = at - plan.schedule.created_at
    if age > max_age:
        return f"the last valid plan is {age} old (limit {max_age})"
    if plan.schedule.site_hash != site.content_hash():
        return "the last valid plan was made for another version of the site"
    return None


@dataclass(frozen=True)
class Decision:
    """What the mode makes of a chosen plan's row."""

    write: bool
    row: pd.Series
    note: str
    alarms: list[Alarm] = field(default_factory=list)


class Policy(Protocol):
    """The seam between the ladder and dispatch: modes, approvals, operator overrides."""

    @property
    def mode(self) -> Mode:
        """The control mode."""
        ...

    def plan_state(self, state: PlantState, *, now: datetime) -> PlantState:
        """The state the next plan starts from, with the operator's overrides in force."""
        ...

    def rules_only(self, *, at: datetime, now: datetime) -> Alarm | None:
        """Why the interval at ``at`` runs the heat-led rules whatever the plan (``None``: not)."""
        ...

    def decide(self, plan: StoredPlan, row: pd.Series, *, now: datetime) -> Decision:
        """Whether to write ``row`` (a plan's row for the interval), and with which values."""
        ...


@dataclass
class ModePolicy:
    """The control modes, with approvals and overrides read from the store's operator actions.

    When the store cannot be read, the overrides last read stay in force and a plan that
    needs approval is not written (both with an alarm).
    """

    mode: Mode
    db: Database
    approval_lookback: timedelta = timedelta(days=2)
    site: Site | None = None
    _overrides: dict[str, tuple[float, str]] = field(default_factory=dict, init=False)
    _state: PlantState = field(default_factory=PlantState, init=False)
    _in_force: list[overrides.Override] = field(default_factory=list, init=False)

    def plan_state(self, state: PlantState, *, now: datetime) -> PlantState:
        """``state`` with the overrides in force or ahead at ``now`` (the last known if unreadable).

        Overrides that start later in the horizon are included: each holds only in its window.
        """
        self._state = state
        try:
            self._in_force = overrides.overrides_ahead(db=self.db, at=now)
        except STORE_ERRORS as exc:
            logger.warning("overrides unreadable, the last known ones stay in force: %s", exc)
        return overrides.plan_state(state, self._in_force)

    def rules_only(self, *, at: datetime, now: datetime) -> Alarm | None:
        """Forced heat-led operation in force at ``at``, or review mode without an approval."""
        try:
            forced = overrides.heat_led_forced(overrides.overrides_in_force(db=self.db, at=at))
            if forced is not None:
                msg = f"heat-led operation forced by {forced.actor}: {forced.reason}"
                return Alarm("override.heat_led", "info", msg)
            if self.mode is Mode.REVIEW and self.site is not None:
                day = review.local_day(at, self.site)
                decided = review.decisions_for(db=self.db, day=day, now=now, tz=self.site.timezone)
                unapproved = not decided or decided[-1].action == "reject"
                if unapproved and self.site.control.review.on_missed == "heat_led":
                    msg = f"no approved plan for {day.isoformat()}: heat-led rules"
                    return Alarm("review.approval_missed", "warning", msg)
        except STORE_ERRORS as exc:
            logger.warning("operator actions unreadable: %s", exc)
        return None

    def decide(self, plan: StoredPlan, row: pd.Series, *, now: datetime) -> Decision:
        """Apply the mode (see the module docstring)."""
        if self.mode is Mode.SHADOW:
            return Decision(False, row, "shadow mode: setpoints shown, nothing written")
        alarms: list[Alarm] = []
        if self.site is not None:  # what the plan leaves unserved or unsecured reaches people
            found = plan_alarms(plan.schedule.frame, dt_h=self.site.step_min / 60)
            alarms += [Alarm(a.code, a.severity, a.message) for a in found]
        if self.mode is Mode.REVIEW and self.site is not None:
            try:
                out = review.review_row(
                    db=self.db,
                    site=self.site,
                    plan=plan.schedule,
                    version=plan.ref.id,
                    at=pd.Timestamp(cast("datetime", row.name)).to_pydatetime(),
                    now=now,
                    state=self._state,
                )
                notices = review.deadline_notices(db=self.db, site=self.site, now=now)
            except STORE_ERRORS as exc:
                msg = f"approvals unreadable, nothing written: {exc}"
                return Decision(
                    False, row, msg, [Alarm("policy.store_unavailable", "warning", msg)]
                )
            alarms += [Alarm(a.code, a.severity, a.message) for a in [*out.alarms, *notices]]
            if out.row is None:  # a rejected plan unchanged: not written
                return Decision(False, row, out.note, alarms)
            row = out.row
        elif self.mode is Mode.REVIEW:
            approved, alarm = self._approved(plan.ref, now)
            alarms += alarm
            if not approved:
                note = f"review mode: schedule version {plan.ref.id} awaits approval"
                return Decision(False, row, note, alarms)
        row, alarm = self._apply_overrides(row, now)
        return Decision(True, row, f"{self.mode} mode: setpoints written", alarms + alarm)

    def _approved(self, ref: Ref, now: datetime) -> tuple[bool, list[Alarm]]:
        if ref.id is None:
            return False, []
        try:
            actions = operator_actions_between(
                db=self.db, start=now - self.approval_lookback, end=now + timedelta(seconds=1)
            )
        except STORE_ERRORS as exc:
            msg = f"approvals unreadable, nothing written: {exc}"
            return False, [Alarm("policy.store_unavailable", "warning", msg)]
        decided = [
            a for a in actions if a.schedule_id == ref.id and a.action in ("approve", "reject")
        ]
        return bool(decided) and decided[-1].action == "approve", []

    def _apply_overrides(self, row: pd.Series, now: datetime) -> tuple[pd.Series, list[Alarm]]:
        alarms = []
        try:
            active = active_overrides(db=self.db, at=now)
            self._overrides = {
                o.target: (float(o.value), o.actor)
                for o in active
                if o.target is not None and o.value is not None
            }
        except STORE_ERRORS as exc:
            msg = f"overrides unreadable, the last known ones stay in force: {exc}"
            alarms.append(Alarm("policy.store_unavailable", "warning", msg))
        if not self._overrides:
            return row, alarms
        row = row.copy()
        for target, (value, actor) in self._overrides.items():
            if target in row.index:
                row[target] = value
                msg = f"operator override by {actor}: {target} = {value:g}"
                alarms.append(Alarm("policy.override", "info", msg))
        return row, alarms
