"""The simulated plant's parts: units that ramp toward targets, stores, heat dumps.

Unit kinds (``Unit.kind``) and the Schedule column a unit's output is:

============== ====================================== =========================
kind           asset type                             column
============== ====================================== =========================
chp            ``chp``                                ``<name>.p_el_kw``
boiler         ``boiler``                             ``<name>.q_kw``
eboiler        ``electric_boiler``                    ``<name>.q_kw``
heat_pump      ``heat_pump``                          ``<name>.q_kw``
district_heat  ``district_heat``                      ``<name>.q_kw``
chiller        ``compression_chiller``                ``<name>.cold_kw``
absorption     ``absorption_chiller``                 ``<name>.cold_kw``
============== ====================================== =========================

A :class:`Store` is a thermal store (``carrier`` heat or cooling, lossless charging) or a battery
(``carrier`` electricity, with charge and discharge efficiencies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

EPS = 1e-9

HEAT_PEAK = ("boiler", "eboiler", "heat_pump", "district_heat")
"""Heat units that cover what the CHPs and the stores leave, in the heat-led rules' order."""
COLD_PEAK = ("chiller",)
"""Cooling units that cover what the absorption chiller and the cold store leave."""
BASE = {"heat": ("chp",), "cooling": ("absorption",)}
"""Units that back off last from a surplus, by carrier."""
PEAK = {"heat": HEAT_PEAK, "cooling": COLD_PEAK}


@dataclass
class Unit:
    """A dispatchable output: a CHP (``p_el_kw``), or a group of heat or cooling units.

    ``column`` is the Schedule column the unit's output is (``chp1.p_el_kw``, ``boilers.q_kw``).
    """

    name: str
    kind: str
    column: str
    unit_max_kw: float
    units: int = 1
    min_pu: float = 0.0
    ramp_kw_per_min: float | None = None
    output_kw: float = 0.0
    time_in_state_h: float = 1000.0
    starts: int = 0
    run_h: float = 0.0
    cap_pu: float = 1.0
    asset: Any = field(default=None, repr=False)

    @property
    def capacity_kw(self) -> float:
        """All units at full output."""
        return self.unit_max_kw * self.units

    @property
    def min_kw(self) -> float:
        """Minimum load of one running unit."""
        return self.min_pu * self.unit_max_kw

    @property
    def on(self) -> bool:
        """Whether the unit produces anything."""
        return self.output_kw > EPS

    def heat_kw(self, output_kw: float) -> float:
        """Heat a CHP gives at electric output ``output_kw`` (other units: their output)."""
        if self.kind != "chp":
            return output_kw
        return max(float(self.asset.heat_at(output_kw)), 0.0) if output_kw > EPS else 0.0

    def feasible(self, target_kw: float, cap_pu: float = 1.0) -> float:
        """The steady output the unit settles at for ``target_kw`` under a cap."""
        cap = self.capacity_kw * min(max(cap_pu, 0.0), 1.0)
        if target_kw <= EPS or cap < self.min_kw or cap <= EPS:
            return 0.0
        return min(max(target_kw, self.min_kw), cap)

    def move(self, target_kw: float, cap_pu: float, dt_s: float) -> None:
        """Ramp toward the feasible target for ``dt_s`` seconds and count starts and hours.

        Start-ups and load changes follow the ramp; a unit told to stop (or locked off) stops
        within the step, as the model assumes.
        """
        self.cap_pu = min(max(cap_pu, 0.0), 1.0)
        goal = self.feasible(target_kw, cap_pu)
        was_on = self.on
        if self.ramp_kw_per_min is None or goal <= EPS:
            new = goal  # a stop is immediate, as in the model (a stop frees the ramp limit)
        else:
            step = self.ramp_kw_per_min * dt_s / 60.0
            new = self.output_kw + min(max(goal - self.output_kw, -step), step)
        self.set_output(new, was_on=was_on)
        if self.on:
            self.run_h += dt_s / 3600.0
        self.time_in_state_h += dt_s / 3600.0

    def set_output(self, new_kw: float, *, was_on: bool | None = None) -> None:
        """Set the output directly (back-off, trip); resets the time in state on a change."""
        before = self.on if was_on is None else was_on
        self.output_kw = max(new_kw, 0.0)
        if self.on != before:
            self.time_in_state_h = 0.0
            if self.on:
                self.starts += 1

    def back_off(self, by_kw: float) -> float:
        """Reduce the carrier output by up to ``by_kw``; return the reduction achieved.

        A unit pushed below its minimum load stops (a CHP trips).
        """
        have = self.heat_kw(self.output_kw)
        if self.kind != "chp":
            left = have - min(by_kw, have)
            self.set_output(left if left >= self.min_kw - EPS else 0.0)
            return have - self.output_kw
        left = have - by_kw
        q_min = float(self.asset.heat_at(self.min_kw))
        if left >= q_min - EPS and left > EPS:
            self.set_output(float(self.asset.power_for_heat(left)))
        else:
            self.set_output(0.0)
        return have - self.heat_kw(self.output_kw)


@dataclass
class Store:
    """A thermal store (``heat``, ``cooling``) or a battery (``electricity``).

    ``level' = level * (1 - loss_pu_per_h * dt) + (eta_charge * charge - discharge /
    eta_discharge) * dt``, ``lo_kwh <= level <= hi_kwh``.
    """

    name: str
    carrier: str
    capacity_kwh: float
    charge_max_kw: float
    discharge_max_kw: float
    loss_pu_per_h: float
    lo_kwh: float
    hi_kwh: float
    level_kwh: float
    eta_charge: float = 1.0
    eta_discharge: float = 1.0

    def kept_kwh(self, dt_h: float) -> float:
        """The level after the step's standing loss."""
        return self.level_kwh * (1 - self.loss_pu_per_h * dt_h)

    def limits_kw(self, dt_h: float) -> tuple[float, float]:
        """Net charge bounds ``(-max discharge, max charge)`` for a step (power and level)."""
        kept, span = self.kept_kwh(dt_h), max(dt_h, EPS)  # a zero-length step moves nothing
        up = min(self.charge_max_kw, max(0.0, self.hi_kwh - kept) / (self.eta_charge * span))
        down = min(self.discharge_max_kw, max(0.0, kept - self.lo_kwh) * self.eta_discharge / span)
        return -down, up

    def apply(self, net_kw: float, dt_h: float) -> dict[str, float]:
        """Move the level by a net charge (mean kW over the step); return the store's flows."""
        charge, discharge = max(net_kw, 0.0), max(-net_kw, 0.0)
        loss = self.level_kwh * self.loss_pu_per_h
        gain = self.eta_charge * charge - discharge / self.eta_discharge
        self.level_kwh = self.kept_kwh(dt_h) + gain * dt_h
        n = self.name
        return {
            f"{n}.charge_kw": charge,
            f"{n}.discharge_kw": discharge,
            f"{n}.loss_kw": loss,
            f"{n}.level_kwh": self.level_kwh,
        }


@dataclass(frozen=True)
class HeatDump:
    """A table cooler that rejects surplus heat, up to ``q_max_kw``."""

    name: str
    q_max_kw: float


@dataclass(frozen=True)
class Demand:
    """What the campus needs and the weather gives during one interval (kW, degC)."""

    electricity_kw: float
    heat_kw: float
    cooling_kw: float
    pv_kw_per_kwp: float
    temp_c: float


Flows = dict[str, float]
"""Mean values over one step: Schedule-style columns (kW, kWh for levels)."""


@dataclass(frozen=True)
class TestRun:
    """An emergency generator test run (UTC)."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp
    p_kw: float
