"""Register map models: what a device model's registers mean. Pure data, no I/O.

A :class:`RegisterMap` describes one device *model* (loaded from ``connectors/maps/<model>.yaml``);
the site binds device *instances* to maps. The register count of a point follows from its ``type``
through :data:`REGISTER_COUNT`; nobody writes ``count``. Addresses are 0-based, as on the wire.
The validators reject overlapping addresses, writable points without limits and unknown keys.

Turning registers into values and back is :mod:`connectors.registers`, which re-exports
everything here.
"""

from __future__ import annotations

import itertools
import math
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, model_validator


class Table(StrEnum):
    """The four Modbus data tables."""

    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"

    @property
    def is_bits(self) -> bool:
        """Whether the table holds single bits (coils, discrete inputs)."""
        return self in (Table.COIL, Table.DISCRETE)


class DataType(StrEnum):
    """Point value types."""

    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT64 = "float64"
    BITFIELD16 = "bitfield16"
    BITFIELD32 = "bitfield32"


REGISTER_COUNT: dict[DataType, int] = {
    DataType.BOOL: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.BITFIELD16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.FLOAT32: 2,
    DataType.BITFIELD32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT64: 4,
}
"""Registers (or bits, for ``bool``) a point of each type occupies."""

BITFIELD_TYPES = frozenset({DataType.BITFIELD16, DataType.BITFIELD32})
"""Types whose value is a set of named bits: never scaled."""


class Order(StrEnum):
    """Word or byte order: ``big`` puts the most significant part first."""

    BIG = "big"
    LITTLE = "little"


class Access(StrEnum):
    """Whether a point may be written."""

    READ = "read"
    READ_WRITE = "read_write"


class Role(StrEnum):
    """What a point does in the safety handshake with the device."""

    HEARTBEAT = "heartbeat"
    REMOTE_ENABLE = "remote_enable"
    LOCAL_STATE = "local_state"
    ALARM = "alarm"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Model):
    """A closed range in engineering units, with a snapping tolerance for solver noise."""

    min: float = Field(description="Lowest allowed value")
    max: float = Field(description="Highest allowed value")
    tolerance: NonNegativeFloat = Field(
        default=1e-6, description="A value this close outside a limit is snapped to the limit"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        if not (math.isfinite(self.min) and math.isfinite(self.max)) or self.min > self.max:
            msg = f"min {self.min} must be finite and not above max {self.max}"
            raise ValueError(msg)
        return self


class Point(_Model):
    """One value of a device model: where it lives, how to decode it, whether it may be written."""

    table: Table = Field(description="holding, input, coil or discrete")
    address: Annotated[int, Field(ge=0, le=65535)] = Field(description="0-based wire address")
    type: DataType | None = Field(
        default=None, description="Value type; default bool for coil/discrete, else uint16"
    )
    word_order: Order | None = Field(default=None, description="Overrides the map's word order")
    byte_order: Order | None = Field(default=None, description="Overrides the map's byte order")
    scale: float = Field(default=1.0, description="value = raw * scale * 10**sf + offset")
    offset: float = Field(default=0.0, description="Added after scaling")
    scale_factor: str | None = Field(
        default=None, description="Name of an int16 point holding a power-of-ten exponent"
    )
    not_implemented: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="Raw unsigned pattern meaning 'no value' (e.g. 0x8000)"
    )
    unit: str = Field(default="", description="Engineering unit of the value")
    description: str = ""
    access: Access = Access.READ
    limits: Limits | None = Field(default=None, description="Allowed written values")
    expected: Limits | None = Field(
        default=None, description="Plausible range of read values (commissioning check)"
    )
    safe_value: float | None = Field(
        default=None, description="Value the commissioning check writes (default: current)"
    )
    persistent: bool = Field(default=False, description="EEPROM-backed: written only on change")
    revert_s: PositiveFloat | None = Field(
        default=None, description="Volatile: the device reverts after this long (s)"
    )
    min_change: NonNegativeFloat | None = Field(
        default=None, description="Dead-band: smaller changes are not written"
    )
    max_rate_per_min: PositiveFloat | None = Field(
        default=None, description="Largest change allowed per minute between writes"
    )
    role: Role | None = None
    remote_values: list[int] = Field(
        default_factory=lambda: [1],
        description="local_state values that mean remote control; any other means local",
    )
    enable_value: int | None = Field(
        default=None,
        description="For remote_enable: the value that requests remote control (default 1)",
    )
    bits: dict[str, Annotated[int, Field(ge=0, le=31)]] | None = Field(
        default=None, description="Bitfield bit names -> bit index (0 = least significant)"
    )

    @property
    def dtype(self) -> DataType:
        """The value type with its default applied."""
        if self.type is not None:
            return self.type
        return DataType.BOOL if self.table.is_bits else DataType.UINT16

    @property
    def count(self) -> int:
        """Registers (bits for coil/discrete) the point occupies."""
        return REGISTER_COUNT[self.dtype]

    def enable(self, on: bool) -> bool | int:
        """The value of this remote_enable point that requests (``on``) or ends remote control."""
        if self.dtype is DataType.BOOL:
            return on
        return (1 if self.enable_value is None else self.enable_value) if on else 0

    @property
    def writable(self) -> bool:
        """Whether the point is declared read_write."""
        return self.access is Access.READ_WRITE

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        t = self.dtype
        if self.table.is_bits != (t is DataType.BOOL):
            msg = f"type {t} does not fit table {self.table} (coil/discrete points are bool)"
            raise ValueError(msg)
        if self.address + self.count > 65536:
            msg = f"address {self.address} + {self.count} registers runs past 65535"
            raise ValueError(msg)
        if self.scale == 0 or not math.isfinite(self.scale):
            msg = "scale must be finite and non-zero"
            raise ValueError(msg)
        if self.bits is not None and t not in BITFIELD_TYPES:
            msg = "bits are only allowed on bitfield16/bitfield32 points"
            raise ValueError(msg)
        if t in BITFIELD_TYPES or t is DataType.BOOL:
            if self.scale != 1 or self.offset != 0 or self.scale_factor:
                msg = f"{t} points cannot be scaled"
                raise ValueError(msg)
            if t is DataType.BITFIELD16 and any(b > 15 for b in (self.bits or {}).values()):
                msg = "bitfield16 bits must be 0..15"
                raise ValueError(msg)
        if self.not_implemented is not None and self.not_implemented >= 1 << (16 * self.count):
            msg = f"not_implemented {self.not_implemented:#x} does not fit {self.count} registers"
            raise ValueError(msg)
        if self.writable:
            if self.table not in (Table.HOLDING, Table.COIL):
                msg = f"only holding registers and coils can be written, not {self.table}"
                raise ValueError(msg)
            if self.limits is None and t is not DataType.BOOL:
                msg = "writable points need limits (min, max in engineering units)"
                raise ValueError(msg)
            if self.persistent and self.revert_s is not None:
                msg = "a point is either persistent or volatile with revert_s, not both"
                raise ValueError(msg)
        elif self.persistent or self.revert_s or self.limits or self.safe_value is not None:
            msg = "persistent, revert_s, limits and safe_value need access: read_write"
            raise ValueError(msg)
        if self.role in (Role.HEARTBEAT, Role.REMOTE_ENABLE) and not self.writable:
            msg = f"a {self.role} point must be read_write"
            raise ValueError(msg)
        if self.enable_value is not None:
            if self.role is not Role.REMOTE_ENABLE or t is DataType.BOOL:
                msg = "enable_value is for non-boolean remote_enable points"
                raise ValueError(msg)
            if (
                self.limits is not None
                and not self.limits.min <= self.enable_value <= self.limits.max
            ):
                msg = f"enable_value {self.enable_value} is outside the limits"
                raise ValueError(msg)
        if self.safe_value is not None and self.limits is not None:
            lo, hi = self.limits.min, self.limits.max
            if not lo <= self.safe_value <= hi:
                msg = f"safe_value {self.safe_value} is outside the limits {lo}..{hi}"
                raise ValueError(msg)
        return self


