"""Alarms that reach people: the BMS alarm word, e-mail and a webhook; acknowledgements.

The loop stores every alarm it raises (:mod:`scheduler.journal`). :class:`AlarmDelivery`
then hands a cycle's alarms on:

* the BMS alarm word (a ``read_write`` point with role ``alarm``, ``optimiser_alarm`` of the
  ``bms_gateway`` map), written through :class:`connectors.writer.SafeWriter` every cycle::

      bit 0 active          this cycle raised a warning or critical alarm
      bit 1 warning         ... a warning
      bit 2 critical        ... a critical alarm
      bit 3 unacknowledged  a warning or critical alarm of the last day awaits acknowledgement

* e-mail (SMTP, :mod:`smtplib`) and a webhook (HTTP POST of JSON, :mod:`urllib.request`), where
  configured, for alarms at or above the delivery severity. A code is sent again only after
  ``repeat_h`` hours (the loop raises a lasting condition every cycle).

A delivery failure is logged and returned, never raised: the loop must go on (and stores it as
an ``alarm.delivery_failed`` alarm, delivered through the remaining channels only).
A person acknowledges an alarm with :func:`acknowledge`: a row of its own, with who and why.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

import pandas as pd

from connectors.registers import Role
from connectors.writer import SafeWriter, WriteReport
from energiemodell.store import AlarmInfo, Database, acknowledge_alarm, alarms_between
from energiemodell.store.events import SEVERITIES
from scheduler.journal import STORE_ERRORS, Journal

logger = logging.getLogger(__name__)

BITS = {"active": 0, "warning": 1, "critical": 2, "unacknowledged": 3}
OPEN_LOOKBACK = timedelta(days=1)
"""How far back an unacknowledged alarm keeps the BMS word's ``unacknowledged`` bit set."""


class AlarmLike(Protocol):
    """What is delivered: the loop's :class:`scheduler.policy.Alarm` or a stored alarm."""

    @property
    def code(self) -> str:
        """Machine-readable code, e.g. ``fallback.heat_led``."""
        ...

    @property
    def severity(self) -> str:
        """info, warning or critical."""
        ...

    @property
    def message(self) -> str:
        """What happened, for people."""
        ...


def rank(severity: str) -> int:
    """Order of a severity (info 0, warning 1, critical 2)."""
    return SEVERITIES.index(severity)


def alarm_word(active: Iterable[AlarmLike], *, unacknowledged: bool) -> int:
    """The BMS alarm word for this cycle's alarms (see the module docstring)."""
    ranks = {rank(a.severity) for a in active}
    word = 0
    if ranks & {1, 2}:
        word |= 1 << BITS["active"]
    if 1 in ranks:
        word |= 1 << BITS["warning"]
    if 2 in ranks:
        word |= 1 << BITS["critical"]
    if unacknowledged:
        word |= 1 << BITS["unacknowledged"]
    return word


def open_alarms(
    *, db: Database, now: datetime, lookback: timedelta = OPEN_LOOKBACK
) -> list[AlarmInfo]:
    """Warning and critical alarms of the lookback not yet acknowledged, oldest first."""
    return [
        a
        for a in alarms_between(db=db, start=now - lookback, end=now + timedelta(seconds=1))
        if a.acknowledged_at is None and rank(a.severity) >= 1
    ]


def acknowledge(*, db: Database, alarm_id: int, actor: str, note: str, now: datetime) -> int:
    """A person acknowledges an alarm (audited: who, when, note); return the ack's id.

    Raises
    ------
    ValueError
        No actor, or no alarm with that id in the last 90 days, or acknowledged before.
    """
    if not actor.strip():
        msg = "an acknowledgement needs the person's name"
        raise ValueError(msg)
    known = {
        a.id: a
        for a in alarms_between(
            db=db, start=now - timedelta(days=90), end=now + timedelta(seconds=1)
        )
    }
    alarm = known.get(alarm_id)
    if alarm is None:
        msg = f"no alarm #{alarm_id} in the last 90 days"
        raise ValueError(msg)
    if alarm.acknowledged_by is not None:
        msg = f"alarm #{alarm_id} was acknowledged by {alarm.acknowledged_by} already"
        raise ValueError(msg)
    return acknowledge_alarm(db=db, alarm_id=alarm_id, ts=now, actor=actor, note=note)


