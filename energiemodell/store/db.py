"""The database handle: engine creation, SQLite pragmas, transactions and migrations.

One code path for both databases. The default is an SQLite file in the working directory
(``energiemodell.sqlite``) that needs no setup; production uses PostgreSQL by URL
(``postgresql+psycopg://user@host/db``). The URL comes from the caller, else from the
environment variable ``ENERGIEMODELL_DB_URL``, else the default.

SQLite runs in WAL mode with a busy timeout, so the dashboard reads while the control loop
writes. Write transactions start with ``BEGIN IMMEDIATE``: a writer takes the write lock up
front and waits (busy timeout) for another writer, instead of failing with "database is locked"
when a read transaction tries to upgrade to a write one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from energiemodell.errors import EnergiemodellError

logger = logging.getLogger(__name__)

DB_URL_ENV = "ENERGIEMODELL_DB_URL"
DEFAULT_DB_URL = "sqlite:///energiemodell.sqlite"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "energiemodell_write"


class StoreError(EnergiemodellError):
    """The database URL is unusable, or the store refused an operation."""


@dataclass(frozen=True)
class Database:
    """A handle on one store database: pass it as ``db=`` to every store function.

    Attributes
    ----------
    url : str
        The URL the engine was created from (password hidden in ``repr``).
    engine : Engine
        The SQLAlchemy engine (a connection pool).
    """

    url: str
    engine: Engine

    def __repr__(self) -> str:
        return f"Database({self.engine.url!r})"

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (else PostgreSQL)."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """Open one write transaction: committed on success, rolled back on any exception."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Open one read transaction (a consistent snapshot of the store)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def resolve_url(url: str | None = None) -> str:
    """Return the database URL: ``url``, else ``$ENERGIEMODELL_DB_URL``, else the SQLite default."""
    return url or os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL


def open_db(url: str | None = None, *, echo: bool = False) -> Database:
    """Create the handle for a store database (no connection is made yet).

    Parameters
    ----------
    url : str, optional
        ``sqlite:///path/to/file.sqlite`` or ``postgresql+psycopg://user@host:5432/db``; see
        :func:`resolve_url` for the default.
    echo : bool
        Log every SQL statement (debugging).

    Raises
    ------
    StoreError
        The URL cannot be parsed or names an unsupported database or driver.
    """
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError as exc:
        msg = f"cannot parse database URL {resolved!r}: {exc}"
        raise StoreError(msg) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        msg = f"unsupported database {backend!r} in {parsed!r}: use sqlite:/// or postgresql+psycopg://"
        raise StoreError(msg)
    if backend == "postgresql" and parsed.get_driver_name() not in ("psycopg", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {"echo": echo}
    if backend == "postgresql":
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        msg = f"cannot use database URL {parsed!r}: {exc}"
        raise StoreError(msg) from None
    if backend == "sqlite":
        _configure_sqlite(engine)
    return Database(url=parsed.render_as_string(hide_password=False), engine=engine)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, busy timeout and explicit BEGIN (IMMEDIATE for writes) on every connection."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: object) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN would
        # defer the write lock and fail with "database is locked" on upgrade).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# --- migrations ---------------------------------------------------------------------------------


def _alembic_config(engine: Engine | None = None) -> Config:
    """Alembic's configuration, pointing into the package (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("energiemodell.store") / "migrations")
    )
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(*, db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest) with the shipped migrations.

    A new, empty database gets the whole schema; an older one is migrated in place, keeping
    its rows.

    Raises
    ------
    StoreError
        The database is at a revision this software does not know (made by a newer version).
    """
    from alembic import command
    from alembic.util.exc import CommandError

    before = current_revision(db=db)
    try:
        command.upgrade(_alembic_config(db.engine), revision)
    except CommandError as exc:
        msg = (
            f"cannot migrate {db!r} from revision {before} to {revision}: {exc} "
            f"(this software knows revisions up to {head_revision()}; is the database newer?)"
        )
        raise StoreError(msg) from None
    logger.info("store schema of %r: %s -> %s", db, before, current_revision(db=db))


def current_revision(*, db: Database) -> str | None:
    """Return the schema revision of the database (``None`` for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """Return the newest schema revision shipped with the package."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        msg = "no migrations shipped"
        raise StoreError(msg)
    return head
