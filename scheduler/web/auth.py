"""Who is asking, and may they: passwords, API tokens, sessions, roles and CSRF.

Three ways in, checked in this order:

- ``Authorization: Bearer <token>``: an API token (only its SHA-256 is stored), for other
  systems; it acts with its user's current role.
- the session cookie (signed with the installation's secret) after logging in on ``/login``;
  every form and every cookie-authenticated API write carries the session's CSRF token.
- a client address in ``readonly_networks``: viewer rights without logging in.

Roles are ordered: viewer < operator (approve, override, release, acknowledge) < admin (users,
tokens). A user's role is read from the store on every request, so disabling takes effect at
once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from ipaddress import ip_address
from typing import Any

from fastapi import Request
from pwdlib import PasswordHash

from energiemodell.store import Database
from energiemodell.store.users import (
    UserInfo,
    get_user,
    save_api_token,
    save_user,
    token_user,
)
from scheduler.web.config import WebSettings

LEVELS = {"viewer": 1, "operator": 2, "admin": 3}
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "em_"  # noqa: S105 - a prefix that marks our tokens in logs, not a secret
SESSION_USER = "user"
SESSION_CSRF = "csrf"

_hasher = PasswordHash.recommended()
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AuthError(Exception):
    """Not allowed: ``status`` 401 (who are you?) or 403 (not with this role)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a user (session or token) or a read-only network client."""

    name: str
    role: str
    via: str  # "session", "token" or "network"

    def may(self, role: str) -> bool:
        """Whether this principal has at least ``role``."""
        return LEVELS.get(self.role, 0) >= LEVELS[role]


def hash_password(password: str) -> str:
    """Argon2 hash of a password (pwdlib's recommended parameters)."""
    return _hasher.hash(password)


def check_new_user(name: str, role: str, password: str) -> list[str]:
    """Problems with a new user's name, role or password (empty: fine)."""
    problems = []
    if not USER_NAME.match(name):
        problems.append(f"user name {name!r}: letters, digits and _.@- only, at most 64")
    if role not in LEVELS:
        problems.append(f"role {role!r}: use one of {', '.join(LEVELS)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    return problems


def create_user(
    *, db: Database, name: str, role: str, password: str, actor: str, now: datetime
) -> int:
    """Create a user (or give an existing one a new role and password).

    Raises
    ------
    ValueError
        Bad name, role or password (all problems in the message).
    """
    problems = check_new_user(name, role, password)
    if problems:
        raise ValueError("; ".join(problems))
    return save_user(
        db=db, name=name, role=role, password_hash=hash_password(password), ts=now, changed_by=actor
    )


def disable_user(*, db: Database, name: str, actor: str, now: datetime) -> int:
    """Lock a user out (a ``disabled`` row; the password hash is kept for the record).

    Raises
    ------
    KeyError
        No such user.
    """
    user = get_user(db=db, name=name)
    if user is None:
        msg = f"no user {name!r}"
        raise KeyError(msg)
    return save_user(
        db=db,
        name=name,
        role="disabled",
        password_hash=user.password_hash,
        ts=now,
        changed_by=actor,
    )


def authenticate(*, db: Database, name: str, password: str) -> UserInfo | None:
    """The user if the password is right and the account enabled (similar time either way)."""
    user = get_user(db=db, name=name) if USER_NAME.match(name) else None
    ok = _hasher.verify(password, user.password_hash if user else _DUMMY_HASH)
    if user is None or not ok or user.role not in LEVELS:
        return None
    return user


def token_digest(token: str) -> str:
    """SHA-256 hex of an API token (tokens are long and random: no slow hash needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    *,
    db: Database,
    user_name: str,
    label: str,
    actor: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> tuple[int, str]:
    """Make an API token for ``user_name``; return its id and the secret (shown once).

    Raises
    ------
    KeyError
        No such user, or the user is disabled.
    """
    user = get_user(db=db, name=user_name)
    if user is None or user.role not in LEVELS:
        msg = f"no enabled user {user_name!r}"
        raise KeyError(msg)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = save_api_token(
        db=db,
        user_name=user_name,
        label=label,
        token_hash=token_digest(secret),
        created_at=now,
        expires_at=expires_at,
        created_by=actor,
    )
    return token_id, secret


def session_csrf(session: dict[str, Any]) -> str:
    """The session's CSRF token (made on first use)."""
    token = session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session[SESSION_CSRF] = token
    return token


def principal_of(
    request: Request, *, db: Database, settings: WebSettings, now: datetime
) -> Principal | None:
    """Who the request acts for, or ``None`` (anonymous)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "Authorization must be 'Bearer <token>'")
        name = token_user(db=db, token_hash=token_digest(token.strip()), at=now)
        user = get_user(db=db, name=name) if name else None
        if user is None or user.role not in LEVELS:
            raise AuthError(401, "unknown, expired or revoked API token")
        return Principal(user.name, user.role, "token")
    name = request.session.get(SESSION_USER)
    if isinstance(name, str):
        user = get_user(db=db, name=name)
        if user is not None and user.role in LEVELS:
            return Principal(user.name, user.role, "session")
        request.session.pop(SESSION_USER, None)
    host = request.client.host if request.client else None
    if host and settings.readonly_networks:
        try:
            address = ip_address(host)
        except ValueError:
            return None
        if any(address in net for net in settings.readonly_networks):
            return Principal(f"network {host}", "viewer", "network")
    return None


async def check_write(request: Request, principal: Principal | None, role: str) -> Principal:
    """Allow a write for ``role`` and up; a cookie session must send its CSRF token.

    Raises
    ------
    AuthError
        401 anonymous, 403 role too low or CSRF token missing or wrong.
    """
    if principal is None:
        raise AuthError(401, "log in or send an API token")
    if not principal.may(role):
        raise AuthError(403, f"{role} rights needed; {principal.name} is {principal.role}")
    if principal.via == "session":
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
        expected = request.session.get(SESSION_CSRF)
        if not sent or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
            raise AuthError(403, "CSRF token missing or wrong: reload the page and try again")
    return principal
