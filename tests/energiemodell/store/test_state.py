"""Peak import, KWKG hours, plant state and plan-versus-actual from stored history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from energiemodell.store import (
    ReadingRow,
    aggregate_readings,
    kwkg_hours_used,
    peak_import_so_far,
    plan_vs_actual,
    plant_state,
    purge_readings,
    save_readings,
    save_schedule,
)

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
