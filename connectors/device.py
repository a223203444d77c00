"""The Device protocol, the Reading it returns, and the register logic every transport shares.

The :class:`Device` protocol is the seam between the connectors and everything else (like
httpx's ``BaseTransport``): :class:`FakeDevice` in unit tests, the Modbus client
(:class:`connectors.modbus.ModbusDevice`) in production and integration tests.

Quality rules (connectors never invent values):

* ``good``: decoded from registers read in this call; ``ts`` is when they were read.
* ``stale``: this call failed, so the last good value is repeated with its *original* ``ts``
  and the reason in ``detail``; only while it is younger than ``stale_after_s``.
* ``bad``: no usable value (``value`` is ``None``): the read failed with nothing recent to fall
  back on, the device sent the "not implemented" sentinel or NaN, or decoding failed.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from connectors.errors import ConnectorError, DecodeError, DeviceUnavailable, WriteRejected
from connectors.planning import ReadBlock, decode_blocks, plan_reads
from connectors.registers import RegisterMap, Table, Value, encode

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

ILLEGAL_ADDRESS = 2
CONFIGURATION_CODES = frozenset({1, 2, 3})
"""Modbus exception codes that mean a wrong map or value: no retry, alert (MODBUS.md section 4)."""

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


def utc_now() -> datetime:
    """Return the current time in UTC (the default clock)."""
    return datetime.now(UTC)


class Quality(StrEnum):
    """How far a Reading can be trusted."""

    GOOD = "good"
    STALE = "stale"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class Reading:
    """One value read from a device point, in the point's engineering unit."""

    ts: datetime
    device: str
    point: str
    quantity: str | None
    value: Value | None
    unit: str
    quality: Quality
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        """Return the reading as a JSON-ready mapping (ISO 8601 UTC timestamp)."""
        return {
            "ts": self.ts.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "device": self.device,
            "point": self.point,
            "quantity": self.quantity,
            "value": self.value,
            "unit": self.unit,
            "quality": self.quality.value,
            "detail": self.detail,
        }


@runtime_checkable
class Device(Protocol):
    """A device that can read its points and write its writable points."""

    @property
    def name(self) -> str:
        """The device instance name from the site."""
        ...

    @property
    def register_map(self) -> RegisterMap:
        """The map of the device's model."""
        ...

    def read_points(self, names: Sequence[str] | None = None) -> list[Reading]:
        """Read the named points (all when ``None``); never raises for device faults."""
        ...

    def write_point(self, name: str, value: Value) -> None:
        """Write one read_write point, unverified; raises a :class:`ConnectorError`."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def exception_text(code: int) -> str:
    """Describe a Modbus exception code, classed as configuration or transient."""
    kind = "configuration error" if code in CONFIGURATION_CODES else "transient"
    return f"exception {code:02d} ({EXCEPTION_NAMES.get(code, 'unknown')}, {kind})"


@dataclass
class RegisterDevice(ABC):
    """Reading and writing through a register map; subclasses move registers.

    Parameters
    ----------
    name
        Device instance name.
    rmap
        The device model's register map.
    quantities
        Point name -> bound site quantity (copied into each Reading).
    stale_after_s
        How long the last good value may stand in for a failed read.
    clock
        Source of UTC timestamps.
    """

    name: str
    rmap: RegisterMap
    quantities: Mapping[str, str] = field(default_factory=dict)
    stale_after_s: float = 60.0
    clock: Clock = utc_now
    _last_good: dict[str, Reading] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def register_map(self) -> RegisterMap:
        """The map of the device's model."""
        return self.rmap

    @abstractmethod
    def _read_block(self, block: ReadBlock) -> Sequence[int] | Sequence[bool]:
        """Read one block; raise DeviceUnavailable, or ConnectorError with a code."""

    @abstractmethod
    def _write_registers(self, table: Table, address: int, words: list[int]) -> None:
        """Write registers (holding) or one coil (``words == [0|1]``)."""

    def _link_ok(self) -> str | None:
        """Return why the device is not being asked right now (a back-off), or ``None``."""
        return None

    def _link_result(self, *, failed: bool) -> None:
        """Record whether this call reached the device (for back-off); no-op by default."""
        del failed

    def close(self) -> None:
        """Release the connection; nothing to release by default."""
        return None

    # --- reading -------------------------------------------------------------------------------

    def read_points(self, names: Sequence[str] | None = None) -> list[Reading]:
        """Read the named points (all when ``None``) in as few requests as the map allows."""
        wanted = list(self.rmap.points) if names is None else list(names)
        for n in wanted:
            self.rmap.point(n)  # KeyError naming the known points
        now = self.clock()
        values: dict[str, Reading] = {}
        parts: list[tuple[ReadBlock, Sequence[int] | Sequence[bool]]] = []
        with self._lock:
            skip = self._link_ok()
            link_error: DeviceUnavailable | None = None
            for block in plan_reads(self.rmap, wanted):
                if skip is not None or link_error is not None:
                    self._fail(values, block.points, skip or str(link_error), now)
                    continue
                link_error = self._fetch(parts, values, block, now)
            if skip is None:
                self._link_result(failed=link_error is not None)
        for n, v in decode_blocks(self.rmap, parts).items():
            if isinstance(v, DecodeError):
                detail = f"{self.name}.{v}"
                logger.error("%s", detail)
                values[n] = self._reading(n, None, Quality.BAD, now, detail)
            elif v is None:
                values[n] = self._reading(n, None, Quality.BAD, now, "not implemented (sentinel)")
            else:
                values[n] = self._last_good[n] = self._reading(n, v, Quality.GOOD, now)
        return [values[n] for n in wanted]

    def _fetch(
        self,
        parts: list[tuple[ReadBlock, Sequence[int] | Sequence[bool]]],
        values: dict[str, Reading],
        block: ReadBlock,
        now: datetime,
    ) -> DeviceUnavailable | None:
        """Read one block into ``parts`` (failures into ``values``); return a link failure."""
        try:
            parts.append((block, self._read_block(block)))
        except DeviceUnavailable as exc:
            logger.warning("%s", exc)
            self._fail(values, block.points, str(exc), now)
            return exc if exc.code is None else None
        except ConnectorError as exc:
            if exc.code != ILLEGAL_ADDRESS or len(block.points) == 1:
                logger.error("%s: %s", self.name, exc)
                self._fail(values, block.points, str(exc), now)
                return None
            # Find the point the device does not have instead of losing the whole block.
            logger.warning("%s: %s; reading its points one by one", self.name, exc)
            for n in block.points:
                p = self.rmap.points[n]
                single = ReadBlock(block.table, p.address, p.count, (n,))
                err = self._fetch(parts, values, single, now)
                if err is not None:
                    return err
        return None

    def _reading(
        self, n: str, value: Value | None, q: Quality, ts: datetime, detail: str = ""
    ) -> Reading:
        p = self.rmap.points[n]
        return Reading(ts, self.name, n, self.quantities.get(n), value, p.unit, q, detail)

    def _fail(
        self, values: dict[str, Reading], names: Sequence[str], why: str, now: datetime
    ) -> None:
        for n in names:
            last = self._last_good.get(n)
            if last is not None and (now - last.ts).total_seconds() <= self.stale_after_s:
                values[n] = self._reading(n, last.value, Quality.STALE, last.ts, why)
            else:
                values[n] = self._reading(n, None, Quality.BAD, now, why)

    # --- writing -------------------------------------------------------------------------------

    def write_point(self, name: str, value: Value) -> None:
        """Encode and write one read_write point, without checks beyond the map's own.

        Use :class:`connectors.writer.SafeWriter` for limits, snapping and read-back.
        """
        p = self.rmap.point(name)
        if not p.writable:
            msg = f"{self.name}.{name} is not writable (access: {p.access})"
            raise WriteRejected(msg)
        sf_raw: int | None = None
        if p.scale_factor is not None:
            (sf,) = self.read_points([p.scale_factor])
            if sf.quality is not Quality.GOOD or not isinstance(sf.value, int):
                msg = f"{self.name}.{name}: scale factor {p.scale_factor} unreadable: {sf.detail}"
                raise WriteRejected(msg)
            sf_raw = sf.value
        words = encode(self.rmap, name, value, sf_raw)
        with self._lock:
            try:
                self._write_registers(p.table, p.address, words)
            except (DeviceUnavailable, WriteRejected):
                raise
            except ConnectorError as exc:
                msg = f"{self.name}.{name}: write of {value!r} refused by the device: {exc}"
                raise WriteRejected(msg, code=exc.code) from None


