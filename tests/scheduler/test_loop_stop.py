"""A shutdown during a cycle's wait for its interval: nothing is written ahead of time."""

from __future__ import annotations

from datetime import datetime

import pytest

from energiemodell.store import writes_between
from scheduler.clock import SimulatedClock
from scheduler.deps import build_deps
from scheduler.loop import run_cycle
from tests.scheduler.conftest import LEAD, START, FakePlant, plant_devices, settings

pytestmark = pytest.mark.solver


class InterruptedClock(SimulatedClock):
    """A clock whose wait for the interval start returns at once, as a shutdown makes it."""

    def sleep_until(self, when: datetime) -> None:
        """Return at once, the clock unmoved: the interval has not started."""


def test_a_cycle_woken_by_a_shutdown_writes_nothing_and_raises_nothing(tiny_site, db):
    clock = InterruptedClock(START - LEAD)
    devices = plant_devices(tiny_site)
    FakePlant(tiny_site, devices, clock)
    deps = build_deps(tiny_site, db=db, clock=clock, devices=devices, settings=settings())
    report = run_cycle(deps, clock.now())
    deps.journal.flush()
    assert report.schedule_id is not None  # planned and stored, for the record
    assert not report.written
    assert report.writes == []
    assert [a.code for a in report.alarms if a.code.startswith("release")] == []
    assert writes_between(db=db, start=START - 2 * LEAD, end=START + LEAD) == []
    assert START not in deps.runtime.dispatched  # the next start writes it
