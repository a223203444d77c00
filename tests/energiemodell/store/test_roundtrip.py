"""Round trips of every table, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from energiemodell.store import (
    ReadingRow,
    acknowledge_alarm,
    active_overrides,
    aggregate_readings,
    aggregates_between,
    alarms_between,
    audit_trail,
    forecasts_issued,
    latest_schedule,
    latest_schedule_info,
    operator_actions_between,
    raise_alarm,
    readings_between,
    save_forecast,
    save_operator_action,
    save_readings,
    save_scenario_run,
    save_schedule,
    save_write,
    scenario_runs_between,
    schedule_content,
    schedule_frame,
    schedule_versions,
    site_content,
    writes_between,
)
from energiemodell.store.schedules import sites_t

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_readings_round_trip_keeps_values_quality_and_aware_utc(db):
    berlin = ZoneInfo("Europe/Berlin")
    rows = [
        ReadingRow(
            T0 + timedelta(seconds=10 * i, microseconds=250),
            "meter1",
            "p_kw",
            "grid.import_kw",
            400.0 + i,
            "good",
        )
        for i in range(5)
    ]
    rows.append(
        ReadingRow(T0.astimezone(berlin), "tes1_ctrl", "level", "tes1.level_kwh", None, "bad")
    )
    rows.append(ReadingRow(T0, "chp1_ctrl", "alarm_word", None, 3.0, "stale"))
    assert save_readings(db=db, rows=rows) == 7

    got = readings_between(db=db, start=T0, end=T0 + timedelta(minutes=1))
    assert len(got) == 7
    assert str(got["ts"].dt.tz) == "UTC"
    first = got[got["quantity"] == "grid.import_kw"].iloc[0]
    assert first["ts"] == pd.Timestamp(T0 + timedelta(microseconds=250))
    assert first["value"] == 400.0
    bad = got[got["device"] == "tes1_ctrl"].iloc[0]
    assert bad["quality"] == "bad"
    assert pd.isna(bad["value"])
    assert bad["ts"] == pd.Timestamp(T0)  # given in Berlin time, stored as the same instant
    only = readings_between(
        db=db, start=T0, end=T0 + timedelta(minutes=1), quantities=["tes1.level_kwh"]
    )
    assert list(only["device"]) == ["tes1_ctrl"]
    assert readings_between(
        db=db, start=T0 + timedelta(minutes=1), end=T0 + timedelta(hours=1)
    ).empty


def test_naive_timestamps_and_unknown_quality_are_refused(db):
    with pytest.raises(ValueError, match="quality"):
        save_readings(db=db, rows=[ReadingRow(T0, "d", "p", "q.x_kw", 1.0, "fine")])
    naive = datetime(2025, 3, 1, 12, 0)
    with pytest.raises(ValueError, match="naive datetime"):
        save_readings(db=db, rows=[ReadingRow(naive, "d", "p", "q.x_kw", 1.0, "good")])
    assert readings_between(db=db, start=T0 - timedelta(days=1), end=T0 + timedelta(days=1)).empty


def test_aggregates_round_trip(db):
    rows = [
        ReadingRow(T0 + timedelta(seconds=10 * i), "m", "p", "grid.import_kw", float(i), "good")
        for i in range(90)
    ]
    rows.append(ReadingRow(T0 + timedelta(seconds=5), "m", "p", "grid.import_kw", 1e6, "bad"))
    save_readings(db=db, rows=rows)
    assert aggregate_readings(db=db, until=T0 + timedelta(minutes=15)) == 1
    agg = aggregates_between(db=db, start=T0, end=T0 + timedelta(hours=1))
    assert len(agg) == 1
    row = agg.iloc[0]
    assert row["bucket_start"] == pd.Timestamp(T0)
    assert row["value_mean"] == pytest.approx(np.mean(range(90)))
    assert (row["value_min"], row["value_max"]) == (0.0, 89.0)
    assert (row["n_good"], row["n_total"], row["revision"]) == (90, 91, 0)


def test_schedule_round_trip_and_site_content_stored_once(db, make_schedule, schedule_cls):
    sched = make_schedule(
        T0,
        created_at=T0 - timedelta(minutes=2),
        alarms=["tes1 level clipped"],
        status="time_limit",
        origin="time_limited",
        mip_gap=0.02,
    )
    sched.frame.iloc[3, 1] = np.nan
    sid = save_schedule(
        db=db, schedule=sched, site_yaml="name: campus\n", inputs_summary={"forecast_id": 7}
    )
    sid2 = save_schedule(
        db=db,
        schedule=make_schedule(T0, created_at=T0 + timedelta(minutes=5)),
        site_yaml="name: campus\n",
        inputs_summary={},
    )
    assert sid2 > sid
    assert site_content(db=db, site_hash="a" * 64) == "name: campus\n"
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sites_t)).scalar() == 1

    content = schedule_content(db=db, schedule_id=sid)
    assert content == sched.to_dict() | {"frame": content["frame"]}
    back = schedule_cls.from_dict(content)
    pd.testing.assert_frame_equal(back.frame, sched.frame, check_freq=False)
    frame = schedule_frame(db=db, schedule_id=sid)
    pd.testing.assert_frame_equal(frame, sched.frame, check_freq=False)

    info = latest_schedule_info(db=db, at=T0)
    assert info is not None
    assert (info.id, info.status, info.origin, info.mip_gap) == (
        sid,
        "time_limit",
        "time_limited",
        0.02,
    )
    assert info.costs_eur == {"energy": 100.0, "peak": 5.5}
    assert info.total_cost_eur == pytest.approx(105.5)
    assert info.inputs_summary == {"forecast_id": 7}
    assert info.alarms == ["tes1 level clipped"]
    assert info.created_at == T0 - timedelta(minutes=2)
    assert info.valid_from == T0
    assert info.valid_to == T0 + timedelta(hours=2)


def test_latest_schedule_valid_at_a_time(db, make_schedule, schedule_cls):
    a = save_schedule(
        db=db,
        schedule=make_schedule(T0, created_at=T0 - timedelta(minutes=2)),
        site_yaml="s",
        inputs_summary={},
    )
    b = save_schedule(
        db=db,
        schedule=make_schedule(
            T0 + timedelta(minutes=15),
            created_at=T0 + timedelta(minutes=13),
            offset=10.0,
            origin="fallback",
        ),
        site_yaml="s",
        inputs_summary={},
    )
    assert (
        latest_schedule(db=db, at=T0 - timedelta(minutes=3), factory=schedule_cls.from_dict) is None
    )
    got = latest_schedule(db=db, at=T0 + timedelta(minutes=5), factory=schedule_cls.from_dict)
    assert got.frame.iloc[0, 0] == 800.0
    got = latest_schedule(db=db, at=T0 + timedelta(minutes=15), factory=schedule_cls.from_dict)
    assert got.origin == "fallback"
    assert got.frame.iloc[0, 0] == 810.0
    # past the end of b's horizon, and a's: nothing is valid
    assert latest_schedule_info(db=db, at=T0 + timedelta(hours=3)) is None
    # b exists at 12:14 but its horizon starts at 12:15: a is still the one valid
    assert latest_schedule_info(db=db, at=T0 + timedelta(minutes=14)).id == a
    assert latest_schedule_info(db=db, at=T0 + timedelta(hours=2, minutes=5)).id == b
    assert latest_schedule_info(db=db, at=T0).id == a


def test_schedule_versions_of_a_local_day(db, make_schedule, schedule_cls):
    berlin = ZoneInfo("Europe/Berlin")
    # 23:30 and 00:30 local on 2025-03-01/02 (UTC+1): different local days
    late = datetime(2025, 3, 1, 23, 30, tzinfo=berlin)
    early = datetime(2025, 3, 2, 0, 30, tzinfo=berlin)
    ids = [
        save_schedule(
            db=db, schedule=make_schedule(t, created_at=t), site_yaml="s", inputs_summary={}
        )
        for t in (late, early)
    ]
    assert [v.id for v in schedule_versions(db=db, day=date(2025, 3, 1))] == [ids[0]]
    assert [v.id for v in schedule_versions(db=db, day=date(2025, 3, 2))] == [ids[1]]


def test_forecast_round_trip(db):
    index = pd.date_range(T0, periods=192, freq="15min", tz="UTC")
    frame = pd.DataFrame(
        {
            "demand.heat_kw": np.linspace(2000, 3000, 192),
            "price.day_ahead_eur_per_mwh": np.linspace(-10, 90, 192),
        },
        index=index,
    )
    fid = save_forecast(
        db=db, forecast=frame, issued_at=T0 - timedelta(minutes=3), source="baseline"
    )
    got = forecasts_issued(db=db, start=T0 - timedelta(hours=1), end=T0)
    assert [f.id for f in got] == [fid]
    assert got[0].source == "baseline"
    assert got[0].issued_at == T0 - timedelta(minutes=3)
    pd.testing.assert_frame_equal(got[0].frame, frame, check_freq=False)


def test_writes_actions_alarms_scenarios_and_audit_trail(db, make_schedule, schedule_cls):
    sid = save_schedule(
        db=db,
        schedule=make_schedule(T0, created_at=T0 - timedelta(minutes=2)),
        site_yaml="s",
        inputs_summary={},
    )
    w = save_write(
        db=db,
        device="chp1_ctrl",
        point="p_el_setpoint_kw",
        value=800.0,
        ts=T0,
        reason="schedule",
        result="ok",
        read_back=800.0,
        schedule_id=sid,
    )
    w2 = save_write(
        db=db,
        device="chp1_ctrl",
        point="p_el_setpoint_kw",
        value=900.0,
        ts=T0 + timedelta(minutes=15),
        reason="schedule",
        result="read_back_differs",
        read_back=None,
        schedule_id=None,
    )
    o = save_operator_action(
        db=db,
        ts=T0 + timedelta(minutes=1),
        actor="m.keller",
        action="override",
        reason="boiler maintenance",
        target="boiler2.q_kw",
        value=0.0,
        valid_from=T0,
        valid_to=T0 + timedelta(hours=4),
    )
    with pytest.raises(ValueError, match="validity window"):
        save_operator_action(db=db, ts=T0, actor="x", action="override", reason="y")
    with pytest.raises(ValueError, match="not in"):
        save_operator_action(db=db, ts=T0, actor="x", action="delete", reason="y")
    al = raise_alarm(
        db=db,
        ts=T0 + timedelta(minutes=2),
        source="dispatch",
        code="read_back",
        severity="warning",
        message="chp1 read-back differs",
        schedule_id=sid,
    )
    ack = acknowledge_alarm(
        db=db, alarm_id=al, ts=T0 + timedelta(minutes=5), actor="m.keller", note="seen"
    )
    run = save_scenario_run(
        db=db,
        name="bigger_tes",
        started_at=T0 + timedelta(minutes=3),
        finished_at=T0 + timedelta(minutes=4),
        status="done",
        spec={"base_site": "reference_campus"},
        kpis={"cost_eur": 1.5e6},
        report_location="/srv/reports/bigger_tes.html",
    )

    writes = writes_between(db=db, start=T0, end=T0 + timedelta(hours=1))
    assert [r.id for r in writes] == [w, w2]
    assert writes[0].read_back == 800.0
    assert writes[0].schedule_id == sid
    assert writes[1].read_back is None
    assert writes[1].result == "read_back_differs"
    assert writes[0].ts == T0
    assert writes[0].point == "p_el_setpoint_kw"
    runs = scenario_runs_between(db=db, start=T0, end=T0 + timedelta(hours=1))
    assert [r.id for r in runs] == [run]
    assert runs[0].kpis == {"cost_eur": 1.5e6}
    assert runs[0].report_location == "/srv/reports/bigger_tes.html"
    assert runs[0].spec == {"base_site": "reference_campus"}

    alarms = alarms_between(db=db, start=T0, end=T0 + timedelta(hours=1))
    assert [(a.id, a.acknowledged_by, a.acknowledged_at) for a in alarms] == [
        (al, "m.keller", T0 + timedelta(minutes=5))
    ]

    trail = audit_trail(db=db, start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1))
    assert [(e.kind, e.ref_id) for e in trail] == [
        ("schedule", sid),
        ("write", w),
        ("operator_action", o),
        ("alarm", al),
        ("scenario_run", run),
        ("alarm_ack", ack),
        ("write", w2),
    ]
    assert "override boiler2.q_kw by m.keller: boiler maintenance" in trail[2].summary
    assert trail[2].details["valid_to"] == T0 + timedelta(hours=4)
    assert [
        e.kind
        for e in audit_trail(db=db, start=T0 + timedelta(minutes=10), end=T0 + timedelta(hours=1))
    ] == ["write"]


def test_the_real_schedule_round_trips_through_the_default_factory(db):
    schedule_mod = pytest.importorskip("energiemodell.model.schedule")
    index = pd.date_range(T0, periods=16, freq="15min")
    plan = schedule_mod.Schedule(
        frame=pd.DataFrame(
            {"chp1.p_el_kw": np.linspace(600, 1200, 16), "tes1.level_kwh": np.linspace(1, 2, 16)},
            index=index,
        ),
        costs={"energy": 812.5, "fuel": 1200.25, "export_revenue": -40.0},
        costs_by_asset={"chp1": {"fuel": 1200.25}},
        penalties={},
        kpis={"self_supply_pu": 0.7},
        status="optimal",
        mip_gap=0.004,
        origin="optimal",
        site_hash="c" * 64,
        created_at=T0 - timedelta(minutes=2),
        alarms=[],
    )
    sid = save_schedule(db=db, schedule=plan, site_yaml="name: x\n", inputs_summary={})
    back = latest_schedule(db=db, at=T0)
    assert isinstance(back, schedule_mod.Schedule)
    assert back.to_dict() == plan.to_dict()
    assert latest_schedule_info(db=db, at=T0).total_cost_eur == pytest.approx(1972.75)
    assert latest_schedule_info(db=db, at=T0).id == sid


def test_active_overrides_respect_their_window_and_releases(db):
    def override(minutes, target, hours):
        return save_operator_action(
            db=db, ts=T0 + timedelta(minutes=minutes), actor="op", action="override",
            reason="test", target=target, value=0.0,
            valid_from=T0 + timedelta(minutes=minutes), valid_to=T0 + timedelta(hours=hours),
        )  # fmt: skip

    boiler = override(0, "boiler2.q_kw", 4)
    chp = override(5, "chp1.p_el_kw", 1)
    save_operator_action(db=db, ts=T0 + timedelta(minutes=30), actor="op", action="release",
                         reason="maintenance done", target="boiler2.q_kw")  # fmt: skip
    assert [o.id for o in active_overrides(db=db, at=T0 + timedelta(minutes=10))] == [boiler, chp]
    assert [o.id for o in active_overrides(db=db, at=T0 + timedelta(minutes=40))] == [chp]
    assert active_overrides(db=db, at=T0 + timedelta(hours=2)) == []
    again = override(180, "boiler2.q_kw", 5)  # a new override after the release is in force
    assert [o.id for o in active_overrides(db=db, at=T0 + timedelta(hours=3, minutes=1))] == [again]
    save_operator_action(db=db, ts=T0 + timedelta(hours=3, minutes=2), actor="op",
                         action="release", reason="all back to the plan")  # fmt: skip
    assert active_overrides(db=db, at=T0 + timedelta(hours=3, minutes=3)) == []
    actions = operator_actions_between(db=db, start=T0, end=T0 + timedelta(hours=4))
    assert [a.action for a in actions] == ["override", "override", "release", "override", "release"]
    assert actions[0].valid_to == T0 + timedelta(hours=4)


def test_the_public_api_is_exported():
    import energiemodell.store as store

    assert len(set(store.__all__)) == len(store.__all__)
    for name in store.__all__:
        assert getattr(store, name) is not None
