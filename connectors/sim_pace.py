"""Simulated time at a multiple of real time: :class:`PaceDriver` (``simulate --speed N``)."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from connectors.simulator import PlantSimulator

logger = logging.getLogger("connectors.simulator")


class PaceDriver:
    """Advance a simulator's time at ``speed`` times real time on a background thread.

    Every ``tick_s`` wall seconds the simulator is advanced to
    ``start + speed * (wall time since start)``; a plant that cannot keep up lags, it never skips.
    """

    def __init__(self, sim: PlantSimulator, speed: float, *, tick_s: float = 0.2) -> None:
        if not speed > 0:
            msg = f"speed must be positive, not {speed}"
            raise ValueError(msg)
        self.sim, self.speed, self.tick_s = sim, speed, tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        wall0, sim0 = time.monotonic(), self.sim.now
        while not self._stop.wait(self.tick_s):
            target = sim0 + pd.Timedelta(seconds=self.speed * (time.monotonic() - wall0))
            try:
                self.sim.advance_to(target)
            except Exception as exc:  # e.g. the end of the series: stop and report, not crash
                logger.exception("the simulation stopped at %s", self.sim.now)
                self.error = exc
                return

    def start(self) -> PaceDriver:
        """Start advancing time."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim-pace", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop advancing time and join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> PaceDriver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
