"""The daily housekeeping job on a real SQLite store: purges logged, audited, never fatal."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from apscheduler.triggers.interval import IntervalTrigger

from energiemodell.store import (
    Database,
    ReadingRow,
    aggregates_between,
    alarms_between,
    audit_trail,
    forecasts_issued,
    open_db,
    readings_between,
    save_forecast,
    save_readings,
    upgrade,
)
from scheduler.housekeeping import FAILED_CODE, housekeeping_job, run_housekeeping
from scheduler.jobs import HOUSEKEEPING_JOB, housekeeping_trigger, start_jobs

NOW = datetime(2025, 6, 10, 1, 7, tzinfo=UTC)
OLD = NOW.replace(minute=0) - timedelta(days=40)  # beyond both 35-day windows
RECENT = NOW - timedelta(days=1)
EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Database]:
    db = open_db(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade(db=db)
    yield db
    db.dispose()


def polls(start: datetime, minutes: int) -> list[ReadingRow]:
    """A reading every 10 s of the import meter (value = seconds since ``start``) and a status."""
    rows = []
    for i in range(minutes * 6):
        ts = start + timedelta(seconds=10 * i)
        rows.append(ReadingRow(ts, "meter", "p", "grid.import_kw", float(10 * i)))
        rows.append(ReadingRow(ts, "plc", "status", None, 1.0))
    return rows


def forecast(issued_at: datetime, n: int = 8) -> pd.DataFrame:
    start = issued_at + timedelta(minutes=2)
    return pd.DataFrame(
        {"demand.heat_kw": np.arange(n, dtype=float)},
        index=pd.date_range(start, periods=n, freq="15min"),
    )


def fill(db: Database) -> None:
    save_readings(db=db, rows=polls(OLD, 30))  # two buckets, never aggregated
    save_readings(db=db, rows=polls(RECENT, 30))
    for k in range(3):
        t = OLD + timedelta(minutes=15 * k) - timedelta(minutes=2)
        save_forecast(db=db, forecast=forecast(t), issued_at=t, source="profile")
    save_forecast(db=db, forecast=forecast(RECENT), issued_at=RECENT, source="profile")


def deny_deletes_of_readings(db: Database) -> None:
    """What a database role without DELETE on readings would do: every purge fails."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER no_purge BEFORE DELETE ON readings "
            "BEGIN SELECT RAISE(ABORT, 'permission denied for table readings'); END"
        )


def test_housekeeping_purges_old_readings_after_aggregating_them_and_cuts_old_forecasts(
    store, caplog
):
    fill(store)
    caplog.set_level(logging.INFO, logger="scheduler.housekeeping")

    report = run_housekeeping(db=store, now=NOW)

    assert report.errors == {}
    assert report.readings is not None
    assert report.readings.deleted_readings == 2 * 180  # the import meter's and the status's
    # the old buckets were aggregated in the purge's transaction, then their raw rows deleted
    assert readings_between(db=store, start=OLD, end=OLD + timedelta(hours=1)).empty
    aggs = aggregates_between(db=store, start=OLD, end=OLD + timedelta(hours=1))
    assert list(aggs["quantity"]) == ["grid.import_kw"] * 2
    assert list(aggs["n_good"]) == [90, 90]
    assert list(aggs["value_mean"]) == pytest.approx([445.0, 1345.0])  # 0..890, 900..1790
    assert len(readings_between(db=store, start=RECENT, end=NOW)) == 2 * 180  # in the window
    # forecasts beyond their window keep only their rows in force; the recent one is whole
    frames = {f.issued_at: f.frame for f in forecasts_issued(db=store, start=EVER[0], end=EVER[1])}
    assert [len(frames[t]) for t in sorted(frames)] == [1, 1, 8, 8]
    assert report.forecasts is not None
    assert report.forecasts.cut == 2
    # audited and logged
    jobs = [
        e.summary
        for e in audit_trail(db=store, start=NOW, end=datetime.now(UTC))
        if e.kind == "maintenance"
    ]
    assert jobs == ["purge_readings: 360 rows", "purge_forecasts: 2 rows"]
    text = caplog.text
    assert "360 raw readings older than 2025-05-06T01:00:00+00:00 deleted" in text
    assert "2 cut to their rows in force" in text


