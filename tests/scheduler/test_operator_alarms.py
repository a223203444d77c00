"""Alarms reach people: a local SMTP server, a local webhook, the simulator's BMS alarm register."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn

import pandas as pd
import pytest
from pyModbusTCP.client import ModbusClient

from connectors.binding import build_devices
from connectors.modbus_server import ModbusSimServer
from connectors.overrides import (
    apply_device_overrides,
    simulator_overrides,
    site_with_devices,
    unit_plan,
)
from connectors.simulator import PlantSimulator
from connectors.writer import MemorySink, SafeWriter
from energiemodell.site import Site
from energiemodell.store import Database, alarms_between, audit_trail, raise_alarm
from scheduler.alarms import (
    BITS,
    AlarmDelivery,
    EmailChannel,
    WebhookChannel,
    acknowledge,
    alarm_word,
    bms_writer,
    delivery_from,
    open_alarms,
    plan_alarms,
)
from scheduler.journal import Journal
from scheduler.policy import Alarm
from tests.scheduler.conftest import START

pytestmark = pytest.mark.integration

CRITICAL = Alarm("release.stale_measurements", "critical", "measurements stale: chp1.p_el_kw")
WARNING = Alarm("fallback.heat_led", "warning", "dispatching the heat-led rules")
INFO = Alarm("policy.override", "info", "operator override")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_server(require_or_skip: Callable[[str], NoReturn]) -> Iterator[tuple[int, _Inbox]]:
    """An aiosmtpd server on 127.0.0.1 collecting what it receives."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        require_or_skip("aiosmtpd is not installed (pip install aiosmtpd)")
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    try:
        controller.start()
    except (OSError, RuntimeError) as exc:
        require_or_skip(f"cannot run a local SMTP server: {exc}")
    try:
        yield port, inbox
    finally:
        controller.stop()


