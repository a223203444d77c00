"""What CLI command groups share: the `--db` option, opening the store, the error exit."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError

from energiemodell.store import Database, StoreError, current_revision, head_revision, open_db

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL: sqlite:///path.sqlite or postgresql+psycopg://user@host/db "
        "(default: $ENERGIEMODELL_DB_URL, else sqlite:///energiemodell.sqlite)",
        show_default=False,
    ),
]


def fail(code: int, message: str) -> NoReturn:
    """Print ``message`` on stderr and exit with ``code`` (docs/cli.md: 1 failed, 2 bad input)."""
    typer.echo(message, err=True)
    raise typer.Exit(code)


def open_current(url: str | None) -> Database:
    """The store at ``url``, refused unless it is at the newest schema (exit 1) or bad (exit 2)."""
    try:
        db = open_db(url)
        revision = current_revision(db=db)
    except StoreError as exc:
        fail(2, f"--db: {exc}")
    except SQLAlchemyError as exc:
        fail(1, f"cannot reach the store: {type(exc).__name__}: {exc}")
    if revision != head_revision():
        db.dispose()
        fail(
            1,
            f"the store is at schema {revision}, not {head_revision()}: "
            "run `energiemodell db upgrade`",
        )
    return db
