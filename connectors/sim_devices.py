"""The simulated plant's devices: register banks, injected faults, and the in-memory transport.

A :class:`PlantDevice` holds the registers one device of the site answers with (one contiguous
span per table, from the map's lowest to its highest address, so block reads across gaps work)
and the :class:`Faults` switched on for it. The Modbus server
(:mod:`connectors.modbus_server`) and :class:`SimulatedDevice` (the :class:`~connectors.device.
Device` protocol without sockets) both go through :meth:`PlantDevice.read` and
:meth:`PlantDevice.write`, so a fault looks the same on either path.

Device-side rules (MODBUS.md section 2.6): a write must cover whole writable points (else
exception 02) and stay inside the point's limits (else exception 03, nothing changes).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, NoReturn

from connectors.device import CONFIGURATION_CODES, RegisterDevice, exception_text
from connectors.errors import ConnectorError, DeviceUnavailable, WriteRejected
from connectors.planning import ReadBlock
from connectors.registers import DataType, RegisterMap, Table, Value, decode, encode

if TYPE_CHECKING:
    from energiemodell.site import DeviceBinding

logger = logging.getLogger(__name__)

ILLEGAL_ADDRESS, ILLEGAL_VALUE = 2, 3


class FaultKind(StrEnum):
    """Faults that can be switched on per device at run time."""

    SILENT = "silent"
    """Stops answering: requests time out."""
    SLOW = "slow"
    """Answers after ``delay_s``."""
    EXCEPTION = "exception"
    """Answers every request with a Modbus exception ``code``."""
    DROP = "drop"
    """Closes the TCP connection when asked."""
    STALE = "stale"
    """Answers, but its measured values are frozen."""
    IGNORE_WRITES = "ignore_writes"
    """Acknowledges writes without applying them."""


@dataclass
class Faults:
    """The faults active on one device (all off by default)."""

    silent: bool = False
    delay_s: float = 0.0
    exception_code: int | None = None
    drop: bool = False
    frozen: bool = False
    ignore_writes: bool = False

    def set(self, kind: FaultKind, *, code: int = 4, delay_s: float = 2.0) -> None:
        """Switch one fault on."""
        if kind is FaultKind.SILENT:
            self.silent = True
        elif kind is FaultKind.SLOW:
            self.delay_s = delay_s
        elif kind is FaultKind.EXCEPTION:
            self.exception_code = code
        elif kind is FaultKind.DROP:
            self.drop = True
        elif kind is FaultKind.STALE:
            self.frozen = True
        else:
            self.ignore_writes = True

    def clear(self) -> None:
        """Switch every fault off."""
        self.silent = self.drop = self.frozen = self.ignore_writes = False
        self.delay_s = 0.0
        self.exception_code = None


WriteHook = Callable[["PlantDevice", str, Value], None]


@dataclass
class PlantDevice:
    """The registers of one simulated device and the faults injected into it."""

    binding: DeviceBinding
    rmap: RegisterMap
    on_write: WriteHook
    faults: Faults = field(default_factory=Faults)
    words: dict[Table, dict[int, int]] = field(default_factory=lambda: {t: {} for t in Table})
    ranges: dict[Table, tuple[int, int]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    on_read: Callable[[], None] | None = None
    requests: int = 0

    def __post_init__(self) -> None:
        for t in Table:
            pts = [p for p in self.rmap.points.values() if p.table is t]
            if pts:
                lo = min(p.address for p in pts)
                self.ranges[t] = (lo, max(p.address + p.count for p in pts) - lo)
        for n, p in self.rmap.points.items():
            if p.writable:
                self.set_value(n, self._initial(n))

    @property
    def name(self) -> str:
        """The device instance name."""
        return self.binding.name

    def _initial(self, name: str) -> Value:
        p = self.rmap.points[name]
        if p.dtype is DataType.BOOL:
            return name in ("release", "start_request")  # permissives default to "allowed"
        if p.safe_value is not None:
            return p.safe_value
        lo = p.limits.min if p.limits is not None else 0.0
        return max(lo, 0.0)

    # --- values ---------------------------------------------------------------------------------

    def _sf_raw(self, name: str) -> int | None:
        """The raw exponent of the point's scale factor (SunSpec ``*_SF``), ``None`` without."""
        sf = self.rmap.points[name].scale_factor
        if sf is None:
            return None
        sp = self.rmap.points[sf]
        raw = self.words[sp.table].get(sp.address, 0)
        return raw - 0x10000 if raw >= 0x8000 else raw

    def set_value(self, name: str, value: Value) -> None:
        """Put an engineering value into the point's registers (unrepresentable: sentinel)."""
        p = self.rmap.points[name]
        try:
            words = encode(self.rmap, name, value, self._sf_raw(name))
        except WriteRejected:
            if p.not_implemented is None:
                logger.debug("%s.%s: %r does not fit; kept the old value", self.name, name, value)
                return
            raw = p.not_implemented.to_bytes(2 * p.count, "big")
            words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
        with self.lock:
            for i, w in enumerate(words):
                self.words[p.table][p.address + i] = w

    def value(self, name: str) -> Value | None:
        """Decode a point from the registers."""
        p = self.rmap.points[name]
        with self.lock:
            words = [self.words[p.table].get(p.address + i, 0) for i in range(p.count)]
            sf_raw = self._sf_raw(name)
        return decode(self.rmap, name, words, sf_raw)

    def publish(self, values: dict[str, Value]) -> None:
        """Set measured (read-only) points; a frozen (stale) device keeps its old values."""
        if self.faults.frozen:
            return
        for n, v in values.items():
            if isinstance(v, float) and not math.isfinite(v):
                continue
            self.set_value(n, v)

    # --- requests -------------------------------------------------------------------------------

    def _outside(self, table: Table, address: int, count: int) -> bool:
        lo, n = self.ranges.get(table, (0, 0))
        return count < 1 or address < lo or address + count > lo + n

    def read(self, table: Table, address: int, count: int) -> list[int] | int:
        """Serve a read: the registers (0/1 for bits), or an exception code."""
        with self.lock:
            self.requests += 1
            if self.faults.exception_code is not None:
                return self.faults.exception_code
            if self.on_read is not None:
                self.on_read()
            if self._outside(table, address, count):
                return ILLEGAL_ADDRESS
            regs = self.words[table]
            return [regs.get(a, 0) for a in range(address, address + count)]

    def write(self, table: Table, address: int, words: Sequence[int]) -> int | None:
        """Serve a write of whole writable points; return an exception code or ``None``."""
        with self.lock:
            self.requests += 1
            if self.faults.exception_code is not None:
                return self.faults.exception_code
            points = self._points_written(table, address, len(words))
            if points is None:
                return ILLEGAL_ADDRESS
            decoded: list[tuple[str, Value]] = []
            for n in points:
                p = self.rmap.points[n]
                part = list(words[p.address - address : p.address - address + p.count])
                v = decode(self.rmap, n, part, self._sf_raw(n))
                if v is None or not self._within(n, v):
                    return ILLEGAL_VALUE
                decoded.append((n, v))
            if self.faults.ignore_writes:
                return None
            for n, v in decoded:
                p = self.rmap.points[n]
                for i in range(p.count):
                    self.words[table][p.address + i] = int(words[p.address - address + i])
                self.on_write(self, n, v)
            return None

    def _points_written(self, table: Table, address: int, count: int) -> list[str] | None:
        """The writable points a write covers exactly, or ``None`` if it covers anything else."""
        covered: list[str] = []
        a = address
        by_addr = {
            p.address: n for n, p in self.rmap.points.items() if p.table is table and p.writable
        }
        while a < address + count:
            n = by_addr.get(a)
            if n is None:
                return None
            covered.append(n)
            a += self.rmap.points[n].count
        return covered if a == address + count else None

    def _within(self, name: str, v: Value) -> bool:
        lim = self.rmap.points[name].limits
        if lim is None or isinstance(v, bool):
            return True
        return lim.min - lim.tolerance <= float(v) <= lim.max + lim.tolerance


