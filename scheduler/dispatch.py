"""From a Schedule row to verified device writes: setpoints, checks, dispatch, remote control.

The site's device bindings say which Schedule column goes to which writable point
(``devices[].setpoints``). Values go through :class:`connectors.writer.SafeWriter`, which
refuses NaN, values outside the point's or the asset's limits and points that are not
writable, reads every write back and reports it to the journal (the store). Coils take the
column as a switch (``>= 0.5`` is on). Before any plan is dispatched its invariants are checked
(:func:`energiemodell.model.checks.check_schedule`; the rule-based fallback, which has no
balances to check, gets the bounds check); a plan that fails them is not dispatched.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from connectors.binding import asset_limits, net_column, setpoint_scale
from connectors.device import Device
from connectors.errors import ConnectorError
from connectors.registers import DataType, Limits, Role, Value
from connectors.writer import (
    Heartbeat,
    SafeWriter,
    WriteReport,
    WriteResult,
    enable_remote,
    release_remote,
)
from energiemodell.model.checks import check_bounds, check_schedule
from energiemodell.model.schedule import Schedule
from energiemodell.site import Site

logger = logging.getLogger(__name__)

OPTIMISED = ("optimal", "time_limited")
"""Origins of plans made by the solver: they get the full invariant checks."""


@dataclass(frozen=True)
class SetpointBinding:
    """One Schedule column bound to one writable device point.

    ``minus`` is the column subtracted before the write: a store's net charge or discharge on a
    signed point (:func:`connectors.binding.net_column`); ``scale`` converts the kW to the
    point's unit (percent of a battery inverter's rating, :func:`connectors.binding.
    setpoint_scale`).
    """

    device: str
    point: str
    column: str
    switch: bool
    asset_limits: Limits | None
    minus: str | None = None
    scale: float = 1.0


@dataclass(frozen=True)
class Setpoint:
    """A value for one point, valid for one interval."""

    binding: SetpointBinding
    value: Value


def setpoint_bindings(site: Site, devices: Mapping[str, Device]) -> list[SetpointBinding]:
    """Every setpoint of the site's devices, with the asset's limits (built once)."""
    out = []
    for b in site.devices:
        dev = devices.get(b.name)
        if dev is None:
            continue
        for column, point in b.setpoints.items():
            p = dev.register_map.point(point)
            out.append(
                SetpointBinding(
                    device=b.name,
                    point=point,
                    column=column,
                    switch=p.dtype is DataType.BOOL,
                    asset_limits=asset_limits(site, b, point),
                    minus=net_column(site, b, point),
                    scale=setpoint_scale(site, b, point),
                )
            )
    return out


def plan_problems(site: Site, schedule: Schedule) -> list[str]:
    """The invariant violations of a plan about to be dispatched (empty: it may go out)."""
    if schedule.origin in OPTIMISED:
        return check_schedule(site, schedule)
    return check_bounds(site, schedule)


def setpoints_for(
    row: pd.Series, bindings: Sequence[SetpointBinding]
) -> tuple[list[Setpoint], list[str]]:
    """The setpoints of one Schedule row; problems for columns missing or not finite."""
    out, problems = [], []
    for b in bindings:
        columns = [b.column] if b.minus is None else [b.column, b.minus]
        missing = [c for c in columns if c not in row.index]
        if missing:
            problems.append(f"{b.device}.{b.point}: the plan has no column {missing[0]}")
            continue
        raw = float(row[b.column]) - (0.0 if b.minus is None else float(row[b.minus]))
        raw *= b.scale
        if not math.isfinite(raw):
            problems.append(f"{b.device}.{b.point}: {' - '.join(columns)} is {raw} in the plan")
            continue
        out.append(Setpoint(b, raw >= 0.5 if b.switch else raw))
    return out, problems


def dispatch(
    setpoints: Sequence[Setpoint], writers: Mapping[str, SafeWriter], *, reason: str
) -> list[WriteReport]:
    """Write each setpoint through its device's SafeWriter (checked, read back, journalled)."""
    reports = []
    for sp in setpoints:
        writer = writers[sp.binding.device]
        reports.append(
            writer.write(
                sp.binding.point, sp.value, reason=reason, asset_limits=sp.binding.asset_limits
            )
        )
    return reports


def remote_devices(writers: Mapping[str, SafeWriter]) -> list[str]:
    """Devices whose map has a remote-enable point (they can be handed to local control)."""
    return [
        name
        for name, w in writers.items()
        if w.device.register_map.with_role(Role.REMOTE_ENABLE) is not None
    ]


def engage(
    writers: Mapping[str, SafeWriter],
    heartbeats: Mapping[str, Heartbeat],
    *,
    reason: str,
    timeout_s: float,
) -> list[WriteReport]:
    """Request remote control on every device that has the handshake; return the reports.

    A device whose heartbeat is not accepted is not asked (it is unreachable, or would drop to
    local control at once); it gets a failed report, journalled like every write.
    """
    reports = []
    for name in remote_devices(writers):
        writer = writers[name]
        hb = heartbeats.get(name)
        if hb is None:
            report = writer.write(
                _enable_point(writer), _enable_value(writer, on=True), reason=reason, force=True
            )
        else:
            try:
                report = enable_remote(writer, hb, reason=reason, timeout_s=timeout_s)
            except ConnectorError as exc:
                point = _enable_point(writer)
                value = _enable_value(writer, on=True)
                report = WriteReport(
                    writer.clock(),
                    name,
                    point,
                    value,
                    None,
                    None,
                    reason,
                    WriteResult.FAILED,
                    str(exc),
                )
                writer.sink.record_write(report)
        reports.append(report)
    return reports


def release(writers: Mapping[str, SafeWriter], *, reason: str) -> list[WriteReport]:
    """Hand every device with a remote-enable point back to local control, at once."""
    return [release_remote(writers[name], reason=reason) for name in remote_devices(writers)]


def _enable_point(writer: SafeWriter) -> str:
    name = writer.device.register_map.with_role(Role.REMOTE_ENABLE)
    if name is None:  # remote_devices() lists only devices that have one
        msg = f"{writer.device.name}: no remote_enable point"
        raise ConnectorError(msg)
    return name


def _enable_value(writer: SafeWriter, *, on: bool) -> Value:
    return writer.device.register_map.point(_enable_point(writer)).enable(on)
