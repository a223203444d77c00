"""Roles, sessions, tokens, CSRF and the secret: every write endpoint checks its rights."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from energiemodell.store import raise_alarm
from energiemodell.store.tables import AlarmAckRecord, OperatorActionRecord, table_of
from scheduler.web import ConfigError, WebSettings
from scheduler.web.auth import disable_user
from tests.scheduler.web.conftest import NOW, PASSWORD, bearer, login, save_day_plan, save_override

OVERRIDE = {
    "kind": "pin",
    "subject": "chp1.p_el_kw",
    "value": 200,
    "valid_from": "2024-03-12T05:15:00Z",
    "valid_to": "2024-03-12T06:15:00Z",
    "reason": "test",
}
FORM_OVERRIDE = {
    "kind": "pin",
    "subject": "chp1.p_el_kw",
    "value": "200",
    "valid_from": "2024-03-12T06:15",
    "valid_to": "2024-03-12T07:15",
    "reason": "test",
}


def writes():
    """(kind, path, payload) of every write endpoint; {override}, {alarm}, {plan} filled in."""
    decision = {"reason": "x", "day": "2024-03-12"}
    return [
        ("json", "/api/v1/overrides", OVERRIDE),
        ("json", "/api/v1/overrides/{override}/end", {"reason": "x"}),
        ("json", "/api/v1/approvals/{plan}", {"decision": "approve"} | decision),
        ("json", "/api/v1/alarms/{alarm}/acknowledge", {"note": "x"}),
        ("json", "/api/v1/release", {"reason": "x", "confirm": True}),
        ("json", "/api/v1/resume", {"reason": "x", "confirm": True}),
        ("form", "/actions/overrides", FORM_OVERRIDE),
        ("form", "/actions/overrides/{override}/end", {"reason": "x"}),
        ("form", "/actions/approvals/{plan}", {"decision": "reject"} | decision),
        ("form", "/actions/alarms/{alarm}/acknowledge", {"note": "x"}),
        ("form", "/actions/release", {"reason": "x", "confirm": "on"}),
        ("form", "/actions/resume", {"reason": "x", "confirm": "on"}),
    ]


def _rows(db) -> int:
    with db.engine.connect() as conn:
        n = 0
        for model in (OperatorActionRecord, AlarmAckRecord):
            n += conn.execute(select(func.count()).select_from(table_of(model))).scalar_one()
    return n


def _send(client, kind, path, payload, **kw):
    if kind == "json":
        return client.post(path, json=payload, follow_redirects=False, **kw)
    return client.post(path, data=payload, follow_redirects=False, **kw)


def test_every_write_needs_operator_rights(client, web_store):
    """Each write endpoint: anonymous and viewer are refused and write nothing; operator writes."""
    db = client.app.state.ctx.db
    clock = client.app.state.ctx.clock
    plan = save_day_plan(client, web_store)
    checked = []
    for kind, template, payload in writes():
        clock.sleep_until(clock.now() + timedelta(seconds=1))  # a release ends older overrides
        alarm = raise_alarm(
            db=db,
            ts=clock.now(),
            source="test",
            code="t",
            severity="warning",
            message="to acknowledge",
        )
        path = template.format(override=save_override(client), alarm=alarm, plan=plan)
        before = _rows(db)
        anonymous = _send(client, kind, path, payload)
        if kind == "json":
            assert anonymous.status_code == 401, path
        else:  # a form: to the login page
            assert anonymous.status_code == 303, path
            assert anonymous.headers["location"].startswith("/login"), path
        viewer = _send(client, kind, path, payload, headers=bearer(web_store, "viewer"))
        assert viewer.status_code == 403, path
        assert _rows(db) == before, f"{path}: a refused request wrote"
        ok = _send(client, kind, path, payload, headers=bearer(web_store, "operator"))
        assert ok.status_code in (201, 303), (path, ok.text)
        assert _rows(db) == before + 1, path
        checked.append(path)
    assert len(checked) == 12


def test_session_writes_need_the_csrf_token(client, web_store):
    db = client.app.state.ctx.db
    csrf = login(client, "operator")
    before = _rows(db)
    r = client.post(
        "/actions/release", data={"reason": "x", "confirm": "on"}, follow_redirects=False
    )
    assert r.status_code == 403
    r = client.post(
        "/actions/release",
        data={"reason": "x", "confirm": "on", "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = client.post("/api/v1/release", json={"reason": "x", "confirm": True})
    assert r.status_code == 403
    assert _rows(db) == before
    r = client.post(
        "/actions/release",
        data={"reason": "x", "confirm": "on", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        "/api/v1/resume", json={"reason": "x", "confirm": True}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 201
    assert _rows(db) == before + 2


def test_viewer_session_sees_pages_but_no_write_forms(client):
    login(client, "viewer")
    page = client.get("/today")
    assert page.status_code == 200
    assert "release-button" not in page.text
    assert 'action="/actions/release"' not in page.text


def test_login_rejects_wrong_password_and_unknown_user(client):
    page = client.get("/login")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    for name, pw in (("operator", "wrong password!"), ("nobody", PASSWORD)):
        r = client.post("/login", data={"username": name, "password": pw, "csrf_token": csrf})
        assert r.status_code == 401
        assert "Benutzername oder Passwort falsch" in r.text
    assert client.get("/today", follow_redirects=False).status_code == 303


def test_login_without_csrf_is_refused(client):
    client.get("/login")
    r = client.post("/login", data={"username": "operator", "password": PASSWORD})
    assert r.status_code == 403


def test_admin_page_needs_admin(client, web_store):
    assert client.get("/users", headers=bearer(web_store, "operator")).status_code == 403
    r = client.get("/users", headers=bearer(web_store, "admin"))
    assert r.status_code == 200
    assert "operator" in r.text


def test_disabled_user_loses_session_and_tokens_at_once(client, web_store):
    login(client, "operator")
    assert client.get("/today").status_code == 200
    disable_user(db=client.app.state.ctx.db, name="operator", actor="test", now=NOW)
    assert client.get("/today", follow_redirects=False).status_code == 303
    r = client.get("/api/v1/status", headers=bearer(web_store, "operator"))
    assert r.status_code == 401


def test_revoked_and_expired_tokens_are_refused(client, web_store):
    from energiemodell.store.users import api_tokens, revoke_api_token
    from scheduler.web.auth import create_token

    db = client.app.state.ctx.db
    _, short = create_token(
        db=db,
        user_name="viewer",
        label="x",
        actor="t",
        now=NOW,
        expires_at=NOW - timedelta(minutes=1),
    )
    assert (
        client.get("/api/v1/status", headers={"Authorization": f"Bearer {short}"}).status_code
        == 401
    )
    token_id = next(t.id for t in api_tokens(db=db) if t.user_name == "viewer")
    revoke_api_token(db=db, token_id=token_id, ts=NOW, actor="t")
    assert client.get("/api/v1/status", headers=bearer(web_store, "viewer")).status_code == 401
    assert client.get("/api/v1/status", headers={"Authorization": "Basic abc"}).status_code == 401


def test_tokens_and_passwords_are_hashed_at_rest(client, web_store):
    db = client.app.state.ctx.db
    with db.engine.connect() as conn:
        dump = "\n".join(str(r) for r in conn.exec_driver_sql("select * from users"))
        dump += "\n".join(str(r) for r in conn.exec_driver_sql("select * from api_tokens"))
    assert PASSWORD not in dump
    assert "$argon2" in dump
    for token in web_store.tokens.values():
        assert token not in dump


def test_read_only_network_reads_without_login_but_cannot_write(make_client):
    client = make_client(readonly_networks=["10.20.0.0/16"], client_kw={"client": ("10.20.3.4", 1)})
    assert client.get("/api/v1/status").status_code == 200
    assert client.get("/today").status_code == 200
    assert client.post("/api/v1/release", json={"reason": "x", "confirm": True}).status_code == 403
    outside = make_client(
        readonly_networks=["10.20.0.0/16"], client_kw={"client": ("10.30.3.4", 1)}
    )
    assert outside.get("/api/v1/status").status_code == 401


def test_session_cookie_is_secure_httponly_samesite(make_client):
    client = make_client(cookie_secure=True)
    r = client.get("/login")
    cookie = r.headers["set-cookie"].lower()
    assert "secure" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_default_or_short_secret_is_refused_outside_the_demo(store_url):
    with pytest.raises(ConfigError, match="default secret"):
        WebSettings(db_url=store_url).check()
    with pytest.raises(ConfigError, match="shorter"):
        WebSettings(db_url=store_url, secret_key="short").check()
    demo = WebSettings(db_url=store_url, demo=True)
    demo.check()
    assert len(demo.secret_key) >= 32
    assert demo.secret_key != WebSettings(demo=True).secret_key
