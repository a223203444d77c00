"""``energiemodell serve``: the dashboard and the JSON API, standalone, over the store.

The site comes from the store (its content is kept with every schedule version), so serve
needs only the database. Settings come from ``ENERGIEMODELL_WEB_*`` (see docs/dashboard.md);
the flags win. Exit codes: 0 stopped, 1 refused at run time (store unreachable or not
migrated), 2 bad input (settings, a default secret outside the demo). The lead wires this in
``scheduler/cli.py`` with ``app.command()(serve)``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from energiemodell.store import StoreError, current_revision, head_revision, open_db
from scheduler.web import ConfigError, WebSettings, create_app, serve_forever


def serve(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL (default: $ENERGIEMODELL_DB_URL, else sqlite:///energiemodell.sqlite)",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Bind address (keep 127.0.0.1 behind the TLS proxy)")
    ] = ("127.0.0.1"),
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8080,
) -> None:
    """Serve the dashboard and the JSON API over the store."""
    overrides: dict[str, Any] = {}
    if db is not None:
        overrides["db_url"] = db
    try:
        settings = WebSettings(**overrides)
        settings.check()
    except (ConfigError, ValidationError) as exc:
        typer.echo(f"refusing to start: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        handle = open_db(settings.db_url)
        revision = current_revision(db=handle)
        handle.dispose()
    except StoreError as exc:
        typer.echo(f"--db: {exc}", err=True)
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        typer.echo(f"cannot reach the store: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    if revision != head_revision():
        typer.echo(
            f"the store is at schema {revision}, not {head_revision()}: "
            "run `energiemodell db upgrade`",
            err=True,
        )
        raise typer.Exit(1)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        typer.echo(f"refusing to start: {exc}", err=True)
        raise typer.Exit(2) from None
    serve_forever(app, host=host, port=port)
