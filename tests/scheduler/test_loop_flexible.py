"""A steered flexible load gets its window's energy, once, across the loop's re-plans.

The tiny site gets an EV charger (150 kWh between 06:00 and 09:00 local, up to 200 kW) whose
power setpoint the loop writes. Every cycle re-plans; what the charger drew so far in its window
comes from the store (the plans in force), so the window gets 150 kWh in all: not its even
share again at every re-plan.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from energiemodell.site import load_site
from energiemodell.state import PlantState
from energiemodell.store import open_db, schedule_versions, upgrade, writes_between
from scheduler.clock import SimulatedClock
from scheduler.deps import build_deps
from scheduler.loop import drive
from scheduler.policy import Rung
from tests.conftest import write_site_files
from tests.scheduler.conftest import (
    ASSETS,
    DEVICES,
    LEAD,
    SIGNALS_MAP,
    START,
    FakePlant,
    Rig,
    plant_devices,
    settings,
)

pytestmark = pytest.mark.solver

CHARGER_MAP = {
    "model": "ev_charger",
    "description": "Test EV charging controller: one power setpoint",
    "word_order": "big",
    "points": {
        "p_set_kw": {
            "table": "holding",
            "address": 10,
            "type": "float32",
            "unit": "kW",
            "access": "read_write",
            "limits": {"min": 0, "max": 500},
        },
    },
}
EV = {
    "name": "ev",
    "type": "flexible_load",
    "p_max_kw": 200,
    "energy_kwh": 150,
    "window_start": "06:00",  # START, 05:00 UTC
    "window_end": "09:00",
    "included_in_demand": False,
}


@pytest.fixture
def ev_rig(tmp_path: Path):
    directory = tmp_path / "site"
    directory.mkdir()
    (directory / "signals.yaml").write_text(yaml.safe_dump(SIGNALS_MAP), encoding="utf-8")
    (directory / "charger.yaml").write_text(yaml.safe_dump(CHARGER_MAP), encoding="utf-8")
    charger = {
        "name": "charger",
        "map": "charger.yaml",
        "host": "127.0.0.1",
        "asset": "ev",
        "setpoints": {"ev.p_kw": "p_set_kw"},
    }
    control = {"horizon_h": 4, "time_limit_s": 20, "mip_gap_pu": 0.001, "mode": "auto"}
    path = write_site_files(
        directory,
        assets=[*ASSETS, EV],
        devices=[*copy.deepcopy(DEVICES), charger],
        control=control,
    )
    site = load_site(path)
    db = open_db(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade(db=db)
    clock = SimulatedClock(START - LEAD)
    devices = plant_devices(site)
    plant = FakePlant(site, devices, clock)
    deps = build_deps(site, db=db, clock=clock, devices=devices, settings=settings())
    yield Rig(site, db, clock, devices, plant, deps)
    db.dispose()


def test_the_window_gets_its_energy_once_across_re_plans(ev_rig):
    r = ev_rig
    reports = drive(r.deps, r.clock, intervals=13)  # the window's 12 quarter-hours and one after
    assert [x.rung for x in reports] == [Rung.FRESH] * 13
    step = timedelta(minutes=15)
    writes = [
        w
        for w in writes_between(db=r.db, start=START - LEAD, end=START + 14 * step)
        if w.device == "charger" and w.result in ("confirmed", "unchanged")
    ]
    per_interval = {}
    for w in writes:
        interval = START + step * ((w.ts - START + LEAD) // step)
        per_interval[interval] = w.value  # the last write for the interval holds
    # a setpoint holds until the next one: the charger's energy over the window
    times = sorted(per_interval)
    held = {
        t: per_interval[max(u for u in times if u <= t)]
        for t in (START + k * step for k in range(12))
    }
    assert sum(held.values()) * 0.25 == pytest.approx(150.0, abs=0.5)  # even share again: 225
    assert per_interval.get(START + 12 * step, 0.0) == pytest.approx(0.0)  # the window closed

    # the last plan in the window knew what had been drawn before it
    (last,) = [
        v
        for v in schedule_versions(db=r.db, day=START.date(), tz=r.site.timezone)
        if v.valid_from == START + 11 * step
    ]
    state = PlantState.model_validate(last.inputs_summary["state"])
    drawn = sum(v for t, v in held.items() if t < START + 11 * step) * 0.25
    assert state.flexible_kwh["ev"] == pytest.approx(drawn, abs=0.5)
