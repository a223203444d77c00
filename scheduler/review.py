"""Review mode: facility managers approve tomorrow's plan; re-plans inside its envelope go out.

The site's ``control.review`` (:class:`energiemodell.site.ReviewPolicy`) sets the times: the
plan for local day ``D`` is ready by ``ready_by`` on ``D - 1`` and must be approved by
``approve_by`` on ``D - 1``. An approval (an ``approve`` operator action with the schedule
version and the target ``review:D``) covers that version plus an envelope per asset:

* the same on/off pattern (every ``<asset>.on`` column equal, rounded to units),
* every output (``<asset>.<quantity>_kw``, fuel excepted) within ``band_kw``,
* every storage level (``<asset>.level_kwh``) within ``storage_band_kwh``.

For an interval of day ``D`` (:func:`review_row`):

=========================  ================================================================
approved, same version     the plan's row is dispatched
approved, re-plan inside   the re-plan's row is dispatched
approved, re-plan outside  the approved plan's row, adapted to the current state, with an
                           alarm asking for a new approval
rejected, plan not changed the configured fallback (always heat-led: the plan was refused)
no approval                the configured ``on_missed``: heat-led rules or automatic
                           dispatch, with an alarm
=========================  ================================================================

A rejection records why; a later plan that does not differ from the rejected one (inside its
envelope) cannot be approved and is not dispatched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

import numpy as np
import pandas as pd

from energiemodell.model.schedule import Schedule
from energiemodell.site import ReviewPolicy, Site
from energiemodell.state import PlantState
from energiemodell.store import (
    Database,
    local_day_bounds,
    operator_actions_between,
    save_operator_action,
    schedule_content,
    schedule_frame,
    schedule_versions,
)
from energiemodell.store.tables import OperatorActionRecord

logger = logging.getLogger(__name__)

NOT_ASSET = ("demand", "unserved", "surplus", "n1", "price")


class Dispatch(StrEnum):
    """What goes out for an interval in review mode."""

    PLAN = "plan"
    APPROVED = "approved"
    HEAT_LED = "heat_led"


@dataclass(frozen=True)
class Notice:
    """An alarm of the review (the loop stores it like its own)."""

    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class ReviewOutcome:
    """The review's answer for one interval: what to dispatch, the row (if a plan's), why."""

    dispatch: Dispatch
    row: pd.Series | None
    note: str
    alarms: list[Notice] = field(default_factory=list)


class ReviewRefused(ValueError):
    """An approval or rejection that cannot be recorded; the message says why."""


def local_day(ts: datetime, site: Site) -> date:
    """The site's local calendar day of ``ts``."""
    return pd.Timestamp(ts).tz_convert(site.timezone).date()


def deadline(site: Site, day: date) -> datetime:
    """When the plan for ``day`` must be approved: ``approve_by`` local on the day before (UTC)."""
    return _local(site, day - timedelta(days=1), site.control.review.approve_by.isoformat())


def ready_time(site: Site, day: date) -> datetime:
    """When the plan for ``day`` is ready: ``ready_by`` local on the day before (UTC)."""
    return _local(site, day - timedelta(days=1), site.control.review.ready_by.isoformat())


def _local(site: Site, day: date, clock: str) -> datetime:
    stamp = pd.Timestamp(f"{day.isoformat()}T{clock}").tz_localize(site.timezone)
    return stamp.tz_convert("UTC").to_pydatetime()


def day_target(day: date) -> str:
    """The target text of approvals and rejections of ``day``'s plan."""
    return f"review:{day.isoformat()}"


def decisions_for(
    *, db: Database, day: date, now: datetime, tz: str = "Europe/Berlin"
) -> list[OperatorActionRecord]:
    """Approvals and rejections of ``day``'s plan recorded until ``now``, oldest first.

    Decisions naming the day (``review:D``, from :func:`approve` and :func:`reject`) count, and
    decisions naming only a schedule version (the dashboard's) count for the local days
    (time zone ``tz``) that version covers completely.
    """
    actions = operator_actions_between(
        db=db, start=now - timedelta(days=3), end=now + timedelta(seconds=1)
    )
    start, end = local_day_bounds(day, tz)
    covers: dict[int, bool] = {}

    def counts(a: OperatorActionRecord) -> bool:
        if a.action not in ("approve", "reject"):
            return False
        if a.target == day_target(day):
            return True
        if a.target is not None or a.schedule_id is None:
            return False  # another day's decision, or an operator's resume (no version)
        if a.schedule_id not in covers:
            try:
                index = pd.DatetimeIndex(schedule_frame(db=db, schedule_id=a.schedule_id).index)
            except KeyError:
                index = pd.DatetimeIndex([])
            step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(0)
            covers[a.schedule_id] = (
                len(index) > 0
                and index[0] <= pd.Timestamp(start)
                and index[-1] + step >= pd.Timestamp(end)
            )
        return covers[a.schedule_id]

    return [a for a in actions if counts(a)]


