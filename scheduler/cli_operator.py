"""Operator commands: ``approve``, ``reject``, ``override add|list|end``, ``alarms list|ack``.

Every command records who (``--user``) and why (``--reason``/``--note``) in the store's
operator actions or alarm acknowledgements, which the audit trail shows. The database URL
comes from ``--db``, else ``$ENERGIEMODELL_DB_URL``, else ``energiemodell.sqlite``.
Exit codes: 0 done, 1 refused (the message says why) or the store failed, 2 bad input.

The lead wires them into ``scheduler/cli.py``::

    app.command()(approve)
    app.command()(reject)
    app.add_typer(override_app, name="override")
    app.add_typer(alarms_app, name="alarms")
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import pandas as pd
import typer

from energiemodell.errors import EnergiemodellError, SiteError
from energiemodell.model.planner import Planner
from energiemodell.site import Site, load_site
from energiemodell.state import PlantState
from energiemodell.store import (
    Database,
    StoreError,
    alarms_between,
    latest_schedule_info,
    open_db,
    resolve_url,
)
from energiemodell.timeseries import parse_local_start
from scheduler.alarms import acknowledge
from scheduler.cli_common import DbOpt, fail
from scheduler.forecasting import HistoryForecast
from scheduler.journal import STORE_ERRORS
from scheduler.overrides import (
    OverrideKind,
    OverrideRefused,
    add_override,
    end_override,
    overrides_ahead,
)
from scheduler.review import ReviewRefused
from scheduler.review import approve as approve_plan
from scheduler.review import reject as reject_plan

logger = logging.getLogger(__name__)

override_app = typer.Typer(
    help="Operator overrides: out of service, pinned values, storage targets, heat-led.",
    no_args_is_help=True,
)
alarms_app = typer.Typer(help="List and acknowledge alarms.", no_args_is_help=True)

UserOpt = Annotated[str, typer.Option("--user", help="Who does this (recorded in the audit trail)")]
VersionOpt = Annotated[
    int | None,
    typer.Option("--version", help="Schedule version (default: the newest covering the day)"),
]
DateOpt = Annotated[str, typer.Option("--date", help="Local day of the plan, e.g. 2024-03-12")]


def _open(url: str | None) -> Database:
    try:
        return open_db(resolve_url(url))
    except StoreError as exc:
        fail(2, f"--db: {exc}")


def _site(ref: str) -> Site:
    try:
        return load_site(ref)
    except SiteError as exc:
        fail(2, str(exc))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(2, f"--date: {text!r} is not a date (use 2024-03-12)")


def _now() -> datetime:
    return datetime.now(UTC)


def approve(
    site: Annotated[str, typer.Argument(help="Site name or path to its YAML file")],
    day: DateOpt,
    user: UserOpt,
    version: VersionOpt = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (optional)")] = "approved",
    db: DbOpt = None,
) -> None:
    """Approve the plan for a day (review mode); re-plans inside its envelope go out too."""
    s, d, handle = _site(site), _day(day), _open(db)
    try:
        action = approve_plan(
            db=handle, site=s, day=d, version=version, actor=user, reason=reason, now=_now()
        )
    except ReviewRefused as exc:
        fail(1, f"not approved: {exc}")
    except STORE_ERRORS as exc:
        fail(1, f"store: {exc}")
    finally:
        handle.dispose()
    typer.echo(f"approved the plan for {d.isoformat()} (action {action})")


def reject(
    site: Annotated[str, typer.Argument(help="Site name or path to its YAML file")],
    day: DateOpt,
    user: UserOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why the plan is rejected (required)")],
    version: VersionOpt = None,
    db: DbOpt = None,
) -> None:
    """Reject the plan for a day with the reason; the loop stays on its fallback meanwhile."""
    s, d, handle = _site(site), _day(day), _open(db)
    try:
        action = reject_plan(
            db=handle, site=s, day=d, version=version, actor=user, reason=reason, now=_now()
        )
    except ReviewRefused as exc:
        fail(1, f"not rejected: {exc}")
    except STORE_ERRORS as exc:
        fail(1, f"store: {exc}")
    finally:
        handle.dispose()
    typer.echo(f"rejected the plan for {d.isoformat()} (action {action})")


def _when(text: str, site: Site, option: str) -> datetime:
    try:
        return parse_local_start(text, site.timezone, option=option).to_pydatetime()
    except SiteError as exc:
        fail(2, str(exc))


@override_app.command("add")
def override_add(
    site: Annotated[str, typer.Argument(help="Site name or path to its YAML file")],
    kind: Annotated[OverrideKind, typer.Option("--kind", help="What the override does")],
    user: UserOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why (required)")],
    until: Annotated[
        str, typer.Option("--to", help="End (local date-time or with offset; the target time)")
    ],
    subject: Annotated[
        str,
        typer.Option(
            "--subject",
            help="Asset (out_of_service, storage_target), column such as chp1.p_el_kw (pin)",
        ),
    ] = "site",
    value: Annotated[
        float | None,
        typer.Option("--value", help="Pinned value, target level (kWh) or units out of service"),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Start (default: now)", show_default=False)
    ] = None,
    db: DbOpt = None,
) -> None:
    """Add an override after a trial plan; refused (exit 1) if it leaves demand unserved or N-1."""
    s = _site(site)
    begin = _when(start, s, "--from") if start else _now()
    end = _when(until, s, "--to")
    handle = _open(db)
    step = timedelta(minutes=s.step_min)
    at = pd.Timestamp(begin).floor(step).to_pydatetime()
    n = max(1, round(s.control.horizon_h * 60 / s.step_min))
    try:
        info = latest_schedule_info(db=handle, at=at)
        state = PlantState()
        if info is not None and "state" in info.inputs_summary:
            state = PlantState.model_validate(info.inputs_summary["state"])
        forecast = HistoryForecast(s, handle).forecast(at, n)
        new_id = add_override(
            db=handle,
            site=s,
            planner=Planner(s, n),
            forecast=forecast,
            state=state,
            kind=kind,
            subject=subject,
            value=value,
            start=begin,
            end=end,
            actor=user,
            reason=reason,
            now=_now(),
        )
    except OverrideRefused as exc:
        fail(1, str(exc))
    except EnergiemodellError as exc:
        fail(2, f"no trial plan: {exc}")
    except STORE_ERRORS as exc:
        fail(1, f"store: {exc}")
    finally:
        handle.dispose()
    typer.echo(f"override #{new_id}: {kind} {subject} until {end.isoformat()}")


@override_app.command("list")
def override_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
    db: DbOpt = None,
) -> None:
    """Overrides in force or ahead (not ended, not expired)."""
    handle = _open(db)
    try:
        found = overrides_ahead(db=handle, at=_now())
    except STORE_ERRORS as exc:
        fail(1, f"store: {exc}")
    finally:
        handle.dispose()
    for o in found:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "id": o.id,
                        "kind": str(o.kind),
                        "subject": o.subject,
                        "value": o.value,
                        "from": o.start.isoformat(),
                        "to": o.end.isoformat(),
                        "user": o.actor,
                        "reason": o.reason,
                    }
                )
            )
        else:
            typer.echo(o.describe())


@override_app.command("end")
def override_end(
    override_id: Annotated[int, typer.Argument(help="The override's number (override list)")],
    user: UserOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why it ends early (required)")],
    db: DbOpt = None,
) -> None:
    """End an override before its time."""
    handle = _open(db)
    try:
        end_override(db=handle, override_id=override_id, actor=user, reason=reason, now=_now())
    except (OverrideRefused, ValueError) as exc:
        fail(1, str(exc))
    except STORE_ERRORS as exc:
        fail(1, f"store: {exc}")
    finally:
        handle.dispose()
    typer.echo(f"override #{override_id} ended")


@alarms_app.command("list")
def alarms_list(
    hours: Annotated[float, typer.Option("--hours", help="How far back", min=0)] = 24.0,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only alarms not yet acknowledged")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
    db: DbOpt = None,
) -> None:
    """Alarms of the last hours, oldest first, with who acknowledged them."""
    handle = _open(db)
    now = _now()
    try:
        found = alarms_between(db=handle, start=now - timedelta(hours=hours), end=now)
    except STORE_ERRORS as exc:
        fail(1, f"store: {exc}")
    finally:
        handle.dispose()
    for a in found:
        if open_only and a.acknowledged_at is not None:
            continue
        if as_json:
            row = {
                "id": a.id,
                "ts": a.ts.isoformat(),
                "severity": a.severity,
                "code": a.code,
                "message": a.message,
                "acknowledged_by": a.acknowledged_by,
            }
            typer.echo(json.dumps(row))
        else:
            ack = f" [ack {a.acknowledged_by}]" if a.acknowledged_by else ""
            typer.echo(f"#{a.id} {a.ts.isoformat()} {a.severity} {a.code}: {a.message}{ack}")


@alarms_app.command("ack")
def alarms_ack(
    alarm_ids: Annotated[list[int], typer.Argument(help="Alarm numbers (alarms list)")],
    user: UserOpt,
    note: Annotated[str, typer.Option("--note", help="What was done (recorded)")] = "",
    db: DbOpt = None,
) -> None:
    """Acknowledge alarms (recorded with who, when and the note)."""
    handle = _open(db)
    failed = []
    try:
        for alarm_id in alarm_ids:
            try:
                acknowledge(db=handle, alarm_id=alarm_id, actor=user, note=note, now=_now())
                typer.echo(f"alarm #{alarm_id} acknowledged")
            except ValueError as exc:
                failed.append(str(exc))
    except STORE_ERRORS as exc:
        fail(1, f"store: {exc}")
    finally:
        handle.dispose()
    if failed:
        fail(1, "; ".join(failed))
