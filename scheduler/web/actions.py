"""What operators do from the dashboard and the API, written to the store's operator actions.

``scheduler/operator.py`` (the operator-control issue) does not exist yet, so these actions are
written against the store directly, in the conventions the control loop already reads
(``scheduler.policy`` and ``scheduler.loop``):

- approve / reject: an ``approve`` or ``reject`` action naming the schedule version; in
  review mode the loop writes a version only once its newest decision is ``approve``.
- override: an ``override`` action with target (``asset.quantity``), value and validity window;
  the loop's policy replaces that setpoint while the override is in force.
- end an override: a ``release`` naming the override's target (ends earlier overrides of it).
- hand back to local control: a ``release`` without target; the running loop releases every
  device at its next cycle, until an operator resumes.
- resume optimised control: an ``approve`` without a schedule version (clears the release).
- acknowledge an alarm: a row in ``alarm_acks``.

Every action records who and why; nothing is edited afterwards.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from energiemodell.store import (
    Database,
    acknowledge_alarm,
    active_overrides,
    save_operator_action,
)

TARGET = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$")
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
    *, db: Database, actor: str, schedule_id: int, approve: bool, reason: str, now: datetime
) -> int:
    """Approve or reject schedule version ``schedule_id``."""
    try:
        return save_operator_action(
            db=db,
            ts=now,
            actor=actor,
            action="approve" if approve else "reject",
            reason=_reason(reason),
            schedule_id=schedule_id,
        )
    except IntegrityError:
        raise ActionError(404, f"no schedule version {schedule_id}") from None


def create_override(
    *,
    db: Database,
    actor: str,
    target: str,
    value: float,
    valid_from: datetime,
    valid_to: datetime,
    reason: str,
    now: datetime,
) -> int:
    """Override one setpoint (``asset.quantity``) with ``value`` for a window of at most 24 h."""
    why = _reason(reason)
    if not TARGET.match(target):
        raise ActionError(422, f"target {target!r}: use asset.quantity, e.g. chp1.p_el_kw")
    if not math.isfinite(value):
        raise ActionError(422, "the value must be a finite number")
    check_time(valid_from, "valid_from")
    check_time(valid_to, "valid_to")
    if valid_to <= valid_from:
        raise ActionError(422, "valid_to must be after valid_from")
    if valid_to <= now:
        raise ActionError(422, "the override window has already ended")
    if valid_to - valid_from > MAX_OVERRIDE:
        raise ActionError(422, "an override lasts at most 24 hours")
    return save_operator_action(
        db=db,
        ts=now,
        actor=actor,
        action="override",
        reason=why,
        target=target,
        value=value,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def end_override(*, db: Database, actor: str, override_id: int, reason: str, now: datetime) -> int:
    """End an override in force (a ``release`` of its target)."""
    why = _reason(reason)
    found = [o for o in active_overrides(db=db, at=now) if o.id == override_id]
    if not found:
        raise ActionError(404, f"override {override_id} is not in force")
    return save_operator_action(
        db=db, ts=now, actor=actor, action="release", reason=why, target=found[0].target
    )


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
    """Acknowledge alarm ``alarm_id``."""
    if len(note) > 2000:
        raise ActionError(422, "the note is longer than 2000 characters")
    try:
        return acknowledge_alarm(db=db, alarm_id=alarm_id, ts=now, actor=actor, note=note.strip())
    except IntegrityError:
        raise ActionError(404, f"no alarm {alarm_id}") from None
