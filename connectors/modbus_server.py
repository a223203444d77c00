"""Serving the simulated plant's devices over Modbus TCP: the only server-side Modbus code.

A small asyncio Modbus TCP server from the standard library (MBAP framing, function codes 01,
02, 03, 04, 05, 06, 15 and 16), run on its own thread. It does not use pymodbus's server
datastores, which 3.16 deprecated and no longer lets us update at run time (MODBUS.md section
1.6), and it gives the injected faults full control of the wire: silence, late answers,
exception responses and dropped connections (:class:`~connectors.sim_devices.Faults`).
Interoperability is checked against two independent clients, pymodbus (the connectors) and
pyModBusTCP.

Requests for a unit id that is not served get exception 11 (gateway target failed to respond);
unknown function codes exception 01; a bad quantity exception 03.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from connectors.registers import Table

if TYPE_CHECKING:
    from connectors.simulator import PlantSimulator

logger = logging.getLogger(__name__)

READS = {1: Table.COIL, 2: Table.DISCRETE, 3: Table.HOLDING, 4: Table.INPUT}
MAX_READ = {1: 2000, 2: 2000, 3: 125, 4: 125}
ILLEGAL_FUNCTION, ILLEGAL_ADDRESS, ILLEGAL_VALUE, GATEWAY_NO_RESPONSE = 1, 2, 3, 11


def _pack_bits(bits: list[int]) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, b in enumerate(bits):
        if b:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _unpack_bits(data: bytes, count: int) -> list[int]:
    return [(data[i // 8] >> (i % 8)) & 1 for i in range(count)]


@dataclass
class ModbusSimServer:
    """Serve a :class:`~connectors.simulator.PlantSimulator`'s devices on 127.0.0.1 (or ``host``).

    Parameters
    ----------
    sim
        The simulator whose devices answer.
    units
        Port -> unit id -> device name. Port 0 binds a free port (see :attr:`ports`).
    host
        Address to bind (loopback unless you mean to expose the simulator).
    clock_unit
        Unit id (on every port) of the simulation clock: holding registers 0..3 hold the
        simulated time as uint64 UTC epoch seconds; writing a later time advances the plant to
        it (with ``--speed max`` a driving client sets the pace). ``None``: no clock unit.
    """

    sim: PlantSimulator
    units: Mapping[int, Mapping[int, str]]
    host: str = "127.0.0.1"
    clock_unit: int | None = None
    ports: dict[int, int] = field(default_factory=dict, init=False)
    """Requested port -> bound port, once started."""
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False, repr=False)
    _stop: asyncio.Event | None = field(default=None, init=False, repr=False)
    _ready: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _error: BaseException | None = field(default=None, init=False, repr=False)

    def start(self, timeout_s: float = 5.0) -> ModbusSimServer:
        """Bind every port and start serving on a background thread."""
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="modbus-sim-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            msg = "the Modbus simulator server did not start"
            raise RuntimeError(msg)
        if self._error is not None:
            self._thread.join(timeout_s)
            self._thread = None
            raise self._error
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close every connection and listener and join the thread."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended already
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(timeout_s)
        self._thread = None

    def __enter__(self) -> ModbusSimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- event loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start() instead of dying silently
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        conns: set[asyncio.Task[None]] = set()
        servers: list[asyncio.Server] = []

        def handler(port: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                task = asyncio.current_task()
                if task is not None:
                    conns.add(task)
                try:
                    await self._serve_connection(port, reader, writer)
                except asyncio.CancelledError:
                    # Shutdown: end quietly (Python 3.11's stream callback logs a handler task
                    # that ends cancelled as an error).
                    pass
                finally:
                    writer.close()
                    with contextlib.suppress(OSError, asyncio.CancelledError):
                        await writer.wait_closed()
                    if task is not None:
                        conns.discard(task)

            return handle

        try:
            for port in self.units:
                srv = await asyncio.start_server(handler(port), self.host, port)
                servers.append(srv)
                self.ports[port] = int(srv.sockets[0].getsockname()[1])
        except OSError as exc:
            for srv in servers:
                srv.close()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        for srv in servers:
            srv.close()
        for task in list(conns):
            task.cancel()
        await asyncio.gather(*conns, return_exceptions=True)
        for srv in servers:
            await srv.wait_closed()

    async def _serve_connection(
        self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        units = self.units[port]
        while True:
            try:
                header = await reader.readexactly(7)
                tid, proto, length, unit = struct.unpack(">HHHB", header)
                if proto != 0 or not 2 <= length <= 254:
                    return  # not Modbus: drop the connection
                pdu = await reader.readexactly(length - 1)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            name = units.get(unit)
            if unit == self.clock_unit and name is None:
                answer = await self._clock(pdu)
            elif name is None:
                answer = bytes([pdu[0] | 0x80, GATEWAY_NO_RESPONSE])
            else:
                faults = self.sim.devices[name].faults
                if faults.drop:
                    return
                if faults.silent:
                    continue  # read the request, never answer
                if faults.delay_s > 0:
                    await asyncio.sleep(faults.delay_s)
                answer = self._answer(name, pdu)
            writer.write(struct.pack(">HHHB", tid, 0, len(answer) + 1, unit) + answer)
            try:
                await writer.drain()
            except ConnectionError:
                return

    # --- protocol ---------------------------------------------------------------------------------

    async def _clock(self, pdu: bytes) -> bytes:
        """The simulation clock unit: read or advance the simulated time."""
        fc = pdu[0]
        if fc not in (3, 16):
            return bytes([fc | 0x80, ILLEGAL_FUNCTION])
        address, count = struct.unpack(">HH", pdu[1:5]) if len(pdu) >= 5 else (1, 0)
        if address != 0 or count != 4:
            return bytes([fc | 0x80, ILLEGAL_ADDRESS])
        if fc == 3:
            now = int(self.sim.now.timestamp())
            return bytes([3, 8]) + struct.pack(">Q", now)
        if len(pdu) != 14 or pdu[5] != 8:
            return bytes([fc | 0x80, ILLEGAL_VALUE])
        (epoch_s,) = struct.unpack(">Q", pdu[6:14])
        target = pd.Timestamp(epoch_s, unit="s", tz="UTC")
        if target < self.sim.now.floor("s") or epoch_s > 2**40:
            return bytes([fc | 0x80, ILLEGAL_VALUE])
        await asyncio.get_running_loop().run_in_executor(None, self.sim.advance_to, target)
        return pdu[:5]

    def _answer(self, name: str, pdu: bytes) -> bytes:
        fc = pdu[0]

        def error(code: int) -> bytes:
            return bytes([fc | 0x80, code])

        if len(pdu) < 5:
            return error(ILLEGAL_VALUE)
        address, count = struct.unpack(">HH", pdu[1:5])
        if fc in READS:
            if not 1 <= count <= MAX_READ[fc]:
                return error(ILLEGAL_VALUE)
            table = READS[fc]
            got = self.sim.read_words(name, table, address, count)
            if isinstance(got, int):
                return error(got)
            data = _pack_bits(got) if table.is_bits else struct.pack(f">{count}H", *got)
            return bytes([fc, len(data)]) + data
        if fc == 5:
            if count not in (0x0000, 0xFF00):
                return error(ILLEGAL_VALUE)
            code = self.sim.write_words(name, Table.COIL, address, [int(count == 0xFF00)])
            return pdu[:5] if code is None else error(code)
        if fc == 6:
            code = self.sim.write_words(name, Table.HOLDING, address, [count])
            return pdu[:5] if code is None else error(code)
        if fc in (15, 16):
            if len(pdu) < 6 or not 1 <= count <= (1968 if fc == 15 else 123):
                return error(ILLEGAL_VALUE)
            payload = pdu[6 : 6 + pdu[5]]
            if fc == 15:
                if len(payload) != (count + 7) // 8:
                    return error(ILLEGAL_VALUE)
                code = self.sim.write_words(name, Table.COIL, address, _unpack_bits(payload, count))
            else:
                if len(payload) != 2 * count:
                    return error(ILLEGAL_VALUE)
                words = list(struct.unpack(f">{count}H", payload))
                code = self.sim.write_words(name, Table.HOLDING, address, words)
            return pdu[:5] if code is None else error(code)
        return error(ILLEGAL_FUNCTION)