def envelope_deviations(
    approved: Schedule, candidate: Schedule, policy: ReviewPolicy, *, since: datetime | None = None
) -> list[str]:
    """Where ``candidate`` leaves the envelope of ``approved`` (empty: inside).

    Compared over the intervals both cover (from ``since``); every deviation names the column,
    the first interval and the size.
    """
    a, c = approved.frame, candidate.frame
    index = a.index.intersection(c.index)
    if since is not None:
        index = index[index >= pd.Timestamp(since)]
    if len(index) == 0:
        return ["the plans have no interval in common"]
    out = []
    for col in a.columns.intersection(c.columns):
        asset, _, quantity = col.partition(".")
        if asset in NOT_ASSET:
            continue
        if quantity == "on":
            band, unit = 0.5, "units on"
        elif quantity == "level_kwh":
            band, unit = policy.storage_band_kwh, "kWh"
        elif quantity.endswith("_kw") and quantity != "fuel_kw":
            band, unit = policy.band_kw, "kW"
        else:
            continue
        diff = (c.loc[index, col] - a.loc[index, col]).abs().to_numpy(dtype=float)
        over = diff > band + 1e-6
        if over.any():
            first = index[int(np.argmax(over))].isoformat()
            out.append(
                f"{col} differs by up to {diff.max():.1f} {unit} (band {band:g}) from {first}"
            )
    return out


def adapt(row: pd.Series, state: PlantState, at: datetime) -> pd.Series:
    """The approved plan's row for the plant as it is: assets out of service now are zeroed.

    Storage levels are the measured ones (the plan's level is a forecast of it).
    """
    row = row.copy()
    for outage in state.outages:
        if outage.covers(at) and outage.units is None:
            for col in row.index:
                if col.startswith(f"{outage.asset}.") and not col.endswith("level_kwh"):
                    row[col] = 0.0
    for store, level in state.storage_kwh.items():
        if f"{store}.level_kwh" in row.index:
            row[f"{store}.level_kwh"] = level
    return row


def _approved_schedule(db: Database, version: int) -> Schedule:
    return Schedule.from_dict(schedule_content(db=db, schedule_id=version))


def review_row(
    *,
    db: Database,
    site: Site,
    plan: Schedule,
    version: int | None,
    at: datetime,
    now: datetime,
    state: PlantState,
) -> ReviewOutcome:
    """Decide what review mode dispatches for the interval at ``at`` (see the module docstring)."""
    policy = site.control.review
    day = local_day(at, site)
    decided = decisions_for(db=db, day=day, now=now, tz=site.timezone)
    last = decided[-1] if decided else None
    row = plan.row_at(at)
    if last is not None and last.action == "approve" and last.schedule_id is not None:
        if last.schedule_id == version:
            return ReviewOutcome(Dispatch.PLAN, row, f"approved plan v{version} ({last.actor})")
        approved = _approved_schedule(db, last.schedule_id)
        deviations = envelope_deviations(approved, plan, policy, since=at)
        if not deviations:
            note = f"re-plan v{version} inside the envelope of approved v{last.schedule_id}"
            return ReviewOutcome(Dispatch.PLAN, row, note)
        msg = (
            f"re-plan v{version} leaves the envelope of approved plan v{last.schedule_id}: "
            + "; ".join(deviations[:4])
            + f". Dispatching the approved plan; approve a new plan for {day.isoformat()}."
        )
        adapted = adapt(approved.row_at(at), state, at)
        return ReviewOutcome(
            Dispatch.APPROVED,
            adapted,
            f"approved plan v{last.schedule_id}, adapted",
            [Notice("review.outside_envelope", "warning", msg)],
        )
    if last is not None and last.action == "reject" and last.schedule_id is not None:
        rejected = _approved_schedule(db, last.schedule_id)
        same = last.schedule_id == version or not envelope_deviations(
            rejected, plan, policy, since=at
        )
        if same:
            msg = (
                f"plan v{version} does not differ from v{last.schedule_id}, rejected by "
                f"{last.actor} ({last.reason}): heat-led rules until a new plan is approved"
            )
            return ReviewOutcome(
                Dispatch.HEAT_LED, None, msg, [Notice("review.rejected", "warning", msg)]
            )
    missed = f"no approved plan for {day.isoformat()} (deadline {deadline(site, day).isoformat()})"
    if policy.on_missed == "auto":
        msg = f"{missed}: dispatching plan v{version} automatically"
        return ReviewOutcome(
            Dispatch.PLAN, row, msg, [Notice("review.approval_missed", "warning", msg)]
        )
    msg = f"{missed}: heat-led rules"
    return ReviewOutcome(
        Dispatch.HEAT_LED, None, msg, [Notice("review.approval_missed", "warning", msg)]
    )


