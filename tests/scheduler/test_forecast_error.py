"""Forecasts as issued and each cycle's duration are stored; the API and /metrics show them.

The tiny site's loop runs real cycles (HiGHS, SQLite); the dashboard reads the same store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from energiemodell.store import (
    Database,
    ReadingRow,
    aggregate_readings,
    forecasts_issued,
    latest_cycle,
    save_readings,
)
from scheduler.clock import SimulatedClock
from scheduler.loop import drive
from scheduler.policy import Rung
from scheduler.web import WebSettings, create_app
from scheduler.web.auth import create_token, create_user
from tests.scheduler.conftest import LEAD, START

pytestmark = pytest.mark.solver

STEP = timedelta(minutes=15)
QUANTITY = "demand.heat_kw"


@pytest.fixture
def api(db: Database) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The dashboard on the loop's store, its clock after the two cycles; a viewer's token."""
    now = START + 2 * STEP
    create_user(db=db, name="viewer", role="viewer", password="x" * 12, actor="test", now=now)
    token = create_token(db=db, user_name="viewer", label="t", actor="test", now=now)[1]
    settings = WebSettings(db_url=str(db.engine.url), secret_key="s" * 40, cookie_secure=False)
    client = TestClient(
        create_app(settings, clock=SimulatedClock(now)), raise_server_exceptions=False
    )
    yield client, {"Authorization": f"Bearer {token}"}
    client.close()
    client.app.state.ctx.db.dispose()  # type: ignore[attr-defined]


def test_forecasts_are_stored_and_their_error_is_served(rig, db, api):
    r = rig()
    reports = drive(r.deps, r.clock, intervals=2)
    assert [x.rung for x in reports] == [Rung.FRESH, Rung.FRESH]
    stored = forecasts_issued(db=db, start=START - LEAD, end=START + STEP)
    assert [f.issued_at for f in stored] == [x.started_at for x in reports]
    assert {f.source for f in stored} == {r.deps.forecaster.name}
    for f, rep in zip(stored, reports, strict=True):
        expected = r.deps.forecaster.forecast(rep.interval_start, r.deps.planner.n)
        assert f.frame.index[0] == rep.interval_start
        pd.testing.assert_frame_equal(f.frame, expected.astype("float64"), check_freq=False)

    # measured heat demand: 10 kW above the first forecast, 30 kW below the second
    f1 = stored[0].frame.loc[START, QUANTITY]
    f2 = stored[1].frame.loc[START + STEP, QUANTITY]
    rows = [
        ReadingRow(START + k * STEP + timedelta(minutes=m), "meter", "q", QUANTITY, value)
        for k, value in enumerate((f1 + 10.0, f2 - 30.0))
        for m in (1, 8)
    ]
    save_readings(db=db, rows=rows)
    aggregate_readings(db=db, until=START + 2 * STEP, lookback=timedelta(hours=1))

    client, auth = api
    period = {"from": START.isoformat(), "to": (START + 2 * STEP).isoformat()}
    got = client.get("/api/v1/forecast-error", params=period, headers=auth)
    assert got.status_code == 200, got.text
    body = got.json()
    assert list(body["quantities"]) == [QUANTITY]  # the only quantity both forecast and measured
    heat = body["quantities"][QUANTITY]
    assert heat["n"] == 2
    assert heat["forecast"] == pytest.approx([f1, f2])
    assert heat["actual"] == pytest.approx([f1 + 10.0, f2 - 30.0])
    assert heat["mae"] == pytest.approx(20.0)
    assert heat["bias"] == pytest.approx(10.0)  # (-10 + 30) / 2: forecast above actual
    assert pd.Timestamp(heat["index"][1]) == START + STEP


def test_forecast_error_refuses_bad_periods_and_anonymous_clients(api):
    client, auth = api
    url = "/api/v1/forecast-error"
    t0 = START.isoformat()
    assert client.get(url, params={"from": t0, "to": t0}).status_code == 401
    backwards = {"from": t0, "to": (START - STEP).isoformat()}
    assert client.get(url, params=backwards, headers=auth).status_code == 422
    naive = {"from": "2024-03-12T05:00:00", "to": "2024-03-12T06:00:00"}
    assert client.get(url, params=naive, headers=auth).status_code == 422
    too_long = {"from": t0, "to": (START + timedelta(days=40)).isoformat()}
    assert client.get(url, params=too_long, headers=auth).status_code == 422
    empty = client.get(url, params={"from": t0, "to": (START + STEP).isoformat()}, headers=auth)
    assert empty.status_code == 200
    assert empty.json()["quantities"] == {}


def test_cycle_duration_is_stored_and_in_metrics(rig, db, api):
    r = rig()
    reports = drive(r.deps, r.clock, intervals=2)
    cycle = latest_cycle(db=db, before=START + 2 * STEP)
    assert cycle is not None
    last = reports[-1]
    assert cycle.started_at == last.started_at
    assert cycle.interval_start == last.interval_start
    assert cycle.rung == "fresh"
    assert cycle.solve_s == pytest.approx(last.solve_s)
    assert cycle.solve_s > 0
    duration = (last.finished_at - last.started_at).total_seconds()
    assert duration >= LEAD.total_seconds()  # the cycle waits for its interval before writing
    assert cycle.duration_s == pytest.approx(duration)

    client, auth = api
    text = client.get("/metrics", headers=auth).text
    (line,) = [
        x for x in text.splitlines() if x.startswith("energiemodell_cycle_duration_seconds ")
    ]
    assert float(line.split()[1]) == pytest.approx(duration)


def test_forecast_and_cycle_records_wait_out_a_store_outage(rig, db, tmp_path):
    @event.listens_for(db.engine, "connect")
    def _short_busy_timeout(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA busy_timeout = 50")

    db.engine.dispose()
    r = rig()
    drive(r.deps, r.clock, intervals=1)
    lock = sqlite3.connect(tmp_path / "store.sqlite", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        (hit,) = drive(r.deps, r.clock, intervals=1)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert hit.store_pending > 0
    (after,) = drive(r.deps, r.clock, intervals=1)
    assert after.store_pending == 0
    issued = [
        f.issued_at for f in forecasts_issued(db=db, start=START - LEAD, end=START + 3 * STEP)
    ]
    assert hit.started_at in issued  # saved with its own issue time once the store answered
    assert len(issued) == 3
    during = latest_cycle(db=db, before=after.started_at)
    assert during is not None
    assert during.started_at == hit.started_at
