"""The History page: one past interval's full record, and the audit trail as CSV.

What was read, planned, approved and written, by whom and why. Re-exported by
:mod:`scheduler.web.data`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from energiemodell.store import (
    AuditEvent,
    Database,
    ScheduleInfo,
    active_overrides,
    aggregates_between,
    audit_trail,
    latest_schedule_info,
    operator_actions_between,
    schedule_frame,
    writes_between,
)
from energiemodell.store.tables import OperatorActionRecord, SetpointWriteRecord
from scheduler.web.plans import STEP, floor_interval, local_date

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntervalRecord:
    """One past interval: what was read, planned, approved and written, by whom and why."""

    start: datetime
    end: datetime
    read: pd.DataFrame
    plan: ScheduleInfo | None
    planned: dict[str, float]
    decisions: list[OperatorActionRecord]
    overrides: list[OperatorActionRecord]
    writes: list[SetpointWriteRecord]
    audit: list[AuditEvent]


def interval_record(db: Database, start: datetime, tz: str) -> IntervalRecord:
    """Everything the store holds about the interval starting at ``start``.

    Approved: the review decisions for the interval's day (:mod:`scheduler.review`) and the
    operators' releases and resumes since the plan in force was made.
    """
    from scheduler.review import decisions_for

    start = floor_interval(start)
    end = start + STEP
    read = aggregates_between(db=db, start=start, end=end)
    plan = latest_schedule_info(db=db, at=start)
    planned: dict[str, float] = {}
    decisions: list[OperatorActionRecord] = []
    if plan is not None:
        frame = schedule_frame(db=db, schedule_id=plan.id)
        if pd.Timestamp(start) in frame.index:
            row = frame.loc[pd.Timestamp(start)].to_numpy(dtype=float)
            planned = {
                str(k): float(v) for k, v in zip(frame.columns, row, strict=True) if not np.isnan(v)
            }
        decisions = [
            a
            for a in operator_actions_between(db=db, start=plan.created_at, end=end)
            if a.action in ("release", "approve") and a.target is None and a.schedule_id is None
        ]
    decisions += decisions_for(db=db, day=local_date(start, tz), now=end)
    decisions.sort(key=lambda a: (a.ts, a.id or 0))
    writes = writes_between(db=db, start=start - timedelta(minutes=5), end=end)
    audit = audit_trail(db=db, start=start - timedelta(minutes=5), end=end)
    return IntervalRecord(
        start,
        end,
        read,
        plan,
        planned,
        decisions,
        active_overrides(db=db, at=start),
        writes,
        audit,
    )


def audit_csv(events: list[AuditEvent], tz: str) -> str:
    """Audit events as CSV: time (UTC and local), kind, id, summary."""
    zone = ZoneInfo(tz)
    frame = pd.DataFrame(
        {
            "timestamp": [e.ts.strftime("%Y-%m-%dT%H:%M:%SZ") for e in events],
            "local_time": [e.ts.astimezone(zone).isoformat() for e in events],
            "kind": [e.kind for e in events],
            "ref_id": [e.ref_id for e in events],
            "summary": [e.summary for e in events],
        }
    )
    return str(frame.to_csv(index=False))
