"""The safety handshake with a device: the heartbeat and the remote-enable request.

:class:`Heartbeat` increments the device's heartbeat register every few seconds on its own
thread, independent of the plan; when it stops, the device's watchdog falls back to local
control. :func:`enable_remote` asks the device to follow remote setpoints once the heartbeat
is alive and waits for its local-state point to confirm; :func:`release_remote` hands control
back. Re-exported by :mod:`connectors.writer`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connectors.device import Device, Quality
from connectors.errors import ConnectorError, DeviceUnavailable
from connectors.registers import Role, Value
from connectors.write_reports import WriteReport, WriteResult

if TYPE_CHECKING:
    from connectors.writer import SafeWriter

logger = logging.getLogger(__name__)


@dataclass
class Heartbeat:
    """Increment the device's heartbeat register every ``period_s`` on a background thread.

    The device watches the value change; when it stops changing for the device's watchdog time,
    the device falls back to local control (MODBUS.md section 2.6). Failures are logged and
    counted, never raised from the thread.
    """

    device: Device
    period_s: float = 5.0
    counter: int = 0
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        rmap = self.device.register_map
        point = rmap.with_role(Role.HEARTBEAT)
        if point is None:
            msg = f"{self.device.name}: map {rmap.model} has no heartbeat point"
            raise ConnectorError(msg)
        self.point = point
        limits = rmap.point(point).limits
        self._modulo = int(limits.max) + 1 if limits is not None else 65536

    @property
    def running(self) -> bool:
        """Whether the background thread is beating."""
        return self._thread is not None and self._thread.is_alive()

    def beat(self) -> bool:
        """Write the next counter value once; return whether the device took it."""
        self.counter = (self.counter + 1) % self._modulo
        try:
            self.device.write_point(self.point, self.counter)
        except ConnectorError as exc:
            self.failures += 1
            logger.warning(
                "%s: heartbeat %d failed (%d in a row): %s",
                self.device.name,
                self.counter,
                self.failures,
                exc,
            )
            return False
        self.failures = 0
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.beat()

    def start(self) -> Heartbeat:
        """Start beating: the first beat is written before this returns, the rest on a thread."""
        if not self.running:
            self._stop.clear()
            self.beat()
            self._thread = threading.Thread(
                target=self._run, name=f"heartbeat-{self.device.name}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and wait for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(5.0, 2 * self.period_s))
            self._thread = None

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def remote_state(device: Device) -> bool | None:
    """Return True if the device follows remote setpoints, False if local, None if unknown."""
    rmap = device.register_map
    name = rmap.with_role(Role.LOCAL_STATE)
    if name is None:
        return None
    (r,) = device.read_points([name])
    if r.quality is not Quality.GOOD or r.value is None:
        return None
    return int(r.value) in rmap.point(name).remote_values


def wait_for_state(
    device: Device,
    remote: bool,
    *,
    timeout_s: float,
    poll_s: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Poll the local-state point until it says ``remote`` (or local); False on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        if remote_state(device) is remote:
            return True
        if time.monotonic() >= deadline:
            return False
        sleep(poll_s)


def _enable_value(device: Device, name: str, on: bool) -> Value:
    return device.register_map.point(name).enable(on)


def enable_remote(
    writer: SafeWriter, heartbeat: Heartbeat, *, reason: str, timeout_s: float = 10.0
) -> WriteReport:
    """Remote-enable handshake: heartbeat alive, request remote, confirm the device follows.

    Returns the write report of the enable request; its result is ``not_confirmed`` if the
    device's local-state read-back did not turn to remote within ``timeout_s``.
    """
    device = writer.device
    name = device.register_map.with_role(Role.REMOTE_ENABLE)
    if name is None:
        msg = f"{device.name}: map {device.register_map.model} has no remote_enable point"
        raise ConnectorError(msg)
    alive = heartbeat.failures == 0 if heartbeat.running else heartbeat.beat()
    if not alive:
        msg = f"{device.name}: heartbeat not accepted, not requesting remote control"
        raise DeviceUnavailable(msg)
    report = writer.write(name, _enable_value(device, name, True), reason=reason, force=True)
    if not report.ok or device.register_map.with_role(Role.LOCAL_STATE) is None:
        return report
    if wait_for_state(device, True, timeout_s=timeout_s):
        return report
    failed = WriteReport(
        report.ts,
        report.device,
        report.point,
        report.requested,
        report.written,
        report.read_back,
        reason,
        WriteResult.NOT_CONFIRMED,
        f"the device did not report remote control within {timeout_s:g} s",
    )
    writer.sink.record_write(failed)
    return failed


def release_remote(writer: SafeWriter, *, reason: str) -> WriteReport:
    """Hand control back to the device: clear the remote-enable request."""
    device = writer.device
    name = device.register_map.with_role(Role.REMOTE_ENABLE)
    if name is None:
        msg = f"{device.name}: map {device.register_map.model} has no remote_enable point"
        raise ConnectorError(msg)
    return writer.write(name, _enable_value(device, name, False), reason=reason, force=True)
