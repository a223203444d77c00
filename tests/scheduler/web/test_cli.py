"""``energiemodell users`` and ``serve`` (the typer functions the lead registers in cli.py)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from energiemodell.store import open_db
from energiemodell.store.users import get_user, token_user
from scheduler.cli_serve import serve
from scheduler.cli_users import users_app
from scheduler.web.auth import authenticate, token_digest

runner = CliRunner()


def test_users_create_list_token_disable(store_url):
    r = runner.invoke(
        users_app,
        ["create", "anna", "--role", "operator", "--db", store_url],
        input="a long passphrase\na long passphrase\n",
    )
    assert r.exit_code == 0, r.output
    db = open_db(store_url)
    try:
        assert authenticate(db=db, name="anna", password="a long passphrase").role == "operator"
        listed = runner.invoke(users_app, ["list", "--json", "--db", store_url])
        users = {u["name"]: u for u in json.loads(listed.stdout)["users"]}
        assert users["anna"]["role"] == "operator"
        assert users["anna"]["by"].startswith("cli")
        made = runner.invoke(users_app, ["token", "anna", "--label", "BMS", "--db", store_url])
        assert made.exit_code == 0, made.output
        secret = made.stdout.strip().splitlines()[-1]
        assert (
            token_user(
                db=db, token_hash=token_digest(secret), at=get_user(db=db, name="anna").since
            )
            == "anna"
        )
        token_id = made.stdout.split()[1]
        assert (
            runner.invoke(users_app, ["revoke-token", token_id, "--db", store_url]).exit_code == 0
        )
        assert runner.invoke(users_app, ["disable", "anna", "--db", store_url]).exit_code == 0
        assert get_user(db=db, name="anna").role == "disabled"
        assert authenticate(db=db, name="anna", password="a long passphrase") is None
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["create", "bob", "--role", "boss"], "role 'boss'"),
        (["create", "b ob", "--role", "viewer"], "user name"),
        (["disable", "nobody"], "no user"),
        (["token", "nobody", "--label", "x"], "no enabled user"),
        (["revoke-token", "999"], "no API token"),
    ],
)
def test_users_bad_input_exits_2(store_url, args, needle):
    r = runner.invoke(users_app, [*args, "--db", store_url], input="longenough1\nlongenough1\n")
    assert r.exit_code == 2
    assert needle in r.output


def test_users_short_password_exits_2(store_url):
    r = runner.invoke(users_app, ["create", "bob", "--db", store_url], input="short\nshort\n")
    assert r.exit_code == 2
    assert "at least 10 characters" in r.output


def test_users_on_an_unmigrated_store_exits_1(tmp_path):
    r = runner.invoke(users_app, ["list", "--db", f"sqlite:///{tmp_path / 'new.sqlite'}"])
    assert r.exit_code == 1
    assert "energiemodell db upgrade" in r.output


def _serve_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(serve)
    return app


def test_serve_refuses_the_default_secret(store_url, monkeypatch):
    monkeypatch.delenv("ENERGIEMODELL_WEB_SECRET_KEY", raising=False)
    monkeypatch.delenv("ENERGIEMODELL_WEB_DEMO", raising=False)
    r = runner.invoke(_serve_app(), ["--db", store_url, "--port", "8099"])
    assert r.exit_code == 2
    assert "default secret" in r.output


def test_serve_refuses_a_bad_site(store_url, monkeypatch):
    monkeypatch.setenv("ENERGIEMODELL_WEB_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("ENERGIEMODELL_WEB_SITE", "no_such_site")
    r = runner.invoke(_serve_app(), ["--db", store_url])
    assert r.exit_code == 2
    assert "ENERGIEMODELL_WEB_SITE" in r.output


def test_serve_refuses_an_unmigrated_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ENERGIEMODELL_WEB_SECRET_KEY", "k" * 40)
    r = runner.invoke(_serve_app(), ["--db", f"sqlite:///{tmp_path / 'new.sqlite'}"])
    assert r.exit_code == 1
    assert "db upgrade" in r.output
