"""Users and API tokens of the dashboard and the JSON API: append-only, secrets hashed at rest.

The store never sees a password or a token: callers pass the password's hash (Argon2, made by
``scheduler.web.auth``) and the token's SHA-256. A user's newest row is in force; role
``disabled`` locks the account out. A token is valid until it expires or is revoked (a
revocation is a row of its own).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, func, insert, select

from energiemodell.store.db import Database
from energiemodell.store.tables import (
    ApiTokenRecord,
    ApiTokenRevocationRecord,
    UserRecord,
    table_of,
)

logger = logging.getLogger(__name__)

ROLES = ("viewer", "operator", "admin", "disabled")

users_t: Table = table_of(UserRecord)
tokens_t: Table = table_of(ApiTokenRecord)
revocations_t: Table = table_of(ApiTokenRevocationRecord)


@dataclass(frozen=True)
class UserInfo:
    """A user as in force now (the newest row of the name)."""

    name: str
    role: str
    password_hash: str
    since: datetime
    changed_by: str


@dataclass(frozen=True)
class ApiTokenInfo:
    """An API token without its secret."""

    id: int
    user_name: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    created_by: str
    revoked_at: datetime | None


def save_user(
    *, db: Database, name: str, role: str, password_hash: str, ts: datetime, changed_by: str
) -> int:
    """Append a user row (create, new password, new role, or ``disabled``); return its id.

    Raises
    ------
    ValueError
        Unknown role, or an empty name or hash.
    """
    if role not in ROLES:
        msg = f"role {role!r} not in {ROLES}"
        raise ValueError(msg)
    if not name.strip() or not password_hash:
        msg = "a user needs a name and a password hash"
        raise ValueError(msg)
    row = {
        "ts": ts,
        "name": name,
        "role": role,
        "password_hash": password_hash,
        "changed_by": changed_by,
    }
    with db.write() as conn:
        new_id: int = conn.execute(
            insert(users_t).values(**row).returning(users_t.c.id)
        ).scalar_one()
    logger.info("user %s: role %s (changed by %s)", name, role, changed_by)
    return new_id


def get_user(*, db: Database, name: str) -> UserInfo | None:
    """Return the user ``name`` as in force now, or ``None`` if there never was one."""
    u = users_t
    with db.read() as conn:
        row = conn.execute(
            select(u).where(u.c.name == name).order_by(u.c.ts.desc(), u.c.id.desc()).limit(1)
        ).first()
    if row is None:
        return None
    return UserInfo(row.name, row.role, row.password_hash, row.ts, row.changed_by)


def list_users(*, db: Database) -> list[UserInfo]:
    """Every user as in force now, by name."""
    u = users_t
    newest = select(func.max(u.c.id)).group_by(u.c.name).scalar_subquery()
    with db.read() as conn:
        rows = conn.execute(select(u).where(u.c.id.in_(newest)).order_by(u.c.name)).all()
    return [UserInfo(r.name, r.role, r.password_hash, r.ts, r.changed_by) for r in rows]


def save_api_token(
    *,
    db: Database,
    user_name: str,
    label: str,
    token_hash: str,
    created_at: datetime,
    expires_at: datetime | None,
    created_by: str,
) -> int:
    """Record a new token by the SHA-256 hex of its secret; return its id."""
    if len(token_hash) != 64:
        msg = "token_hash must be a SHA-256 hex digest"
        raise ValueError(msg)
    row = {
        "user_name": user_name,
        "label": label,
        "token_hash": token_hash,
        "created_at": created_at,
        "expires_at": expires_at,
        "created_by": created_by,
    }
    with db.write() as conn:
        new_id: int = conn.execute(
            insert(tokens_t).values(**row).returning(tokens_t.c.id)
        ).scalar_one()
    return new_id


def revoke_api_token(*, db: Database, token_id: int, ts: datetime, actor: str) -> int:
    """Revoke token ``token_id``.

    Raises
    ------
    KeyError
        No such token.
    """
    with db.write() as conn:
        found = conn.execute(select(tokens_t.c.id).where(tokens_t.c.id == token_id)).first()
        if found is None:
            msg = f"no API token {token_id}"
            raise KeyError(msg)
        new_id: int = conn.execute(
            insert(revocations_t)
            .values(token_id=token_id, ts=ts, actor=actor)
            .returning(revocations_t.c.id)
        ).scalar_one()
    return new_id


def api_tokens(*, db: Database) -> list[ApiTokenInfo]:
    """Every token (without secrets), oldest first, with its first revocation."""
    t, r = tokens_t, revocations_t
    revoked = (
        select(r.c.token_id, func.min(r.c.ts).label("revoked_at")).group_by(r.c.token_id).subquery()
    )
    stmt = (
        select(t, revoked.c.revoked_at)
        .outerjoin(revoked, revoked.c.token_id == t.c.id)
        .order_by(t.c.id)
    )
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    return [
        ApiTokenInfo(
            r.id, r.user_name, r.label, r.created_at, r.expires_at, r.created_by, r.revoked_at
        )
        for r in rows
    ]


def token_user(*, db: Database, token_hash: str, at: datetime) -> str | None:
    """The user of a token valid at ``at`` (not expired, not revoked), else ``None``."""
    t, r = tokens_t, revocations_t
    stmt = select(t.c.id, t.c.user_name, t.c.expires_at).where(t.c.token_hash == token_hash)
    with db.read() as conn:
        row = conn.execute(stmt).first()
        if row is None or (row.expires_at is not None and row.expires_at <= at):
            return None
        gone = conn.execute(
            select(r.c.id).where(r.c.token_id == row.id, r.c.ts <= at).limit(1)
        ).first()
    return None if gone is not None else str(row.user_name)
