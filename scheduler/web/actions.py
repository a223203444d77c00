"""What operators do from the dashboard and the API, through the operator-control modules.

Every action goes through the same functions as the command line (issue 9), so the loop reads
it the same way and the same checks apply:

- approve / reject a plan version for a local day: :mod:`scheduler.review` (an action with
  target ``review:DAY``; review mode dispatches re-plans inside an approval's envelope).
- add an override: :func:`scheduler.overrides.add_override`, after a trial plan; that needs the
  site file (its series feed the forecast), configured as ``ENERGIEMODELL_WEB_SITE``. Without
  it the dashboard refuses overrides and says so. End one: :func:`scheduler.overrides.end_override`.
- acknowledge an alarm: :func:`scheduler.alarms.acknowledge`.
- hand back to local control: a ``release`` without target (no operator-control function
  exists for it; this is the convention ``scheduler.loop`` reads: the loop releases every
  device at its next cycle); resume: an ``approve`` without version and target, which ends it.

Every action records who and why; nothing is edited afterwards.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from energiemodell.errors import EnergiemodellError
from energiemodell.model.planner import Planner
from energiemodell.site import Site
from energiemodell.state import PlantState
from energiemodell.store import Database, latest_schedule_info, save_operator_action
from scheduler import alarms, overrides, review
from scheduler.forecasting import HistoryForecast
from scheduler.overrides import OverrideKind, OverrideRefused, add_override

MAX_OVERRIDE = timedelta(hours=24)


class ActionError(ValueError):
    """An action that cannot be done: ``status`` 404 (no such thing) or 422 (bad input)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def check_time(ts: datetime, field: str) -> datetime:
    """Refuse times outside 2000..2100 (a typo, not a plan: and no overflow at the edges)."""
    if ts.tzinfo is None:
        raise ActionError(422, f"{field}: give a time zone offset")
    if not EARLIEST <= ts < LATEST:
        raise ActionError(422, f"{field}: {ts.isoformat()} is outside 2000..2099")
    return ts


def check_day(day: date, field: str) -> date:
    """Refuse dates outside 2000..2099."""
    if not EARLIEST.date() <= day < LATEST.date():
        raise ActionError(422, f"{field}: {day.isoformat()} is outside 2000..2099")
    return day


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise ActionError(422, "give a reason: every operator action is audited with why")
    if len(text) > 2000:
        raise ActionError(422, "the reason is longer than 2000 characters")
    return text


def decide(
    *,
    db: Database,
    site: Site | None,
    actor: str,
    schedule_id: int,
    day: date,
    approve: bool,
    reason: str,
    now: datetime,
) -> int:
    """Approve or reject plan version ``schedule_id`` for the local ``day`` (review mode)."""
    why = _reason(reason)
    check_day(day, "day")
    if site is None:
        raise ActionError(409, "no plan version in the store: nothing to approve")
    decide_plan = review.approve if approve else review.reject
    try:
        return decide_plan(
            db=db, site=site, day=day, version=schedule_id, actor=actor, reason=why, now=now
        )
    except review.ReviewRefused as exc:
        status = 404 if str(exc).startswith("no schedule version") else 422
        raise ActionError(status, str(exc)) from None


def create_override(
    *,
    db: Database,
    site: Site | None,
    actor: str,
    kind: str,
    subject: str,
    value: float | None,
    valid_from: datetime,
    valid_to: datetime,
    reason: str,
    now: datetime,
) -> int:
    """Add an override after its trial plan (see :func:`scheduler.overrides.add_override`)."""
    why = _reason(reason)
    try:
        kind_ = OverrideKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in OverrideKind)
        raise ActionError(422, f"kind {kind!r}: use one of {known}") from None
    if value is not None and not math.isfinite(value):
        raise ActionError(422, "the value must be a finite number")
    check_time(valid_from, "valid_from")
    check_time(valid_to, "valid_to")
    if valid_to <= valid_from:
        raise ActionError(422, "valid_to must be after valid_from")
    if kind_ in (OverrideKind.PIN, OverrideKind.STORAGE_TARGET) and value is None:
        raise ActionError(422, f"a {kind_} override needs a value")
    if valid_to <= now:
        raise ActionError(422, "the override window has already ended")
    if valid_to - valid_from > MAX_OVERRIDE:
        raise ActionError(422, "an override lasts at most 24 hours")
    if site is None:
        raise ActionError(
            409,
            "overrides are not available here yet: their trial plan needs the site file "
            "(set ENERGIEMODELL_WEB_SITE), or use `energiemodell override add`",
        )
    step = timedelta(minutes=site.step_min)
    at = pd.Timestamp(max(valid_from, now)).floor(step).to_pydatetime()
    n = max(1, round(site.control.horizon_h * 60 / site.step_min))
    info = latest_schedule_info(db=db, at=at)
    state = PlantState()
    if info is not None and "state" in info.inputs_summary:
        state = PlantState.model_validate(info.inputs_summary["state"])
    try:
        forecast = HistoryForecast(site, db).forecast(at, n)
        return add_override(
            db=db,
            site=site,
            planner=Planner(site, n),
            forecast=forecast,
            state=state,
            kind=kind_,
            subject=subject,
            value=value,
            start=valid_from,
            end=valid_to,
            actor=actor,
            reason=why,
            now=now,
        )
    except OverrideRefused as exc:
        raise ActionError(422, str(exc)) from None
    except EnergiemodellError as exc:
        raise ActionError(422, f"no trial plan: {exc}") from None


def end_override(*, db: Database, actor: str, override_id: int, reason: str, now: datetime) -> int:
    """End an override in force or ahead (a ``release`` of its target)."""
    why = _reason(reason)
    try:
        return overrides.end_override(
            db=db, override_id=override_id, actor=actor, reason=why, now=now
        )
    except OverrideRefused as exc:
        raise ActionError(404, str(exc)) from None


def release_to_local(*, db: Database, actor: str, reason: str, now: datetime) -> int:
    """Ask the running loop to hand every device back to local control."""
    return save_operator_action(
        db=db, ts=now, actor=actor, action="release", reason=_reason(reason)
    )


def resume_optimised(*, db: Database, actor: str, reason: str, now: datetime) -> int:
    """Clear an operator's release: the loop dispatches plans again from its next cycle."""
    return save_operator_action(
        db=db, ts=now, actor=actor, action="approve", reason=_reason(reason)
    )


def acknowledge(*, db: Database, actor: str, alarm_id: int, note: str, now: datetime) -> int:
    """Acknowledge alarm ``alarm_id`` (see :func:`scheduler.alarms.acknowledge`)."""
    if len(note) > 2000:
        raise ActionError(422, "the note is longer than 2000 characters")
    try:
        return alarms.acknowledge(db=db, alarm_id=alarm_id, actor=actor, note=note.strip(), now=now)
    except ValueError as exc:
        status = 404 if str(exc).startswith("no alarm") else 409
        raise ActionError(status, str(exc)) from None
