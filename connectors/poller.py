"""Poll many devices concurrently, and turn readings into site quantities.

Each device is read in its own worker thread; a device's worst case is bounded by its own
timeout and retries, and a device that keeps failing is backed off by
:class:`~connectors.modbus.ModbusDevice`, so one dead device cannot stall the others.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from connectors.device import Device, Quality, Reading

if TYPE_CHECKING:
    from energiemodell.site import DeviceBinding

logger = logging.getLogger(__name__)


def read_devices(
    devices: Sequence[Device],
    *,
    points: Mapping[str, Sequence[str]] | None = None,
    max_workers: int = 32,
) -> list[Reading]:
    """Read every device concurrently and return all readings, device by device.

    Parameters
    ----------
    devices
        The devices to read.
    points
        Device name -> points to read; devices not named are read in full.
    max_workers
        Threads at most; each waits on one device at a time.
    """
    if not devices:
        return []
    wanted = points or {}
    t0 = time.perf_counter()
    workers = max(1, min(max_workers, len(devices)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
        futures = [pool.submit(d.read_points, wanted.get(d.name)) for d in devices]
        readings = [r for f in futures for r in f.result()]
    bad = sum(r.quality is Quality.BAD for r in readings)
    logger.debug(
        "polled %d devices in %.1f ms, %d bad readings",
        len(devices),
        1000 * (time.perf_counter() - t0),
        bad,
    )
    return readings


@dataclass
class Poller:
    """Poll devices concurrently, each at its own period (the site's ``poll_s``).

    Parameters
    ----------
    devices
        The devices to poll.
    periods_s
        Device name -> poll period; devices not named are polled every time.
    """

    devices: Sequence[Device]
    periods_s: Mapping[str, float] = field(default_factory=dict)
    max_workers: int = 32
    _next_s: dict[str, float] = field(default_factory=dict, init=False)

    def due(self, now_s: float) -> list[Device]:
        """Return the devices whose period has passed at monotonic time ``now_s``."""
        return [d for d in self.devices if self._next_s.get(d.name, -math.inf) <= now_s]

    def poll(self, *, now_s: float | None = None, only_due: bool = True) -> list[Reading]:
        """Read the due devices (all with ``only_due=False``) and schedule their next poll."""
        t = time.monotonic() if now_s is None else now_s
        chosen = self.due(t) if only_due else list(self.devices)
        for d in chosen:
            self._next_s[d.name] = t + self.periods_s.get(d.name, 0.0)
        return read_devices(chosen, max_workers=self.max_workers)


@dataclass(frozen=True, slots=True)
class QuantityValue:
    """A site quantity measured by a device point: ``sign * scale * reading.value``."""

    quantity: str
    value: float
    ts: datetime
    quality: Quality
    source: str


def site_quantities(
    readings: Iterable[Reading], bindings: Sequence[DeviceBinding]
) -> dict[str, QuantityValue]:
    """Map good and stale readings onto the site quantities their points are bound to.

    Bad readings give no quantity (connectors never invent values); a stale one keeps its
    quality. Booleans become 0.0/1.0.
    """
    by_device = {b.name: b for b in bindings}
    out: dict[str, QuantityValue] = {}
    for r in readings:
        b = by_device.get(r.device)
        pb = b.points.get(r.point) if b is not None else None
        if pb is None or r.value is None or r.quality is Quality.BAD:
            continue
        v = pb.sign * pb.scale * float(r.value)
        if math.isfinite(v):
            out[pb.quantity] = QuantityValue(
                pb.quantity, v, r.ts, r.quality, f"{r.device}.{r.point}"
            )
    return out
