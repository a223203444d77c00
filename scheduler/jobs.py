"""The real-time jobs: the only apscheduler import (3.x: its 4.x API differs).

Three jobs on one background scheduler:

- the control cycle, cron-aligned: it fires the lead time before every interval start
  (``:13, :28, :43, :58`` for 15-minute steps and a 120 s lead), ``max_instances=1`` (a slow
  cycle is never run twice at once), ``coalesce=True`` (missed runs collapse into one) and a
  misfire grace time (a cycle that could not start on time still runs if it is not too late);
- the heartbeat, every few seconds, independent of the plan (the devices' link watchdog);
- the store's housekeeping (:mod:`scheduler.housekeeping`: the retention purges), daily at
  01:07 UTC, between two cycles (they fire at :13, :28, :43, :58), with an hour's grace.

In simulated time nothing here runs: :func:`scheduler.loop.drive` calls the cycle directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

logger = logging.getLogger(__name__)

CYCLE_JOB = "cycle"
HEARTBEAT_JOB = "heartbeat"
HOUSEKEEPING_JOB = "housekeeping"
#: A missed housekeeping run (service busy or restarting at 01:07) still runs within this.
HOUSEKEEPING_GRACE_S = 3600


def cycle_trigger(period_s: int, lead_s: float) -> CronTrigger:
    """A cron trigger firing ``lead_s`` (whole seconds) before every multiple of ``period_s``.

    ``period_s`` divides an hour (900 for 15-minute steps); periods under a minute (tests) give
    a seconds-only schedule.
    """
    if period_s <= 0 or 3600 % period_s:
        msg = f"a cycle period of {period_s} s does not divide an hour"
        raise ValueError(msg)
    offset = (period_s - round(lead_s)) % period_s
    if period_s < 60:
        if 60 % period_s:
            msg = f"a sub-minute period of {period_s} s must divide a minute"
            raise ValueError(msg)
        seconds = ",".join(str(s) for s in range(offset, 60, period_s))
        return CronTrigger(second=seconds, timezone=UTC)
    minutes = ",".join(str(m) for m in range(offset // 60, 60, period_s // 60))
    return CronTrigger(minute=minutes, second=offset % 60, timezone=UTC)


def housekeeping_trigger() -> CronTrigger:
    """Daily at 01:07 UTC: after the 00:58 cycle, before the 01:13 one, at night in Europe."""
    return CronTrigger(hour=1, minute=7, second=0, timezone=UTC)


def start_jobs(
    *,
    cycle: Callable[[], object],
    heartbeat: Callable[[], object] | None,
    period_s: int,
    lead_s: float,
    heartbeat_s: float,
    misfire_grace_s: float,
    housekeeping: Callable[[], object] | None = None,
    housekeeping_when: BaseTrigger | None = None,
) -> BackgroundScheduler:
    """Start the cycle job (and the heartbeat and housekeeping jobs, if given).

    ``cycle()`` takes its time from the loop's clock; stop the scheduler with
    ``shutdown(wait=True)``, which lets a running cycle finish. ``housekeeping`` (see
    :func:`scheduler.housekeeping.housekeeping_job`) runs on ``housekeeping_when``, by default
    :func:`housekeeping_trigger`; it never raises, and runs beside the cycle, never instead.
    """
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        cycle,
        cycle_trigger(period_s, lead_s),
        id=CYCLE_JOB,
        name="control cycle",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, round(misfire_grace_s)),
    )
    if heartbeat is not None:
        scheduler.add_job(
            heartbeat,
            IntervalTrigger(seconds=heartbeat_s, timezone=UTC),
            id=HEARTBEAT_JOB,
            name="heartbeat",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, round(heartbeat_s)),
        )
    if housekeeping is not None:
        scheduler.add_job(
            housekeeping,
            housekeeping_when or housekeeping_trigger(),
            id=HOUSEKEEPING_JOB,
            name="housekeeping",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=HOUSEKEEPING_GRACE_S,
        )
    scheduler.start()
    logger.info("jobs started: %s", ", ".join(j.name for j in scheduler.get_jobs()))
    return scheduler
