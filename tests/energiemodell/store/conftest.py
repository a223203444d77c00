"""Fixtures of the store tests: a migrated SQLite file per test, a PostgreSQL schema per session.

PostgreSQL comes from ``ENERGIEMODELL_TEST_PG_URL`` (default: the local test database); tests
that need it are skipped, with the reason, where none is reachable. Each session works in a
schema of its own, so parallel runs do not collide, and tables are emptied between tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from energiemodell.store import Database, open_db, upgrade
from energiemodell.store.tables import metadata

PG_URL_ENV = "ENERGIEMODELL_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_base_url() -> str:
    return os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)


def pg_url_in_schema(schema: str) -> str:
    base = sa.engine.make_url(pg_base_url())
    query = dict(base.query) | {"options": f"-csearch_path={schema}"}
    return base.set(query=query).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file with the newest schema, copied for each test (migrating is slower)."""
    path = tmp_path_factory.mktemp("store") / "template.sqlite"
    db = open_db(f"sqlite:///{path}")
    upgrade(db=db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "store.sqlite"
    shutil.copyfile(sqlite_template, path)
    db = open_db(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A fresh schema with the newest store schema in it, dropped at the end of the session."""
    url = pg_base_url()
    try:
        admin = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {url} ({type(exc).__name__}); set {PG_URL_ENV}")
    schema = f"store_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    db = open_db(pg_url_in_schema(schema))
    upgrade(db=db)
    db.dispose()
    yield schema
    with admin.begin() as conn:
        conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


@pytest.fixture
def pg_db(pg_schema: str) -> Iterator[Database]:
    db = open_db(pg_url_in_schema(pg_schema))
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"truncate {names} restart identity cascade"))
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db(request: pytest.FixtureRequest) -> Database:
    """The same test on both databases."""
    name = "sqlite_db" if request.param == "sqlite" else "pg_db"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


# --- a Schedule test double (the real one lives in energiemodell.model.schedule) ----------------


@dataclass
class FakeSchedule:
    """The attributes and methods the store relies on, nothing more."""

    frame: pd.DataFrame
    costs: dict[str, float] = field(default_factory=lambda: {"energy": 100.0, "peak": 5.5})
    costs_by_asset: dict[str, dict[str, float]] = field(default_factory=dict)
    penalties: dict[str, float] = field(default_factory=dict)
    kpis: dict[str, float] = field(default_factory=dict)
    status: str = "optimal"
    mip_gap: float | None = 0.001
    origin: str = "optimal"
    site_hash: str = "a" * 64
    created_at: datetime = field(default_factory=lambda: datetime(2025, 3, 1, 11, 58, tzinfo=UTC))
    timings: dict[str, float] = field(default_factory=dict)
    alarms: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        split = self.frame.to_dict(orient="split")
        split["index"] = [ts.strftime("%Y-%m-%dT%H:%M:%SZ") for ts in self.frame.index]
        return {
            "frame": split,
            "costs": self.costs,
            "costs_by_asset": self.costs_by_asset,
            "penalties": self.penalties,
            "kpis": self.kpis,
            "status": self.status,
            "mip_gap": self.mip_gap,
            "origin": self.origin,
            "site_hash": self.site_hash,
            "created_at": self.created_at.isoformat(),
            "timings": self.timings,
            "alarms": self.alarms,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FakeSchedule:
        split = d["frame"]
        frame = pd.DataFrame(
            split["data"],
            index=pd.DatetimeIndex(pd.to_datetime(split["index"], utc=True)),
            columns=split["columns"],
        )
        rest = {k: v for k, v in d.items() if k not in ("frame", "created_at")}
        return cls(frame=frame, created_at=datetime.fromisoformat(d["created_at"]), **rest)


def _make_schedule(
    start: datetime, *, created_at: datetime, n: int = 8, offset: float = 0.0, **kw: Any
) -> FakeSchedule:
    index = pd.date_range(start.astimezone(UTC), periods=n, freq="15min")
    frame = pd.DataFrame(
        {
            "chp1.p_el_kw": [800.0 + offset + i for i in range(n)],
            "grid.import_kw": [300.0 + offset - i for i in range(n)],
            "demand.heat_kw": [2500.0 + offset] * n,
        },
        index=index,
    )
    return FakeSchedule(frame=frame, created_at=created_at, **kw)


@pytest.fixture(scope="session")
def make_schedule() -> Any:
    """Build a FakeSchedule of ``n`` 15-minute rows from ``start`` (fixtures, not imports)."""
    return _make_schedule


@pytest.fixture(scope="session")
def schedule_cls() -> type[FakeSchedule]:
    return FakeSchedule


@pytest.fixture(scope="session")
def pg_urls() -> tuple[str, Any]:
    """``(admin URL, schema -> URL)`` for tests that make a schema of their own."""
    return pg_base_url(), pg_url_in_schema
