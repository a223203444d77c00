"""Modbus TCP servers on 127.0.0.1 for the integration tests.

Two independent implementations serve the same register :class:`Bank`: pymodbus's
``ModbusTcpServer`` (with a ``SimDevice`` action, the 3.16 way to have live values) and
pyModbusTCP's ``ModbusServer`` (a different code base, so a misunderstanding we share with
pymodbus cannot pass). :class:`FaultServer` is a standard-library server that misbehaves on
purpose. The production simulator server will live in ``connectors/modbus_server.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pyModbusTCP.server import DataBank, DataHandler, ModbusServer

from connectors.registers import RegisterMap, Table, Value, encode

TABLES = (Table.COIL, Table.DISCRETE, Table.HOLDING, Table.INPUT)


class Bank:
    """The registers of one simulated device; thread-safe; hooks for device behaviour."""

    def __init__(self, ranges: dict[Table, tuple[int, int]]) -> None:
        self.ranges = ranges  # table -> (first address, count) that the device answers
        self.words: dict[Table, dict[int, int]] = {t: {} for t in Table}
        self.exception_at: dict[tuple[Table, int], int] = {}
        self.before_read: list[Callable[[Bank], None]] = []
        self.after_write: list[Callable[[Bank, Table, int, list[int]], None]] = []
        self.writes: list[tuple[Table, int, list[int]]] = []
        self.lock = threading.RLock()

    @classmethod
    def for_map(cls, rmap: RegisterMap, *, spare: int = 0) -> Bank:
        """Answer one contiguous range per table from the map's lowest to highest address."""
        ranges: dict[Table, tuple[int, int]] = {}
        for t in Table:
            pts = [p for p in rmap.points.values() if p.table is t]
            if pts:
                lo = min(p.address for p in pts)
                hi = max(p.address + p.count for p in pts) + spare
                ranges[t] = (lo, hi - lo)
        return cls(ranges)

    def set(self, rmap: RegisterMap, name: str, value: Value, sf_raw: int | None = None) -> None:
        p = rmap.points[name]
        self.set_words(p.table, p.address, encode(rmap, name, value, sf_raw))

    def set_words(self, table: Table, address: int, words: Sequence[int]) -> None:
        with self.lock:
            for i, w in enumerate(words):
                self.words[table][address + i] = int(w)

    def get_words(self, table: Table, address: int, count: int) -> list[int]:
        with self.lock:
            return [self.words[table].get(a, 0) for a in range(address, address + count)]

    def answers(self, table: Table, address: int, count: int) -> int | None:
        """Return the exception code for a request, or None if it is served."""
        lo, n = self.ranges.get(table, (0, 0))
        if address < lo or address + count > lo + n:
            return 2
        for a in range(address, address + count):
            code = self.exception_at.get((table, a))
            if code is not None:
                return code
        return None

    def read(self, table: Table, address: int, count: int) -> list[int] | int:
        with self.lock:
            for hook in self.before_read:
                hook(self)
            code = self.answers(table, address, count)
            return code if code is not None else self.get_words(table, address, count)

    def write(self, table: Table, address: int, words: list[int]) -> int | None:
        with self.lock:
            code = self.answers(table, address, len(words))
            if code is not None:
                return code
            self.set_words(table, address, words)
            self.writes.append((table, address, list(words)))
            for hook in self.after_write:
                hook(self, table, address, words)
            return None