class RegisterMap(_Model):
    """A device model's register map."""

    model: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Map name = file name")
    description: str = ""
    word_order: Order = Field(default=Order.BIG, description="Default word order")
    byte_order: Order = Field(default=Order.BIG, description="Default byte order in a register")
    max_read_registers: Annotated[int, Field(ge=1, le=125)] = Field(
        default=125, description="Most registers the device returns in one request"
    )
    max_read_bits: Annotated[int, Field(ge=1, le=2000)] = Field(
        default=2000, description="Most coils/discrete inputs in one request"
    )
    max_gap: Annotated[int, Field(ge=0, le=124)] = Field(
        default=0, description="Unused registers a request may span to join two points"
    )
    watchdog_s: PositiveFloat | None = Field(
        default=None, description="Device-side heartbeat timeout (s): local control after it"
    )
    points: dict[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")], Point] = Field(
        min_length=1
    )

    @model_validator(mode="after")
    def _consistent(self) -> RegisterMap:
        for name, p in self.points.items():
            if p.scale_factor is None:
                continue
            sf = self.points.get(p.scale_factor)
            if sf is None or sf.dtype is not DataType.INT16 or sf.table.is_bits:
                msg = f"point {name}: scale_factor {p.scale_factor!r} is not an int16 point here"
                raise ValueError(msg)
            if sf.scale_factor is not None:
                msg = f"point {name}: its scale_factor {p.scale_factor!r} has a scale factor"
                raise ValueError(msg)
        for table in Table:
            spans = sorted(
                (p.address, p.address + p.count, n)
                for n, p in self.points.items()
                if p.table is table
            )
            for (_, end_a, a), (start_b, _, b) in itertools.pairwise(spans):
                if start_b < end_a:
                    msg = f"point {b} overlaps point {a} in the {table} table (address {start_b})"
                    raise ValueError(msg)
        for role in (Role.HEARTBEAT, Role.REMOTE_ENABLE, Role.LOCAL_STATE):
            holders = [n for n, p in self.points.items() if p.role is role]
            if len(holders) > 1:
                msg = f"points {', '.join(holders)} all have role {role}; at most one may"
                raise ValueError(msg)
        return self

    def point(self, name: str) -> Point:
        """Return the point called ``name``; ``KeyError`` naming the known points otherwise."""
        try:
            return self.points[name]
        except KeyError:
            msg = f"map {self.model} has no point {name!r} (known: {', '.join(self.points)})"
            raise KeyError(msg) from None

    def with_role(self, role: Role) -> str | None:
        """Return the name of the (first) point with ``role``, if any."""
        return next((n for n, p in self.points.items() if p.role is role), None)

    def orders(self, point: Point) -> tuple[Order, Order]:
        """Return the word and byte order of ``point``, with the map's defaults applied."""
        return point.word_order or self.word_order, point.byte_order or self.byte_order
