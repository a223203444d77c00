"""Aggregation when buckets close, corrections for late data, and the retention purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from energiemodell.store import (
    ReadingRow,
    aggregate_readings,
    aggregates_between,
    aggregates_wide,
    audit_trail,
    purge_readings,
    readings_between,
    save_readings,
)
from energiemodell.store.readings import aggregates_t

T0 = datetime(2025, 2, 3, 6, 0, tzinfo=UTC)


def poll(ts, values):
    return [ReadingRow(ts, "dev", q.split(".")[0], q, v, "good") for q, v in values.items()]


def fill(db, start, minutes, quantities=("grid.import_kw", "tes1.level_kwh")):
    rows = []
    for i in range(minutes * 6):
        ts = start + timedelta(seconds=10 * i)
        rows += poll(ts, {q: float(k * 1000 + i) for k, q in enumerate(quantities)})
    save_readings(db=db, rows=rows)


def test_only_closed_buckets_are_aggregated_and_only_once(db):
    fill(db, T0, 40)  # buckets 06:00, 06:15 full, 06:30 open (10 minutes of data)
    assert aggregate_readings(db=db, until=T0 + timedelta(minutes=40)) == 4
    agg = aggregates_between(db=db, start=T0, end=T0 + timedelta(hours=1))
    assert sorted(set(agg["bucket_start"].dt.minute)) == [0, 15]
    assert set(agg["n_good"]) == {90}
    # running again changes nothing; closing the third bucket adds it
    assert aggregate_readings(db=db, until=T0 + timedelta(minutes=44)) == 0
    assert aggregate_readings(db=db, until=T0 + timedelta(minutes=45)) == 2
    wide = aggregates_wide(db=db, start=T0, end=T0 + timedelta(hours=1))
    assert list(wide.columns) == ["grid.import_kw", "tes1.level_kwh"]
    assert wide.index.name == "timestamp"
    assert str(wide.index.tz) == "UTC"
    assert wide["grid.import_kw"].iloc[0] == pytest.approx(np.mean(range(90)))
    assert wide["grid.import_kw"].iloc[2] == pytest.approx(np.mean(range(180, 240)))


def test_late_data_becomes_a_correction_row(db):
    fill(db, T0, 15, quantities=("grid.import_kw",))
    aggregate_readings(db=db, until=T0 + timedelta(minutes=15))
    late = [
        ReadingRow(T0 + timedelta(seconds=3), "dev", "p", "grid.import_kw", 1000.0, "good"),
        ReadingRow(T0 + timedelta(seconds=4), "dev", "p", "grid.import_kw", -5.0, "bad"),
    ]
    save_readings(db=db, rows=late)
    assert aggregate_readings(db=db, until=T0 + timedelta(minutes=30)) == 1
    with db.read() as conn:
        revisions = conn.execute(
            sa.select(aggregates_t.c.revision, aggregates_t.c.n_good).order_by(
                aggregates_t.c.revision
            )
        ).all()
    assert [tuple(r) for r in revisions] == [(0, 90), (1, 91)]  # the original row is kept
    agg = aggregates_between(db=db, start=T0, end=T0 + timedelta(minutes=15))
    assert len(agg) == 1
    row = agg.iloc[0]
    assert row["revision"] == 1
    assert row["value_mean"] == pytest.approx((sum(range(90)) + 1000.0) / 91)
    assert (row["value_min"], row["value_max"], row["n_total"]) == (0.0, 1000.0, 92)


def test_purge_aggregates_first_and_logs_itself(db):
    now = T0 + timedelta(days=40)
    fill(db, T0, 30, quantities=("grid.import_kw",))  # never aggregated by the loop
    save_readings(db=db, rows=[ReadingRow(T0, "chp1_ctrl", "status_word", None, 7.0, "good")])
    fill(db, now - timedelta(hours=1), 15, quantities=("grid.import_kw",))  # recent: kept

    report = purge_readings(db=db, now=now)

    assert report.cutoff == now - timedelta(days=35)
    assert report.aggregated_rows == 2
    assert report.deleted_readings == 181
    assert readings_between(db=db, start=T0, end=T0 + timedelta(days=1)).empty
    assert len(readings_between(db=db, start=now - timedelta(hours=2), end=now)) == 90
    agg = aggregates_between(db=db, start=T0, end=T0 + timedelta(hours=1))
    assert list(agg["n_good"]) == [90, 90]
    assert agg["value_mean"].iloc[1] == pytest.approx(np.mean(range(90, 180)))
    trail = audit_trail(
        db=db, start=now - timedelta(minutes=1), end=datetime.now(UTC) + timedelta(minutes=1)
    )
    maintenance = [e for e in trail if e.kind == "maintenance"]
    assert len(maintenance) == 1
    assert maintenance[0].details["aggregated_rows"] == 2
    assert "purge_readings: 181 rows" in maintenance[0].summary


def test_late_data_for_a_purged_bucket_merges_with_its_aggregate(db):
    fill(db, T0, 15, quantities=("grid.import_kw",))
    purge_readings(db=db, now=T0 + timedelta(days=36))
    save_readings(
        db=db,
        rows=[ReadingRow(T0 + timedelta(minutes=1), "dev", "p", "grid.import_kw", 1e4, "good")],
    )
    purge_readings(db=db, now=T0 + timedelta(days=36, minutes=15))
    row = aggregates_between(db=db, start=T0, end=T0 + timedelta(minutes=15)).iloc[0]
    assert row["n_good"] == 91
    assert row["value_mean"] == pytest.approx((sum(range(90)) + 1e4) / 91)
    assert row["value_max"] == 1e4
