"""Register values: decode registers into engineering values and encode them back. No I/O.

Pure functions over a :class:`RegisterMap` (:func:`decode`, :func:`encode`, ...). The map
models (:class:`RegisterMap`, :class:`Point`, the enums and :data:`REGISTER_COUNT`) live in
:mod:`connectors.register_map` and are re-exported here. Addresses are 0-based, as on the wire.

Notes
-----
Numeric points: ``value = raw * scale * 10**sf + offset`` where ``sf`` is the int16 value of the
point's ``scale_factor`` register (SunSpec ``*_SF``), or 0 without one. A raw register pattern
equal to ``not_implemented`` (compared as the unsigned words in high-word-first order, e.g.
``0x8000`` for int16, ``0x80000000`` for int32) or a float NaN means "no value"
(:func:`decode` returns ``None``). Bytes inside a register are big-endian unless the map says
``byte_order: little``; ``word_order: little`` puts the low word first ("CDAB").
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

from connectors.errors import DecodeError, WriteRejected
from connectors.register_map import (
    BITFIELD_TYPES,
    REGISTER_COUNT,
    Access,
    DataType,
    Limits,
    Order,
    Point,
    RegisterMap,
    Role,
    Table,
)

__all__ = [
    "REGISTER_COUNT",
    "Access",
    "DataType",
    "Limits",
    "Order",
    "Point",
    "RegisterMap",
    "Role",
    "Table",
    "Value",
    "bit_names",
    "bytes_to_words",
    "decode",
    "decode_raw",
    "encode",
    "encode_raw",
    "resolution",
    "words_to_bytes",
]

Value = float | int | bool
"""A decoded engineering value: bool for coils, int for bitfields and unscaled integers."""

_STRUCT: dict[DataType, str] = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.BITFIELD16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.BITFIELD32: ">I",
    DataType.FLOAT32: ">f",
    DataType.INT64: ">q",
    DataType.UINT64: ">Q",
    DataType.FLOAT64: ">d",
}
_FLOATS = frozenset({DataType.FLOAT32, DataType.FLOAT64})


def words_to_bytes(words: Sequence[int], word_order: Order, byte_order: Order) -> bytes:
    """Turn registers as received into big-endian bytes, most significant first."""
    ordered = list(words) if word_order is Order.BIG else list(reversed(words))
    data = b"".join(w.to_bytes(2, "big") for w in ordered)
    if byte_order is Order.LITTLE:
        data = b"".join(data[i + 1 : i + 2] + data[i : i + 1] for i in range(0, len(data), 2))
    return data


def bytes_to_words(data: bytes, word_order: Order, byte_order: Order) -> list[int]:
    """Inverse of :func:`words_to_bytes`: big-endian value bytes to registers on the wire."""
    if byte_order is Order.LITTLE:
        data = b"".join(data[i + 1 : i + 2] + data[i : i + 1] for i in range(0, len(data), 2))
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words if word_order is Order.BIG else list(reversed(words))


def decode_raw(
    dtype: DataType, words: Sequence[int], word_order: Order, byte_order: Order
) -> Value:
    """Decode registers into the raw number of ``dtype`` (no scaling)."""
    if dtype is DataType.BOOL:
        return bool(words[0])
    (raw,) = struct.unpack(_STRUCT[dtype], words_to_bytes(words, word_order, byte_order))
    return float(raw) if dtype in _FLOATS else int(raw)


def encode_raw(dtype: DataType, raw: Value, word_order: Order, byte_order: Order) -> list[int]:
    """Encode a raw number of ``dtype`` into registers; ``struct.error`` if it does not fit."""
    if dtype is DataType.BOOL:
        return [int(bool(raw))]
    return bytes_to_words(struct.pack(_STRUCT[dtype], raw), word_order, byte_order)


def _sf_exponent(name: str, sf_raw: int | None, words: Sequence[int] = ()) -> int:
    if sf_raw is None:
        return 0
    if not -10 <= sf_raw <= 10:
        raw = f"; raw words {list(words)}" if words else ""
        msg = f"{name}: scale factor exponent {sf_raw} is out of range (-10..10){raw}"
        raise DecodeError(msg)
    return sf_raw


def decode(
    rmap: RegisterMap, name: str, words: Sequence[int] | Sequence[bool], sf_raw: int | None = None
) -> Value | None:
    """Decode point ``name`` from its registers (or bit) into engineering units.

    Parameters
    ----------
    rmap
        The map the point belongs to.
    name
        The point name.
    words
        Exactly ``point.count`` registers as received (one bool for coil/discrete points).
    sf_raw
        The decoded raw value of the point's scale-factor register, if it has one.

    Returns
    -------
    The value, or ``None`` when the registers hold the "not implemented" sentinel or NaN.

    Raises
    ------
    DecodeError
        Wrong register count, values outside 0..65535, or a missing/absurd scale factor.
    """
    p = rmap.point(name)
    t = p.dtype
    if len(words) != p.count or any(not 0 <= int(w) <= 0xFFFF for w in words):
        msg = f"{name}: need {p.count} registers of 0..65535, got {list(words)}"
        raise DecodeError(msg)
    if t is DataType.BOOL:
        return bool(words[0])
    regs = [int(w) for w in words]
    word_order, byte_order = rmap.orders(p)
    # The sentinel is compared as the unsigned value with the bytes put in value order.
    if p.not_implemented is not None:
        value_bytes = words_to_bytes(regs, word_order, byte_order)
        if int.from_bytes(value_bytes, "big") == p.not_implemented:
            return None
    raw = decode_raw(t, regs, word_order, byte_order)
    if t in BITFIELD_TYPES:
        return raw
    if isinstance(raw, float) and not math.isfinite(raw):
        return None
    if p.scale_factor is not None and sf_raw is None:
        msg = f"{name}: its scale factor {p.scale_factor} has no value; raw words {regs}"
        raise DecodeError(msg)
    exp = _sf_exponent(name, sf_raw, regs)
    if t not in _FLOATS and p.scale == 1 and p.offset == 0 and exp == 0:
        return int(raw)
    return float(raw) * p.scale * 10.0**exp + p.offset


def encode(rmap: RegisterMap, name: str, value: Value, sf_raw: int | None = None) -> list[int]:
    """Encode an engineering ``value`` for point ``name`` into registers (``[0|1]`` for coils).

    Integer types are rounded to the nearest raw step.

    Raises
    ------
    WriteRejected
        The value is NaN or infinite, or does not fit the register type after scaling.
    """
    p = rmap.point(name)
    t = p.dtype
    word_order, byte_order = rmap.orders(p)
    if t is DataType.BOOL:
        return [int(bool(value))]
    v = float(value)
    if not math.isfinite(v):
        msg = f"{name}: cannot encode {value!r}"
        raise WriteRejected(msg)
    if p.scale_factor is not None and sf_raw is None:
        msg = f"{name}: the scale factor {p.scale_factor} must be read before writing"
        raise WriteRejected(msg)
    step = p.scale * 10.0 ** _sf_exponent(name, sf_raw)
    raw_f = (v - p.offset) / step
    raw: Value = raw_f if t in _FLOATS else round(raw_f)
    try:
        return encode_raw(t, raw, word_order, byte_order)
    except (struct.error, OverflowError) as exc:
        msg = f"{name}: {value} (raw {raw}) does not fit a {t} register: {exc}"
        raise WriteRejected(msg) from None


def resolution(rmap: RegisterMap, name: str, sf_raw: int | None = None) -> float:
    """Return the smallest step the point can represent (0 for floats): the read-back tolerance."""
    p = rmap.point(name)
    if p.dtype in _FLOATS:
        return 0.0
    if p.dtype is DataType.BOOL or p.dtype in BITFIELD_TYPES:
        return 1.0
    return abs(p.scale * 10.0 ** _sf_exponent(name, sf_raw))


def bit_names(rmap: RegisterMap, name: str, raw: int) -> dict[str, bool]:
    """Return the named bits of a bitfield point's raw value."""
    return {bit: bool(raw >> idx & 1) for bit, idx in (rmap.point(name).bits or {}).items()}
