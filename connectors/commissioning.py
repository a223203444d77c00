"""Commissioning check: prove each device's map, write path and fallback before going live.

For every device, in this order:

1. **read**: every point is read; it passes if its quality is good and the value lies in the
   point's ``expected`` range (or its ``limits`` for writable points).
2. **write**: every writable point except the heartbeat and remote-enable points is written at a
   safe value (the map's ``safe_value``, else the value the device holds now) and read back.
3. **heartbeat drill** (devices with heartbeat, remote-enable and local-state points): beat,
   request remote control and see the device report it; stop the heartbeat and confirm the device
   reports local control within its watchdog time; then release remote control.

Devices are checked concurrently; each write is reported to the sink like any other write.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

from connectors.device import Device, Quality, Reading
from connectors.errors import ConnectorError
from connectors.registers import Role, Value
from connectors.writer import (
    Heartbeat,
    SafeWriter,
    WriteResult,
    WriteSink,
    enable_remote,
    release_remote,
    wait_for_state,
)

logger = logging.getLogger(__name__)

DEFAULT_WATCHDOG_S = 60.0


class CheckStatus(StrEnum):
    """Outcome of one commissioning step."""

    PASS = "pass"  # noqa: S105  (a check outcome, not a password)
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One step of the commissioning check."""

    device: str
    step: str
    point: str
    status: CheckStatus
    value: Value | None = None
    expected: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        """Return the item as a JSON-ready mapping."""
        return {
            "device": self.device,
            "step": self.step,
            "point": self.point,
            "status": self.status.value,
            "value": self.value,
            "expected": self.expected,
            "detail": self.detail,
        }


@dataclass
class CheckReport:
    """All steps of a commissioning run."""

    items: list[CheckItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no step failed."""
        return all(i.status is not CheckStatus.FAIL for i in self.items)


def _check_reading(device: Device, r: Reading) -> CheckItem:
    p = device.register_map.point(r.point)
    rng = p.expected or p.limits
    expected = f"{rng.min:g}..{rng.max:g} {p.unit}".strip() if rng is not None else ""
    if r.quality is not Quality.GOOD or r.value is None:
        return CheckItem(
            device.name,
            "read",
            r.point,
            CheckStatus.FAIL,
            r.value,
            expected,
            r.detail or r.quality.value,
        )
    in_range = rng is None or isinstance(r.value, bool) or rng.min <= float(r.value) <= rng.max
    if not in_range:
        return CheckItem(
            device.name,
            "read",
            r.point,
            CheckStatus.FAIL,
            r.value,
            expected,
            "outside the expected range",
        )
    return CheckItem(device.name, "read", r.point, CheckStatus.PASS, r.value, expected)


def _check_writes(
    device: Device, writer: SafeWriter, readings: dict[str, Reading]
) -> list[CheckItem]:
    items = []
    rmap = device.register_map
    for name, p in rmap.points.items():
        if not p.writable or p.role in (Role.HEARTBEAT, Role.REMOTE_ENABLE):
            continue
        current = readings[name]
        safe: Value | None = p.safe_value if p.safe_value is not None else current.value
        if safe is None:
            items.append(
                CheckItem(
                    device.name,
                    "write",
                    name,
                    CheckStatus.FAIL,
                    None,
                    "",
                    "no safe value: unreadable now and no safe_value in the map",
                )
            )
            continue
        rep = writer.write(
            name, safe, reason="commissioning: write and read back a safe value", force=True
        )
        status = CheckStatus.PASS if rep.result is WriteResult.CONFIRMED else CheckStatus.FAIL
        items.append(
            CheckItem(
                device.name,
                "write",
                name,
                status,
                rep.read_back,
                f"{safe!r}",
                f"{rep.result}: {rep.detail}".rstrip(": "),
            )
        )
    return items


def heartbeat_drill(
    device: Device, writer: SafeWriter, *, watchdog_s: float | None = None
) -> CheckItem:
    """Beat, enable remote, stop beating, and confirm the device falls back to local control."""
    rmap = device.register_map
    roles = [rmap.with_role(r) for r in (Role.HEARTBEAT, Role.REMOTE_ENABLE, Role.LOCAL_STATE)]
    if None in roles:
        return CheckItem(
            device.name,
            "heartbeat_drill",
            "",
            CheckStatus.SKIP,
            detail="the map lacks a heartbeat, remote_enable or local_state point",
        )
    local = str(roles[2])
    wd = watchdog_s or rmap.watchdog_s or DEFAULT_WATCHDOG_S
    expected = f"local control within {wd:g} s of the last heartbeat"
    hb = Heartbeat(device, period_s=min(2.0, wd / 5))
    try:
        with hb:
            rep = enable_remote(
                writer, hb, reason="commissioning: heartbeat drill", timeout_s=min(wd, 10.0)
            )
        if not rep.ok:
            return CheckItem(
                device.name,
                "heartbeat_drill",
                local,
                CheckStatus.FAIL,
                expected=expected,
                detail=f"remote enable: {rep.detail}",
            )
        fell_back = wait_for_state(
            device, False, timeout_s=1.5 * wd + 1.0, poll_s=min(0.5, wd / 10)
        )
    except ConnectorError as exc:
        return CheckItem(
            device.name,
            "heartbeat_drill",
            local,
            CheckStatus.FAIL,
            expected=expected,
            detail=str(exc),
        )
    finally:
        hb.stop()
    release = release_remote(writer, reason="commissioning: heartbeat drill done")
    if not fell_back:
        return CheckItem(
            device.name,
            "heartbeat_drill",
            local,
            CheckStatus.FAIL,
            expected=expected,
            detail="still remote after the heartbeat stopped",
        )
    detail = "" if release.ok else f"release: {release.result} {release.detail}"
    return CheckItem(
        device.name, "heartbeat_drill", local, CheckStatus.PASS, expected=expected, detail=detail
    )


def commission_device(
    device: Device, sink: WriteSink, *, watchdog_s: float | None = None
) -> list[CheckItem]:
    """Run the three commissioning steps on one device."""
    readings = {r.point: r for r in device.read_points()}
    items = [_check_reading(device, r) for r in readings.values()]
    writer = SafeWriter(device, sink)
    items += _check_writes(device, writer, readings)
    items.append(heartbeat_drill(device, writer, watchdog_s=watchdog_s))
    return items


def commission(
    devices: Sequence[Device], sink: WriteSink, *, watchdog_s: float | None = None
) -> CheckReport:
    """Commission every device concurrently; the report lists devices in the given order."""
    if not devices:
        return CheckReport()
    with ThreadPoolExecutor(max_workers=min(8, len(devices)), thread_name_prefix="check") as ex:
        futures = [ex.submit(commission_device, d, sink, watchdog_s=watchdog_s) for d in devices]
        return CheckReport([i for f in futures for i in f.result()])
