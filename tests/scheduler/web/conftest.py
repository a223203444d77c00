"""A real store for the dashboard tests: a tiny site planned twice, readings, alarms, writes, users.

The store is built once per session (two real HiGHS solves) into a template SQLite file and
copied for each test. The dashboard's clock stands at NOW, inside the plans' horizon.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from energiemodell import load_forecast, load_site, optimise
from energiemodell.model.schedule import Schedule
from energiemodell.site import site_to_yaml
from energiemodell.state import PlantState
from energiemodell.store import (
    ReadingRow,
    aggregate_readings,
    open_db,
    raise_alarm,
    save_readings,
    save_schedule,
    save_write,
    upgrade,
)
from scheduler.clock import SimulatedClock
from scheduler.web import WebSettings, create_app
from scheduler.web.auth import create_token, create_user
from tests.conftest import write_site_files
from tests.scheduler.conftest import ASSETS, DEVICES

PLAN_START = datetime(2024, 3, 12, 5, 0, tzinfo=UTC)  # 06:00 Europe/Berlin
NOW = datetime(2024, 3, 12, 5, 20, tzinfo=UTC)  # inside the 05:15 interval
N = 16
PASSWORD = "correct horse battery"
SECRET = "s" * 40


@dataclass(frozen=True)
class Store:
    """The template store and what was put into it."""

    path: Path
    schedules: tuple[Schedule, Schedule]
    ids: tuple[int, int]
    alarm_id: int
    tokens: dict[str, str]
    site_path: Path
    day_plan: Schedule


@pytest.fixture(scope="session")
def web_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    base = tmp_path_factory.mktemp("web")
    control = {"horizon_h": 4, "time_limit_s": 20, "mip_gap_pu": 0.001, "mode": "review"}
    site_path = write_site_files(base / "site", assets=ASSETS, devices=DEVICES[:2], control=control)
    site = load_site(site_path)
    forecast = load_forecast(site, PLAN_START, N)
    first = optimise(site, forecast, PlantState(storage_kwh={"tes": 100.0}))
    first.created_at = PLAN_START - timedelta(minutes=2)
    second = optimise(site, forecast.iloc[:N], PlantState(storage_kwh={"tes": 700.0}))
    second.created_at = PLAN_START + timedelta(minutes=13)
    # the whole local day, for review-mode approvals (saved by the tests that approve)
    day_start = datetime(2024, 3, 11, 23, 0, tzinfo=UTC)
    day_plan = optimise(site, load_forecast(site, day_start, 96), PlantState())
    day_plan.created_at = day_start - timedelta(hours=3)
    path = base / "template.sqlite"
    db = open_db(f"sqlite:///{path}")
    upgrade(db=db)
    ids = tuple(
        save_schedule(db=db, schedule=s, site_yaml=site_to_yaml(site), inputs_summary={"test": 1})
        for s in (first, second)
    )
    rows = [
        ReadingRow(
            PLAN_START + timedelta(seconds=30 * k), "meter", "p", "grid.import_kw", 250.0 + k
        )
        for k in range(20)
    ]
    rows += [ReadingRow(PLAN_START + timedelta(minutes=5), "sig", "lvl", "tes.level_kwh", 420.0)]
    rows += [ReadingRow(PLAN_START + timedelta(minutes=16), "chp1_ctrl", "p", None, None, "bad")]
    save_readings(db=db, rows=rows)
    aggregate_readings(db=db, until=PLAN_START + timedelta(minutes=15), lookback=timedelta(hours=1))
    alarm_id = raise_alarm(
        db=db,
        ts=PLAN_START + timedelta(minutes=1),
        source="loop",
        code="fallback.time_limited",
        severity="warning",
        message="solver time limit hit (test)",
    )
    save_write(
        db=db,
        device="chp1_ctrl",
        point="p_el_setpoint_kw",
        value=321.0,
        ts=PLAN_START + timedelta(minutes=15),
        reason="interval 2024-03-12T05:15Z: fresh plan v2",
        result="confirmed",
        read_back=321.0,
        schedule_id=ids[1],
    )
    tokens = {}
    for role in ("viewer", "operator", "admin"):
        create_user(db=db, name=role, role=role, password=PASSWORD, actor="test", now=NOW)
        tokens[role] = create_token(db=db, user_name=role, label="test", actor="test", now=NOW)[1]
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return Store(path, (first, second), (ids[0], ids[1]), alarm_id, tokens, site_path, day_plan)


@pytest.fixture
def store_url(web_store: Store, tmp_path: Path) -> str:
    path = tmp_path / "store.sqlite"
    shutil.copyfile(web_store.path, path)
    return f"sqlite:///{path}"


@pytest.fixture
def make_client(store_url: str, web_store: Store) -> Iterator[Callable[..., TestClient]]:
    made: list[TestClient] = []

    def make(
        now: datetime = NOW, client_kw: dict[str, Any] | None = None, **settings: Any
    ) -> TestClient:
        values = {
            "db_url": store_url,
            "secret_key": SECRET,
            "cookie_secure": False,
            "site": str(web_store.site_path),
        } | settings
        app = create_app(WebSettings(**values), clock=SimulatedClock(now))
        client = TestClient(app, raise_server_exceptions=False, **(client_kw or {}))
        made.append(client)
        return client

    yield make
    for c in made:
        c.close()
        c.app.state.ctx.db.dispose()  # type: ignore[attr-defined]


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def bearer(store: Store, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.tokens[role]}"}


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the form; return the session's CSRF token."""
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token, page.text
    r = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    today = client.get("/today")
    found = CSRF.search(today.text)
    assert found
    return found.group(1)


def save_day_plan(client: TestClient, store: Store) -> int:
    """Save the whole-day plan into the client's store; return its version id."""
    db = client.app.state.ctx.db  # type: ignore[attr-defined]
    site = load_site(store.site_path)
    return save_schedule(
        db=db, schedule=store.day_plan, site_yaml=site_to_yaml(site), inputs_summary={}
    )


def save_override(client: TestClient, *, target: str = "chp1.p_el_kw", value: float = 200.0) -> int:
    """Store an override directly (for tests of ending one, not of adding one)."""
    from energiemodell.store import save_operator_action

    db = client.app.state.ctx.db  # type: ignore[attr-defined]
    return save_operator_action(
        db=db,
        ts=client.app.state.ctx.now(),  # type: ignore[attr-defined]
        actor="operator",
        action="override",
        reason="stored by the test",
        target=target,
        value=value,
        valid_from=NOW - timedelta(minutes=5),
        valid_to=NOW + timedelta(hours=1),
    )
