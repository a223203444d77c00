"""The pages, /health, /metrics and CSV exports over the real store."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pandas as pd
import pytest

from energiemodell.store import open_db, schedule_content
from scheduler.web import WebSettings, create_app
from tests.scheduler.web.conftest import NOW, SECRET, bearer, login, save_day_plan


def figures(html: str) -> dict[str, dict]:
    found = re.findall(
        r'<script type="application/json" id="fig-([^"]+)">(.*?)</script>', html, re.S
    )
    return {k: json.loads(v) for k, v in found}


def test_today_shows_plan_actual_marker_setpoints_and_ladder(client, web_store):
    login(client, "operator")
    r = client.get("/today")
    assert r.status_code == 200
    assert '<html lang="de">' in r.text
    assert "Heute" in r.text
    figs = figures(r.text)
    assert {"carrier-electricity", "carrier-heat", "storage", "import", "prices"} <= set(figs)
    heat = figs["carrier-heat"]
    names = [t["name"] for t in heat["data"]]
    assert "chp1.q_kw (Plan)" in names
    assert "boilers.q_kw (Plan)" in names
    marker = heat["layout"]["shapes"][0]
    assert marker["x0"] == "2024-03-12T06:15:00"  # the current interval, local time
    imports = figs["import"]
    assert any(t["name"] == "grid.import_kw (Ist)" for t in imports["data"])
    assert imports["layout"]["shapes"][1]["y0"] == pytest.approx(259.5)  # the year's peak
    assert re.search(r'id="rung">fresh<', r.text)
    assert re.search(r'id="mode">review<', r.text)
    assert "chp1.p_el_kw → chp1_ctrl.p_el_setpoint_kw" in r.text
    assert "solver time limit hit (test)" in r.text  # the active alarm
    assert 'src="/assets/plotly.min.js"' in r.text


def test_english_is_switchable(client):
    login(client, "viewer")
    r = client.get("/today?lang=en")
    assert '<html lang="en">' in r.text
    assert ">Today " in r.text
    assert '<html lang="en">' in client.get("/day").text  # remembered in the session


def test_plotly_is_served_from_the_package(client):
    r = client.get("/assets/plotly.min.js")
    assert r.status_code == 200
    assert len(r.content) > 1_000_000
    assert b"plotly" in r.content[:2000].lower()


def test_day_plan_with_versions_changes_costs_and_why(client, web_store):
    login(client, "viewer")
    r = client.get("/day", params={"date": "2024-03-12", "interval": "2024-03-12T06:30"})
    assert r.status_code == 200, r.text
    figs = figures(r.text)
    stack = figs["stack-heat"]
    groups = {t["name"]: t.get("stackgroup") for t in stack["data"]}
    assert groups["tes.charge_kw"] == "use"
    assert groups["chp1.q_kw"] == "supply"
    onoff = figs["onoff"]["data"][0]
    assert onoff["y"] == ["chp1"]
    v1, v2 = web_store.ids
    assert f"v{v1}" in r.text
    assert f"v{v2}" in r.text
    assert f"v{v1} → v{v2}" in r.text  # what changed between the versions
    costs = figs["costs"]["data"][0]
    assert sum(costs["y"]) == pytest.approx(web_store.schedules[1].cost_eur, abs=0.05)
    content = schedule_content(db=client.app.state.ctx.db, schedule_id=v2)
    words = content["explanations"]["2024-03-12T05:30:00+00:00"]
    section = r.text.split('id="explanation"')[1]
    for w in words:
        assert w in section
    if not words:
        assert "keine Grenze bindend" in section
    price = web_store.schedules[1].frame["price.heat_eur_per_mwh"].iloc[2]
    assert f"price.heat_eur_per_mwh: {price:.2f}" in section


def test_day_without_plans_and_bad_dates(client):
    login(client, "viewer")
    r = client.get("/day", params={"date": "2023-01-01"})
    assert r.status_code == 200
    assert "Kein Plan deckt diesen Zeitpunkt ab." in r.text
    assert client.get("/day", params={"date": "2024-13-01"}).status_code == 422
    assert client.get("/day", params={"date": "2024-03-12", "interval": "noon"}).status_code == 422
    assert client.get("/history", params={"at": "garbage"}).status_code == 422
    assert client.get("/history", params={"at": "9999-12-31T23:59"}).status_code == 422
    assert client.get("/day", params={"date": "9999-12-31"}).status_code == 422
    assert client.get("/export/day.csv", params={"date": "0001-01-01"}).status_code == 422
    assert client.get("/export/history.csv", params={"date": "x"}).status_code == 422


def test_history_shows_read_planned_approved_written(client, web_store):
    h = bearer(web_store, "operator")
    day_id = save_day_plan(client, web_store)
    r = client.post(
        f"/api/v1/approvals/{day_id}",
        json={"decision": "approve", "reason": "looks right", "day": "2024-03-12"},
        headers=h,
    )
    assert r.status_code == 201
    r = client.get("/history", params={"at": "2024-03-12T06:15"}, headers=h)
    assert r.status_code == 200
    assert "chp1_ctrl.p_el_setpoint_kw" in r.text
    assert "confirmed" in r.text
    assert f"v{web_store.ids[1]}" in r.text  # planned
    assert "approve v" in r.text
    assert "looks right" in r.text
    early = client.get("/history", params={"at": "2024-03-12T06:00"}, headers=h)
    assert "grid.import_kw" in early.text  # read: the aggregate of 06:00-06:15


def test_other_pages_answer(client, web_store):
    h = bearer(web_store, "operator")
    for path in ("/approvals", "/overrides", "/alarms", "/scenarios"):
        assert client.get(path, headers=h).status_code == 200, path
    assert client.get("/", headers=h, follow_redirects=False).headers["location"] == "/today"


def test_day_csv_holds_plan_and_actual(client, web_store):
    r = client.get(
        "/export/day.csv", params={"date": "2024-03-12"}, headers=bearer(web_store, "viewer")
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(r.text), index_col="timestamp")
    assert len(frame) == 96
    assert frame.loc["2024-03-12T05:30:00Z", "plan:chp1.p_el_kw"] == pytest.approx(
        web_store.schedules[1].frame["chp1.p_el_kw"].iloc[2], rel=1e-5
    )
    assert frame.loc["2024-03-12T05:00:00Z", "actual:grid.import_kw"] == pytest.approx(259.5)
    assert frame.loc["2024-03-12T05:00:00Z", "local_time"] == "2024-03-12T06:00:00+01:00"
    audit = client.get(
        "/export/history.csv", params={"date": "2024-03-12"}, headers=bearer(web_store, "viewer")
    )
    kinds = pd.read_csv(io.StringIO(audit.text))["kind"].tolist()
    assert kinds.count("schedule") == 2
    assert "write" in kinds
    assert "alarm" in kinds


def test_health_is_ready_only_with_a_plan_in_force(make_client):
    r = make_client().get("/health")
    assert r.status_code == 200
    assert r.json()["ready"] is True
    later = make_client(now=NOW + timedelta(days=1)).get("/health")
    assert later.status_code == 503
    assert later.json()["reasons"] == ["no schedule version covers the current time"]
    assert make_client().get("/health/live").json() == {"live": True}


def test_health_names_an_unmigrated_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    app = create_app(WebSettings(db_url=url, secret_key=SECRET), clock=None)
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        r = c.get("/health")
    app.state.ctx.db.dispose()
    assert r.status_code == 503
    assert "db upgrade" in r.json()["reasons"][0]
    open_db(url).dispose()


def test_metrics_from_the_store(client, web_store):
    assert client.get("/metrics").status_code == 401
    r = client.get("/metrics", headers=bearer(web_store, "viewer"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'energiemodell_open_alarms{severity="warning"} 1.0' in text
    assert 'energiemodell_open_alarms{severity="critical"} 0.0' in text
    assert "energiemodell_last_confirmed_dispatch_age_seconds 300.0" in text
    gap = web_store.schedules[1].mip_gap
    assert f"energiemodell_mip_gap {float(gap)!r}" in text or f"energiemodell_mip_gap {gap}" in text
    assert 'energiemodell_device_bad_readings{device="chp1_ctrl"} 1.0' in text
    solve = web_store.schedules[1].timings["solve_s"]
    assert f"energiemodell_solve_seconds {solve!r}" in text
