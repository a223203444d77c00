"""Pure register encode/decode round trips, map validation and request planning."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import DecodeError, WriteRejected
from connectors.map_files import MAPS_DIR, load_map, map_from_dict
from connectors.planning import decode_block, plan_reads
from connectors.registers import (
    REGISTER_COUNT,
    DataType,
    Order,
    bit_names,
    decode,
    decode_raw,
    encode,
    encode_raw,
    resolution,
)
from energiemodell.errors import SiteError

SHIPPED = sorted(p.stem for p in MAPS_DIR.glob("*.yaml"))

RANGES: dict[DataType, tuple[int, int]] = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.BITFIELD16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.BITFIELD32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}
orders = st.sampled_from(list(Order))


def one_point_map(**point: object) -> object:
    return map_from_dict(
        {"model": "m", "points": {"x": {"table": "holding", "address": 0, **point}}}
    )


def test_shipped_maps_cover_the_reference_campus():
    expected = {
        "janitza_umg96rm",
        "siemens_pac3200",
        "sunspec_124_battery",
        "chp_controller",
        "boiler_controller",
        "chiller_controller",
        "tank_sensors",
        "bms_gateway",
    }
    assert expected <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_map_loads_and_plans(name):
    rmap = load_map(name)
    blocks = plan_reads(rmap)
    covered = {n for b in blocks for n in b.points}
    assert covered == set(rmap.points)
    for b in blocks:
        limit = rmap.max_read_bits if b.table.is_bits else rmap.max_read_registers
        assert b.count <= limit


def test_meter_addresses_match_the_domain_notes():
    j = load_map("janitza_umg96rm")
    assert (j.points["p_sum_w"].address, j.points["p_sum_w"].dtype) == (19026, DataType.FLOAT32)
    assert j.points["f_hz"].address == 19050
    s = load_map("siemens_pac3200")
    assert (s.points["p_total_w"].address, s.points["p_total_w"].count) == (65, 2)
    assert (s.points["e_import_wh"].address, s.points["e_import_wh"].count) == (801, 4)
    assert s.points["e_export_wh"].address == 809
    # the Janitza block is read in a single request
    assert len(plan_reads(j)) == 1


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.data(), dtype=st.sampled_from(list(RANGES)), wo=orders, bo=orders)
def test_integer_round_trip(data, dtype, wo, bo):
    lo, hi = RANGES[dtype]
    raw = data.draw(st.integers(lo, hi))
    words = encode_raw(dtype, raw, wo, bo)
    assert len(words) == REGISTER_COUNT[dtype]
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode_raw(dtype, words, wo, bo) == raw


@settings(max_examples=200, deadline=None, database=None)
@given(x=st.floats(allow_nan=False, width=32), wo=orders, bo=orders)
def test_float32_round_trip(x, wo, bo):
    words = encode_raw(DataType.FLOAT32, x, wo, bo)
    assert decode_raw(DataType.FLOAT32, words, wo, bo) == x


@settings(max_examples=200, deadline=None, database=None)
@given(x=st.floats(allow_nan=False), wo=orders, bo=orders)
def test_float64_round_trip(x, wo, bo):
    assert decode_raw(DataType.FLOAT64, encode_raw(DataType.FLOAT64, x, wo, bo), wo, bo) == x


def test_word_and_byte_order_against_known_vectors():
    # MODBUS.md 1.3: 432.5 is [17368, 16384] high word first, [16384, 17368] "little" word order
    assert decode_raw(DataType.FLOAT32, [17368, 16384], Order.BIG, Order.BIG) == 432.5
    assert decode_raw(DataType.FLOAT32, [16384, 17368], Order.LITTLE, Order.BIG) == 432.5
    assert decode_raw(DataType.INT64, [0, 0, 0x4996, 0x014C], Order.BIG, Order.BIG) == 1234567500
    assert decode_raw(DataType.UINT32, [0x0012, 0xD687], Order.BIG, Order.BIG) == 1234567
    assert encode_raw(DataType.INT16, -500, Order.BIG, Order.BIG) == [65036]
    assert encode_raw(DataType.UINT16, 0x1234, Order.BIG, Order.LITTLE) == [0x3412]
    assert encode_raw(DataType.UINT32, 0x11223344, Order.LITTLE, Order.LITTLE) == [0x4433, 0x2211]


@settings(max_examples=150, deadline=None, database=None)
@given(
    dtype=st.sampled_from([DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32]),
    sf=st.integers(-3, 3),
    scale=st.sampled_from([1.0, 0.1, 0.5, 2.0]),
    offset=st.sampled_from([0.0, -40.0, 273.15]),
    data=st.data(),
)
def test_scaled_value_with_scale_factor_round_trip(dtype, sf, scale, offset, data):
    rmap = map_from_dict(
        {
            "model": "m",
            "points": {
                "x": {
                    "table": "holding",
                    "address": 0,
                    "type": dtype.value,
                    "scale": scale,
                    "offset": offset,
                    "scale_factor": "x_sf",
                },
                "x_sf": {"table": "holding", "address": 10, "type": "int16"},
            },
        }
    )
    lo, hi = RANGES[dtype]
    raw = data.draw(st.integers(max(lo, -30000), min(hi, 30000)))
    step = scale * 10.0**sf
    value = raw * step + offset
    words = encode(rmap, "x", value, sf)
    assert decode_raw(dtype, words, Order.BIG, Order.BIG) == raw
    assert math.isclose(decode(rmap, "x", words, sf), value, rel_tol=1e-9, abs_tol=1e-9)
    assert resolution(rmap, "x", sf) == pytest.approx(abs(step))


def test_scale_factor_read_in_the_same_block():
    rmap = load_map("sunspec_124_battery")
    (block,) = [b for b in plan_reads(rmap, ["cha_state"])]
    assert set(block.points) == {"cha_state", "cha_state_sf"}
    data = [0] * block.count
    data[rmap.points["cha_state"].address - block.address] = 4567
    data[rmap.points["cha_state_sf"].address - block.address] = encode_raw(
        DataType.INT16, -2, Order.BIG, Order.BIG
    )[0]
    out = decode_block(rmap, block, data)
    assert out["cha_state"] == pytest.approx(45.67)
    assert out["cha_state_sf"] == -2


def test_scale_factor_sentinel_makes_the_dependent_point_undecodable():
    rmap = load_map("sunspec_124_battery")
    (block,) = plan_reads(rmap, ["cha_state"])
    data = [0] * block.count
    data[rmap.points["cha_state_sf"].address - block.address] = 0x8000
    out = decode_block(rmap, block, data)
    assert out["cha_state_sf"] is None
    assert isinstance(out["cha_state"], DecodeError)
    assert "cha_state" in str(out["cha_state"])


@pytest.mark.parametrize(
    ("dtype", "sentinel", "words"),
    [
        ("int16", 0x8000, [0x8000]),
        ("uint16", 0xFFFF, [0xFFFF]),
        ("int32", 0x80000000, [0x8000, 0x0000]),
        ("uint32", 0xFFFFFFFF, [0xFFFF, 0xFFFF]),
    ],
)
def test_not_implemented_sentinel(dtype, sentinel, words):
    rmap = one_point_map(type=dtype, not_implemented=sentinel, scale=0.1)
    assert decode(rmap, "x", words) is None
    assert decode(rmap, "x", [1] + [0] * (len(words) - 1)) is not None


def test_sentinel_respects_word_order():
    rmap = one_point_map(type="int32", not_implemented=0x80000000, word_order="little")
    assert decode(rmap, "x", [0x0000, 0x8000]) is None
    # the same words in the other order are the value 0x00008000, not the sentinel
    assert decode(rmap, "x", [0x8000, 0x0000]) == 0x8000


def test_float_nan_is_no_value():
    rmap = one_point_map(type="float32")
    nan_words = encode_raw(DataType.FLOAT32, float("nan"), Order.BIG, Order.BIG)
    assert decode(rmap, "x", nan_words) is None


def test_bitfield_and_bool():
    rmap = one_point_map(type="bitfield16", bits={"charge": 0, "discharge": 1, "alarm": 15})
    raw = decode(rmap, "x", [0x8002])
    assert raw == 0x8002
    assert bit_names(rmap, "x", raw) == {"charge": False, "discharge": True, "alarm": True}
    coil = map_from_dict({"model": "m", "points": {"c": {"table": "coil", "address": 3}}})
    assert decode(coil, "c", [True]) is True
    assert encode(coil, "c", False) == [0]


def test_decode_rejects_wrong_register_count():
    rmap = one_point_map(type="float32")
    with pytest.raises(DecodeError, match=r"x: need 2 registers"):
        decode(rmap, "x", [1])
    with pytest.raises(DecodeError):
        decode(rmap, "x", [1, 70000])


def test_encode_refuses_nan_and_overflow():
    rmap = one_point_map(
        type="uint16", scale=0.1, access="read_write", limits={"min": 0, "max": 10000}
    )
    for bad in (float("nan"), float("inf")):
        with pytest.raises(WriteRejected):
            encode(rmap, "x", bad)
    with pytest.raises(WriteRejected, match="does not fit"):
        encode(rmap, "x", 7000.0)  # raw 70000 > 65535
    with pytest.raises(WriteRejected, match="does not fit"):
        encode(rmap, "x", -1.0)


# --- validation -----------------------------------------------------------------------------------


def problems(data):
    with pytest.raises(SiteError) as info:
        map_from_dict(data, source="m.yaml")
    return str(info.value)


def test_overlap_is_rejected_naming_the_points():
    msg = problems(
        {
            "model": "m",
            "points": {
                "a": {"table": "holding", "address": 0, "type": "float32"},
                "b": {"table": "holding", "address": 1},
            },
        }
    )
    assert "point b overlaps point a" in msg
    # the same address in another table is fine
    map_from_dict(
        {
            "model": "m",
            "points": {
                "a": {"table": "holding", "address": 0, "type": "float32"},
                "b": {"table": "input", "address": 1},
            },
        }
    )


def test_writable_without_limits_is_rejected_naming_the_point():
    msg = problems(
        {
            "model": "m",
            "points": {"setp": {"table": "holding", "address": 0, "access": "read_write"}},
        }
    )
    assert "m.yaml: points.setp: " in msg
    assert "need limits" in msg


def test_unknown_key_is_rejected_naming_the_point():
    msg = problems({"model": "m", "points": {"p": {"table": "holding", "address": 0, "count": 2}}})
    assert "points.p.count" in msg
    assert "unknown key" in msg


@pytest.mark.parametrize(
    ("point", "fragment"),
    [
        (
            {
                "table": "input",
                "address": 0,
                "access": "read_write",
                "limits": {"min": 0, "max": 1},
            },
            "only holding registers and coils",
        ),
        ({"table": "coil", "address": 0, "type": "uint16"}, "does not fit table"),
        ({"table": "holding", "address": 65535, "type": "float32"}, "runs past"),
        ({"table": "holding", "address": 0, "scale": 0}, "non-zero"),
        ({"table": "holding", "address": 0, "bits": {"a": 0}}, "bitfield"),
        (
            {"table": "holding", "address": 0, "type": "uint16", "not_implemented": 0x10000},
            "does not fit",
        ),
        (
            {
                "table": "holding",
                "address": 0,
                "access": "read_write",
                "limits": {"min": 0, "max": 1},
                "persistent": True,
                "revert_s": 10,
            },
            "not both",
        ),
        ({"table": "holding", "address": 0, "persistent": True}, "need access"),
        ({"table": "holding", "address": 0, "role": "heartbeat"}, "must be read_write"),
        (
            {
                "table": "holding",
                "address": 0,
                "access": "read_write",
                "limits": {"min": 5, "max": 1},
            },
            "not above max",
        ),
        ({"table": "holding", "address": 0, "scale_factor": "nope"}, "scale_factor"),
        ({"table": "holding", "address": 0, "enable_value": 3}, "enable_value is for"),
        (
            {
                "table": "holding",
                "address": 0,
                "access": "read_write",
                "limits": {"min": 0, "max": 1},
                "role": "remote_enable",
                "enable_value": 3,
            },
            "enable_value 3 is outside",
        ),
    ],
)
def test_point_rules(point, fragment):
    assert fragment in problems({"model": "m", "points": {"p": point}})


def test_duplicate_roles_are_rejected():
    hb = {
        "table": "holding",
        "access": "read_write",
        "role": "heartbeat",
        "limits": {"min": 0, "max": 65535},
    }
    msg = problems({"model": "m", "points": {"a": {**hb, "address": 0}, "b": {**hb, "address": 1}}})
    assert "role heartbeat" in msg


def test_load_map_by_path_and_unknown_name(tmp_path: Path):
    f = tmp_path / "mine.yaml"
    f.write_text("model: mine\npoints:\n  t: {table: input, address: 3, type: int16, scale: 0.1}\n")
    assert load_map(f).points["t"].address == 3
    with pytest.raises(SiteError, match=r"shipped: .*bms_gateway"):
        load_map("no_such_map")


# --- planning -------------------------------------------------------------------------------------


def test_plan_respects_gap_and_size_limits():
    pts = {
        f"p{i}": {"table": "holding", "address": a, "type": "float32"}
        for i, a in enumerate([0, 2, 10, 200, 202])
    }
    pts["c0"] = {"table": "coil", "address": 5}
    pts["c1"] = {"table": "coil", "address": 6}
    rmap = map_from_dict({"model": "m", "max_gap": 6, "max_read_registers": 100, "points": pts})
    blocks = [(b.table.value, b.address, b.count) for b in plan_reads(rmap)]
    assert blocks == [("holding", 0, 12), ("holding", 200, 4), ("coil", 5, 2)]
    tight = map_from_dict({"model": "m", "max_gap": 0, "max_read_registers": 3, "points": pts})
    assert [(b.address, b.count) for b in plan_reads(tight) if b.table.value == "holding"] == [
        (0, 2),
        (2, 2),
        (10, 2),
        (200, 2),
        (202, 2),
    ]


@settings(max_examples=60, deadline=None, database=None)
@given(
    addrs=st.sets(st.integers(0, 300), min_size=1, max_size=30),
    gap=st.integers(0, 20),
    limit=st.integers(4, 125),
)
def test_plan_covers_each_point_once_within_limits(addrs, gap, limit):
    pts, used = {}, set()
    for a in sorted(addrs):
        if {a, a + 1} & used:
            continue
        used |= {a, a + 1}
        pts[f"p{a}"] = {"table": "input", "address": a, "type": "int32"}
    rmap = map_from_dict({"model": "m", "max_gap": gap, "max_read_registers": limit, "points": pts})
    blocks = plan_reads(rmap)
    names = [n for b in blocks for n in b.points]
    assert sorted(names) == sorted(pts)
    for b in blocks:
        assert b.count <= limit
        for n in b.points:
            p = rmap.points[n]
            assert b.address <= p.address
            assert p.address + p.count <= b.address + b.count


def test_struct_reference_for_every_type():
    # an independent check of the byte layout against the standard library
    for dtype, fmt in [(DataType.INT32, ">i"), (DataType.FLOAT64, ">d"), (DataType.UINT64, ">Q")]:
        val = 12345 if fmt != ">d" else 1.5
        b = struct.pack(fmt, val)
        words = [int.from_bytes(b[i : i + 2], "big") for i in range(0, len(b), 2)]
        assert encode_raw(dtype, val, Order.BIG, Order.BIG) == words