@pytest.fixture
def webhook(require_or_skip: Callable[[str], NoReturn]) -> Iterator[tuple[str, list[Any]]]:
    """A local HTTP server that records JSON POST bodies."""
    received: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    try:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    except OSError as exc:
        require_or_skip(f"cannot run a local HTTP server: {exc}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alarms", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(2)


def test_alarms_reach_the_smtp_server_and_the_webhook_once_per_code(
    db: Database, smtp_server: tuple[int, _Inbox], webhook: tuple[str, list[Any]]
) -> None:
    port, inbox = smtp_server
    url, posted = webhook
    delivery = delivery_from(
        db=db,
        site="small_site",
        bms=None,
        smtp_host="127.0.0.1",
        smtp_port=port,
        sender="loop@campus.example",
        recipients=["fm@campus.example", "duty@campus.example"],
        webhook_url=url,
        min_severity="warning",
    )
    assert [c.name for c in delivery.channels] == ["email", "webhook"]
    assert delivery.deliver([CRITICAL, WARNING, INFO], now=START) == []
    assert len(inbox.messages) == 1
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["fm@campus.example", "duty@campus.example"]
    assert msg["Subject"] == "[energiemodell small_site] critical: release.stale_measurements"
    body = msg.get_payload()
    assert "fallback.heat_led" in body
    assert "policy.override" not in body
    assert posted == [
        {
            "site": "small_site",
            "ts": START.isoformat(),
            "alarms": [
                {"code": a.code, "severity": a.severity, "message": a.message}
                for a in (CRITICAL, WARNING)
            ],
        }
    ]
    # the same condition next cycle is not sent again; a new code is, and after repeat_h again
    assert delivery.deliver([CRITICAL], now=START + timedelta(minutes=15)) == []
    assert len(inbox.messages) == 1
    delivery.deliver(
        [CRITICAL, Alarm("plan.error", "critical", "x")], now=START + timedelta(hours=1)
    )
    assert len(inbox.messages) == 2
    assert "plan.error" in inbox.messages[1][1]["Subject"]
    assert "release.stale" not in inbox.messages[1][1].get_payload()
    delivery.deliver([CRITICAL], now=START + timedelta(hours=7))
    assert len(inbox.messages) == 3
    assert len(posted) == 3


def test_a_failing_channel_is_reported_not_raised(db: Database) -> None:
    dead = EmailChannel("127.0.0.1", _free_port(), "a@b", ["c@d"], "site", timeout_s=1)
    bad_url = WebhookChannel("file:///etc/passwd", "site")
    delivery = AlarmDelivery(db=db, channels=[dead, bad_url])
    failures = delivery.deliver([CRITICAL], now=START)
    assert len(failures) == 2
    assert failures[0].startswith("email: ")
    assert "must be http(s)" in failures[1]
    assert delivery.deliver([CRITICAL], now=START) != []  # not marked as sent: tried again
    journal = Journal(db)
    delivery.after_cycle([CRITICAL], now=START, journal=journal)
    stored = alarms_between(db=db, start=START, end=START + timedelta(seconds=1))
    assert [a.code for a in stored] == ["alarm.delivery_failed"] * 2


def test_acknowledgement_is_audited_and_clears_the_unacknowledged_bit(db: Database) -> None:
    alarm_id = raise_alarm(
        db=db, ts=START, source="loop", code="plan.error", severity="critical", message="boom"
    )
    raise_alarm(db=db, ts=START, source="loop", code="policy.override", severity="info", message="")
    assert [a.id for a in open_alarms(db=db, now=START)] == [alarm_id]  # info needs no ack
    with pytest.raises(ValueError, match="person's name"):
        acknowledge(db=db, alarm_id=alarm_id, actor=" ", note="", now=START)
    acknowledge(db=db, alarm_id=alarm_id, actor="m.keller", note="solver restarted", now=START)
    with pytest.raises(ValueError, match=r"acknowledged by m\.keller already"):
        acknowledge(db=db, alarm_id=alarm_id, actor="a.weber", note="", now=START)
    with pytest.raises(ValueError, match="no alarm #999"):
        acknowledge(db=db, alarm_id=999, actor="a.weber", note="", now=START)
    assert open_alarms(db=db, now=START + timedelta(minutes=1)) == []
    trail = audit_trail(db=db, start=START, end=START + timedelta(seconds=1))
    acks = [e for e in trail if e.kind == "alarm_ack"]
    assert [e.summary for e in acks] == [f"alarm {alarm_id} acknowledged by m.keller"]
    assert acks[0].details["note"] == "solver restarted"


def test_alarm_word_bits() -> None:
    assert alarm_word([], unacknowledged=False) == 0
    assert alarm_word([INFO], unacknowledged=False) == 0
    assert alarm_word([WARNING], unacknowledged=True) == 0b1011
    assert alarm_word([CRITICAL, INFO], unacknowledged=False) == 0b0101


@contextlib.contextmanager
def _simulated_gateway(
    site: Site, require_or_skip: Callable[[str], NoReturn]
) -> Iterator[tuple[PlantSimulator, Any, Any, int]]:
    # the signal box is a test map the simulator does not drive: the CHP and the gateway stay
    site = site_with_devices(site, [d for d in site.devices if d.name != "signals"])
    sim = PlantSimulator(site, start=pd.Timestamp(START))
    units = {0: {u: name for name, _, u in unit_plan(site, 0)}}
    try:
        server = ModbusSimServer(sim, units).start()
    except OSError as exc:
        require_or_skip(f"cannot serve Modbus on 127.0.0.1: {exc}")
    try:
        port = server.ports[0]
        bound = apply_device_overrides(site, simulator_overrides(site, host="127.0.0.1", port=port))
        devices = build_devices(bound)
        unit = next(u for name, _, u in unit_plan(site, port) if name == "gateway")
        try:
            yield sim, devices["gateway"], devices["chp1_ctrl"], unit
        finally:
            for d in devices.values():
                d.close()
    finally:
        server.stop()


def test_the_alarm_word_reaches_the_simulated_bms_gateway(
    tiny_site: Site, db: Database, require_or_skip: Callable[[str], NoReturn]
) -> None:
    with _simulated_gateway(tiny_site, require_or_skip) as (sim, gateway, chp, unit):
        sink = MemorySink()
        writer = SafeWriter(gateway, sink, clock=lambda: sim.now.to_pydatetime())
        chp_writer = SafeWriter(chp, sink)
        assert bms_writer({"chp1_ctrl": chp_writer, "gateway": writer}) is writer
        assert bms_writer({"chp1_ctrl": chp_writer}) is None
        delivery = AlarmDelivery(db=db, bms=writer)
        assert delivery.bms_point == "optimiser_alarm"
        alarm_id = raise_alarm(
            db=db, ts=START, source="loop", code=CRITICAL.code, severity="critical", message="x"
        )
        assert delivery.deliver([CRITICAL], now=START) == []
        address = gateway.register_map.points["optimiser_alarm"].address
        client = ModbusClient(host="127.0.0.1", port=gateway.port, unit_id=unit, timeout=2.0)
        try:
            expected = sum(1 << BITS[b] for b in ("active", "critical", "unacknowledged"))
            assert client.read_holding_registers(address, 1) == [expected]
            sim.advance_to(pd.Timestamp(START) + pd.Timedelta(minutes=5))  # the plant moves on
            assert client.read_holding_registers(address, 1) == [expected]
            acknowledge(db=db, alarm_id=alarm_id, actor="m.keller", note="seen", now=START)
            assert delivery.deliver([], now=START + timedelta(minutes=15)) == []
            assert client.read_holding_registers(address, 1) == [0]
        finally:
            client.close()
        assert [r.result for r in sink.reports] == ["confirmed", "confirmed"]


def test_plan_alarms_name_unserved_demand_and_n1_shortfalls() -> None:
    index = pd.date_range(START, periods=4, freq="15min")
    frame = pd.DataFrame(
        {
            "unserved.heat_kw": [0.0, 40.0, 40.0, 0.0],
            "unserved.heat_critical_kw": [0.0, 0.0, 8.0, 0.0],
            "unserved.electricity_kw": [0.0, 0.0, 0.0, 1.0],  # 0.25 kWh: solver noise level
            "n1.heat_shortfall_kw": [100.0, 0.0, 0.0, 0.0],
            "boilers.q_kw": [1.0] * 4,
            "ev.unserved_kw": [0.0, 0.0, 0.0, 80.0],  # 20 kWh of the EV window not delivered
        },
        index=index,
    )
    found = plan_alarms(frame, dt_h=0.25)
    assert [(a.code, a.severity) for a in found] == [
        ("plan.unserved_heat", "warning"),
        ("plan.unserved_critical_heat", "critical"),
        ("plan.n1_heat", "warning"),
        ("plan.flexible_ev", "warning"),
    ]
    assert found[3].message == (
        "the plan cannot give ev 20.0 kWh of its window, from 2024-03-12T05:45:00+00:00"
    )
    assert found[0].message == (
        "the plan leaves 20.0 kWh of heat demand unserved from 2024-03-12T05:15:00+00:00"
    )
    assert "25.0 kWh shortfall from 2024-03-12T05:00:00+00:00" in found[2].message
