"""The store's daily housekeeping: the retention purges, logged and audited, never fatal.

:func:`run_housekeeping` runs each step on its own:

1. ``purge_readings``: raw readings older than the readings' window (35 days) are deleted, in
   the transaction that first aggregates (or corrects) every bucket they belong to;
2. ``purge_forecasts``: forecasts issued before the forecasts' window (35 days) are cut to
   their rows in force (what the forecast-error view reads).

Each step writes its own ``maintenance_log`` row (the audit trail's ``maintenance`` events) and
a log line. A step that fails rolls back whole (nothing is deleted without its aggregates),
is logged with its traceback and raises a ``housekeeping.purge_failed`` alarm in the store;
the next step and the next day's run go ahead, and the control cycle, a job of its own, is
never held up by it. :mod:`scheduler.jobs` runs it daily in production.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from energiemodell.store import (
    DEFAULT_FORECAST_RETENTION,
    DEFAULT_RETENTION,
    Database,
    ForecastPurgeReport,
    PurgeReport,
    purge_forecasts,
    purge_readings,
    raise_alarm,
)

logger = logging.getLogger(__name__)

SOURCE = "housekeeping"
FAILED_CODE = "housekeeping.purge_failed"


@dataclass(frozen=True)
class HousekeepingReport:
    """What one housekeeping run did; ``errors`` names each step that failed, and why."""

    at: datetime
    readings: PurgeReport | None = None
    forecasts: ForecastPurgeReport | None = None
    errors: dict[str, str] = field(default_factory=dict)


def run_housekeeping(
    *,
    db: Database,
    now: datetime,
    readings_retention: timedelta = DEFAULT_RETENTION,
    forecast_retention: timedelta = DEFAULT_FORECAST_RETENTION,
) -> HousekeepingReport:
    """Run the retention purges as of ``now``; a failing step is logged and alarmed, not raised."""
    errors: dict[str, str] = {}
    readings = forecasts = None
    try:
        readings = purge_readings(db=db, now=now, retention=readings_retention)
        logger.info(
            "housekeeping: %d raw readings older than %s deleted, %d buckets aggregated first",
            readings.deleted_readings,
            readings.cutoff.isoformat(),
            readings.aggregated_rows,
        )
    except Exception as exc:
        errors["purge_readings"] = _failed(
            db, now, "purge_readings", exc, "raw readings are kept until a purge succeeds"
        )
    try:
        forecasts = purge_forecasts(db=db, now=now, retention=forecast_retention)
        logger.info(
            "housekeeping: forecasts issued before %s: %d cut to their rows in force, %d deleted",
            forecasts.cutoff.isoformat(),
            forecasts.cut,
            forecasts.deleted,
        )
    except Exception as exc:
        errors["purge_forecasts"] = _failed(
            db, now, "purge_forecasts", exc, "old forecasts are kept whole until a purge succeeds"
        )
    return HousekeepingReport(at=now, readings=readings, forecasts=forecasts, errors=errors)


def _failed(db: Database, now: datetime, step: str, exc: Exception, consequence: str) -> str:
    """Log a failed step with its traceback and raise an alarm in the store; return why."""
    why = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
    logger.error("housekeeping: %s failed: %s (%s)", step, why, consequence, exc_info=exc)
    try:
        raise_alarm(
            db=db,
            ts=now,
            source=SOURCE,
            code=FAILED_CODE,
            severity="warning",
            message=f"{step} failed: {why}; {consequence}",
        )
    except Exception:  # the store itself is down: the log line above is all there is
        logger.exception("housekeeping: the alarm for the failed %s could not be stored", step)
    return why


def housekeeping_job(
    *,
    db: Database,
    now: Callable[[], datetime],
    readings_retention: timedelta = DEFAULT_RETENTION,
    forecast_retention: timedelta = DEFAULT_FORECAST_RETENTION,
) -> Callable[[], HousekeepingReport]:
    """The job for :func:`scheduler.jobs.start_jobs`: housekeeping at the clock's ``now()``."""

    def job() -> HousekeepingReport:
        return run_housekeeping(
            db=db,
            now=now(),
            readings_retention=readings_retention,
            forecast_retention=forecast_retention,
        )

    return job
