"""Where the control loop gets its time from: the wall clock, or a simulated one.

Logic never calls ``datetime.now()``: it asks a :class:`Clock`, so a simulated day runs in
seconds (the demo and the tests) with exactly the code that runs in production.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of UTC time that can also wait until a given instant."""

    def now(self) -> datetime:
        """The current time (timezone-aware, UTC)."""
        ...

    def sleep_until(self, when: datetime) -> None:
        """Return at ``when`` (at once if it has passed)."""
        ...


class SystemClock:
    """The wall clock; :meth:`sleep_until` wakes early when :meth:`interrupt` is called."""

    def __init__(self) -> None:
        self._interrupted = threading.Event()

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

    def sleep_until(self, when: datetime) -> None:
        """Wait until ``when`` or until interrupted (graceful shutdown)."""
        wait_s = (when - self.now()).total_seconds()
        if wait_s > 0:
            self._interrupted.wait(wait_s)

    def interrupt(self) -> None:
        """Wake every sleeper now and let later sleeps return at once."""
        self._interrupted.set()


class SimulatedClock:
    """A clock that only moves when told to: :meth:`sleep_until` jumps, :meth:`advance` steps.

    Subscribers (a plant simulator) are called with the new time after every move, so the
    simulated world follows the clock whoever moves it.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            msg = "a SimulatedClock needs a timezone-aware start"
            raise ValueError(msg)
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[datetime], None]] = []

    def subscribe(self, on_move: Callable[[datetime], None]) -> None:
        """Call ``on_move(now)`` after every move of the clock."""
        self._subscribers.append(on_move)

    def _moved(self, now: datetime) -> datetime:
        for on_move in self._subscribers:
            on_move(now)
        return now

    def now(self) -> datetime:
        """The simulated time."""
        with self._lock:
            return self._now

    def sleep_until(self, when: datetime) -> None:
        """Jump to ``when`` if it lies ahead; time never runs backwards."""
        with self._lock:
            moved = when.astimezone(UTC) > self._now
            self._now = max(self._now, when.astimezone(UTC))
            now = self._now
        if moved:
            self._moved(now)

    def advance(self, delta: timedelta) -> datetime:
        """Move the time forward by ``delta`` and return the new time."""
        if delta < timedelta(0):
            msg = f"time cannot run backwards ({delta})"
            raise ValueError(msg)
        with self._lock:
            self._now += delta
            now = self._now
        return self._moved(now)


def interval_start(ts: datetime, step_min: int) -> datetime:
    """The start of the site interval holding ``ts`` (UTC)."""
    epoch = int(ts.astimezone(UTC).timestamp())
    step_s = 60 * step_min
    return datetime.fromtimestamp(epoch - epoch % step_s, UTC)


def target_interval(now: datetime, step_min: int, lead_time_s: float) -> datetime:
    """The interval a cycle started at ``now`` plans and dispatches.

    A cycle started within the lead time before an interval starts prepares that interval
    (the normal case: plans are made ahead so setpoints are on time); a cycle started later
    (a restart, a late job) serves the interval already running.
    """
    # One second of slack: a job that fires a few milliseconds early still prepares its interval.
    return interval_start(now + timedelta(seconds=lead_time_s + 1.0), step_min)