@dataclass(frozen=True)
class PlanAlarm:
    """An alarm about a plan's content (see :func:`plan_alarms`)."""

    code: str
    severity: str
    message: str


def plan_alarms(frame: pd.DataFrame, *, dt_h: float, tol_kwh: float = 0.5) -> list[PlanAlarm]:
    """What a plan's frame says people must know: unserved demand and N-1 shortfalls.

    Unserved critical demand is ``critical``, other unserved demand, a flexible load's window
    energy not delivered (``<load>.unserved_kw``) and an N-1 rule not secured are ``warning``;
    each names the energy and the first interval.
    """
    out = []
    for col in frame.columns:
        kind, _, rest = col.partition(".")
        if kind not in ("unserved", "n1") and rest != "unserved_kw":
            continue
        values = frame[col].to_numpy(dtype=float)
        kwh = float(values.sum()) * dt_h
        if kwh <= tol_kwh:
            continue
        first = frame.index[values > 1e-6][0].isoformat()
        if rest == "unserved_kw":
            msg = f"the plan cannot give {kind} {kwh:.1f} kWh of its window, from {first}"
            out.append(PlanAlarm(f"plan.flexible_{kind}", "warning", msg))
        elif kind == "unserved" and rest.endswith("_critical_kw"):
            carrier = rest.removesuffix("_critical_kw")
            msg = (
                f"the plan leaves {kwh:.1f} kWh of critical {carrier} demand unserved from {first}"
            )
            out.append(PlanAlarm(f"plan.unserved_critical_{carrier}", "critical", msg))
        elif kind == "unserved":
            carrier = rest.removesuffix("_kw")
            msg = f"the plan leaves {kwh:.1f} kWh of {carrier} demand unserved from {first}"
            out.append(PlanAlarm(f"plan.unserved_{carrier}", "warning", msg))
        else:
            rule = rest.removesuffix("_shortfall_kw")
            msg = f"N-1 {rule} not secured: {kwh:.1f} kWh shortfall from {first}"
            out.append(PlanAlarm(f"plan.n1_{rule}", "warning", msg))
    return out


@dataclass(frozen=True)
class EmailChannel:
    """Alarms by e-mail through an SMTP relay (no authentication: a relay on the plant LAN)."""

    host: str
    port: int
    sender: str
    recipients: Sequence[str]
    site: str
    timeout_s: float = 10.0

    name = "email"

    def send(self, alarms: Sequence[AlarmLike], *, now: datetime) -> None:
        """Send one message listing ``alarms``; raises :class:`OSError` or SMTP errors."""
        worst = max(alarms, key=lambda a: rank(a.severity))
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Subject"] = f"[energiemodell {self.site}] {worst.severity}: {worst.code}"
        lines = [f"{now.isoformat()}  site {self.site}", ""]
        lines += [f"{a.severity.upper():8} {a.code}: {a.message}" for a in alarms]
        lines += ["", "Acknowledge: energiemodell alarms list / alarms ack ID --user NAME"]
        msg.set_content("\n".join(lines))
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            smtp.send_message(msg)