@dataclass
class FakeDevice(RegisterDevice):
    """An in-memory device for unit tests: registers in dicts, faults on request.

    ``fail_with`` makes every request raise that error; ``exception_at`` maps (table, address)
    to a Modbus exception code returned for requests touching that address.
    """

    registers: dict[Table, dict[int, int]] = field(default_factory=lambda: {t: {} for t in Table})
    fail_with: ConnectorError | None = None
    exception_at: dict[tuple[Table, int], int] = field(default_factory=dict)
    requests: list[tuple[str, Table, int, int]] = field(default_factory=list)

    def set_value(self, name: str, value: Value, sf_raw: int | None = None) -> None:
        """Put an engineering value into the registers, as the device would hold it."""
        p = self.rmap.point(name)
        for i, w in enumerate(encode(self.rmap, name, value, sf_raw)):
            self.registers[p.table][p.address + i] = w

    def set_words(self, table: Table, address: int, words: Sequence[int]) -> None:
        """Put raw registers at ``address``."""
        for i, w in enumerate(words):
            self.registers[table][address + i] = w

    def _check(self, table: Table, address: int, count: int) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        for a in range(address, address + count):
            code = self.exception_at.get((table, a))
            if code is not None:
                msg = f"{self.name}: {table} {address}+{count}: {exception_text(code)}"
                if code in CONFIGURATION_CODES:
                    raise ConnectorError(msg, code=code)
                raise DeviceUnavailable(msg, code=code)

    def _read_block(self, block: ReadBlock) -> Sequence[int] | Sequence[bool]:
        self.requests.append(("read", block.table, block.address, block.count))
        self._check(block.table, block.address, block.count)
        regs = self.registers[block.table]
        data = [regs.get(a, 0) for a in range(block.address, block.address + block.count)]
        return [bool(w) for w in data] if block.table.is_bits else data

    def _write_registers(self, table: Table, address: int, words: list[int]) -> None:
        self.requests.append(("write", table, address, len(words)))
        self._check(table, address, len(words))
        self.set_words(table, address, words)
