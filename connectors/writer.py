"""Safe writes: validate, snap solver noise, write, read back, report; heartbeat; remote enable.

Every write through :class:`SafeWriter` produces one :class:`WriteReport` (what, value, when,
why, result) handed to a :class:`WriteSink`; the store persists them. Rules (STYLE.md section 5,
MODBUS.md section 2.6):

* Only ``read_write`` points. NaN, infinite and out-of-limit values are **refused, never
  clamped**; a value within the limit's ``tolerance`` outside it (solver noise such as
  800.0000001 kW) is snapped onto the limit. The point's limits and the asset's limits both apply.
* ``persistent`` (EEPROM-backed) points are written only when the device holds another value.
  Points with ``min_change`` are not rewritten for smaller changes. ``max_rate_per_min`` refuses
  a step larger than the rate allows since the last confirmed write.
* Volatile points (``revert_s``) are rewritten by :meth:`SafeWriter.refresh_due` before the device
  drops them (at ``refresh_fraction`` of ``revert_s``).
* Every write is read back; a differing or unreadable read-back is ``not_confirmed``.

The reports and sinks live in :mod:`connectors.write_reports`; the heartbeat and the remote-enable
handshake (:class:`Heartbeat`, :func:`enable_remote`, :func:`release_remote`) in
:mod:`connectors.handshake`. This module re-exports both, so ``from connectors.writer import ...``
keeps working.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime

from connectors.device import Clock, Device, Quality, utc_now
from connectors.errors import ConnectorError, WriteRejected
from connectors.handshake import (
    Heartbeat,
    enable_remote,
    release_remote,
    remote_state,
    wait_for_state,
)
from connectors.registers import DataType, Limits, RegisterMap, Value, resolution
from connectors.write_reports import MemorySink, WriteReport, WriteResult, WriteSink

__all__ = [
    "Heartbeat",
    "MemorySink",
    "SafeWriter",
    "WriteReport",
    "WriteResult",
    "WriteSink",
    "check_value",
    "enable_remote",
    "release_remote",
    "remote_state",
    "wait_for_state",
]

logger = logging.getLogger(__name__)


def _snap(name: str, v: float, lim: Limits, what: str) -> float:
    if v < lim.min:
        if lim.min - v <= lim.tolerance:
            return lim.min
        msg = f"{name}: {v} is below the {what} minimum {lim.min}"
        raise WriteRejected(msg)
    if v > lim.max:
        if v - lim.max <= lim.tolerance:
            return lim.max
        msg = f"{name}: {v} is above the {what} maximum {lim.max}"
        raise WriteRejected(msg)
    return v


def check_value(
    rmap: RegisterMap, name: str, value: Value, *, asset_limits: Limits | None = None
) -> Value:
    """Validate a value for point ``name`` and snap solver noise onto a limit.

    Returns
    -------
    The value to write: a bool for coils, an int for bitfields, else a float.

    Raises
    ------
    WriteRejected
        Not writable, wrong kind (a number for a coil or vice versa), NaN or infinite, or outside
        the point's or the asset's limits by more than the limit's tolerance.
    """
    p = rmap.point(name)
    if not p.writable:
        msg = f"{name} is not writable (access: {p.access})"
        raise WriteRejected(msg)
    if p.dtype is DataType.BOOL:
        if isinstance(value, bool):
            return value
        msg = f"{name} is a coil: write true or false, not {value!r}"
        raise WriteRejected(msg)
    if isinstance(value, bool):
        msg = f"{name} takes a number, not {value!r}"
        raise WriteRejected(msg)
    v = float(value)
    if not math.isfinite(v):
        msg = f"{name}: refusing to write {value!r}"
        raise WriteRejected(msg)
    assert p.limits is not None  # noqa: S101  (guaranteed by Point validation)
    v = _snap(name, v, p.limits, "point's")
    if asset_limits is not None:
        v = _snap(name, v, asset_limits, "asset's")
    if p.dtype in (DataType.BITFIELD16, DataType.BITFIELD32):
        if v != int(v):
            msg = f"{name} is a bitfield: {value!r} is not an integer"
            raise WriteRejected(msg)
        return int(v)
    return v


def _same(rmap: RegisterMap, name: str, a: Value, b: Value | None, sf_raw: int | None) -> bool:
    if b is None:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    p = rmap.point(name)
    rel = 1e-6 if p.dtype is DataType.FLOAT32 else 1e-12
    step = resolution(rmap, name, sf_raw)
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=step / 2 + 1e-9)


@dataclass
class SafeWriter:
    """Validated, verified, reported writes to one device.

    Parameters
    ----------
    device
        The device to write.
    sink
        Receives one :class:`WriteReport` per call of :meth:`write`.
    clock
        Source of UTC timestamps.
    refresh_fraction
        Volatile points are rewritten once this fraction of their ``revert_s`` has passed.
    """

    device: Device
    sink: WriteSink
    clock: Clock = utc_now
    refresh_fraction: float = 0.5
    _last: dict[str, tuple[Value, datetime]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def last_written(self) -> dict[str, tuple[Value, datetime]]:
        """Point -> (last confirmed value, when)."""
        return dict(self._last)

    def write(
        self,
        name: str,
        value: Value,
        *,
        reason: str,
        asset_limits: Limits | None = None,
        force: bool = False,
    ) -> WriteReport:
        """Validate, write, read back and report one value (``force`` ignores the dead-band)."""
        with self._lock:
            report = self._write(name, value, reason, asset_limits, force)
        level = logging.INFO if report.ok else logging.WARNING
        logger.log(
            level,
            "%s.%s <- %r (%s): %s %s",
            report.device,
            name,
            value,
            reason,
            report.result,
            report.detail,
        )
        self.sink.record_write(report)
        return report

    def _write(
        self, name: str, value: Value, reason: str, asset_limits: Limits | None, force: bool
    ) -> WriteReport:
        dev, rmap = self.device, self.device.register_map
        now = self.clock()

        def report(
            result: WriteResult, written: Value | None, back: Value | None, detail: str
        ) -> WriteReport:
            return WriteReport(now, dev.name, name, value, written, back, reason, result, detail)

        try:
            p = rmap.point(name)
            v = check_value(rmap, name, value, asset_limits=asset_limits)
            self._check_rate(name, v, now)
        except (WriteRejected, KeyError) as exc:
            return report(WriteResult.REFUSED, None, None, str(exc).strip("'\""))
        if not force:
            skip = self._unchanged(name, v, now)
            if skip is not None:
                return report(WriteResult.UNCHANGED, None, skip, "already holds this value")
        try:
            dev.write_point(name, v)
        except WriteRejected as exc:
            return report(WriteResult.REFUSED, v, None, str(exc))
        except ConnectorError as exc:
            return report(WriteResult.FAILED, v, None, str(exc))
        back = dev.read_points([name, p.scale_factor] if p.scale_factor else [name])
        sf_raw = back[1].value if len(back) > 1 and isinstance(back[1].value, int) else None
        rb = back[0]
        if rb.quality is not Quality.GOOD:
            return report(WriteResult.NOT_CONFIRMED, v, None, f"read-back failed: {rb.detail}")
        if not _same(rmap, name, v, rb.value, sf_raw):
            return report(WriteResult.NOT_CONFIRMED, v, rb.value, f"read back {rb.value!r}")
        self._last[name] = (v, now)
        return report(WriteResult.CONFIRMED, v, rb.value, "")

    def _check_rate(self, name: str, v: Value, now: datetime) -> None:
        p = self.device.register_map.point(name)
        last = self._last.get(name)
        if p.max_rate_per_min is None or last is None or isinstance(v, bool):
            return
        minutes = max((now - last[1]).total_seconds() / 60.0, 0.0)
        allowed = p.max_rate_per_min * minutes
        step = abs(float(v) - float(last[0]))
        if step > allowed + 1e-9:
            msg = (
                f"{name}: a step of {step:g} {p.unit} in {minutes:.2f} min exceeds "
                f"max_rate_per_min {p.max_rate_per_min:g}"
            )
            raise WriteRejected(msg)

    def _unchanged(self, name: str, v: Value, now: datetime) -> Value | None:
        """Return the held value if writing ``v`` now is unnecessary, else ``None``."""
        rmap = self.device.register_map
        p = rmap.point(name)
        last = self._last.get(name)
        if p.persistent:
            (cur,) = self.device.read_points([name])
            if cur.quality is Quality.GOOD and _same(rmap, name, v, cur.value, None):
                return cur.value
            return None
        if last is None or p.min_change is None or isinstance(v, bool):
            return None
        due = p.revert_s is not None and (now - last[1]).total_seconds() >= (
            p.revert_s * self.refresh_fraction
        )
        if not due and abs(float(v) - float(last[0])) < p.min_change:
            return last[0]
        return None

    def refresh_due(self) -> list[WriteReport]:
        """Rewrite volatile setpoints whose device-side expiry is near; return the reports."""
        now = self.clock()
        rmap = self.device.register_map
        due = [
            (n, v)
            for n, (v, ts) in self.last_written.items()
            if (rs := rmap.point(n).revert_s) is not None
            and (now - ts).total_seconds() >= rs * self.refresh_fraction
        ]
        return [
            self.write(n, v, reason="refresh before device-side expiry", force=True) for n, v in due
        ]
