"""Retention of forecasts: whole for the window, then cut to the rows that were in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from energiemodell.store import (
    ReadingRow,
    aggregate_readings,
    audit_trail,
    forecast_vs_actual,
    forecasts_issued,
    purge_forecasts,
    save_forecast,
    save_readings,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=15)
LEAD = timedelta(minutes=2)
EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def forecast(start: datetime, *, n: int = 8, offset: float = 0.0) -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq="15min")
    return pd.DataFrame(
        {
            "demand.heat_kw": 2000.0 + offset + 10 * np.arange(n),
            "demand.electricity_kw": 900.0 + offset - np.arange(n),
        },
        index=index,
    )


def measure(db, start: datetime, n: int) -> None:
    rows = [
        ReadingRow(start + timedelta(seconds=10 * i), "m", "p", q, v + i % 7)
        for i in range(n * 90)
        for q, v in (("demand.heat_kw", 2050.0), ("demand.electricity_kw", 880.0))
    ]
    save_readings(db=db, rows=rows)
    aggregate_readings(db=db, until=start + n * STEP, lookback=n * STEP + STEP)


def frames(db) -> dict[int, pd.DataFrame]:
    return {f.id: f.frame for f in forecasts_issued(db=db, start=EVER[0], end=EVER[1])}


def test_old_forecasts_are_cut_to_their_rows_in_force_and_errors_stay(db):
    ids = [
        save_forecast(
            db=db,
            forecast=forecast(T0 + k * STEP, offset=k),
            issued_at=T0 + k * STEP - LEAD,
            source="profile",
        )
        for k in range(4)
    ]
    # a second forecaster's forecast superseded before its first interval began: never in force
    never = save_forecast(
        db=db,
        forecast=forecast(T0 + STEP),
        issued_at=T0 + STEP - LEAD - timedelta(minutes=1),
        source="persistence",
    )
    # an imported price series is an input, kept whole however old
    prices = pd.DataFrame(
        {"price.day_ahead_eur_per_mwh": np.arange(96.0)},
        index=pd.date_range(T0, periods=96, freq="15min"),
    )
    imported = save_forecast(db=db, forecast=prices, issued_at=T0 - LEAD, source="import:prices")
    later = T0 + timedelta(days=30)  # inside the window on the purge day below
    recent = save_forecast(
        db=db, forecast=forecast(later), issued_at=later - LEAD, source="profile"
    )
    measure(db, T0, 12)
    errors_before = forecast_vs_actual(db=db, start=T0, end=T0 + 12 * STEP)
    before = frames(db)

    now = T0 + timedelta(days=35, hours=6)
    report = purge_forecasts(db=db, now=now)

    assert report.cutoff == T0 + timedelta(hours=6)
    assert report.since == T0 - LEAD  # the oldest issued, imports aside
    after = frames(db)
    assert never not in after
    assert set(after) == {*ids, imported, recent}
    # each keeps the rows from its issue time to the next issue: here its first interval
    for fid in ids[:3]:
        pd.testing.assert_frame_equal(after[fid], before[fid].iloc[:1], check_freq=False)
    # the newest before the cutoff: the next forecast was issued days later, every row kept
    pd.testing.assert_frame_equal(after[ids[3]], before[ids[3]], check_freq=False)
    pd.testing.assert_frame_equal(after[imported], before[imported], check_freq=False)
    pd.testing.assert_frame_equal(after[recent], before[recent], check_freq=False)
    assert (report.cut, report.deleted) == (3, 1)
    assert report.rows_dropped == 3 * 7 + 8
    (kept,) = [f for f in forecasts_issued(db=db, start=EVER[0], end=EVER[1]) if f.id == ids[1]]
    assert (kept.issued_at, kept.source) == (T0 + STEP - LEAD, "profile")

    # the forecast error of the old period is what it was
    errors_after = forecast_vs_actual(db=db, start=T0, end=T0 + 12 * STEP)
    assert set(errors_after) == set(errors_before) == {"demand.heat_kw", "demand.electricity_kw"}
    for q, frame in errors_before.items():
        pd.testing.assert_frame_equal(errors_after[q], frame)

    # audited, and the next run starts where this one stopped
    events = audit_trail(db=db, start=now - timedelta(minutes=1), end=datetime.now(UTC))
    logged = [e for e in events if e.kind == "maintenance"]
    assert [e.details["cut"] for e in logged] == [3]
    assert logged[0].details["deleted"] == 1
    again = purge_forecasts(db=db, now=now + timedelta(days=1))
    assert again.since == report.cutoff
    assert (again.cut, again.deleted, again.rows_dropped) == (0, 0, 0)
    assert frames(db).keys() == after.keys()


def test_a_long_backlog_is_cut_in_batches_each_logged(db):
    start = T0
    for day in range(3):
        for k in range(3):
            t = start + timedelta(days=day, hours=k)
            save_forecast(db=db, forecast=forecast(t), issued_at=t - LEAD, source="profile")
    report = purge_forecasts(db=db, now=start + timedelta(days=3 + 35), batch=4)
    assert (report.cut, report.deleted) == (6, 0)
    # rows in force: up to the next issue an hour later (4 rows), the day's last up to the next
    # day's first (all 8 rows, nothing to cut) except the very last one: nothing after it
    kept = sorted(len(f) for f in frames(db).values())
    assert kept == [4] * 6 + [8] * 3
    assert report.rows_dropped == 6 * 4
    logged = [
        e
        for e in audit_trail(db=db, start=T0, end=datetime.now(UTC) + timedelta(seconds=1))
        if e.kind == "maintenance"
    ]
    assert [e.details["since"] for e in logged] == [  # 4 forecasts per transaction
        (start + timedelta(days=d, hours=h) - LEAD).isoformat() for d, h in ((0, 0), (1, 1), (2, 2))
    ]
    assert logged[-1].details["cutoff"] == report.cutoff.isoformat()
    assert sum(e.details["cut"] for e in logged) == 6


def test_nothing_to_purge_is_logged_too(db):
    report = purge_forecasts(db=db, now=T0)
    assert (report.since, report.cut, report.deleted) == (None, 0, 0)
    (event,) = [
        e
        for e in audit_trail(db=db, start=T0 - timedelta(days=1), end=datetime.now(UTC))
        if e.kind == "maintenance"
    ]
    assert event.summary.startswith("purge_forecasts: 0 rows")


@pytest.mark.parametrize("retention_days", [1, 35])
def test_the_window_is_cut_at_a_bucket_boundary(db, retention_days):
    report = purge_forecasts(
        db=db, now=T0 + timedelta(minutes=7), retention=timedelta(days=retention_days)
    )
    assert report.cutoff == T0 - timedelta(days=retention_days)
