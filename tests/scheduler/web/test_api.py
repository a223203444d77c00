"""The JSON API over a real store: what it answers is what the store holds."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from tests.scheduler.web.conftest import NOW, PLAN_START, bearer, save_day_plan


def test_plan_is_the_version_in_force_per_interval(client, web_store):
    r = client.get(
        "/api/v1/plan",
        params={"start": "2024-03-12T05:00:00Z", "end": "2024-03-12T09:00:00Z"},
        headers=bearer(web_store, "viewer"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["index"]) == 16
    first, second = web_store.schedules
    col = body["columns"].index("chp1.p_el_kw")
    got = [row[col] for row in body["data"]]
    # v1 is in force until v2 was made at 05:13; v2 from the 05:15 interval on
    assert body["schedule_id"][:1] == [web_store.ids[0]]
    assert body["schedule_id"][1:] == [web_store.ids[1]] * 15
    assert got[0] == pytest.approx(first.frame["chp1.p_el_kw"].iloc[0])
    assert got[1:] == pytest.approx(list(second.frame["chp1.p_el_kw"].iloc[1:]))


def test_current_setpoints_show_plan_and_the_confirmed_write(client, web_store):
    r = client.get("/api/v1/setpoints/current", headers=bearer(web_store, "viewer"))
    assert r.status_code == 200
    body = r.json()
    assert body["interval_start"].startswith("2024-03-12T05:15")
    chp = next(s for s in body["setpoints"] if s["column"] == "chp1.p_el_kw")
    assert chp["planned"] == pytest.approx(web_store.schedules[1].frame["chp1.p_el_kw"].iloc[1])
    assert chp["written"] == 321.0
    assert chp["result"] == "confirmed"
    boiler = next(s for s in body["setpoints"] if s["column"] == "boilers.q_kw")
    assert boiler["result"] is None  # never written


def test_readings_are_the_aggregates(client, web_store):
    r = client.get(
        "/api/v1/readings",
        params={
            "start": "2024-03-12T05:00:00Z",
            "end": "2024-03-12T05:15:00Z",
            "quantity": "grid.import_kw",
        },
        headers=bearer(web_store, "viewer"),
    )
    assert r.status_code == 200
    (row,) = r.json()
    assert row["mean"] == pytest.approx(250 + 9.5)
    assert row["n_good"] == 20


def test_kpis_and_status(client, web_store):
    h = bearer(web_store, "viewer")
    k = client.get("/api/v1/kpis", params={"day": "2024-03-12"}, headers=h).json()
    second = web_store.schedules[1]
    assert k["schedule_id"] == web_store.ids[1]
    assert k["total_cost_eur"] == pytest.approx(second.cost_eur)
    assert k["peak_import_so_far_kw"] == pytest.approx(259.5)
    s = client.get("/api/v1/status", headers=h).json()
    assert s["mode"] == "review"
    # the alarm of the cycle at 05:01 is older than v2 (05:13): v2 is the newest cycle
    assert s["rung"] == "fresh"
    assert s["active_alarms"] == 1
    assert client.get("/api/v1/kpis", params={"day": "2024-03-14"}, headers=h).status_code == 404


def test_ladder_rung_comes_from_the_newest_cycles_alarm(make_client, web_store):
    from energiemodell.store import open_db, raise_alarm

    client = make_client(now=NOW + __import__("datetime").timedelta(minutes=15))
    db = client.app.state.ctx.db
    raise_alarm(
        db=db,
        ts=NOW + pd.Timedelta(minutes=13).to_pytimedelta(),
        source="loop",
        code="release.operator",
        severity="warning",
        message="released by op: test",
    )
    s = client.get("/api/v1/status", headers=bearer(web_store, "viewer")).json()
    assert s["rung"] == "release"
    assert "released by op" in s["rung_note"]
    del open_db


def test_acknowledged_alarm_leaves_the_active_list_and_enters_the_audit(client, web_store):
    h = bearer(web_store, "operator")
    active = client.get("/api/v1/alarms", params={"active": "true"}, headers=h).json()
    assert [a["id"] for a in active] == [web_store.alarm_id]
    r = client.post(
        f"/api/v1/alarms/{web_store.alarm_id}/acknowledge", json={"note": "seen"}, headers=h
    )
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/alarms", params={"active": "true"}, headers=h).json() == []
    audit = client.get(
        "/api/v1/audit",
        params={"start": "2024-03-12T00:00:00Z", "end": "2024-03-13T00:00:00Z"},
        headers=h,
    ).json()
    acks = [e for e in audit if e["kind"] == "alarm_ack"]
    assert acks
    assert "acknowledged by operator" in acks[0]["summary"]


def test_override_after_its_trial_plan_listed_and_ended(client, web_store):
    h = bearer(web_store, "operator")
    body = {
        "kind": "pin",
        "subject": "chp1.p_el_kw",
        "value": 200,
        "valid_from": "2024-03-12T05:15:00Z",
        "valid_to": "2024-03-12T06:15:00Z",
        "reason": "boiler service",
    }
    r = client.post("/api/v1/overrides", json=body, headers=h)
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    listed = client.get("/api/v1/overrides", headers=h).json()
    assert [(o["id"], o["kind"], o["subject"], o["value"], o["actor"]) for o in listed] == [
        (oid, "pin", "chp1.p_el_kw", 200.0, "operator")
    ]
    r = client.post(f"/api/v1/overrides/{oid}/end", json={"reason": "done"}, headers=h)
    assert r.status_code == 201
    assert client.get("/api/v1/overrides", headers=h).json() == []
    again = client.post(f"/api/v1/overrides/{oid}/end", json={"reason": "x"}, headers=h)
    assert again.status_code == 404


def test_override_of_an_unknown_asset_is_refused_by_the_operator_module(client, web_store):
    body = {
        "kind": "out_of_service",
        "subject": "chp9",
        "valid_from": "2024-03-12T05:15:00Z",
        "valid_to": "2024-03-12T06:15:00Z",
        "reason": "x",
    }
    r = client.post("/api/v1/overrides", json=body, headers=bearer(web_store, "operator"))
    assert r.status_code == 422
    assert "unknown asset 'chp9'" in r.json()["detail"]


def test_override_without_the_site_file_says_not_available(make_client, web_store):
    client = make_client(site=None)
    body = {
        "kind": "pin",
        "subject": "chp1.p_el_kw",
        "value": 200,
        "valid_from": "2024-03-12T05:15:00Z",
        "valid_to": "2024-03-12T06:15:00Z",
        "reason": "x",
    }
    r = client.post("/api/v1/overrides", json=body, headers=bearer(web_store, "operator"))
    assert r.status_code == 409
    assert "not available here yet" in r.json()["detail"]


def test_approvals_go_through_review_mode(client, web_store):
    h = bearer(web_store, "operator")
    day_id = save_day_plan(client, web_store)
    r = client.post(
        f"/api/v1/approvals/{day_id}",
        json={"decision": "approve", "reason": "ok", "day": "2024-03-12"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    listed = client.get("/api/v1/approvals", params={"day": "2024-03-12"}, headers=h).json()
    assert [(a["schedule_id"], a["decision"], a["decided_by"]) for a in listed] == [
        (day_id, "approve", "operator")
    ]
    # what the loop's review mode reads
    from scheduler.review import decisions_for

    (decision,) = decisions_for(db=client.app.state.ctx.db, day=date(2024, 3, 12), now=NOW)
    assert (decision.schedule_id, decision.target) == (day_id, "review:2024-03-12")
    # a 4-hour plan cannot be approved for a whole day
    short = client.post(
        f"/api/v1/approvals/{web_store.ids[1]}",
        json={"decision": "approve", "reason": "ok", "day": "2024-03-12"},
        headers=h,
    )
    assert short.status_code == 422
    assert "does not cover" in short.json()["detail"]


def test_release_is_what_the_loop_reads(client, web_store):
    from scheduler.web.data import pending_release

    h = bearer(web_store, "operator")
    db = client.app.state.ctx.db
    r = client.post("/api/v1/release", json={"reason": "maintenance", "confirm": True}, headers=h)
    assert r.status_code == 201
    assert pending_release(db, NOW).reason == "maintenance"
    # the loop's own reading of the store (scheduler.loop._operator_release) sees it
    from types import SimpleNamespace

    from scheduler.loop import _operator_release

    deps = SimpleNamespace(db=db, runtime=SimpleNamespace(started_at=PLAN_START))
    assert _operator_release(deps, NOW) == "released by operator: maintenance"
    r = client.post("/api/v1/resume", json={"reason": "back", "confirm": True}, headers=h)
    assert r.status_code == 201
    assert _operator_release(deps, NOW) is None
    unconfirmed = client.post("/api/v1/release", json={"reason": "x", "confirm": False}, headers=h)
    assert unconfirmed.status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "kw", "status"),
    [
        (
            "get",
            "/api/v1/plan",
            {"params": {"start": "2024-03-12T05:00Z", "end": "2024-03-12T04:00Z"}},
            422,
        ),
        (
            "get",
            "/api/v1/plan",
            {"params": {"start": "2024-03-01T00:00Z", "end": "2024-03-12T04:00Z"}},
            422,
        ),
        (
            "get",
            "/api/v1/plan",
            {"params": {"start": "2024-03-12T05:00", "end": "2024-03-12T06:00Z"}},
            422,
        ),
        (
            "get",
            "/api/v1/plan",
            {"params": {"start": "yesterday", "end": "2024-03-12T06:00Z"}},
            422,
        ),
        ("get", "/api/v1/plan", {}, 422),
        ("get", "/api/v1/kpis", {"params": {"day": "2024-02-30"}}, 422),
        ("get", "/api/v1/kpis", {"params": {"day": "9999-12-31"}}, 422),
        ("get", "/api/v1/approvals", {"params": {"day": "0001-01-01"}}, 422),
        (
            "get",
            "/api/v1/plan",
            {"params": {"start": "9999-12-30T00:00Z", "end": "9999-12-31T00:00Z"}},
            422,
        ),
        ("get", "/api/v1/alarms", {"params": {"start": "0001-01-01T00:00Z"}}, 422),
        ("get", "/api/v1/plan-versions/999", {}, 404),
        (
            "post",
            "/api/v1/approvals/999",
            {"json": {"decision": "approve", "reason": "x", "day": "2024-03-12"}},
            404,
        ),
        (
            "post",
            "/api/v1/approvals/1",
            {"json": {"decision": "maybe", "reason": "x", "day": "2024-03-12"}},
            422,
        ),
        ("post", "/api/v1/approvals/1", {"json": {"decision": "approve", "reason": "x"}}, 422),
        (
            "post",
            "/api/v1/approvals/1",
            {"json": {"decision": "approve", "reason": "", "day": "2024-03-12"}},
            422,
        ),
        ("post", "/api/v1/alarms/999/acknowledge", {"json": {}}, 404),
        ("post", "/api/v1/alarms/0/acknowledge", {"json": {}}, 422),
        (
            "post",
            "/api/v1/overrides",
            {
                "json": {
                    "kind": "pin",
                    "subject": "Chp 1",
                    "value": 1,
                    "reason": "x",
                    "valid_from": "2024-03-12T05:15Z",
                    "valid_to": "2024-03-12T06:00Z",
                }
            },
            422,
        ),
        (
            "post",
            "/api/v1/overrides",
            {
                "json": {
                    "kind": "pin",
                    "subject": "chp1.p_el_kw",
                    "value": 1,
                    "reason": "x",
                    "valid_from": "2024-03-12T06:15Z",
                    "valid_to": "2024-03-12T06:00Z",
                }
            },
            422,
        ),
        (
            "post",
            "/api/v1/overrides",
            {
                "json": {
                    "kind": "pin",
                    "subject": "chp1.p_el_kw",
                    "value": 1,
                    "reason": "x",
                    "valid_from": "2024-03-12T05:15Z",
                    "valid_to": "2024-03-14T06:00Z",
                }
            },
            422,
        ),
        (
            "post",
            "/api/v1/overrides",
            {
                "json": {
                    "kind": "pin",
                    "subject": "chp1.p_el_kw",
                    "value": 1,
                    "reason": "x",
                    "valid_from": "2024-03-12T05:15",
                    "valid_to": "2024-03-12T06:00",
                }
            },
            422,
        ),
        (
            "post",
            "/api/v1/overrides",
            {
                "json": {
                    "kind": "pin",
                    "subject": "chp1.p_el_kw",
                    "reason": "x",
                    "valid_from": "2024-03-12T05:15Z",
                    "valid_to": "2024-03-12T06:00Z",
                }
            },
            422,
        ),
        (
            "post",
            "/api/v1/overrides",
            {
                "json": {
                    "kind": "melt",
                    "subject": "chp1",
                    "reason": "x",
                    "valid_from": "2024-03-12T05:15Z",
                    "valid_to": "2024-03-12T06:00Z",
                }
            },
            422,
        ),
        (
            "post",
            "/api/v1/overrides",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
        ),
        ("post", "/api/v1/overrides", {"json": {"target": "chp1.p_el_kw", "extra": 1}}, 422),
    ],
)
def test_bad_input_gets_a_clear_4xx(client, web_store, method, path, kw, status):
    headers = bearer(web_store, "operator") | kw.pop("headers", {})
    r = getattr(client, method)(path, headers=headers, **kw)
    assert r.status_code == status, r.text
    assert r.json()["detail"]


def test_openapi_lists_the_api(client):
    spec = client.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/plan",
        "/api/v1/overrides",
        "/api/v1/alarms/{alarm_id}/acknowledge",
        "/health",
        "/metrics",
    ):
        assert path in spec["paths"]


def test_plan_has_no_nan_in_json(client, web_store):
    r = client.get(
        "/api/v1/plan",
        params={"start": "2024-03-12T04:00:00Z", "end": "2024-03-12T06:00:00Z"},
        headers=bearer(web_store, "viewer"),
    )
    body = r.json()
    assert body["schedule_id"][:4] == [None] * 4  # before the first plan
    assert all(v is None or math.isfinite(v) for row in body["data"] for v in row)
