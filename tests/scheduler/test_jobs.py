"""The real-time jobs: cron alignment, no overlapping cycles, a heartbeat of its own."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from scheduler.jobs import cycle_trigger, start_jobs


def test_cycle_trigger_fires_the_lead_time_before_each_interval():
    trigger = cycle_trigger(900, 120)
    t = datetime(2024, 3, 12, 5, 50, 7, tzinfo=UTC)
    fires = []
    for _ in range(5):
        t = trigger.get_next_fire_time(None, t)
        fires.append(t.strftime("%H:%M:%S"))
        t = t.replace(second=t.second + 1)
    assert fires == ["05:58:00", "06:13:00", "06:28:00", "06:43:00", "06:58:00"]
    odd = cycle_trigger(900, 90).get_next_fire_time(None, datetime(2024, 1, 1, tzinfo=UTC))
    assert odd.strftime("%H:%M:%S") == "00:13:30"


@pytest.mark.parametrize("period", [0, 7 * 60, 7])
def test_cycle_trigger_refuses_periods_that_do_not_divide_an_hour(period):
    with pytest.raises(ValueError, match="divide"):
        cycle_trigger(period, 0)


@pytest.mark.integration
def test_jobs_run_aligned_never_overlap_and_beat_on_their_own():
    fired: list[float] = []
    running = 0
    overlap = False
    beats: list[float] = []
    lock = threading.Lock()

    def cycle() -> None:
        nonlocal running, overlap
        with lock:
            running += 1
            overlap = overlap or running > 1
            fired.append(time.time())
        time.sleep(2.5)  # longer than the period: the next run must not start alongside
        with lock:
            running -= 1

    scheduler = start_jobs(
        cycle=cycle,
        heartbeat=lambda: beats.append(time.time()),
        period_s=2,
        lead_s=1,
        heartbeat_s=0.5,
        misfire_grace_s=1,
    )
    try:
        time.sleep(5.2)
    finally:
        scheduler.shutdown(wait=True)
    assert not overlap
    assert 1 <= len(fired) <= 3
    assert all(int(t) % 2 == 1 for t in fired)  # a second before each even second
    assert len(beats) >= 8  # the heartbeat kept going while a cycle ran