@dataclass
class SimulatedDevice(RegisterDevice):
    """A :class:`PlantDevice` behind the Device protocol, without sockets.

    Faults surface as the Modbus client surfaces them (MODBUS.md section 4): silence and a
    dropped connection as :class:`DeviceUnavailable` (after ``timeout_s`` for silence), a slow
    answer as a late answer or, beyond ``timeout_s``, a timeout, exception codes as
    configuration (01-03) or transient errors.
    """

    plant_device: PlantDevice | None = None
    timeout_s: float = 1.0
    sleep: Callable[[float], None] = time.sleep

    def _dev(self) -> PlantDevice:
        if self.plant_device is None:
            msg = f"{self.name}: no simulated device attached"
            raise DeviceUnavailable(msg)
        return self.plant_device

    def _transport(self, what: str) -> None:
        f = self._dev().faults
        if f.drop:
            msg = f"{self.name} {what}: connection closed by the device"
            raise DeviceUnavailable(msg)
        if f.silent or f.delay_s > self.timeout_s:
            self.sleep(self.timeout_s)
            msg = f"{self.name} {what}: no answer within {self.timeout_s:g} s"
            raise DeviceUnavailable(msg)
        if f.delay_s > 0:
            self.sleep(f.delay_s)

    def _raise(self, what: str, code: int) -> NoReturn:
        msg = f"{self.name} {what}: {exception_text(code)}"
        if code in CONFIGURATION_CODES:
            raise ConnectorError(msg, code=code)
        raise DeviceUnavailable(msg, code=code)

    def _read_block(self, block: ReadBlock) -> Sequence[int] | Sequence[bool]:
        what = f"read {block.table} {block.address}+{block.count}"
        self._transport(what)
        got = self._dev().read(block.table, block.address, block.count)
        if isinstance(got, int):
            self._raise(what, got)
        return [bool(w) for w in got] if block.table.is_bits else got

    def _write_registers(self, table: Table, address: int, words: list[int]) -> None:
        what = f"write {table} {address} {words}"
        self._transport(what)
        code = self._dev().write(table, address, words)
        if code is not None:
            self._raise(what, code)
