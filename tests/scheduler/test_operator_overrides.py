"""Operator overrides: they enter the plan, expire by themselves, and are refused when harmful."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from energiemodell.model.planner import Planner
from energiemodell.site import Site
from energiemodell.state import PlantState, UnitState
from energiemodell.store import Database, audit_trail
from energiemodell.timeseries import load_forecast
from scheduler.overrides import (
    OverrideKind,
    OverrideRefused,
    add_override,
    end_override,
    heat_led_forced,
    overrides_in_force,
    plan_state,
)
from tests.scheduler.conftest import START

pytestmark = pytest.mark.solver
N = 16  # the tiny site's 4-hour horizon
STATE = PlantState(
    storage_kwh={"tes": 400.0}, units={"chp1": UnitState(on=False, time_in_state_h=10)}
)


@pytest.fixture
def planner(tiny_site: Site) -> Planner:
    return Planner(tiny_site, N)


def _add(db: Database, site: Site, planner: Planner, **kw: object) -> int:
    args: dict[str, object] = {
        "db": db,
        "site": site,
        "planner": planner,
        "forecast": load_forecast(site, START, N),
        "state": STATE,
        "start": START,
        "end": START + timedelta(hours=1),
        "actor": "m.keller",
        "reason": "test",
        "now": START - timedelta(minutes=5),
        "value": None,
    }
    args.update(kw)
    return add_override(**args)  # type: ignore[arg-type]


def test_pin_and_storage_target_shape_the_next_plan(
    tiny_site: Site, db: Database, planner: Planner
) -> None:
    forecast = load_forecast(tiny_site, START, N)
    free = planner.plan(forecast, STATE)
    assert free.frame["chp1.p_el_kw"].iloc[:4].max() != pytest.approx(300.0)
    pin_id = _add(db, tiny_site, planner, kind=OverrideKind.PIN, subject="chp1.p_el_kw", value=300)
    target_id = _add(
        db,
        tiny_site,
        planner,
        kind=OverrideKind.STORAGE_TARGET,
        subject="tes",
        value=780.0,
        end=START + timedelta(hours=2),
    )
    assert pin_id != target_id
    now = START + timedelta(minutes=1)
    state = plan_state(STATE, overrides_in_force(db=db, at=now))
    planned = planner.plan(forecast, state)
    chp = planned.frame["chp1.p_el_kw"].to_numpy()
    np.testing.assert_allclose(chp[:4], 300.0)
    assert (planned.frame["chp1.on"].iloc[:4] == 1).all()
    assert planned.frame["tes.level_kwh"].iloc[7] >= 780.0 - 1e-6  # ends at 07:00 UTC
    # the same planner, without the overrides: everything released again
    again = planner.plan(forecast, STATE)
    assert again.frame["tes.level_kwh"].iloc[7] < 780.0 - 1e-3
    np.testing.assert_allclose(again.frame["chp1.p_el_kw"], free.frame["chp1.p_el_kw"])


def test_overrides_expire_by_themselves_and_can_be_ended(
    tiny_site: Site, db: Database, planner: Planner
) -> None:
    pin = _add(db, tiny_site, planner, kind=OverrideKind.PIN, subject="boilers.q_kw", value=200)
    forced = _add(db, tiny_site, planner, kind=OverrideKind.HEAT_LED, subject="site")
    inside = overrides_in_force(db=db, at=START + timedelta(minutes=30))
    assert {o.id for o in inside} == {pin, forced}
    assert heat_led_forced(inside) is not None
    after = START + timedelta(hours=1)  # valid_to is exclusive: expired, nobody acted
    assert overrides_in_force(db=db, at=after) == []
    assert plan_state(STATE, overrides_in_force(db=db, at=after)).pins == {}
    end_override(
        db=db, override_id=forced, actor="a.weber", reason="rules no longer needed", now=START
    )
    still = overrides_in_force(db=db, at=START + timedelta(minutes=30))
    assert [o.id for o in still] == [pin]
    with pytest.raises(OverrideRefused, match="no override #999"):
        end_override(db=db, override_id=999, actor="a.weber", reason="x", now=START)


def test_an_override_that_breaks_the_plan_is_refused_with_the_reason(
    tiny_site: Site, db: Database, planner: Planner
) -> None:
    # Boilers held at zero for 2 h: the CHP (450 kW heat) and the store cannot carry 800 kW.
    with pytest.raises(OverrideRefused, match="demand unserved") as refused:
        _add(
            db,
            tiny_site,
            planner,
            kind=OverrideKind.PIN,
            subject="boilers.q_kw",
            value=0.0,
            end=START + timedelta(hours=2),
            reason="flue gas inspection",
        )
    assert "boilers.q_kw" in str(refused.value)
    assert overrides_in_force(db=db, at=START) == []
    # Both boilers out for an hour: the heat is served, but losing the CHP would leave it short.
    with pytest.raises(OverrideRefused, match="N-1 heat unsecured"):
        _add(db, tiny_site, planner, kind=OverrideKind.OUT_OF_SERVICE, subject="boilers")
    # One boiler out is fine: accepted and in force.
    ok = _add(db, tiny_site, planner, kind=OverrideKind.OUT_OF_SERVICE, subject="boilers", value=1)
    assert [o.id for o in overrides_in_force(db=db, at=START)] == [ok]
    trail = audit_trail(db=db, start=START - timedelta(hours=1), end=START)
    notes = [e.summary for e in trail if e.kind == "operator_action"][:2]
    assert all("override refused" in s and "by m.keller" in s for s in notes)
    assert "flue gas inspection" in notes[0]


def test_unknown_subjects_and_bad_windows_are_refused(
    tiny_site: Site, db: Database, planner: Planner
) -> None:
    with pytest.raises(OverrideRefused, match="unknown asset 'chp9'"):
        _add(db, tiny_site, planner, kind=OverrideKind.OUT_OF_SERVICE, subject="chp9")
    with pytest.raises(OverrideRefused, match="not a value of chp1"):
        _add(db, tiny_site, planner, kind=OverrideKind.PIN, subject="chp1.fuel_kw", value=1.0)
    with pytest.raises(OverrideRefused, match="not a store"):
        _add(db, tiny_site, planner, kind=OverrideKind.STORAGE_TARGET, subject="chp1", value=1.0)
    with pytest.raises(OverrideRefused, match="ends"):
        _add(
            db,
            tiny_site,
            planner,
            kind=OverrideKind.HEAT_LED,
            subject="site",
            end=START - timedelta(minutes=1),
        )
