"""Peak import, KWKG hours, plant state and plan-versus-actual from stored history."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from energiemodell.store import (
    ReadingRow,
    aggregate_readings,
    clear_decoded_versions,
    kwkg_hours_used,
    open_db,
    peak_import_so_far,
    plan_vs_actual,
    plant_state,
    purge_readings,
    save_readings,
    save_schedule,
)
from energiemodell.store.state import _on_since

BERLIN = ZoneInfo("Europe/Berlin")


def bucket_rows(start, quantity, means):
    """One good reading per 10 s whose bucket means are ``means``."""
    rows = []
    for b, mean in enumerate(means):
        for i in range(90):
            ts = start + timedelta(minutes=15 * b, seconds=10 * i)
            rows.append(ReadingRow(ts, "meter", "p", quantity, mean + (i - 44.5), "good"))
    return rows


def test_peak_so_far_counts_the_local_calendar_year_and_closed_buckets_only(db):
    # 2024-12-31 23:15 UTC is 2025-01-01 00:15 in Berlin: the new billing year
    old_year = datetime(2024, 12, 31, 22, 30, tzinfo=UTC)  # 23:30 local, 2024
    new_year = datetime(2024, 12, 31, 23, 15, tzinfo=UTC)
    save_readings(db=db, rows=bucket_rows(old_year, "grid.import_kw", [2000.0]))
    save_readings(db=db, rows=bucket_rows(new_year, "grid.import_kw", [900.0, 1200.0, 1500.0]))
    save_readings(db=db, rows=bucket_rows(new_year, "chp1.p_el_kw", [600.0, 600.0, 1200.0]))
    aggregate_readings(db=db, until=new_year + timedelta(hours=1), lookback=timedelta(hours=2))

    at = new_year + timedelta(minutes=40)  # the 1500 kW bucket has not closed yet
    assert peak_import_so_far(db=db, at=at) == pytest.approx(1200.0)
    assert peak_import_so_far(db=db, at=new_year + timedelta(minutes=45)) == pytest.approx(1500.0)
    assert peak_import_so_far(db=db, at=old_year + timedelta(minutes=20)) == pytest.approx(2000.0)
    # 00:14 local on 1 January: a new billing period, no bucket of it closed yet
    assert peak_import_so_far(db=db, at=new_year - timedelta(minutes=1)) == 0.0
    assert (
        peak_import_so_far(db=db, at=new_year + timedelta(minutes=45), quantity="nothing.kw") == 0.0
    )

    hours = kwkg_hours_used(
        db=db, at=new_year + timedelta(minutes=45), rated_kw={"chp1.p_el_kw": 1200.0}
    )
    assert hours == {"chp1": pytest.approx((600 + 600 + 1200) * 0.25 / 1200)}


def test_plant_state_from_readings_then_aggregates(db):
    t = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
    rows = []
    for i in range(120):  # 20 minutes of polls
        ts = t + timedelta(seconds=10 * i)
        rows.append(ReadingRow(ts, "tes1_ctrl", "level", "tes1.level_kwh", 3000.0 + i, "good"))
        rows.append(
            ReadingRow(ts, "chp1_ctrl", "running", "chp1.on", 1.0 if i >= 30 else 0.0, "good")
        )
        rows.append(ReadingRow(ts, "boiler1_ctrl", "running", "boiler1.on", 0.0, "good"))
    rows.append(
        ReadingRow(
            t + timedelta(minutes=19, seconds=55),
            "tes1_ctrl",
            "level",
            "tes1.level_kwh",
            1.0,
            "bad",
        )
    )
    save_readings(db=db, rows=rows)
    save_readings(db=db, rows=bucket_rows(t, "grid.import_kw", [800.0]))
    aggregate_readings(db=db, until=t + timedelta(minutes=20))

    at = t + timedelta(minutes=20)
    state = plant_state(db=db, at=at, rated_kw={"chp1.p_el_kw": 1200.0})
    assert state.levels_kwh == {"tes1": 3119.0}  # the newest good value, not the bad one
    assert state.units_on == {"chp1": True, "boiler1": False}
    assert state.on_since["chp1"] == t + timedelta(seconds=300)
    assert state.on_since["boiler1"] == t  # no change on record: since the first reading
    assert state.peak_import_kw == pytest.approx(800.0)
    assert state.kwkg_hours_used == {"chp1": 0.0}

    # tes2 has only an aggregate left (its raw readings were purged): the bucket mean is used
    save_readings(
        db=db,
        rows=[
            ReadingRow(
                t - timedelta(minutes=45, seconds=-10 * i),
                "tes2_ctrl",
                "level",
                "tes2.level_kwh",
                500.0 + i,
            )
            for i in range(90)
        ],
    )
    aggregate_readings(db=db, until=t + timedelta(minutes=20))
    assert purge_readings(db=db, now=t + timedelta(days=35, minutes=1)).deleted_readings == 90
    later = plant_state(db=db, at=at)
    assert later.levels_kwh == {"tes1": 3119.0, "tes2": pytest.approx(np.mean(range(500, 590)))}
    # three hours on, nothing is recent enough to be "the state now"
    assert plant_state(db=db, at=t + timedelta(hours=3)).levels_kwh == {}


def test_plan_versus_actual_uses_the_version_in_force(db, make_schedule):
    day = date(2025, 3, 30)  # DST: 23 local hours, 92 intervals
    start = datetime(2025, 3, 30, 0, 0, tzinfo=BERLIN).astimezone(UTC)
    first = save_schedule(
        db=db,
        schedule=make_schedule(
            start - timedelta(hours=1), created_at=start - timedelta(hours=1), n=192
        ),
        site_yaml="s",
        inputs_summary={},
    )
    noon = datetime(2025, 3, 30, 12, 0, tzinfo=BERLIN).astimezone(UTC)
    second = save_schedule(
        db=db,
        schedule=make_schedule(noon, created_at=noon - timedelta(minutes=2), n=8, offset=1000.0),
        site_yaml="s",
        inputs_summary={},
    )
    save_readings(db=db, rows=bucket_rows(noon, "grid.import_kw", [444.0, 555.0]))
    aggregate_readings(db=db, until=noon + timedelta(hours=1))

    pva = plan_vs_actual(db=db, day=day)

    assert len(pva.plan) == 92
    assert list(pva.plan.columns) == ["chp1.p_el_kw", "grid.import_kw", "demand.heat_kw"]
    by_version = pva.schedule_id.value_counts().to_dict()
    assert by_version == {first: 84, second: 8}
    assert pva.schedule_id[noon] == second
    assert pva.plan.loc[noon, "chp1.p_el_kw"] == 1800.0
    assert pva.plan.loc[start, "chp1.p_el_kw"] == 800.0 + 4  # row 4 of the first version
    assert pva.actual.loc[noon, "grid.import_kw"] == pytest.approx(444.0)
    assert pva.actual.loc[noon + timedelta(minutes=15), "grid.import_kw"] == pytest.approx(555.0)
    assert pva.actual["grid.import_kw"].notna().sum() == 2
    assert pva.actual["chp1.p_el_kw"].isna().all()
    only = plan_vs_actual(db=db, day=day, quantities=["grid.import_kw"])
    assert list(only.plan.columns) == list(only.actual.columns) == ["grid.import_kw"]
    empty = plan_vs_actual(db=db, day=date(2025, 1, 1))
    assert empty.schedule_id.isna().all()
    assert len(empty.plan) == 96
    assert isinstance(empty.plan.index, pd.DatetimeIndex)


def test_plan_versus_actual_reads_rows_beyond_the_prefix_and_irregular_plans(db, schedule_cls):
    rng = np.random.default_rng(3)
    day = date(2025, 6, 3)
    start = datetime(2025, 6, 3, 0, 0, tzinfo=BERLIN).astimezone(UTC)
    # one wide plan in force all day: its rows late in the day lie far beyond the fetched prefix
    wide_index = pd.date_range(start, periods=96, freq="15min")
    wide = pd.DataFrame(
        rng.uniform(0, 1000, (96, 300)),
        index=wide_index,
        columns=[f"u{k}.p_kw" for k in range(300)],
    )
    save_schedule(
        db=db,
        schedule=schedule_cls(frame=wide, created_at=start - timedelta(minutes=2)),
        site_yaml="s",
        inputs_summary={},
    )
    # an irregular plan (30-minute rows) made at noon for the afternoon
    noon = datetime(2025, 6, 3, 12, 0, tzinfo=BERLIN).astimezone(UTC)
    odd_index = pd.date_range(noon, periods=8, freq="30min")
    odd = pd.DataFrame({"u0.p_kw": np.arange(8, dtype=float) - 100.0}, index=odd_index)
    odd_id = save_schedule(
        db=db, schedule=schedule_cls(frame=odd, created_at=noon), site_yaml="s", inputs_summary={}
    )

    pva = plan_vs_actual(db=db, day=day, quantities=["u0.p_kw", "u299.p_kw"])

    late = start + timedelta(hours=23, minutes=45)
    assert pva.plan.loc[late, "u299.p_kw"] == wide.loc[late, "u299.p_kw"]
    assert pva.plan.loc[start, "u0.p_kw"] == wide.loc[start, "u0.p_kw"]
    # the irregular plan is in force from noon: on its rows it gives values, between them none
    assert pva.schedule_id[noon + timedelta(minutes=30)] == odd_id
    assert pva.plan.loc[noon + timedelta(minutes=30), "u0.p_kw"] == -99.0
    assert np.isnan(pva.plan.loc[noon + timedelta(minutes=45), "u0.p_kw"])
    assert np.isnan(pva.plan.loc[noon, "u299.p_kw"])  # not a column of that plan


def test_time_in_state_uses_the_threshold_and_good_readings_only(db):
    t = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)
    rows = []
    for i in range(6 * 60 * 3):  # three hours of polls
        ts = t + timedelta(seconds=10 * i)
        # chp1: 0.2 (off) for the first hour, then 0.8 (on); boiler1: on all along, with a bad
        # "0" in the last hour that must not count as a switch; hp1: off for three hours
        rows.append(ReadingRow(ts, "c", "run", "chp1.on", 0.2 if i < 360 else 0.8))
        bad = i == 900
        rows.append(
            ReadingRow(ts, "b", "run", "boiler1.on", 0.0 if bad else 1.0, "bad" if bad else "good")
        )
        rows.append(ReadingRow(ts, "h", "run", "hp1.on", 0.0))
    save_readings(db=db, rows=rows)
    at = t + timedelta(hours=3)
    state = plant_state(db=db, at=at)
    assert state.units_on == {"chp1": True, "boiler1": True, "hp1": False}
    assert state.on_since == {"chp1": t + timedelta(hours=1), "boiler1": t, "hp1": t}
    # asked about a time in the past, the readings after it do not count
    earlier = plant_state(db=db, at=t + timedelta(minutes=30))
    assert earlier.units_on["chp1"] is False
    assert earlier.on_since["chp1"] == t


def test_the_last_switch_is_found_in_the_partial_index_of_the_other_state(sqlite_db):
    """The time-in-state query must hit ``ix_readings_unit_off``, else it walks weeks of rows."""
    stmts: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        stmts.append((statement, parameters))

    sa.event.listen(sqlite_db.engine, "before_cursor_execute", capture)
    try:
        with sqlite_db.read() as conn:
            _on_since(conn, at=datetime(2025, 6, 2, tzinfo=UTC), units_on={"chp1.on": True})
    finally:
        sa.event.remove(sqlite_db.engine, "before_cursor_execute", capture)
    statement, parameters = [s for s in stmts if "readings" in s[0]][-1]
    with sqlite_db.engine.connect() as conn:
        plan = " | ".join(
            r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        )
    assert "ix_readings_unit_off" in plan, plan


def test_plan_versus_actual_asked_again_is_the_same_and_never_stale(
    sqlite_template, tmp_path, make_schedule
):
    """Decoded versions are kept in memory: a second answer is the same; a database replaced
    under the same URL (restored from a backup, ids reused) is not answered from memory."""
    day = date(2025, 3, 1)
    start = datetime(2025, 3, 1, 0, 0, tzinfo=BERLIN).astimezone(UTC)
    path = tmp_path / "store.sqlite"
    url = f"sqlite:///{path}"
    clear_decoded_versions()

    def fill(offset: float) -> int:
        shutil.copyfile(sqlite_template, path)
        db = open_db(url)
        try:
            sid = 0
            for k in range(8):  # a new version every 15 minutes, each in force for one interval
                t = start + timedelta(minutes=15 * k)
                sid = save_schedule(
                    db=db,
                    schedule=make_schedule(t, created_at=t - timedelta(minutes=2), offset=offset),
                    site_yaml="s",
                    inputs_summary={},
                )
            return sid
        finally:
            db.dispose()

    last = fill(0.0)
    db = open_db(url)
    first = plan_vs_actual(db=db, day=day)
    again = plan_vs_actual(db=db, day=day)
    db.dispose()
    pd.testing.assert_frame_equal(first.plan, again.plan)
    pd.testing.assert_series_equal(first.schedule_id, again.schedule_id)
    assert first.schedule_id.iloc[7] == last
    assert first.plan["chp1.p_el_kw"].iloc[:8].tolist() == [800.0] * 8

    assert fill(5000.0) == last  # same URL, same ids, other plans
    db = open_db(url)
    replaced = plan_vs_actual(db=db, day=day)
    db.dispose()
    assert replaced.plan["chp1.p_el_kw"].iloc[:8].tolist() == [5800.0] * 8


@pytest.mark.parametrize("many", [False, True], ids=["few-corrections", "many-corrections"])
def test_peak_and_kwkg_hours_count_the_newest_revision_of_corrected_buckets(db, monkeypatch, many):
    from energiemodell.store import aggregates_between, state

    if many:  # the path for a period with more corrected buckets than are listed
        monkeypatch.setattr(state, "_MAX_CORRECTED", 0)
    t = datetime(2025, 5, 5, 8, 0, tzinfo=UTC)
    means = [900.0, 3000.0, 1200.0, 800.0]
    save_readings(db=db, rows=bucket_rows(t, "grid.import_kw", means))
    save_readings(db=db, rows=bucket_rows(t, "chp1.p_el_kw", means))
    aggregate_readings(db=db, until=t + timedelta(hours=1), lookback=timedelta(hours=2))
    # late readings: the 3000 kW bucket was really lower, the 800 kW one higher
    late = []
    for q in ("grid.import_kw", "chp1.p_el_kw"):
        late += [ReadingRow(t + timedelta(minutes=15, seconds=s), "m", "p", q, 0.0) for s in (3, 7)]
        late += [
            ReadingRow(t + timedelta(minutes=45, seconds=s), "m", "p", q, 5000.0) for s in (3, 7)
        ]
    save_readings(db=db, rows=late)
    assert aggregate_readings(db=db, until=t + timedelta(hours=1), lookback=timedelta(hours=2)) == 4
    newest = aggregates_between(
        db=db, start=t, end=t + timedelta(hours=1), quantities=["grid.import_kw"]
    )
    assert list(newest["revision"]) == [0, 1, 0, 1]
    expected = newest["value_mean"].tolist()
    assert expected[1] == pytest.approx(3000.0 * 90 / 92)
    at = t + timedelta(hours=1)
    assert peak_import_so_far(db=db, at=at) == pytest.approx(max(expected))
    assert peak_import_so_far(db=db, at=at) != pytest.approx(3000.0)  # not the superseded one
    hours = kwkg_hours_used(db=db, at=at, rated_kw={"chp1.p_el_kw": 1000.0})
    assert hours == {"chp1": pytest.approx(sum(expected) * 0.25 / 1000.0)}
    state_now = plant_state(db=db, at=at, rated_kw={"chp1.p_el_kw": 1000.0})
    assert state_now.peak_import_kw == pytest.approx(max(expected))
    assert state_now.kwkg_hours_used == hours