def test_a_failing_purge_is_alarmed_and_logged_and_deletes_nothing(store, caplog):
    fill(store)
    deny_deletes_of_readings(store)
    caplog.set_level(logging.INFO, logger="scheduler.housekeeping")

    report = run_housekeeping(db=store, now=NOW)

    assert set(report.errors) == {"purge_readings"}
    assert "permission denied for table readings" in report.errors["purge_readings"]
    # rolled back whole: the raw readings are all there, no aggregate was left half-made
    assert len(readings_between(db=store, start=OLD, end=OLD + timedelta(hours=1))) == 360
    assert aggregates_between(db=store, start=OLD, end=OLD + timedelta(hours=1)).empty
    (alarm,) = alarms_between(db=store, start=NOW, end=NOW + timedelta(seconds=1))
    assert (alarm.source, alarm.code, alarm.severity) == ("housekeeping", FAILED_CODE, "warning")
    assert alarm.message.startswith("purge_readings failed: IntegrityError")
    assert any(
        r.levelno == logging.ERROR and r.exc_info and "purge_readings failed" in r.getMessage()
        for r in caplog.records
    )
    # the next step still ran
    assert report.forecasts is not None
    assert report.forecasts.cut == 2


def test_a_store_that_is_gone_is_logged_not_raised(tmp_path, caplog):
    db = open_db(f"sqlite:///{tmp_path / 'missing' / 'store.sqlite'}")  # no such directory
    try:
        report = run_housekeeping(db=db, now=NOW)
    finally:
        db.dispose()
    assert set(report.errors) == {"purge_readings", "purge_forecasts"}
    assert "could not be stored" in caplog.text


def test_the_housekeeping_job_is_daily_between_two_cycles():
    fire = housekeeping_trigger().get_next_fire_time(None, datetime(2025, 6, 10, 1, 8, tzinfo=UTC))
    assert fire == datetime(2025, 6, 11, 1, 7, tzinfo=UTC)


@pytest.mark.integration
def test_a_failing_housekeeping_job_leaves_the_cycle_job_running(store, tmp_path):
    """The service's jobs on the real store: housekeeping fails each run, cycles go on."""
    fill(store)
    deny_deletes_of_readings(store)
    cycles: list[float] = []
    cycle_writes = threading.Event()

    def cycle() -> None:  # a cycle that needs the store, as the control cycle does
        save_readings(db=store, rows=[ReadingRow(datetime.now(UTC), "m", "p", "x.kw", 1.0)])
        cycles.append(time.time())
        cycle_writes.set()

    scheduler = start_jobs(
        cycle=cycle,
        heartbeat=None,
        period_s=2,
        lead_s=1,
        heartbeat_s=1,
        misfire_grace_s=1,
        housekeeping=housekeeping_job(db=store, now=lambda: NOW),
        housekeeping_when=IntervalTrigger(seconds=1, timezone=UTC),
    )
    try:
        assert scheduler.get_job(HOUSEKEEPING_JOB) is not None
        time.sleep(5.3)
        assert scheduler.running
    finally:
        scheduler.shutdown(wait=True)
    alarms = alarms_between(db=store, start=NOW, end=NOW + timedelta(seconds=1))
    assert len(alarms) >= 3
    assert {a.code for a in alarms} == {FAILED_CODE}
    assert len(cycles) >= 2
    assert cycle_writes.is_set()
    with store.engine.connect() as conn:
        stored = conn.execute(
            sa.text("select count(*) from readings where quantity = 'x.kw'")
        ).scalar()
    assert stored == len(cycles)