def deadline_notices(*, db: Database, site: Site, now: datetime) -> list[Notice]:
    """Alarms about tomorrow's plan: not ready by ``ready_by``, not approved by ``approve_by``."""
    tomorrow = local_day(now, site) + timedelta(days=1)
    out = []
    if now >= deadline(site, tomorrow):
        decided = decisions_for(db=db, day=tomorrow, now=now, tz=site.timezone)
        if not decided or decided[-1].action != "approve":
            msg = (
                f"the plan for {tomorrow.isoformat()} was not approved by "
                f"{site.control.review.approve_by.isoformat()}: "
                f"{site.control.review.on_missed} operation tomorrow"
            )
            out.append(Notice("review.approval_missed", "warning", msg))
    elif (
        now >= ready_time(site, tomorrow)
        and candidate_version(db=db, site=site, day=tomorrow, now=now) is None
    ):
        msg = f"no plan for {tomorrow.isoformat()} is ready for approval"
        out.append(Notice("review.plan_not_ready", "warning", msg))
    return out


def candidate_version(*, db: Database, site: Site, day: date, now: datetime) -> int | None:
    """The newest solver plan made until ``now`` that covers the whole local ``day``."""
    start, end = local_day_bounds(day, site.timezone)
    versions = [
        v
        for d in (day - timedelta(days=2), day - timedelta(days=1), day)
        for v in schedule_versions(db=db, day=d, tz=site.timezone)
        if v.origin in ("optimal", "time_limited")
        and v.valid_from <= start
        and v.valid_to >= end
        and v.created_at <= now
    ]
    return versions[-1].id if versions else None


def approve(
    *,
    db: Database,
    site: Site,
    day: date,
    version: int | None,
    actor: str,
    reason: str,
    now: datetime,
) -> int:
    """Approve a plan version for ``day`` (default: the newest covering it); return its id.

    Raises
    ------
    ReviewRefused
        No such plan, a plan that does not cover the day, or one that does not differ from a
        plan rejected for the day.
    """
    version = version or candidate_version(db=db, site=site, day=day, now=now)
    if version is None:
        msg = f"no plan covering {day.isoformat()} to approve"
        raise ReviewRefused(msg)
    plan = _plan_for(db, version, site, day)
    for d in decisions_for(db=db, day=day, now=now, tz=site.timezone):
        if d.action == "reject" and d.schedule_id is not None:
            rejected = _approved_schedule(db, d.schedule_id)
            if d.schedule_id == version or not envelope_deviations(
                rejected, plan, site.control.review
            ):
                msg = (
                    f"plan v{version} does not differ from v{d.schedule_id}, rejected by "
                    f"{d.actor}: {d.reason}"
                )
                raise ReviewRefused(msg)
    return _decide(db, "approve", version, day, actor, reason or "approved", now)


def reject(
    *,
    db: Database,
    site: Site,
    day: date,
    version: int | None,
    actor: str,
    reason: str,
    now: datetime,
) -> int:
    """Reject a plan version for ``day`` with the reason; return the action's id."""
    if not reason.strip():
        msg = "a rejection needs a reason"
        raise ReviewRefused(msg)
    version = version or candidate_version(db=db, site=site, day=day, now=now)
    if version is None:
        msg = f"no plan covering {day.isoformat()} to reject"
        raise ReviewRefused(msg)
    _plan_for(db, version, site, day)
    return _decide(db, "reject", version, day, actor, reason, now)


def _plan_for(db: Database, version: int, site: Site, day: date) -> Schedule:
    try:
        plan = _approved_schedule(db, version)
    except KeyError:
        msg = f"no schedule version {version}"
        raise ReviewRefused(msg) from None
    start, end = local_day_bounds(day, site.timezone)
    index = pd.DatetimeIndex(plan.frame.index)
    if (
        len(index) == 0
        or index[0] > pd.Timestamp(start)
        or index[-1] < pd.Timestamp(end) - pd.Timedelta(minutes=site.step_min)
    ):
        msg = f"plan v{version} does not cover {day.isoformat()}"
        raise ReviewRefused(msg)
    return plan


def _decide(
    db: Database, action: str, version: int, day: date, actor: str, reason: str, now: datetime
) -> int:
    if not actor.strip():
        msg = f"an {action} needs the person's name"
        raise ReviewRefused(msg)
    return save_operator_action(
        db=db,
        ts=now,
        actor=actor,
        action=action,
        reason=reason,
        schedule_id=version,
        target=day_target(day),
    )
