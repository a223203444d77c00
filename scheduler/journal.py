"""The loop's record of everything it measured, planned, wrote and alarmed, kept until stored.

Every record goes through one ordered queue in front of the store. When the database is briefly
unavailable (locked, restarting, network gone), the records wait in memory and are written, in
their original order and with their original timestamps, as soon as the store answers again:
a fault in the database loses no measurement, schedule, write or alarm. A schedule that is still
waiting has no version id yet; the writes and alarms that refer to it carry a :class:`Ref` that
is filled in when the schedule is saved.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from connectors.device import Reading
from connectors.writer import WriteReport
from energiemodell.model.schedule import Schedule
from energiemodell.store import (
    Database,
    ReadingRow,
    StoreError,
    raise_alarm,
    save_cycle,
    save_forecast,
    save_operator_action,
    save_readings,
    save_schedule,
    save_write,
)

logger = logging.getLogger(__name__)

STORE_ERRORS = (SQLAlchemyError, StoreError, OSError)
"""What a briefly unavailable database raises (locked, connection refused, disk full)."""


@dataclass
class Ref:
    """The store id of a schedule version, once it has been saved."""

    id: int | None = None


@dataclass
class Journal:
    """An ordered, fault-tolerant queue of store records (also the writers' :class:`WriteSink`).

    Parameters
    ----------
    db
        The store.
    source
        Name recorded as the alarms' source.
    """

    db: Database
    source: str = "scheduler"
    schedule_ref: Ref = field(default_factory=Ref)
    _queue: deque[Callable[[], None]] = field(default_factory=deque, init=False)
    last_error: str | None = field(default=None, init=False)

    @property
    def pending(self) -> int:
        """Records waiting for the store."""
        return len(self._queue)

    def flush(self) -> bool:
        """Write what is waiting, oldest first; return whether the queue is empty now."""
        while self._queue:
            try:
                self._queue[0]()
            except STORE_ERRORS as exc:
                if self.last_error is None:
                    logger.error("store unavailable, %d records waiting: %s", self.pending, exc)
                self.last_error = str(exc).splitlines()[0]
                return False
            self._queue.popleft()
        if self.last_error is not None:
            logger.warning("store available again; every waiting record is saved")
        self.last_error = None
        return True

    def _add(self, record: Callable[[], None]) -> bool:
        self._queue.append(record)
        return self.flush()

    # --- records --------------------------------------------------------------------------------

    def readings(self, readings: Sequence[Reading]) -> bool:
        """Save one poll's readings (bad ones too: they say a point did not answer)."""
        rows = [
            ReadingRow(
                ts=r.ts,
                device=r.device,
                point=r.point,
                quantity=r.quantity,
                value=None if r.value is None else float(r.value),
                quality=r.quality.value,
            )
            for r in readings
        ]
        if not rows:
            return self.flush()
        return self._add(lambda: _ignore(save_readings(db=self.db, rows=rows)))

    def schedule(
        self, schedule: Schedule, *, site_yaml: str, inputs: dict[str, Any]
    ) -> tuple[Ref, bool]:
        """Save a schedule version; the returned :class:`Ref` gets its id once it is stored."""
        ref = Ref()

        def record() -> None:
            ref.id = save_schedule(
                db=self.db, schedule=schedule, site_yaml=site_yaml, inputs_summary=inputs
            )

        return ref, self._add(record)

    def forecast(self, forecast: pd.DataFrame, *, issued_at: datetime, source: str) -> bool:
        """Save the forecast a plan is made from, as issued (a copy: later edits do not count)."""
        frame = forecast.astype("float64")  # a copy, in the store's value type
        return self._add(
            lambda: _ignore(
                save_forecast(db=self.db, forecast=frame, issued_at=issued_at, source=source[:64])
            )
        )

    def cycle(
        self,
        *,
        started_at: datetime,
        finished_at: datetime,
        interval_start: datetime,
        rung: str,
        solve_s: float,
    ) -> bool:
        """Record a finished cycle: its duration, rung and solve time (``/metrics``)."""
        return self._add(
            lambda: save_cycle(
                db=self.db,
                started_at=started_at,
                finished_at=finished_at,
                interval_start=interval_start,
                rung=rung,
                solve_s=solve_s,
            )
        )

    def record_write(self, report: WriteReport) -> None:
        """:class:`~connectors.writer.WriteSink`: save one write against the current schedule."""
        ref = self.schedule_ref

        def record() -> None:
            save_write(
                db=self.db,
                device=report.device,
                point=report.point,
                value=_number(report.written if report.written is not None else report.requested),
                ts=report.ts,
                reason=report.reason if not report.detail else f"{report.reason}; {report.detail}",
                result=report.result.value,
                read_back=None if report.read_back is None else _number(report.read_back),
                schedule_id=ref.id,
            )

        self._add(record)

    def alarm(
        self,
        *,
        ts: datetime,
        code: str,
        severity: str,
        message: str,
        ref: Ref | None = None,
    ) -> bool:
        """Record an alarm (``severity``: info, warning or critical)."""
        logger.log(
            logging.ERROR if severity == "critical" else logging.WARNING,
            "alarm %s: %s",
            code,
            message,
        )

        def record() -> None:
            raise_alarm(
                db=self.db,
                ts=ts,
                source=self.source,
                code=code,
                severity=severity,
                message=message,
                schedule_id=None if ref is None else ref.id,
            )

        return self._add(record)

    def operator_action(self, *, ts: datetime, actor: str, action: str, reason: str) -> bool:
        """Record an operator's action (the ``release`` command)."""
        return self._add(
            lambda: _ignore(
                save_operator_action(db=self.db, ts=ts, actor=actor, action=action, reason=reason)
            )
        )


def _ignore(_: object) -> None:
    return None


def _number(value: object) -> float:
    """A write's value as the store keeps it (booleans as 0/1)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    msg = f"not a number: {value!r}"
    raise TypeError(msg)
