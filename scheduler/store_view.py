"""What the loop reads back from the store: resume after a restart, the plant, a release.

- :func:`resume` (first cycle after a start) rebuilds the runtime: the newest solver plan of
  today or yesterday that still covers ``now`` (so the ``last_valid`` rung works across a
  restart) and the intervals whose setpoints were already written (never written twice).
- :func:`stored_state`: the store's view of the plant every cycle (peak so far, KWKG hours,
  time in state); the last one read while the store is unavailable.
- :func:`flexible_drawn`: what each steered flexible load drew in its open window.
- :func:`operator_release`: an operator's ``energiemodell release`` in force.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pandas as pd

from energiemodell.assets.flexible_load import FlexibleLoad
from energiemodell.model.schedule import Schedule
from energiemodell.store import (
    StoredState,
    operator_actions_between,
    plan_vs_actual,
    plant_state,
    schedule_content,
    schedule_versions,
    writes_between,
)
from scheduler.cycle import CycleDeps
from scheduler.journal import STORE_ERRORS, Ref
from scheduler.policy import StoredPlan
from scheduler.state_estimate import bound_quantities

logger = logging.getLogger(__name__)

WRITE_OK = ("confirmed", "unchanged")
"""Write results that count as dispatched."""
INTERVAL_TAG = re.compile(r"^interval (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z): \w+ plan v\d+$")
"""The reason of a setpoint write of a plan (what :func:`resume` looks for)."""


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
            m = INTERVAL_TAG.match(w.reason)
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


def stored_state(deps: CycleDeps, now: datetime) -> StoredState | None:
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


def flexible_drawn(deps: CycleDeps, at: datetime) -> dict[str, float]:
    """What each steered flexible load drew in its window open at ``at`` (kWh), from the store.

    Steered: not critical, and its ``<load>.p_kw`` written as a setpoint or measured; the plan
    of any other load changes nothing on the plant, so it keeps its even share (the model's
    default). Each interval of the window before ``at`` counts its measured mean, else the plan
    in force, else the even share. Nothing (the default) when the store cannot say.
    """
    site = deps.site
    steered = {b.column for b in deps.bindings} | set(bound_quantities(site))
    loads = [
        a.params
        for a in site.asset_objects
        if isinstance(a, FlexibleLoad) and not a.params.critical and f"{a.name}.p_kw" in steered
    ]
    out: dict[str, float] = {}
    local_at = pd.Timestamp(at).tz_convert(site.timezone).tz_localize(None).to_pydatetime()
    dt_h = site.step_min / 60
    for p in loads:
        opened, closes = p.window_at(local_at)
        if not opened < local_at < closes:
            continue
        col = f"{p.name}.p_kw"
        try:
            days = [
                plan_vs_actual(db=deps.db, day=d, tz=site.timezone, quantities=[col])
                for d in sorted({opened.date(), local_at.date()})
            ]
        except STORE_ERRORS as exc:
            logger.warning("%s: drawn energy unknown, the store failed: %s", p.name, exc)
            continue
        plan = pd.concat([d.plan[col] for d in days])
        actual = pd.concat([d.actual[col] for d in days])
        kw = actual.fillna(plan).fillna(p.energy_kwh / p.window_h)
        wall = pd.DatetimeIndex(kw.index).tz_convert(site.timezone).tz_localize(None)
        window = kw[(wall >= pd.Timestamp(opened)) & (wall < pd.Timestamp(local_at))]
        out[p.name] = float(window.clip(lower=0.0).sum() * dt_h)
    return out


def operator_release(deps: CycleDeps, now: datetime) -> str | None:
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
