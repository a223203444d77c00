"""``energiemodell db upgrade|export``: create or migrate the store, export its history.

The database URL comes from ``--db``, else ``$ENERGIEMODELL_DB_URL``, else the SQLite file
``energiemodell.sqlite`` in the working directory. Exit codes: 0 done, 1 failed at run time
(database unreachable, no store schema, write error), 2 bad input (URL, date, table, format:
the message names the option). The lead wires this in ``scheduler/cli.py`` with
``app.add_typer(db_app, name="db")``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from energiemodell.store import (
    Database,
    StoreError,
    current_revision,
    export_table,
    head_revision,
    open_db,
    resolve_url,
    upgrade,
)
from energiemodell.store.export import FORMATS, TABLES, Format
from scheduler.cli_common import DbOpt, fail

logger = logging.getLogger(__name__)

db_app = typer.Typer(
    help="Create or migrate the store database, and export its history.", no_args_is_help=True
)


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _open(url: str | None, *, must_exist: bool = False) -> Database:
    resolved = resolve_url(url)
    try:
        db = open_db(resolved)
    except StoreError as exc:
        fail(2, f"--db: {exc}")
    if db.is_sqlite:
        database = db.engine.url.database
        if database and database != ":memory:" and not Path(database).parent.exists():
            fail(2, f"--db: directory {Path(database).parent} does not exist")
        if must_exist and database and database != ":memory:" and not Path(database).exists():
            fail(1, f"--db: no database file {database} (run: energiemodell db upgrade)")
    return db


@db_app.command("upgrade")
def upgrade_cmd(db: DbOpt = None) -> None:
    """Create the store schema in a new database, or migrate an older one (rows are kept).

    Prints the revision before and after. Exit 0 done, 1 database unreachable or migration
    failed, 2 bad URL.
    """
    handle = _open(db)
    try:
        before = current_revision(db=handle)
        upgrade(db=handle)
        after = current_revision(db=handle)
    except SQLAlchemyError as exc:
        fail(1, f"{_shown(handle.url)}: upgrade failed: {exc.__class__.__name__}: {exc}")
    except StoreError as exc:
        fail(1, f"{_shown(handle.url)}: upgrade failed: {exc}")
    finally:
        handle.dispose()
    typer.echo(
        f"{_shown(handle.url)}: schema {before or 'empty'} -> {after} (head {head_revision()})"
    )


def _parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(2, f"{option}: {text!r} is not a date (use YYYY-MM-DD, local to --tz)")


@db_app.command("export")
def export_cmd(
    table: Annotated[str, typer.Option("--table", help=f"One of: {', '.join(TABLES)}")],
    date_from: Annotated[
        str, typer.Option("--from", help="First local day, YYYY-MM-DD (inclusive)")
    ],
    date_to: Annotated[str, typer.Option("--to", help="Last local day, YYYY-MM-DD (exclusive)")],
    out: Annotated[Path, typer.Option("--out", help="Output file")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    tz: Annotated[str, typer.Option("--tz", help="Time zone of --from/--to")] = "Europe/Berlin",
    db: DbOpt = None,
) -> None:
    """Export one table for a period of local days to CSV or Parquet.

    ``aggregates`` has the columns of a site series file: ``timestamp`` (interval start, ISO
    8601 UTC with Z), then one column per site quantity (15-minute means; see docs/store.md for
    the names). ``readings``, ``schedules``, ``writes`` and ``audit`` export rows as stored.
    Exit 0 done (also with no rows), 1 database unreachable or without a store schema, 2 bad
    input.
    """
    if table not in TABLES:
        fail(2, f"--table: {table!r} is not one of {', '.join(TABLES)}")
    if fmt not in FORMATS:
        fail(2, f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        fail(2, f"--tz: unknown time zone {tz!r} (use an IANA name such as Europe/Berlin)")
    first, last = _parse_date(date_from, "--from"), _parse_date(date_to, "--to")
    if last <= first:
        fail(2, f"--to: {last} is not after --from {first} (--to is exclusive)")
    start = datetime.combine(first, time(), zone)
    end = datetime.combine(last, time(), zone)
    handle = _open(db, must_exist=True)
    try:
        if current_revision(db=handle) is None:
            fail(1, f"{_shown(handle.url)}: no store schema here (run: energiemodell db upgrade)")
        n = export_table(
            db=handle, table=table, start=start, end=end, fmt=cast("Format", fmt), out=out
        )
    except SQLAlchemyError as exc:
        fail(1, f"{_shown(handle.url)}: export failed: {exc.__class__.__name__}: {exc}")
    except OSError as exc:
        fail(1, f"--out: cannot write {out}: {exc}")
    finally:
        handle.dispose()
    typer.echo(f"exported {n} {table} rows ({first}..{last} {tz}, end exclusive) to {out}")
