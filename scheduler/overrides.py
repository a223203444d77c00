"""Operator overrides: out of service, pinned setpoints, storage targets, forced heat-led operation.

Each override is one ``override`` row of the store's operator actions, with its author, reason
and validity window; it expires by itself at ``valid_to`` and an operator can end it earlier
(a ``release`` row of the same target). The target names the kind::

    chp1.out_of_service        the asset is out of service (value: units out, empty = all)
    chp1.p_el_kw               the Schedule column is pinned at ``value``
    tes.level_target_kwh       the store holds at least ``value`` kWh at ``valid_to``
    site.heat_led              the heat-led rules run the plant instead of the optimiser

:func:`plan_state` turns the overrides in force into the PlantState the next plan starts from
(outages, pins, storage targets). :func:`add_override` refuses an override whose trial plan
leaves demand unserved or N-1 unsecured where the plan without it did not, naming which.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import pandas as pd

from energiemodell.model.planner import Planner
from energiemodell.model.schedule import Schedule
from energiemodell.site import Site
from energiemodell.state import Outage, Pin, PlantState, StorageTarget
from energiemodell.store import (
    Database,
    active_overrides,
    operator_actions_between,
    save_operator_action,
)
from energiemodell.store.tables import OperatorActionRecord

logger = logging.getLogger(__name__)

HEAT_LED_TARGET = "site.heat_led"
TOLERANCE_KWH = 0.5
"""Unserved energy or N-1 shortfall an override may add before it is refused (solver noise)."""


class OverrideKind(StrEnum):
    """What an override does."""

    OUT_OF_SERVICE = "out_of_service"
    PIN = "pin"
    STORAGE_TARGET = "storage_target"
    HEAT_LED = "heat_led"


class OverrideRefused(ValueError):
    """The override is not accepted; the message says why."""


@dataclass(frozen=True)
class Override:
    """An override as the operator entered it (the store's row, parsed)."""

    id: int
    kind: OverrideKind
    subject: str
    value: float | None
    start: datetime
    end: datetime
    actor: str
    reason: str

    @property
    def target(self) -> str:
        """The store's target text of this override."""
        return override_target(self.kind, self.subject)

    def describe(self) -> str:
        """One line for lists and alarms."""
        value = "" if self.value is None else f" = {self.value:g}"
        window = f"{self.start.isoformat()} .. {self.end.isoformat()}"
        who = f"by {self.actor}: {self.reason}"
        return f"#{self.id} {self.kind} {self.subject}{value} ({window}) {who}"


def override_target(kind: OverrideKind, subject: str) -> str:
    """The target text stored for an override of ``kind`` on ``subject`` (asset or column)."""
    if kind is OverrideKind.OUT_OF_SERVICE:
        return f"{subject}.out_of_service"
    if kind is OverrideKind.STORAGE_TARGET:
        return f"{subject}.level_target_kwh"
    if kind is OverrideKind.HEAT_LED:
        return HEAT_LED_TARGET
    return subject


def parse_override(record: OperatorActionRecord) -> Override | None:
    """The override a stored action stands for (``None``: not an override)."""
    if record.action != "override" or not record.target or record.id is None:
        return None
    if record.valid_from is None or record.valid_to is None:
        return None
    target = record.target
    if target == HEAT_LED_TARGET:
        kind, subject = OverrideKind.HEAT_LED, "site"
    elif target.endswith(".out_of_service"):
        kind, subject = OverrideKind.OUT_OF_SERVICE, target.removesuffix(".out_of_service")
    elif target.endswith(".level_target_kwh"):
        kind, subject = OverrideKind.STORAGE_TARGET, target.removesuffix(".level_target_kwh")
    else:
        kind, subject = OverrideKind.PIN, target
    return Override(
        id=record.id,
        kind=kind,
        subject=subject,
        value=record.value,
        start=record.valid_from,
        end=record.valid_to,
        actor=record.actor,
        reason=record.reason,
    )


def overrides_in_force(*, db: Database, at: datetime) -> list[Override]:
    """The overrides in force at ``at`` (inside their window, not ended), oldest first."""
    parsed = (parse_override(r) for r in active_overrides(db=db, at=at))
    return [o for o in parsed if o is not None]


def overrides_ahead(*, db: Database, at: datetime, lookback_days: float = 30) -> list[Override]:
    """Overrides entered until ``at`` that are in force now or start later (not ended)."""
    start = at - pd.Timedelta(days=lookback_days)
    actions = operator_actions_between(db=db, start=start, end=at + pd.Timedelta(seconds=1))
    out: list[Override] = []
    for rec in actions:
        o = parse_override(rec)
        if o is None or o.end <= at:
            continue
        ended = any(
            r.action == "release" and r.target in (None, o.target) and r.ts >= rec.ts
            for r in actions
        )
        if not ended:
            out.append(o)
    return out


def plan_state(state: PlantState, overrides: Iterable[Override]) -> PlantState:
    """``state`` with the overrides added as outages, pins and storage targets.

    Forced heat-led operation does not enter the plan: the loop dispatches the rules instead
    (:func:`heat_led_forced`).
    """
    outages = list(state.outages)
    pins = {k: list(v) for k, v in state.pins.items()}
    targets = {k: list(v) for k, v in state.storage_targets.items()}
    for o in overrides:
        why = f"override #{o.id} by {o.actor}: {o.reason}"
        if o.kind is OverrideKind.OUT_OF_SERVICE:
            units = None if o.value is None else max(1, round(o.value))
            outages.append(
                Outage(asset=o.subject, start=o.start, end=o.end, units=units, reason=why)
            )
        elif o.kind is OverrideKind.PIN and o.value is not None:
            pins.setdefault(o.subject, []).append(
                Pin(value=o.value, start=o.start, end=o.end, reason=why)
            )
        elif o.kind is OverrideKind.STORAGE_TARGET and o.value is not None:
            targets.setdefault(o.subject, []).append(
                StorageTarget(level_kwh=o.value, by=o.end, reason=why)
            )
    return state.model_copy(update={"outages": outages, "pins": pins, "storage_targets": targets})


def heat_led_forced(overrides: Iterable[Override]) -> Override | None:
    """The newest override that forces heat-led operation, if any."""
    forced = [o for o in overrides if o.kind is OverrideKind.HEAT_LED]
    return forced[-1] if forced else None


def check_subject(site: Site, kind: OverrideKind, subject: str) -> None:
    """Refuse an override of an unknown asset, or a kind that does not fit the asset."""
    assets = {a.name: a for a in site.asset_objects}
    if kind is OverrideKind.HEAT_LED:
        return
    name = subject.partition(".")[0] if kind is OverrideKind.PIN else subject
    asset = assets.get(name)
    if asset is None:
        msg = f"unknown asset {name!r} (the site has {', '.join(sorted(assets))})"
        raise OverrideRefused(msg)
    if kind is OverrideKind.PIN:
        quantity = subject.partition(".")[2]
        limits = asset.column_limits()
        if quantity not in limits:
            msg = f"{subject}: not a value of {name} that can be pinned ({', '.join(limits)})"
            raise OverrideRefused(msg)
    if kind is OverrideKind.STORAGE_TARGET and asset.storage_spec() is None:
        msg = f"{subject} is not a store: a storage target needs one"
        raise OverrideRefused(msg)


def plan_problems(trial: Schedule, baseline: Schedule | None) -> list[str]:
    """What the override's trial plan breaks that the plan without it did not."""
    if trial.origin not in ("optimal", "time_limited"):
        return [f"no plan with the override (solver: {trial.status})"]
    problems = []
    base_unserved = 0.0 if baseline is None else baseline.unserved_kwh
    if trial.unserved_kwh > base_unserved + TOLERANCE_KWH:
        problems.append(
            f"demand unserved: {trial.unserved_kwh:.1f} kWh "
            f"(without the override {base_unserved:.1f} kWh)"
        )
    dt_h = _dt_h(trial)
    for col in (c for c in trial.frame.columns if c.startswith("n1.")):
        short = float(trial.frame[col].sum()) * dt_h
        base = 0.0
        if baseline is not None and col in baseline.frame:
            base = float(baseline.frame[col].sum()) * dt_h
        if short > base + TOLERANCE_KWH:
            rule = col.removeprefix("n1.").removesuffix("_shortfall_kw")
            problems.append(f"N-1 {rule} unsecured: {short:.1f} kWh shortfall (without {base:.1f})")
    return problems


def _dt_h(schedule: Schedule) -> float:
    index = pd.DatetimeIndex(schedule.frame.index)
    return 0.25 if len(index) < 2 else (index[1] - index[0]).total_seconds() / 3600


def trial(
    *,
    planner: Planner,
    forecast: pd.DataFrame,
    state: PlantState,
    in_force: list[Override],
    candidate: Override,
) -> list[str]:
    """Plan with the candidate and, if that breaks anything, without it; return the problems."""
    if candidate.kind is OverrideKind.HEAT_LED:
        return []  # the rules run the plant: nothing to plan
    with_it = planner.plan(forecast, plan_state(state, [*in_force, candidate]))
    problems = plan_problems(with_it, None)
    if not problems:
        return []
    without = planner.plan(forecast, plan_state(state, in_force))
    return plan_problems(with_it, without)


def add_override(
    *,
    db: Database,
    site: Site,
    planner: Planner,
    forecast: pd.DataFrame,
    state: PlantState,
    kind: OverrideKind,
    subject: str,
    value: float | None,
    start: datetime,
    end: datetime,
    actor: str,
    reason: str,
    now: datetime,
) -> int:
    """Trial-plan an override and store it; refuse it (recorded as a note) if it breaks the plan.

    ``forecast`` covers the planner's horizon from about ``start``; ``state`` is the plant now.

    Raises
    ------
    OverrideRefused
        Unknown asset, a kind that does not fit, a bad window, or the trial plan leaves demand
        unserved or N-1 unsecured (the message names which).
    """
    check_subject(site, kind, subject)
    if end <= start:
        msg = f"the override ends ({end.isoformat()}) before it starts ({start.isoformat()})"
        raise OverrideRefused(msg)
    if kind in (OverrideKind.PIN, OverrideKind.STORAGE_TARGET) and value is None:
        msg = f"a {kind} override needs a value"
        raise OverrideRefused(msg)
    if not actor.strip() or not reason.strip():
        msg = "an override needs an author and a reason"
        raise OverrideRefused(msg)
    candidate = Override(0, kind, subject, value, start, end, actor, reason)
    in_force = overrides_ahead(db=db, at=now)
    problems = trial(
        planner=planner, forecast=forecast, state=state, in_force=in_force, candidate=candidate
    )
    if problems:
        text = "; ".join(problems)
        save_operator_action(
            db=db,
            ts=now,
            actor=actor,
            action="note",
            reason=f"override refused ({text}): {reason}",
            target=candidate.target,
            value=value,
        )
        msg = f"override of {subject} refused: {text}"
        raise OverrideRefused(msg)
    return save_operator_action(
        db=db,
        ts=now,
        actor=actor,
        action="override",
        reason=reason,
        target=candidate.target,
        value=value,
        valid_from=start,
        valid_to=end,
    )


def end_override(*, db: Database, override_id: int, actor: str, reason: str, now: datetime) -> int:
    """End an override before its time (a ``release`` of its target); return the action id.

    Raises
    ------
    OverrideRefused
        No override with that id in force or ahead.
    """
    match = [o for o in overrides_ahead(db=db, at=now) if o.id == override_id]
    if not match:
        msg = f"no override #{override_id} in force or ahead"
        raise OverrideRefused(msg)
    return save_operator_action(
        db=db, ts=now, actor=actor, action="release", reason=reason, target=match[0].target
    )
