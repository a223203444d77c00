"""FakeDevice quality rules and SafeWriter behaviour, without sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.device import Device, FakeDevice, Quality
from connectors.errors import DeviceUnavailable, WriteRejected
from connectors.map_files import load_map
from connectors.registers import Limits, Table
from connectors.writer import MemorySink, SafeWriter, WriteResult, check_value
from energiemodell.site import DeviceBinding, PointBinding


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


def fake(model, clock, **kw):
    return FakeDevice(name=kw.pop("name", "dev"), rmap=load_map(model), clock=clock, **kw)


def test_fake_device_is_a_device(clock):
    assert isinstance(fake("chp_controller", clock), Device)


def test_quality_good_stale_bad(clock):
    dev = fake("tank_sensors", clock, stale_after_s=30, quantities={"t_top_c": "tes1.t_top_c"})
    dev.set_value("t_top_c", 80.1)
    dev.set_words(Table.INPUT, 4, [0x8000])  # t_bottom_c sensor broken
    first = {r.point: r for r in dev.read_points()}
    assert first["t_top_c"].quality is Quality.GOOD
    assert first["t_top_c"].quantity == "tes1.t_top_c"
    assert first["t_bottom_c"].quality is Quality.BAD
    assert first["t_bottom_c"].value is None
    t_read = clock.now
    dev.fail_with = DeviceUnavailable("dev: timeout")
    clock.advance(20)
    stale = {r.point: r for r in dev.read_points()}
    assert stale["t_top_c"].quality is Quality.STALE
    assert stale["t_top_c"].ts == t_read
    assert stale["t_top_c"].detail == "dev: timeout"
    assert stale["t_bottom_c"].quality is Quality.BAD  # no good value to fall back on
    clock.advance(20)
    gone = {r.point: r for r in dev.read_points()}
    assert gone["t_top_c"].quality is Quality.BAD
    assert gone["t_top_c"].value is None
    assert gone["t_top_c"].ts == clock.now


def test_readings_as_dict_are_utc_json(clock):
    dev = fake("tank_sensors", clock)
    d = dev.read_points(["t_top_c"])[0].as_dict()
    assert d["ts"] == "2025-01-06T08:00:00Z"
    assert set(d) >= {"ts", "device", "point", "quantity", "value", "unit", "quality"}


def test_unknown_point_names_the_known_ones(clock):
    with pytest.raises(KeyError, match="known: t_top_c"):
        fake("tank_sensors", clock).read_points(["nope"])


@settings(max_examples=100, deadline=None, database=None)
@given(v=st.floats(allow_nan=True, allow_infinity=True))
def test_check_value_never_passes_out_of_range_or_nan(v):
    rmap = load_map("chp_controller")
    try:
        out = check_value(rmap, "p_el_setpoint_kw", v, asset_limits=Limits(min=0, max=800))
    except WriteRejected:
        return
    assert 0 <= out <= 800


def test_check_value_snaps_only_solver_noise():
    rmap = load_map("chp_controller")
    assert (
        check_value(rmap, "p_el_setpoint_kw", 800.0000001, asset_limits=Limits(min=0, max=800))
        == 800
    )
    assert check_value(rmap, "p_el_setpoint_kw", -1e-7) == 0
    with pytest.raises(WriteRejected, match="above the asset's maximum 800"):
        check_value(rmap, "p_el_setpoint_kw", 800.01, asset_limits=Limits(min=0, max=800))
    with pytest.raises(WriteRejected, match="below the point's minimum"):
        check_value(rmap, "p_el_setpoint_kw", -0.5)
    with pytest.raises(WriteRejected, match="not writable"):
        check_value(rmap, "p_el_kw", 5)
    with pytest.raises(WriteRejected, match="coil"):
        check_value(rmap, "start_request", 1)
    with pytest.raises(WriteRejected, match="takes a number"):
        check_value(rmap, "p_el_setpoint_kw", True)


def test_write_is_verified_and_reported(clock):
    dev = fake("chp_controller", clock)
    sink = MemorySink()
    w = SafeWriter(dev, sink, clock=clock)
    rep = w.write("p_el_setpoint_kw", 650.04, reason="plan 2025-01-06T08:00Z")
    assert rep.result is WriteResult.CONFIRMED
    assert rep.read_back == pytest.approx(650.0)  # 0.1 kW resolution
    assert (rep.device, rep.point, rep.reason, rep.ts) == (
        "dev",
        "p_el_setpoint_kw",
        "plan 2025-01-06T08:00Z",
        clock.now,
    )
    assert dev.registers[Table.HOLDING][100] == 6500
    assert sink.reports == [rep]


def test_refusals_are_reported_and_nothing_is_written(clock):
    dev = fake("chp_controller", clock)
    sink = MemorySink()
    w = SafeWriter(dev, sink, clock=clock)
    for v in (float("nan"), float("inf"), 5000.5, -3.0):
        rep = w.write("p_el_setpoint_kw", v, reason="test")
        assert rep.result is WriteResult.REFUSED
        assert rep.written is None
    assert w.write("p_el_kw", 1.0, reason="test").result is WriteResult.REFUSED
    assert w.write("no_such_point", 1.0, reason="test").result is WriteResult.REFUSED
    assert not [r for r in dev.requests if r[0] == "write"]
    assert len(sink.reports) == 6
    assert "above the point's maximum" in sink.reports[2].detail


def test_read_back_difference_is_not_confirmed(clock):
    class Stubborn(FakeDevice):
        def _write_registers(self, table, address, words):
            self.requests.append(("write", table, address, len(words)))  # ignores the value

    dev = Stubborn(name="dev", rmap=load_map("chp_controller"), clock=clock)
    rep = SafeWriter(dev, MemorySink(), clock=clock).write("p_el_setpoint_kw", 500, reason="t")
    assert rep.result is WriteResult.NOT_CONFIRMED
    assert rep.read_back == 0
    assert "read back" in rep.detail


def test_device_refusal_and_unavailability(clock):
    dev = fake("chp_controller", clock)
    w = SafeWriter(dev, MemorySink(), clock=clock)
    dev.exception_at[(Table.HOLDING, 100)] = 3
    rep = w.write("p_el_setpoint_kw", 500, reason="t")
    assert rep.result is WriteResult.REFUSED
    assert "exception 03" in rep.detail
    dev.exception_at.clear()
    dev.fail_with = DeviceUnavailable("dev: timeout")
    assert w.write("p_el_setpoint_kw", 500, reason="t").result is WriteResult.FAILED


def test_persistent_point_written_only_on_change(clock):
    dev = fake("bms_gateway", clock)
    w = SafeWriter(dev, MemorySink(), clock=clock)
    assert w.write("remote_enable", 1, reason="t").result is WriteResult.CONFIRMED
    n_writes = len([r for r in dev.requests if r[0] == "write"])
    rep = w.write("remote_enable", 1, reason="t")
    assert rep.result is WriteResult.UNCHANGED
    assert rep.ok
    assert len([r for r in dev.requests if r[0] == "write"]) == n_writes
    dev.set_value("remote_enable", 0)  # changed on the device: written again
    assert w.write("remote_enable", 1, reason="t").result is WriteResult.CONFIRMED


def test_dead_band_rate_limit_and_refresh(clock):
    dev = fake("chp_controller", clock)  # min_change 5 kW, max_rate 5000 kW/min, revert 1800 s
    w = SafeWriter(dev, MemorySink(), clock=clock)
    assert w.write("p_el_setpoint_kw", 600, reason="t").result is WriteResult.CONFIRMED
    clock.advance(60)
    assert w.write("p_el_setpoint_kw", 603, reason="t").result is WriteResult.UNCHANGED
    assert w.write("p_el_setpoint_kw", 603, reason="t", force=True).result is WriteResult.CONFIRMED
    clock.advance(0.6)  # 0.01 min: at most 50 kW
    rep = w.write("p_el_setpoint_kw", 700, reason="t")
    assert rep.result is WriteResult.REFUSED
    assert "max_rate_per_min" in rep.detail
    assert w.refresh_due() == []
    clock.advance(900)  # half of revert_s: the volatile setpoint is rewritten
    (refresh,) = w.refresh_due()
    assert refresh.result is WriteResult.CONFIRMED
    assert refresh.written == pytest.approx(603)
    assert w.refresh_due() == []


def test_scale_factor_point_write(clock):
    dev = fake("sunspec_124_battery", clock)
    dev.set_value("in_out_w_rte_sf", -1)
    rep = SafeWriter(dev, MemorySink(), clock=clock).write("out_w_rte", -42.35, reason="t")
    assert rep.result is WriteResult.CONFIRMED
    assert rep.read_back == pytest.approx(-42.35, abs=0.051)
    assert dev.registers[Table.HOLDING][40134] in (65536 - 423, 65536 - 424)
    dev.set_words(Table.HOLDING, 40147, [0x8000])  # scale factor not implemented
    rep = SafeWriter(dev, MemorySink(), clock=clock).write("out_w_rte", 10, reason="t")
    assert rep.result is WriteResult.REFUSED
    assert "scale factor" in rep.detail


def test_poller_reads_each_device_at_its_period(clock):
    from connectors.poller import Poller, site_quantities

    a = fake("tank_sensors", clock, name="a", quantities={"t_top_c": "tes1.t_top_c"})
    b = fake("tank_sensors", clock, name="b")
    a.set_value("t_top_c", 90.0)
    poller = Poller([a, b], periods_s={"a": 10.0, "b": 60.0})
    assert {r.device for r in poller.poll(now_s=0.0)} == {"a", "b"}
    assert poller.poll(now_s=5.0) == []
    assert {r.device for r in poller.poll(now_s=10.0)} == {"a"}
    assert {r.device for r in poller.poll(now_s=61.0)} == {"a", "b"}
    assert len(poller.poll(now_s=61.5, only_due=False)) == 10

    binding = DeviceBinding(
        name="a",
        map="tank_sensors",
        host="h",
        points={"t_top_c": PointBinding(quantity="tes1.t_top_c", sign=-1)},
    )

    q = site_quantities(a.read_points(), [binding])
    assert q["tes1.t_top_c"].value == pytest.approx(-90.0)
    a.fail_with = DeviceUnavailable("down")
    a.stale_after_s = 0
    clock.advance(1)
    assert site_quantities(a.read_points(), [binding]) == {}


def test_undecodable_point_is_bad_naming_device_point_and_words(clock):
    dev = fake("sunspec_124_battery", clock, name="bat")
    dev.set_value("w_sf", 50)  # an absurd exponent
    dev.set_words(Table.HOLDING, 40084, [1234])
    (w,) = dev.read_points(["w"])
    assert w.quality is Quality.BAD
    assert w.value is None
    assert w.detail.startswith("bat.w: scale factor exponent 50")
    assert w.detail.endswith("raw words [1234]")


def test_no_remote_request_without_a_live_heartbeat(clock):
    from connectors.writer import Heartbeat, enable_remote

    dev = fake("bms_gateway", clock)
    sink = MemorySink()
    dev.exception_at[(Table.HOLDING, 0)] = 4  # the heartbeat register fails
    hb = Heartbeat(dev, period_s=10)
    with hb, pytest.raises(DeviceUnavailable, match="heartbeat not accepted"):
        enable_remote(SafeWriter(dev, sink, clock=clock), hb, reason="t")
    assert hb.failures == 1
    assert sink.reports == []
    assert dev.registers[Table.HOLDING].get(1, 0) == 0  # remote_enable never written


def test_scale_factor_from_another_request(clock):
    from connectors.map_files import map_from_dict
    from connectors.planning import plan_reads

    rmap = map_from_dict(
        {
            "model": "far",
            "max_gap": 0,
            "points": {
                "w": {
                    "table": "holding",
                    "address": 0,
                    "type": "int16",
                    "scale_factor": "w_sf",
                    "unit": "W",
                },
                "w_sf": {"table": "holding", "address": 50, "type": "int16"},
            },
        }
    )
    assert len(plan_reads(rmap, ["w"])) == 2
    dev = FakeDevice(name="far", rmap=rmap, clock=clock)
    dev.set_value("w_sf", 2)
    dev.set_value("w", 31400.0, 2)
    (w,) = dev.read_points(["w"])
    assert w.quality is Quality.GOOD
    assert w.value == pytest.approx(31400.0)
    dev.exception_at[(Table.HOLDING, 50)] = 4  # the scale factor cannot be read
    (w,) = dev.read_points(["w"])
    assert w.quality is Quality.BAD
    assert "w_sf has no value" in w.detail