@dataclass(frozen=True)
class WebhookChannel:
    """Alarms as a JSON POST to a URL (chat or paging systems)."""

    url: str
    site: str
    timeout_s: float = 10.0

    name = "webhook"

    def send(self, alarms: Sequence[AlarmLike], *, now: datetime) -> None:
        """POST ``{"site", "ts", "alarms": [{code, severity, message}]}``; raises on failure."""
        body = {
            "site": self.site,
            "ts": now.isoformat(),
            "alarms": [
                {"code": a.code, "severity": a.severity, "message": a.message} for a in alarms
            ],
        }
        if not self.url.startswith(("http://", "https://")):
            msg = f"webhook URL must be http(s): {self.url}"
            raise ValueError(msg)
        req = urllib.request.Request(  # noqa: S310  (scheme checked above)
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310
            resp.read()


class Channel(Protocol):
    """A way to reach people."""

    name: str

    def send(self, alarms: Sequence[AlarmLike], *, now: datetime) -> None:
        """Deliver ``alarms``; raise on failure."""
        ...


@dataclass
class AlarmDelivery:
    """Hands a cycle's alarms to the BMS alarm word and to the people's channels."""

    db: Database
    bms: SafeWriter | None = None
    channels: list[Channel] = field(default_factory=list)
    min_severity: str = "warning"
    repeat_h: float = 6.0
    _sent: dict[str, datetime] = field(default_factory=dict, init=False)

    @property
    def bms_point(self) -> str | None:
        """The writable alarm point of the BMS device, if any."""
        if self.bms is None:
            return None
        rmap = self.bms.device.register_map
        names = [n for n, p in rmap.points.items() if p.role is Role.ALARM and p.writable]
        return names[0] if names else None

    def deliver(self, alarms: Sequence[AlarmLike], *, now: datetime) -> list[str]:
        """Deliver a cycle's alarms; return the failures (empty: all delivered)."""
        failures: list[str] = []
        report = self._bms_word(alarms, now=now)
        if report is not None and not report.ok:
            failures.append(f"BMS alarm word: {report.result} ({report.detail})")
        due = [
            a
            for a in alarms
            if rank(a.severity) >= rank(self.min_severity) and self._due(a.code, now)
        ]
        if not due:
            return failures
        delivered = False
        for channel in self.channels:
            try:
                channel.send(due, now=now)
                delivered = True
            except (OSError, smtplib.SMTPException, ValueError) as exc:
                logger.warning("alarm delivery by %s failed: %s", channel.name, exc)
                failures.append(f"{channel.name}: {exc}")
        if delivered:
            for a in due:
                self._sent[a.code] = now
        return failures

    def after_cycle(self, alarms: Sequence[AlarmLike], *, now: datetime, journal: Journal) -> None:
        """Deliver a cycle's alarms; store each failure as an ``alarm.delivery_failed`` alarm."""
        for failure in self.deliver(alarms, now=now):
            journal.alarm(ts=now, code="alarm.delivery_failed", severity="warning", message=failure)

    def _due(self, code: str, now: datetime) -> bool:
        last = self._sent.get(code)
        return last is None or now - last >= timedelta(hours=self.repeat_h)

    def _bms_word(self, alarms: Sequence[AlarmLike], *, now: datetime) -> WriteReport | None:
        point = self.bms_point
        if self.bms is None or point is None:
            return None
        try:
            unacked = bool(open_alarms(db=self.db, now=now))
        except STORE_ERRORS as exc:  # the store is down: this cycle's alarms still count
            logger.warning("open alarms unreadable, the word shows this cycle's only: %s", exc)
            unacked = any(rank(a.severity) >= 1 for a in alarms)
        word = alarm_word(alarms, unacknowledged=unacked)
        return self.bms.write(point, word, reason=f"alarm word {word:#06b}")


def bms_writer(writers: Mapping[str, SafeWriter]) -> SafeWriter | None:
    """The writer of the first device with a writable ``alarm`` point (the BMS gateway)."""
    for writer in writers.values():
        points = writer.device.register_map.points.values()
        if any(p.role is Role.ALARM and p.writable for p in points):
            return writer
    return None


def delivery_from(
    *,
    db: Database,
    site: str,
    bms: SafeWriter | None,
    smtp_host: str | None,
    smtp_port: int,
    sender: str,
    recipients: Sequence[str],
    webhook_url: str | None,
    min_severity: str,
) -> AlarmDelivery:
    """The configured delivery (settings ``ENERGIEMODELL_ALARM_*``; no channel: BMS word only)."""
    channels: list[Channel] = []
    if smtp_host and recipients:
        channels.append(EmailChannel(smtp_host, smtp_port, sender, list(recipients), site))
    if webhook_url:
        channels.append(WebhookChannel(webhook_url, site))
    return AlarmDelivery(db=db, bms=bms, channels=channels, min_severity=min_severity)
