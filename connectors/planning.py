"""Request planning: join a map's points into as few Modbus requests as the device allows.

Pure functions, no I/O: :func:`plan_reads` groups points, :func:`decode_blocks` decodes what the
requests returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.errors import DecodeError
from connectors.registers import RegisterMap, Table, Value, decode


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` registers (or bits) of ``table`` from ``address``."""

    table: Table
    address: int
    count: int
    points: tuple[str, ...]


def plan_reads(rmap: RegisterMap, names: Sequence[str] | None = None) -> list[ReadBlock]:
    """Group points (and the scale-factor points they need) into as few requests as allowed.

    Points of one table are joined into one request while the request stays within the map's
    ``max_read_registers`` (``max_read_bits``) and the unused registers between two points do not
    exceed ``max_gap`` (some devices answer exception 02 for undefined registers).
    """
    wanted = list(rmap.points) if names is None else list(names)
    for n in list(wanted):
        sf = rmap.point(n).scale_factor
        if sf is not None and sf not in wanted:
            wanted.append(sf)
    blocks: list[ReadBlock] = []
    for table in Table:
        limit = rmap.max_read_bits if table.is_bits else rmap.max_read_registers
        pts = sorted(
            (
                (rmap.points[n].address, rmap.points[n].count, n)
                for n in set(wanted)
                if rmap.points[n].table is table
            ),
        )
        start = end = -1
        members: list[str] = []
        for addr, count, n in pts:
            if members and addr - end <= rmap.max_gap and addr + count - start <= limit:
                end = max(end, addr + count)
                members.append(n)
                continue
            if members:
                blocks.append(ReadBlock(table, start, end - start, tuple(members)))
            start, end, members = addr, addr + count, [n]
        if members:
            blocks.append(ReadBlock(table, start, end - start, tuple(members)))
    return blocks


def decode_blocks(
    rmap: RegisterMap, parts: Sequence[tuple[ReadBlock, Sequence[int] | Sequence[bool]]]
) -> dict[str, Value | DecodeError | None]:
    """Decode every point of the blocks read, each from the registers (bits) read for it.

    Scale-factor points are decoded first, so a point and its scale factor may come from
    different requests. A point whose decoding fails maps to its :class:`DecodeError` instead of
    a value, so one bad point does not hide the others.
    """
    words_of: dict[str, Sequence[int] | Sequence[bool]] = {}
    for block, data in parts:
        for n in block.points:
            p = rmap.points[n]
            lo = p.address - block.address
            words_of[n] = data[lo : lo + p.count]
    out: dict[str, Value | DecodeError | None] = {}
    ordered = sorted(words_of, key=lambda n: rmap.points[n].scale_factor is not None)
    for n in ordered:
        sf = rmap.points[n].scale_factor
        sf_raw: int | None = None
        try:
            if sf is not None:
                sf_val = out.get(sf)
                if isinstance(sf_val, DecodeError):
                    raise sf_val
                sf_raw = sf_val if isinstance(sf_val, int) else None
            out[n] = decode(rmap, n, words_of[n], sf_raw)
        except DecodeError as exc:
            out[n] = exc
    return out


def decode_block(
    rmap: RegisterMap, block: ReadBlock, data: Sequence[int] | Sequence[bool]
) -> dict[str, Value | DecodeError | None]:
    """Decode the points of one block (see :func:`decode_blocks`)."""
    return decode_blocks(rmap, [(block, data)])
