"""What the engine and its people did: setpoint writes, operator actions, alarms, scenario runs.

Each function appends one row in its own transaction; nothing is edited afterwards (an
acknowledgement is a row of its own). :func:`audit_trail` merges all of it, with the schedule
versions and maintenance jobs, into one time-ordered list for an interval.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select

from energiemodell.store.db import Database
from energiemodell.store.tables import (
    AlarmAckRecord,
    AlarmRecord,
    MaintenanceRecord,
    OperatorActionRecord,
    ScenarioRunRecord,
    ScheduleRecord,
    SetpointWriteRecord,
    table_of,
)

logger = logging.getLogger(__name__)

ACTIONS = ("approve", "reject", "override", "release", "note")
SEVERITIES = ("info", "warning", "critical")

writes_t: Table = table_of(SetpointWriteRecord)
actions_t: Table = table_of(OperatorActionRecord)
alarms_t: Table = table_of(AlarmRecord)
acks_t: Table = table_of(AlarmAckRecord)
scenario_runs_t: Table = table_of(ScenarioRunRecord)
maintenance_t: Table = table_of(MaintenanceRecord)
schedules_t: Table = table_of(ScheduleRecord)


def _append(db: Database, table: Table, values: Mapping[str, Any]) -> int:
    with db.write() as conn:
        new_id: int = conn.execute(
            insert(table).values(**values).returning(table.c.id)
        ).scalar_one()
    return new_id


def save_write(
    *,
    db: Database,
    device: str,
    point: str,
    value: float,
    ts: datetime,
    reason: str,
    result: str,
    read_back: float | None,
    schedule_id: int | None,
) -> int:
    """Record a setpoint write: what, value, when, why, the result and the read-back value."""
    return _append(
        db,
        writes_t,
        {
            "device": device,
            "point": point,
            "value": value,
            "ts": ts,
            "reason": reason,
            "result": result,
            "read_back": read_back,
            "schedule_id": schedule_id,
        },
    )


def save_operator_action(
    *,
    db: Database,
    ts: datetime,
    actor: str,
    action: str,
    reason: str,
    schedule_id: int | None = None,
    target: str | None = None,
    value: float | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> int:
    """Record an operator's action: who, what, why (and for an override, for how long).

    Raises
    ------
    ValueError
        Unknown action, an override without a validity window, or an empty actor or reason.
    """
    if action not in ACTIONS:
        msg = f"action {action!r} not in {ACTIONS}"
        raise ValueError(msg)
    if not actor.strip() or not reason.strip():
        msg = "an operator action needs who (actor) and why (reason)"
        raise ValueError(msg)
    if action == "override" and (valid_from is None or valid_to is None or valid_to <= valid_from):
        msg = "an override needs a validity window with valid_from < valid_to"
        raise ValueError(msg)
    new_id = _append(
        db,
        actions_t,
        {
            "ts": ts,
            "actor": actor,
            "action": action,
            "reason": reason,
            "schedule_id": schedule_id,
            "target": target,
            "value": value,
            "valid_from": valid_from,
            "valid_to": valid_to,
        },
    )
    logger.info("operator action %d: %s by %s (%s)", new_id, action, actor, reason)
    return new_id


def raise_alarm(
    *,
    db: Database,
    ts: datetime,
    source: str,
    code: str,
    severity: str,
    message: str,
    schedule_id: int | None = None,
) -> int:
    """Record an alarm; return its id (for the acknowledgement)."""
    if severity not in SEVERITIES:
        msg = f"severity {severity!r} not in {SEVERITIES}"
        raise ValueError(msg)
    return _append(
        db,
        alarms_t,
        {
            "ts": ts,
            "source": source,
            "code": code,
            "severity": severity,
            "message": message,
            "schedule_id": schedule_id,
        },
    )


def acknowledge_alarm(
    *, db: Database, alarm_id: int, ts: datetime, actor: str, note: str = ""
) -> int:
    """Record that ``actor`` acknowledged alarm ``alarm_id``."""
    return _append(db, acks_t, {"alarm_id": alarm_id, "ts": ts, "actor": actor, "note": note})


@dataclass(frozen=True)
class AlarmInfo:
    """An alarm and its acknowledgement, if any (the first one)."""

    id: int
    ts: datetime
    source: str
    code: str
    severity: str
    message: str
    schedule_id: int | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


def alarms_between(*, db: Database, start: datetime, end: datetime) -> list[AlarmInfo]:
    """Alarms raised with ``start <= ts < end``, with their first acknowledgement."""
    a, k = alarms_t, acks_t
    with db.read() as conn:
        alarms = conn.execute(
            select(a).where(a.c.ts >= start, a.c.ts < end).order_by(a.c.ts, a.c.id)
        ).all()
        ids = [r.id for r in alarms]
        acks: dict[int, tuple[datetime, str]] = {}
        if ids:
            for ack in conn.execute(
                select(k.c.alarm_id, k.c.ts, k.c.actor)
                .where(k.c.alarm_id.in_(ids))
                .order_by(k.c.ts.desc(), k.c.id.desc())
            ):
                acks[ack.alarm_id] = (ack.ts, ack.actor)
    return [
        AlarmInfo(
            id=r.id,
            ts=r.ts,
            source=r.source,
            code=r.code,
            severity=r.severity,
            message=r.message,
            schedule_id=r.schedule_id,
            acknowledged_at=acks[r.id][0] if r.id in acks else None,
            acknowledged_by=acks[r.id][1] if r.id in acks else None,
        )
        for r in alarms
    ]


def save_scenario_run(
    *,
    db: Database,
    name: str,
    started_at: datetime,
    finished_at: datetime,
    status: str,
    spec: Mapping[str, Any],
    kpis: Mapping[str, float],
    report_location: str | None,
) -> int:
    """Record a scenario run with its KPIs and where its report is."""
    return _append(
        db,
        scenario_runs_t,
        {
            "name": name,
            "started_at": started_at,
            "finished_at": finished_at,
            "status": status,
            "spec": dict(spec),
            "kpis": {str(k): float(v) for k, v in kpis.items()},
            "report_location": report_location,
        },
    )


def rows_between(
    *, db: Database, table: Table, start: datetime, end: datetime, ts_column: str = "ts"
) -> list[dict[str, Any]]:
    """All rows of ``table`` with ``start <= ts_column < end`` as dicts, oldest first."""
    col = table.c[ts_column]
    with db.read() as conn:
        rows = conn.execute(
            select(table).where(col >= start, col < end).order_by(col, table.c.id)
        ).all()
    return [dict(r._mapping) for r in rows]


def writes_between(*, db: Database, start: datetime, end: datetime) -> list[SetpointWriteRecord]:
    """Setpoint writes with ``start <= ts < end``, oldest first."""
    rows = rows_between(db=db, table=writes_t, start=start, end=end)
    return [SetpointWriteRecord(**r) for r in rows]


def operator_actions_between(
    *, db: Database, start: datetime, end: datetime
) -> list[OperatorActionRecord]:
    """Operator actions with ``start <= ts < end``, oldest first."""
    return [
        OperatorActionRecord(**r)
        for r in rows_between(db=db, table=actions_t, start=start, end=end)
    ]


def scenario_runs_between(
    *, db: Database, start: datetime, end: datetime
) -> list[ScenarioRunRecord]:
    """Scenario runs started with ``start <= started_at < end``, oldest first."""
    rows = rows_between(db=db, table=scenario_runs_t, start=start, end=end, ts_column="started_at")
    return [ScenarioRunRecord(**r) for r in rows]


def active_overrides(*, db: Database, at: datetime) -> list[OperatorActionRecord]:
    """Return the overrides in force at ``at``: inside their window and not released since.

    A ``release`` action ends every earlier override of the same target (or of every target,
    when the release names none).
    """
    a = actions_t
    with db.read() as conn:
        overrides = conn.execute(
            select(a)
            .where(a.c.action == "override", a.c.ts <= at, a.c.valid_from <= at, a.c.valid_to > at)
            .order_by(a.c.ts, a.c.id)
        ).all()
        if not overrides:
            return []
        releases = conn.execute(
            select(a.c.ts, a.c.target).where(
                a.c.action == "release", a.c.ts <= at, a.c.ts >= min(o.ts for o in overrides)
            )
        ).all()
    return [
        OperatorActionRecord(**o._mapping)
        for o in overrides
        if not any(r.ts >= o.ts and r.target in (None, o.target) for r in releases)
    ]


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the audit trail."""

    ts: datetime
    kind: str
    ref_id: int
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def audit_trail(*, db: Database, start: datetime, end: datetime) -> list[AuditEvent]:
    """Everything decided or done with ``start <= ts < end``, in time order.

    Kinds: ``schedule`` (a version was saved), ``write``, ``operator_action``, ``alarm``,
    ``alarm_ack``, ``scenario_run``, ``maintenance``.
    """
    events: list[AuditEvent] = []
    for r in rows_between(db=db, table=schedules_t, start=start, end=end, ts_column="created_at"):
        events.append(
            AuditEvent(
                r["created_at"],
                "schedule",
                r["id"],
                f"schedule version {r['id']}: {r['status']}, origin {r['origin']}, "
                f"cost {r['total_cost_eur']:.2f} EUR",
                {
                    k: r[k]
                    for k in (
                        "site_hash",
                        "valid_from",
                        "valid_to",
                        "mip_gap",
                        "costs_eur",
                        "inputs_summary",
                        "alarms",
                    )
                },
            )
        )
    for r in rows_between(db=db, table=writes_t, start=start, end=end):
        events.append(
            AuditEvent(
                r["ts"],
                "write",
                r["id"],
                f"{r['device']}.{r['point']} := {r['value']:g} ({r['reason']}): {r['result']}",
                {k: r[k] for k in ("read_back", "schedule_id")},
            )
        )
    for r in rows_between(db=db, table=actions_t, start=start, end=end):
        target = f" {r['target']}" if r["target"] else ""
        events.append(
            AuditEvent(
                r["ts"],
                "operator_action",
                r["id"],
                f"{r['action']}{target} by {r['actor']}: {r['reason']}",
                {k: r[k] for k in ("schedule_id", "value", "valid_from", "valid_to")},
            )
        )
    for r in rows_between(db=db, table=alarms_t, start=start, end=end):
        events.append(
            AuditEvent(
                r["ts"],
                "alarm",
                r["id"],
                f"{r['severity']} {r['source']}/{r['code']}: {r['message']}",
                {"schedule_id": r["schedule_id"]},
            )
        )
    for r in rows_between(db=db, table=acks_t, start=start, end=end):
        events.append(
            AuditEvent(
                r["ts"],
                "alarm_ack",
                r["id"],
                f"alarm {r['alarm_id']} acknowledged by {r['actor']}",
                {"alarm_id": r["alarm_id"], "note": r["note"]},
            )
        )
    for r in rows_between(
        db=db, table=scenario_runs_t, start=start, end=end, ts_column="started_at"
    ):
        events.append(
            AuditEvent(
                r["started_at"],
                "scenario_run",
                r["id"],
                f"scenario {r['name']}: {r['status']}",
                {k: r[k] for k in ("kpis", "report_location", "finished_at")},
            )
        )
    for r in rows_between(db=db, table=maintenance_t, start=start, end=end):
        events.append(
            AuditEvent(
                r["ts"],
                "maintenance",
                r["id"],
                f"{r['job']}: {r['rows_affected']} rows",
                dict(r["details"]),
            )
        )
    events.sort(key=lambda e: (e.ts, e.kind, e.ref_id))
    return events
