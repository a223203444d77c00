"""``energiemodell users``: the dashboard's users and API tokens, kept in the store.

Passwords are asked for on the terminal (hidden, twice) and stored as Argon2 hashes; an API
token is printed once and stored as its SHA-256. Every change is a new row naming who made it
(``cli:<login>``). Exit codes: 0 done, 1 failed at run time (store unreachable or not
migrated), 2 bad input. The lead wires this in ``scheduler/cli.py`` with
``app.add_typer(users_app, name="users")``.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from energiemodell.store.users import api_tokens, list_users, revoke_api_token
from scheduler.cli_common import DbOpt, fail, open_current
from scheduler.web.auth import check_new_user, create_token, create_user, disable_user

users_app = typer.Typer(help="Users and API tokens of the dashboard and API.", no_args_is_help=True)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (OSError, KeyError):
        return "cli"


@users_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _.@-)")],
    role: Annotated[str, typer.Option(help="viewer | operator | admin")] = "viewer",
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="Asked for on the terminal when not given (at least 10 characters)",
        ),
    ] = "",
    db: DbOpt = None,
) -> None:
    """Create a user, or give an existing one a new role and password."""
    problems = check_new_user(name, role, password)
    if problems:
        fail(2, "\n".join(problems))
    handle = open_current(db)
    create_user(
        db=handle, name=name, role=role, password=password, actor=_actor(), now=datetime.now(UTC)
    )
    typer.echo(f"user {name}: {role}")


@users_app.command("list")
def list_(
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list")] = False,
) -> None:
    """List the users (role, since when, changed by whom) and the API tokens."""
    handle = open_current(db)
    users = list_users(db=handle)
    tokens = api_tokens(db=handle)
    if as_json:
        out = {
            "users": [
                {"name": u.name, "role": u.role, "since": u.since.isoformat(), "by": u.changed_by}
                for u in users
            ],
            "tokens": [
                {
                    "id": k.id,
                    "user": k.user_name,
                    "label": k.label,
                    "expires_at": k.expires_at.isoformat() if k.expires_at else None,
                    "revoked": k.revoked_at is not None,
                }
                for k in tokens
            ],
        }
        typer.echo(json.dumps(out, indent=2))
        return
    for u in users:
        typer.echo(f"{u.name:<24} {u.role:<9} since {u.since:%Y-%m-%d %H:%M}Z by {u.changed_by}")
    for k in tokens:
        state = "revoked" if k.revoked_at else "active"
        typer.echo(f"token {k.id:<5} {k.user_name:<24} {k.label:<24} {state}")


@users_app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="User name")], db: DbOpt = None) -> None:
    """Lock a user out (sessions and tokens stop working at their next request)."""
    handle = open_current(db)
    try:
        disable_user(db=handle, name=name, actor=_actor(), now=datetime.now(UTC))
    except KeyError as exc:
        fail(2, str(exc.args[0]))
    typer.echo(f"user {name}: disabled")


@users_app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="User the token acts for (with that user's role)")],
    label: Annotated[str, typer.Option(help="What the token is for, e.g. the system using it")],
    expires_days: Annotated[
        int | None,
        typer.Option(min=1, max=3660, help="Days until the token expires (default: never)"),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Make an API token for a user and print it once (send it as `Authorization: Bearer`)."""
    if not label.strip() or len(label) > 128:
        fail(2, "--label: give 1 to 128 characters")
    handle = open_current(db)
    now = datetime.now(UTC)
    expires = now + timedelta(days=expires_days) if expires_days else None
    try:
        token_id, secret = create_token(
            db=handle, user_name=name, label=label, actor=_actor(), now=now, expires_at=expires
        )
    except KeyError as exc:
        fail(2, str(exc.args[0]))
    typer.echo(f"token {token_id} for {name} (shown once, store it now):")
    typer.echo(secret)


@users_app.command("revoke-token")
def revoke_token(
    token_id: Annotated[int, typer.Argument(help="Token id (see `users list`)")], db: DbOpt = None
) -> None:
    """Revoke an API token."""
    handle = open_current(db)
    try:
        revoke_api_token(db=handle, token_id=token_id, ts=datetime.now(UTC), actor=_actor())
    except KeyError as exc:
        fail(2, str(exc.args[0]))
    typer.echo(f"token {token_id}: revoked")
