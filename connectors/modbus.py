"""Modbus TCP client devices: the only client-side pymodbus import.

Behaviour as pymodbus 3.16.1 really surfaces faults (MODBUS.md sections 1.4, 1.5 and 4):

* Exception responses are *returned* (``rr.isError()``); codes 01/02/03 are configuration errors
  (no retry, logged as errors), others (04 device failure, 06 busy, 10/11 gateway) are transient.
* Timeouts, garbage, truncated frames and wrong ids all raise ``ModbusIOException``; connection
  loss raises ``ConnectionException``; a TCP reset can escape as a plain ``OSError``. All of them
  become :class:`~connectors.errors.DeviceUnavailable`, the socket is closed, and the request is
  retried ``retries`` times with a doubling pause. The pymodbus client itself never retries.
* A device whose link keeps failing is backed off: after two failed calls in a row it is not
  asked again for ``backoff_base_s`` seconds, doubling up to ``backoff_max_s``, so a dead device
  costs one timeout now and then instead of stalling every poll.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from connectors.device import CONFIGURATION_CODES, RegisterDevice, exception_text
from connectors.errors import ConnectorError, DeviceUnavailable
from connectors.map_files import load_map
from connectors.planning import ReadBlock
from connectors.registers import RegisterMap, Table

if TYPE_CHECKING:
    from energiemodell.site import DeviceBinding

logger = logging.getLogger(__name__)


@dataclass
class ModbusDevice(RegisterDevice):
    """A device reached over Modbus TCP with pymodbus's synchronous client.

    Parameters
    ----------
    host, port, unit_id
        Where the device is.
    timeout_s
        Per-request timeout.
    retries
        Extra attempts after a failed request (timeouts, resets), with a doubling pause.
    backoff_base_s, backoff_max_s
        Back-off of a device whose link keeps failing.
    """

    host: str = "127.0.0.1"
    port: int = 502
    unit_id: int = 1
    timeout_s: float = 1.0
    retries: int = 1
    retry_pause_s: float = 0.05
    backoff_base_s: float = 5.0
    backoff_max_s: float = 300.0
    _client: ModbusTcpClient | None = field(default=None, init=False, repr=False)
    _failures: int = field(default=0, init=False)
    _blocked_until: float = field(default=0.0, init=False)

    @property
    def where(self) -> str:
        """``host:port/unit`` for messages."""
        return f"{self.host}:{self.port}/{self.unit_id}"

    # --- connection and back-off ---------------------------------------------------------------

    def _connected_client(self) -> ModbusTcpClient:
        if self._client is None:
            self._client = ModbusTcpClient(
                self.host, port=self.port, timeout=self.timeout_s, retries=0
            )
        # pymodbus's sync connect() and close() carry no annotations.
        if not self._client.connected and not self._client.connect():  # type: ignore[no-untyped-call]
            msg = f"{self.name} ({self.where}): connection refused or unreachable"
            raise DeviceUnavailable(msg)
        return self._client

    def close(self) -> None:
        """Close the TCP connection (the next request reconnects)."""
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]
            self._client = None

    def _link_ok(self) -> str | None:
        wait = self._blocked_until - time.monotonic()
        if wait > 0:
            return (
                f"{self.name}: backed off after {self._failures} failures, next try in {wait:.0f} s"
            )
        return None

    def _link_result(self, *, failed: bool) -> None:
        if not failed:
            if self._failures:
                logger.info("%s: answering again after %d failures", self.name, self._failures)
            self._failures = 0
            self._blocked_until = 0.0
            return
        self._failures += 1
        if self._failures >= 2:
            pause = min(self.backoff_base_s * 2 ** (self._failures - 2), self.backoff_max_s)
            self._blocked_until = time.monotonic() + pause
            logger.warning(
                "%s: %d failures in a row, backing off %.0f s", self.name, self._failures, pause
            )

    # --- requests ------------------------------------------------------------------------------

    def _request(
        self, what: str, call: str, address: int, **kwargs: int | bool | list[int]
    ) -> ModbusPDU:
        """Send one request with retries; map every failure onto the ConnectorError tree."""
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.retry_pause_s * 2 ** (attempt - 1))
            try:
                client = self._connected_client()
                rr: ModbusPDU = getattr(client, call)(address, device_id=self.unit_id, **kwargs)
            except DeviceUnavailable as exc:
                last = exc
                continue
            except (ModbusException, OSError) as exc:
                # Timeouts, garbage, truncated frames, resets: start the next try on a new socket.
                last = exc
                self.close()
                continue
            if rr.isError():
                code = int(getattr(rr, "exception_code", 0))
                msg = f"{self.name} ({self.where}) {what}: {exception_text(code)}"
                if code in CONFIGURATION_CODES:
                    raise ConnectorError(msg, code=code)
                raise DeviceUnavailable(msg, code=code)
            return rr
        tries = self.retries + 1
        msg = f"{self.name} ({self.where}) {what}: no valid answer after {tries} tries: {last}"
        raise DeviceUnavailable(msg)

    def _read_block(self, block: ReadBlock) -> Sequence[int] | Sequence[bool]:
        what = f"read {block.table} {block.address}+{block.count} ({', '.join(block.points)})"
        call = {
            Table.HOLDING: "read_holding_registers",
            Table.INPUT: "read_input_registers",
            Table.COIL: "read_coils",
            Table.DISCRETE: "read_discrete_inputs",
        }[block.table]
        rr = self._request(what, call, block.address, count=block.count)
        data: Sequence[int] | Sequence[bool] = rr.bits if block.table.is_bits else rr.registers
        if len(data) < block.count:
            msg = f"{self.name} {what}: got {len(data)} values, expected {block.count}"
            raise DeviceUnavailable(msg)
        return data[: block.count]

    def _write_registers(self, table: Table, address: int, words: list[int]) -> None:
        what = f"write {table} {address} {words}"
        if table is Table.COIL:
            self._request(what, "write_coil", address, value=bool(words[0]))
        elif len(words) == 1:
            self._request(what, "write_register", address, value=words[0])
        else:
            self._request(what, "write_registers", address, values=words)


def device_from_binding(binding: DeviceBinding, *, rmap: RegisterMap | None = None) -> ModbusDevice:
    """Build a :class:`ModbusDevice` from a site's ``DeviceBinding``."""
    return ModbusDevice(
        name=binding.name,
        rmap=rmap or load_map(binding.map),
        quantities={p: b.quantity for p, b in binding.points.items()},
        stale_after_s=3 * binding.poll_s,
        host=binding.host,
        port=binding.port,
        unit_id=binding.unit_id,
        timeout_s=binding.timeout_s,
        retries=binding.retries,
        backoff_base_s=binding.poll_s,
    )


def devices_from_bindings(bindings: Sequence[DeviceBinding]) -> Mapping[str, ModbusDevice]:
    """Build every device of a site, by name."""
    return {b.name: device_from_binding(b) for b in bindings}
