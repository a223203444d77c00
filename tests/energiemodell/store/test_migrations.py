"""The shipped migrations: they build the models' schema, and upgrade a database with rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from energiemodell.store import (
    Database,
    ReadingRow,
    aggregate_readings,
    aggregates_between,
    current_revision,
    head_revision,
    open_db,
    readings_between,
    save_readings,
    upgrade,
)
from energiemodell.store.tables import metadata

T0 = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)


def test_head_is_the_sixth_revision():
    assert head_revision() == "0006"


def test_migrated_schema_matches_the_models(db):
    assert current_revision(db=db) == head_revision()
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def empty_db(request, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = open_db(f"sqlite:///{tmp_path / 'old.sqlite'}")
        yield db
        db.dispose()
        return
    request.getfixturevalue("pg_schema")  # skips with the reason where PostgreSQL is unreachable
    pg_base_url, pg_url_in_schema = request.getfixturevalue("pg_urls")
    schema = f"store_mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_base_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    db = open_db(pg_url_in_schema(schema))
    yield db
    db.dispose()
    with admin.begin() as conn:
        conn.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


def _indexes(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return {ix["name"] for ix in sa.inspect(conn).get_indexes("readings")}


def test_upgrade_from_the_first_schema_keeps_rows(empty_db):
    db = empty_db
    upgrade(db=db, revision="0001")
    assert current_revision(db=db) == "0001"
    assert "ix_readings_quantity_ts" not in _indexes(db)
    # rows as a store of the first schema wrote them (SQL with SQLAlchemy's DateTime, naive UTC
    # on SQLite; no model of the newest revision involved)
    ts = [T0 + timedelta(seconds=10 * i) for i in range(90)]
    with db.engine.begin() as conn:
        stmt = sa.text(
            "insert into readings (ts, device, point, quantity, value, quality) "
            "values (:ts, 'meter1', 'p_kw', 'grid.import_kw', :v, 'good')"
        ).bindparams(sa.bindparam("ts", type_=sa.DateTime(timezone=True)))
        as_db = (lambda t: t.replace(tzinfo=None)) if db.is_sqlite else (lambda t: t)
        conn.execute(stmt, [{"ts": as_db(t), "v": float(i)} for i, t in enumerate(ts)])
        conn.execute(
            sa.text(
                "insert into alarms (ts, source, code, severity, message) "
                "values (:ts, 'loop', 'stale', 'warning', 'meter1 stale')"
            ).bindparams(sa.bindparam("ts", type_=sa.DateTime(timezone=True))),
            {"ts": as_db(T0)},
        )

    upgrade(db=db)

    assert current_revision(db=db) == head_revision()
    assert "ix_readings_quantity_ts" in _indexes(db)
    got = readings_between(db=db, start=T0, end=T0 + timedelta(hours=1))
    assert len(got) == 90
    assert got["value"].sum() == sum(range(90))
    assert got["ts"].iloc[0].to_pydatetime() == T0
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("select message from alarms")).scalar() == "meter1 stale"
    # and the migrated store goes on working
    save_readings(
        db=db,
        rows=[ReadingRow(T0 + timedelta(minutes=20), "meter1", "p_kw", "grid.import_kw", 5.0)],
    )
    assert (
        aggregate_readings(db=db, until=T0 + timedelta(minutes=30), lookback=timedelta(hours=1))
        == 2
    )
    assert list(aggregates_between(db=db, start=T0, end=T0 + timedelta(hours=1))["n_good"]) == [
        90,
        1,
    ]
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