class BmsBehaviour:
    """A gateway that drops to local control when the heartbeat stops changing.

    ``remote_enable`` = 1 with a live heartbeat -> ``local_state`` = 1 (remote); a heartbeat that
    has not changed for ``watchdog_s`` -> ``local_state`` = 0, ``remote_enable`` cleared.
    """

    def __init__(self, rmap: RegisterMap, bank: Bank, watchdog_s: float) -> None:
        self.rmap, self.bank, self.watchdog_s = rmap, bank, watchdog_s
        self.hb = rmap.points[next(n for n, p in rmap.points.items() if p.role == "heartbeat")]
        self.en = rmap.points[next(n for n, p in rmap.points.items() if p.role == "remote_enable")]
        self.ls = rmap.points[next(n for n, p in rmap.points.items() if p.role == "local_state")]
        self.last_change = 0.0
        bank.after_write.append(self._written)
        bank.before_read.append(self._update)

    def _written(self, bank: Bank, table: Table, address: int, words: list[int]) -> None:
        if table is self.hb.table and address == self.hb.address:
            self.last_change = time.monotonic()
        self._update(bank)

    def _update(self, bank: Bank) -> None:
        alive = time.monotonic() - self.last_change < self.watchdog_s
        enabled = bank.get_words(self.en.table, self.en.address, 1)[0] == 1
        if not alive and enabled:
            bank.set_words(self.en.table, self.en.address, [0])
        bank.set_words(self.ls.table, self.ls.address, [1 if alive and enabled else 0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PymodbusServer:
    """pymodbus ``ModbusTcpServer`` in a background thread serving a Bank."""

    def __init__(self, bank: Bank, *, unit_id: int = 1, port: int = 0) -> None:
        self.bank, self.unit_id = bank, unit_id
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: ModbusTcpServer | None = None

    def _device(self) -> SimDevice:
        blocks: list[list[SimData]] = []
        for t in TABLES:
            lo, n = self.bank.ranges.get(t, (60000, 1))
            kind = DataType.BITS if t.is_bits else DataType.REGISTERS
            blocks.append([SimData(lo, count=n, datatype=kind)])
        return SimDevice(id=self.unit_id, simdata=tuple(blocks), action=self._action)  # type: ignore[arg-type]

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[Any],
        set_values: list[Any] | None,
    ) -> Any:
        table = {
            1: Table.COIL,
            2: Table.DISCRETE,
            3: Table.HOLDING,
            4: Table.INPUT,
            5: Table.COIL,
            15: Table.COIL,
            6: Table.HOLDING,
            16: Table.HOLDING,
        }[function_code]
        if set_values is not None:
            code = self.bank.write(table, address, [int(v) for v in set_values])
            return None if code is None else ExcCodes(code)
        got = self.bank.read(table, address, count)
        if isinstance(got, int):
            return ExcCodes(got)
        for i, w in enumerate(got):
            current_registers[address - start_address + i] = bool(w) if table.is_bits else w
        return None

    def start(self) -> PymodbusServer:
        loop = asyncio.new_event_loop()

        async def _listen() -> ModbusTcpServer:
            srv = ModbusTcpServer(self._device(), address=("127.0.0.1", self.port))
            await srv.listen()
            return srv

        server = loop.run_until_complete(_listen())
        self._loop, self._server = loop, server
        self._thread = threading.Thread(target=loop.run_forever, name="pymodbus-test-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        loop, server, thread = self._loop, self._server, self._thread
        if loop is None or server is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(5)

        async def _drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(_drain(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        leftover = [t for t in asyncio.all_tasks(loop) if not t.done()]
        loop.close()
        assert not leftover, f"pymodbus server left tasks behind: {leftover}"
        self._loop = self._server = self._thread = None

    def __enter__(self) -> PymodbusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _BankHandler(DataHandler):  # type: ignore[misc]
    def __init__(self, bank: Bank, unit_id: int) -> None:
        super().__init__(DataBank(coils_size=1, d_inputs_size=1, h_regs_size=1, i_regs_size=1))
        self.bank, self.unit_id = bank, unit_id

    def _ret(self, got: list[int] | int | None, bits: bool = False) -> Any:
        if isinstance(got, int):
            return DataHandler.Return(exp_code=got)
        if got is None:
            return DataHandler.Return(exp_code=0)
        return DataHandler.Return(exp_code=0, data=[bool(w) for w in got] if bits else got)

    def read_coils(self, address: int, count: int, srv_info: Any) -> Any:
        return self._ret(self.bank.read(Table.COIL, address, count), bits=True)

    def read_d_inputs(self, address: int, count: int, srv_info: Any) -> Any:
        return self._ret(self.bank.read(Table.DISCRETE, address, count), bits=True)

    def read_h_regs(self, address: int, count: int, srv_info: Any) -> Any:
        return self._ret(self.bank.read(Table.HOLDING, address, count))

    def read_i_regs(self, address: int, count: int, srv_info: Any) -> Any:
        return self._ret(self.bank.read(Table.INPUT, address, count))

    def write_coils(self, address: int, bits_l: list[bool], srv_info: Any) -> Any:
        return self._ret(self.bank.write(Table.COIL, address, [int(b) for b in bits_l]))

    def write_h_regs(self, address: int, words_l: list[int], srv_info: Any) -> Any:
        return self._ret(self.bank.write(Table.HOLDING, address, list(words_l)))


class PyModbusTcpServer:
    """pyModbusTCP's ``ModbusServer`` (an independent implementation) serving a Bank."""

    def __init__(self, bank: Bank, *, unit_id: int = 1, port: int = 0) -> None:
        self.bank = bank
        self.port = port or free_port()
        self._server = ModbusServer(
            host="127.0.0.1", port=self.port, no_block=True, data_hdl=_BankHandler(bank, unit_id)
        )

    def start(self) -> PyModbusTcpServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        th = self._server._serve_th
        if th is not None:
            th.join(5)

    def __enter__(self) -> PyModbusTcpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FaultServer:
    """A standard-library TCP server that answers every request in one broken way.

    Modes: ``silent`` (never answers), ``garbage`` (12 random-looking bytes), ``truncated`` (half a
    valid response), ``reset`` (TCP RST), ``close`` (FIN), ``exception:N`` (a proper exception
    response with code N), ``slow`` (a valid all-zero answer after 2 s), ``wrong_tid``,
    ``wrong_unit``, ``bad_protocol`` (a valid answer with a wrong MBAP field), ``short_count``
    (byte count larger than the payload), ``split`` (a valid answer sent one byte at a time).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.05)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"fault-server-{mode}")
        self.requests = 0

    def _answer(self, conn: socket.socket, req: bytes) -> None:
        tid, _, _, unit, fc = struct.unpack(">HHHBB", req[:8])
        count = struct.unpack(">H", req[10:12])[0] if len(req) >= 12 else 1
        payload = bytes([fc, 2 * count]) + b"\x00" * (2 * count)
        good = struct.pack(">HHHB", tid, 0, len(payload) + 1, unit) + payload
        if self.mode == "wrong_tid":
            conn.sendall(struct.pack(">H", (tid + 1) & 0xFFFF) + good[2:])
        elif self.mode == "wrong_unit":
            conn.sendall(good[:6] + bytes([(unit + 1) & 0xFF]) + good[7:])
        elif self.mode == "bad_protocol":
            conn.sendall(good[:2] + b"\x00\x01" + good[4:])
        elif self.mode == "short_count":
            conn.sendall(good[:8] + bytes([good[8] + 2]) + good[9:])
        elif self.mode == "split":
            for i in range(len(good)):
                conn.sendall(good[i : i + 1])
                time.sleep(0.002)
        elif self.mode == "garbage":
            conn.sendall(b"\x13\x37\xde\xad\xbe\xef\x00\x01\x02\x03\x04\x05")
        elif self.mode == "truncated":
            conn.sendall(good[: len(good) // 2])
        elif self.mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        elif self.mode == "close":
            conn.close()
        elif self.mode.startswith("exception:"):
            code = int(self.mode.split(":")[1])
            conn.sendall(struct.pack(">HHHBBB", tid, 0, 3, unit, fc | 0x80, code))
        elif self.mode == "slow":
            self._stop.wait(2.0)
            with contextlib.suppress(OSError):
                conn.sendall(good)

    def _serve(self) -> None:
        conns: list[socket.socket] = []
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
                conn.settimeout(0.05)
                conns.append(conn)
            except TimeoutError:
                pass
            for conn in list(conns):
                try:
                    req = conn.recv(260)
                except TimeoutError:
                    continue
                except OSError:
                    conns.remove(conn)
                    continue
                if not req:
                    conns.remove(conn)
                    conn.close()
                    continue
                self.requests += 1
                if self.mode != "silent" and len(req) >= 8:
                    self._answer(conn, req)
                if self.mode in ("reset", "close"):
                    conns.remove(conn)
        for conn in conns:
            conn.close()

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@contextlib.contextmanager
def serve(
    kind: str, bank: Bank, *, unit_id: int = 1
) -> Iterator[PymodbusServer | PyModbusTcpServer]:
    """Serve ``bank`` with the named implementation (``pymodbus`` or ``pyModbusTCP``)."""
    server: PymodbusServer | PyModbusTcpServer
    server = (
        PymodbusServer(bank, unit_id=unit_id)
        if kind == "pymodbus"
        else PyModbusTcpServer(bank, unit_id=unit_id)
    )
    with server:
        yield server
