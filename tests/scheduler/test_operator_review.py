"""Review mode: approvals with an envelope, rejections, missed deadlines, all in the audit trail."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from energiemodell.model.schedule import Schedule
from energiemodell.site import ReviewPolicy, Site, site_to_yaml
from energiemodell.state import Outage, PlantState
from energiemodell.store import Database, audit_trail, local_day_bounds, save_schedule
from scheduler.review import (
    Dispatch,
    ReviewRefused,
    approve,
    candidate_version,
    deadline,
    deadline_notices,
    envelope_deviations,
    reject,
    review_row,
)

DAY = date(2024, 3, 12)
MADE = datetime(2024, 3, 11, 12, 0, tzinfo=UTC)  # 13:00 local the day before, before ready_by
AT = datetime(2024, 3, 12, 9, 0, tzinfo=UTC)  # an interval of the day
STATE = PlantState(storage_kwh={"tes": 333.0})


def _plan(site: Site, *, chp_kw: float = 300.0, chp_off_from: int | None = None) -> Schedule:
    start, end = local_day_bounds(DAY, site.timezone)
    index = pd.date_range(start - timedelta(hours=2), end, freq="15min", inclusive="left")
    on = np.ones(len(index))
    if chp_off_from is not None:
        on[chp_off_from:] = 0.0
    frame = pd.DataFrame(
        {
            "chp1.on": on,
            "chp1.p_el_kw": chp_kw * on,
            "chp1.fuel_kw": 750.0 * on,
            "boilers.q_kw": np.full(len(index), 400.0),
            "tes.level_kwh": np.full(len(index), 400.0),
            "demand.heat_kw": np.full(len(index), 800.0),
        },
        index=index,
    )
    return Schedule(
        frame=frame,
        costs={},
        costs_by_asset={},
        penalties={},
        kpis={},
        status="optimal",
        mip_gap=0.0,
        origin="optimal",
        site_hash=site.content_hash(),
        created_at=MADE,
    )


def _save(db: Database, site: Site, plan: Schedule) -> int:
    return save_schedule(db=db, schedule=plan, site_yaml=site_to_yaml(site), inputs_summary={})


def _with_review(site: Site, **changes: object) -> Site:
    review = site.control.review.model_copy(update=changes)
    return site.model_copy(update={"control": site.control.model_copy(update={"review": review})})


def test_an_approval_covers_replans_inside_its_envelope_only(tiny_site: Site, db: Database) -> None:
    site = _with_review(tiny_site, band_kw=60.0)
    v1 = _save(db, site, _plan(site))
    v2 = _save(db, site, _plan(site, chp_kw=340.0))  # 40 kW more: inside the band
    v3 = _save(db, site, _plan(site, chp_kw=300.0, chp_off_from=60))  # off from 10:00 UTC
    now = deadline(site, DAY) - timedelta(hours=1)
    assert candidate_version(db=db, site=site, day=DAY, now=now) == v3
    approve(db=db, site=site, day=DAY, version=v1, actor="m.keller", reason="looks fine", now=now)
    later = AT - timedelta(minutes=2)
    same = review_row(db=db, site=site, plan=_plan(site), version=v1, at=AT, now=later, state=STATE)
    assert same.dispatch is Dispatch.PLAN
    assert same.alarms == []
    inside = review_row(
        db=db, site=site, plan=_plan(site, chp_kw=340.0), version=v2, at=AT, now=later, state=STATE
    )
    assert inside.dispatch is Dispatch.PLAN
    assert inside.row is not None
    assert inside.row["chp1.p_el_kw"] == 340.0
    assert "inside the envelope of approved v1" in inside.note
    outside = review_row(
        db=db,
        site=site,
        plan=_plan(site, chp_off_from=60),
        version=v3,
        at=AT,
        now=later,
        state=STATE.model_copy(update={"outages": [Outage(asset="boilers", reason="leak")]}),
    )
    assert outside.dispatch is Dispatch.APPROVED
    assert outside.row is not None
    assert outside.row["chp1.p_el_kw"] == 300.0  # the approved value, not the re-plan's
    assert outside.row["boilers.q_kw"] == 0.0  # adapted: out of service now
    assert outside.row["tes.level_kwh"] == 333.0  # adapted: the measured level
    assert [a.code for a in outside.alarms] == ["review.outside_envelope"]
    assert "chp1.on differs" in outside.alarms[0].message
    assert "approve a new plan for 2024-03-12" in outside.alarms[0].message


def test_envelope_bands_for_outputs_and_storage() -> None:
    index = pd.date_range("2024-03-12", periods=4, freq="15min", tz="UTC")
    base = pd.DataFrame({"b.q_kw": [100.0] * 4, "t.level_kwh": [500.0] * 4, "demand.heat_kw": 1.0})
    policy = ReviewPolicy(band_kw=50, storage_band_kwh=100)

    def sched(frame: pd.DataFrame) -> Schedule:
        return Schedule(
            frame=frame.set_axis(index),
            costs={},
            costs_by_asset={},
            penalties={},
            kpis={},
            status="optimal",
            mip_gap=0.0,
            origin="optimal",
            site_hash="x",
            created_at=index[0].to_pydatetime(),
        )

    a = sched(base)
    assert envelope_deviations(a, sched(base.assign(**{"b.q_kw": 150.0})), policy) == []
    over = envelope_deviations(
        a, sched(base.assign(**{"t.level_kwh": [500, 500, 650, 500]})), policy
    )
    assert over == [
        "t.level_kwh differs by up to 150.0 kWh (band 100) from 2024-03-12T00:30:00+00:00"
    ]
    demand_only = base.assign(**{"demand.heat_kw": 900.0})
    assert envelope_deviations(a, sched(demand_only), policy) == []
    since = index[3].to_pydatetime()
    assert (
        envelope_deviations(
            a, sched(base.assign(**{"t.level_kwh": [500, 500, 650, 500]})), policy, since=since
        )
        == []
    )


def test_a_missed_deadline_falls_back_as_configured_with_an_alarm(
    tiny_site: Site, db: Database
) -> None:
    v1 = _save(db, tiny_site, _plan(tiny_site))
    before = deadline(tiny_site, DAY) - timedelta(minutes=1)
    assert deadline(tiny_site, DAY) == datetime(2024, 3, 11, 17, 0, tzinfo=UTC)  # 18:00 CET
    assert deadline_notices(db=db, site=tiny_site, now=before) == []
    notices = deadline_notices(db=db, site=tiny_site, now=before + timedelta(minutes=2))
    assert [n.code for n in notices] == ["review.approval_missed"]
    assert "not approved by 18:00:00: heat_led operation" in notices[0].message
    rules = review_row(
        db=db, site=tiny_site, plan=_plan(tiny_site), version=v1, at=AT, now=AT, state=STATE
    )
    assert rules.dispatch is Dispatch.HEAT_LED
    assert rules.row is None
    assert [a.code for a in rules.alarms] == ["review.approval_missed"]
    auto_site = _with_review(tiny_site, on_missed="auto")
    auto = review_row(
        db=db, site=auto_site, plan=_plan(tiny_site), version=v1, at=AT, now=AT, state=STATE
    )
    assert auto.dispatch is Dispatch.PLAN
    assert "dispatching plan v1 automatically" in auto.alarms[0].message


def test_plan_not_ready_by_ready_by_raises_an_alarm(tiny_site: Site, db: Database) -> None:
    ready = datetime(2024, 3, 11, 13, 0, tzinfo=UTC)  # 14:00 CET
    assert deadline_notices(db=db, site=tiny_site, now=ready - timedelta(minutes=1)) == []
    notices = deadline_notices(db=db, site=tiny_site, now=ready + timedelta(minutes=1))
    assert [n.code for n in notices] == ["review.plan_not_ready"]
    _save(db, tiny_site, _plan(tiny_site))
    assert deadline_notices(db=db, site=tiny_site, now=ready + timedelta(minutes=1)) == []


def test_a_rejection_holds_until_the_plan_differs_and_everything_is_audited(
    tiny_site: Site, db: Database
) -> None:
    v1 = _save(db, tiny_site, _plan(tiny_site))
    now = MADE + timedelta(hours=2)
    with pytest.raises(ReviewRefused, match="needs a reason"):
        reject(db=db, site=tiny_site, day=DAY, version=v1, actor="a.weber", reason=" ", now=now)
    reject(
        db=db,
        site=tiny_site,
        day=DAY,
        version=v1,
        actor="a.weber",
        reason="CHP maintenance crew on site",
        now=now,
    )
    v2 = _save(db, tiny_site, _plan(tiny_site, chp_kw=310.0))  # the same plan, give or take
    for version in (v1, v2):
        with pytest.raises(ReviewRefused, match="CHP maintenance crew on site"):
            approve(
                db=db,
                site=tiny_site,
                day=DAY,
                version=version,
                actor="m.keller",
                reason="ok",
                now=now,
            )
    held = review_row(
        db=db,
        site=tiny_site,
        plan=_plan(tiny_site, chp_kw=310.0),
        version=v2,
        at=AT,
        now=AT,
        state=STATE,
    )
    assert held.dispatch is Dispatch.HEAT_LED
    assert [a.code for a in held.alarms] == ["review.rejected"]
    v3 = _save(db, tiny_site, _plan(tiny_site, chp_off_from=0))  # CHP off all day
    approve(
        db=db, site=tiny_site, day=DAY, version=None, actor="m.keller", reason="CHP off", now=now
    )
    ok = review_row(
        db=db,
        site=tiny_site,
        plan=_plan(tiny_site, chp_off_from=0),
        version=v3,
        at=AT,
        now=AT,
        state=STATE,
    )
    assert ok.dispatch is Dispatch.PLAN
    with pytest.raises(ReviewRefused, match="no schedule version 99"):
        approve(db=db, site=tiny_site, day=DAY, version=99, actor="m.keller", reason="x", now=now)
    with pytest.raises(ReviewRefused, match="does not cover 2024-03-14"):
        approve(
            db=db, site=tiny_site, day=date(2024, 3, 14), version=v3, actor="x", reason="x", now=now
        )
    trail = audit_trail(db=db, start=MADE, end=now + timedelta(seconds=1))
    actions = [e.summary for e in trail if e.kind == "operator_action"]
    assert actions == [
        "reject review:2024-03-12 by a.weber: CHP maintenance crew on site",
        "approve review:2024-03-12 by m.keller: CHP off",
    ]
    details = [e.details["schedule_id"] for e in trail if e.kind == "operator_action"]
    assert details == [v1, v3]


def test_the_mode_policy_applies_review_and_overrides(tiny_site: Site, db: Database) -> None:
    from energiemodell.store import save_operator_action
    from scheduler.journal import Ref
    from scheduler.overrides import OverrideKind, override_target
    from scheduler.policy import Mode, ModePolicy, StoredPlan

    policy = ModePolicy(Mode.REVIEW, db, site=tiny_site)
    plan = _plan(tiny_site)
    v1 = _save(db, tiny_site, plan)
    stored = StoredPlan(plan, Ref(v1))
    assert policy.rules_only(at=AT, now=AT) is not None  # no approval, on_missed heat_led
    approve(db=db, site=tiny_site, day=DAY, version=v1, actor="m.keller", reason="ok", now=MADE)
    assert policy.rules_only(at=AT, now=AT) is None
    save_operator_action(
        db=db,
        ts=AT - timedelta(hours=1),
        actor="a.weber",
        action="override",
        reason="boiler 2 flue cleaning",
        target=override_target(OverrideKind.OUT_OF_SERVICE, "boilers"),
        value=1.0,
        valid_from=AT - timedelta(hours=1),
        valid_to=AT + timedelta(hours=1),
    )
    save_operator_action(
        db=db,
        ts=AT - timedelta(hours=1),
        actor="a.weber",
        action="override",
        reason="CHP oil change tomorrow",
        target=override_target(OverrideKind.OUT_OF_SERVICE, "chp1"),
        valid_from=AT + timedelta(hours=20),
        valid_to=AT + timedelta(hours=22),
    )
    state = policy.plan_state(STATE, now=AT)
    assert [(o.asset, o.units) for o in state.outages] == [("boilers", 1), ("chp1", None)]
    assert state.outages[1].start == AT + timedelta(hours=20)  # ahead: holds in its window
    assert "boiler 2 flue cleaning" in state.outages[0].reason
    decision = policy.decide(stored, plan.row_at(AT), now=AT)
    assert decision.write
    assert decision.row["chp1.p_el_kw"] == 300.0
    outside = _plan(tiny_site, chp_off_from=0)
    v2 = _save(db, tiny_site, outside)
    decision = policy.decide(StoredPlan(outside, Ref(v2)), outside.row_at(AT), now=AT)
    assert decision.write
    assert decision.row["chp1.on"] == 1.0  # the approved plan, not the re-plan
    assert "review.outside_envelope" in [a.code for a in decision.alarms]
    save_operator_action(
        db=db,
        ts=AT,
        actor="a.weber",
        action="override",
        reason="commissioning",
        target=override_target(OverrideKind.HEAT_LED, "site"),
        valid_from=AT,
        valid_to=AT + timedelta(hours=2),
    )
    forced = policy.rules_only(at=AT, now=AT)
    assert forced is not None
    assert forced.message == "heat-led operation forced by a.weber: commissioning"


def test_a_dashboard_approval_of_a_version_counts_for_the_days_it_covers(
    tiny_site: Site, db: Database
) -> None:
    from energiemodell.store import save_operator_action
    from scheduler.review import decisions_for

    v1 = _save(db, tiny_site, _plan(tiny_site))  # covers 2024-03-12 only
    save_operator_action(
        db=db, ts=MADE, actor="m.keller", action="approve", reason="web", schedule_id=v1
    )
    save_operator_action(db=db, ts=MADE, actor="m.keller", action="approve", reason="resume")
    now = MADE + timedelta(minutes=1)
    assert [d.schedule_id for d in decisions_for(db=db, day=DAY, now=now)] == [v1]
    assert decisions_for(db=db, day=DAY + timedelta(days=1), now=now) == []
    out = review_row(
        db=db, site=tiny_site, plan=_plan(tiny_site), version=v1, at=AT, now=AT, state=STATE
    )
    assert out.dispatch is Dispatch.PLAN
