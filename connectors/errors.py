"""Errors raised by the connectors.

::

    ConnectorError
    ├── DeviceUnavailable  timeout, refused, no route, reset, garbage on the wire, or a
    │                      transient Modbus exception (04 device failure, 06 busy, 10/11 gateway)
    ├── DecodeError        registers that cannot be turned into a value; names device.point
    │                      and the raw words
    └── WriteRejected      refused before writing (not writable, NaN, outside the point's or the
                           asset's limits, not representable), a configuration exception from
                           the device (01, 02, 03), or a read-back that differs

Problems in a register map file are input errors and raise
:class:`energiemodell.errors.SiteError`, one ``FILE: points.NAME.field: problem (hint)`` line each.
Reading never raises for a device fault: the :class:`~connectors.device.Reading` carries quality
``bad`` and the reason in ``detail``.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class of every error raised by :mod:`connectors`.

    Parameters
    ----------
    message
        What went wrong, naming the device and point where known.
    code
        The Modbus exception code if the device answered with one, else ``None``.
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class DeviceUnavailable(ConnectorError):
    """The device did not answer usefully: timeout, refused, reset, garbage or busy."""


class DecodeError(ConnectorError):
    """Register contents that cannot be decoded; the message names the point and raw words."""


class WriteRejected(ConnectorError):
    """A write that was refused, or whose read-back differs from what was written."""
