"""The simulated plant's physics: units that ramp toward targets, stores, and closed balances.

One call of :meth:`Plant.step` moves the plant by ``dt_s`` seconds at constant demand and returns
the :class:`Flows` of that step (mean kW over the step, Schedule-style column names).

Notes
-----
Per step of length ``dt`` (h), with every flow non-negative:

- unit output ``x`` moves toward its feasible target by at most ``R * dt * 60`` (``R`` in kW/min:
  the asset's ``ramp_kw_per_min``, else its capacity over ``start_time_min``; instantaneous when
  that is 0). A steady target above zero is raised to the minimum load of one unit and capped
  at the available capacity; a unit ramping down to a zero target stops below its minimum load.
- CHP heat ``q = heat_at(p_el)``; chiller electricity ``p_el = cold / EER(T_amb)``; absorption
  drive heat ``q_in = cold / COP`` and auxiliary power ``aux = cold * aux_el_kw_per_kw_cold``.
- Heat: ``sum chp.q + boilers.q + store.discharge - store.charge + unserved.heat
  = demand.heat + absorption.q_in``; cooling likewise with chillers, absorption and the cold
  store. Stores are the hydraulic buffer: they take what production and demand leave over,
  within their power and level limits; what they cannot cover, running boilers and chillers
  add (their setpoint is a floor: the plant keeps its supply temperature); a remaining
  shortfall is ``unserved``, never hidden; a
  remaining surplus makes the units back off (boilers or chillers first, then CHPs or the
  absorption chiller; a CHP pushed below its minimum load trips), as their return-temperature
  protection does.
- Store level: ``level' = level * (1 - loss_pu_per_h * dt) + (charge - discharge) * dt``,
  reported as ``loss_kw = level * loss_pu_per_h``.
- Electricity: ``grid.import - grid.export = demand.electricity + flexible extra + chillers.p_el
  + absorption.aux - sum chp.p_el - pv - emergency generators``. The grid is the slack.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from energiemodell.errors import Problem, SiteError

if TYPE_CHECKING:
    from energiemodell.site import Site

EPS = 1e-9


@dataclass
class Unit:
    """A dispatchable output: a CHP (``p_el_kw``), or a group of boilers or chillers.

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
        """Heat a CHP gives at electric output ``output_kw`` (a boiler's output is its heat)."""
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
        """Ramp toward the feasible target for ``dt_s`` seconds and count starts and hours."""
        goal = self.feasible(target_kw, cap_pu)
        was_on = self.on
        if self.ramp_kw_per_min is None:
            new = goal
        else:
            step = self.ramp_kw_per_min * dt_s / 60.0
            new = self.output_kw + min(max(goal - self.output_kw, -step), step)
        if goal <= EPS and new < self.min_kw + EPS:
            new = 0.0  # ramped down to minimum load with nothing to do: the unit stops
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


@dataclass
class Store:
    """A thermal store (heat or cooling)."""

    name: str
    carrier: str
    capacity_kwh: float
    charge_max_kw: float
    discharge_max_kw: float
    loss_pu_per_h: float
    lo_kwh: float
    hi_kwh: float
    level_kwh: float


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


class Plant:
    """The plant of a site: units, stores, PV, emergency generators and the grid.

    Parameters
    ----------
    units
        Dispatchable units, in site order.
    stores
        Thermal stores, in site order.
    pv_kwp
        PV name -> installed kWp.
    eer_curves
        Compression chiller -> (ambient temperatures, EER) to interpolate.
    generators, test_runs
        Emergency generators, and their test runs (the only time they run).
    flexible
        Flexible-load parameters; those outside the demand series run their even profile.
    """

    def __init__(
        self,
        *,
        units: list[Unit],
        stores: list[Store],
        pv_kwp: dict[str, float],
        eer_curves: dict[str, tuple[list[float], list[float]]],
        generators: list[str] | None = None,
        test_runs: list[TestRun] | None = None,
        flexible: list[Any] | None = None,
    ) -> None:
        self.units = {u.name: u for u in units}
        self.stores = {s.name: s for s in stores}
        self.pv_kwp = pv_kwp
        self.eer_curves = eer_curves
        self.test_runs = test_runs or []
        self.generators = generators or []
        self.flexible = [p for p in flexible or [] if not p.included_in_demand]

    def emergency_kw(self, now: pd.Timestamp) -> dict[str, float]:
        """Emergency generators' output: their test runs only."""
        out = dict.fromkeys(self.generators, 0.0)
        for r in self.test_runs:
            if r.start <= now < r.end:
                out[r.name] = r.p_kw
        return out

    def flexible_kw(self, local: time) -> dict[str, float]:
        """Flexible electric loads outside the demand series: their even profile in the window."""
        out: dict[str, float] = {}
        for p in self.flexible:
            start, end = p.window_start, p.window_end
            hours = ((end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)) % 1440 / 60
            inside = start <= local < end if start < end else (local >= start or local < end)
            out[p.name] = p.energy_kwh / hours if inside and hours > 0 else 0.0
        return out

    def eer(self, unit: Unit, temp_c: float) -> float:
        """Energy efficiency ratio of a compression chiller at the ambient temperature."""
        curve = self.eer_curves.get(unit.name)
        if curve is None:
            return float(unit.asset.params.eer)
        return float(np.interp(temp_c, curve[0], curve[1]))

    def step(
        self,
        dt_s: float,
        demand: Demand,
        *,
        targets: dict[str, float],
        caps: dict[str, float],
        extra_el_kw: dict[str, float],
        emergency_kw: dict[str, float],
    ) -> Flows:
        """Move the plant by ``dt_s`` seconds; return the step's flows (module notes)."""
        for u in self.units.values():
            u.move(targets.get(u.column, 0.0), caps.get(u.name, 1.0), dt_s)
        dt_h = dt_s / 3600.0
        out: Flows = {
            "demand.electricity_kw": demand.electricity_kw,
            "demand.heat_kw": demand.heat_kw,
            "demand.cooling_kw": demand.cooling_kw,
            "weather.temp_c": demand.temp_c,
        }
        self._cooling(demand, dt_h, out)
        self._heat(demand, dt_h, out)
        self._electricity(demand, out, extra_el_kw, emergency_kw)
        for u in self.units.values():
            out[f"{u.name}.on"] = float(math.ceil(u.output_kw / u.unit_max_kw - 1e-6))
        return out

    def _of(self, kind: str) -> list[Unit]:
        return [u for u in self.units.values() if u.kind == kind]

    def _cooling(self, demand: Demand, dt_h: float, out: Flows) -> None:
        producers = self._of("chiller") + self._of("absorption")
        stores = [s for s in self.stores.values() if s.carrier == "cooling"]
        unserved = self._balance(
            producers, stores, demand.cooling_kw, dt_h, out, lambda u: u.output_kw
        )
        out["unserved.cooling_kw"] = unserved
        for u in self._of("chiller"):
            out[f"{u.name}.cold_kw"] = u.output_kw
            out[f"{u.name}.p_el_kw"] = u.output_kw / self.eer(u, demand.temp_c)
        for u in self._of("absorption"):
            p = u.asset.params
            out[f"{u.name}.cold_kw"] = u.output_kw
            out[f"{u.name}.q_in_kw"] = u.output_kw / p.cop
            out[f"{u.name}.aux_el_kw"] = u.output_kw * p.aux_el_kw_per_kw_cold

    def _heat(self, demand: Demand, dt_h: float, out: Flows) -> None:
        need = demand.heat_kw + sum(out[f"{u.name}.q_in_kw"] for u in self._of("absorption"))
        producers = self._of("boiler") + self._of("chp")
        stores = [s for s in self.stores.values() if s.carrier == "heat"]
        out["unserved.heat_kw"] = self._balance(producers, stores, need, dt_h, out, self._heat_of)
        for u in self._of("chp"):
            out[f"{u.name}.p_el_kw"] = u.output_kw
            out[f"{u.name}.q_kw"] = self._heat_of(u)
        for u in self._of("boiler"):
            out[f"{u.name}.q_kw"] = u.output_kw

    @staticmethod
    def _heat_of(u: Unit) -> float:
        return u.heat_kw(u.output_kw)

    def _back_off(self, u: Unit, by_kw: float) -> float:
        """Reduce a unit's carrier output by up to ``by_kw``; return the reduction achieved."""
        have = self._heat_of(u)
        if u.kind != "chp":
            left = have - min(by_kw, have)
            u.set_output(left if left >= u.min_kw - EPS else 0.0)  # below minimum load: off
            return have - u.output_kw
        left = have - by_kw
        q_min = float(u.asset.heat_at(u.min_kw))
        if left >= q_min - EPS and left > EPS:
            u.set_output(float(u.asset.power_for_heat(left)))
        else:
            u.set_output(0.0)  # below minimum load: the CHP trips
        return have - self._heat_of(u)

    def _balance(
        self,
        producers: list[Unit],
        stores: list[Store],
        need_kw: float,
        dt_h: float,
        out: Flows,
        supply_of: Callable[[Unit], float],
    ) -> float:
        """Settle one carrier: stores buffer, units back off from a surplus; return unserved."""
        kept = {s.name: s.level_kwh * (1 - s.loss_pu_per_h * dt_h) for s in stores}
        span_h = max(dt_h, EPS)  # a zero-length step (the initial snapshot) moves no energy
        room = {
            s.name: min(s.charge_max_kw, max(0.0, s.hi_kwh - kept[s.name]) / span_h) for s in stores
        }
        surplus = sum(supply_of(u) for u in producers) - need_kw - sum(room.values())
        for u in producers:
            if surplus <= EPS:
                break
            surplus -= self._back_off(u, surplus)
        net = sum(supply_of(u) for u in producers) - need_kw
        for s in stores:
            charge = discharge = 0.0
            if net > 0:
                charge = min(net, room[s.name])
                net -= charge
            elif net < 0:
                avail = min(s.discharge_max_kw, max(0.0, kept[s.name] - s.lo_kwh) / span_h)
                discharge = min(-net, avail)
                net += discharge
            out[f"{s.name}.loss_kw"] = s.level_kwh * s.loss_pu_per_h
            s.level_kwh = kept[s.name] + (charge - discharge) * dt_h
            out[f"{s.name}.charge_kw"] = charge
            out[f"{s.name}.discharge_kw"] = discharge
            out[f"{s.name}.level_kwh"] = s.level_kwh
        # Units back off to zero at most, so the stores' room always takes what is left.
        return float(max(0.0, self._top_up(producers, -net)))

    @staticmethod
    def _top_up(producers: list[Unit], deficit_kw: float) -> float:
        """Cover a deficit the setpoints leave with boilers and chillers; return what remains.

        A boiler house or chiller plant keeps its supply temperature under any control mode: an
        external setpoint is the output it runs at, not a cap when the header cools down (a store
        emptied earlier than planned, a demand above the forecast). Running groups extend up to
        their capacity; a stopped group starts only for at least one unit's minimum load.
        """
        for u in producers:
            if deficit_kw <= EPS:
                break
            if u.kind not in ("boiler", "chiller"):
                continue
            if not u.on and deficit_kw < u.min_kw - EPS:
                continue
            new = min(u.output_kw + deficit_kw, u.capacity_kw)
            deficit_kw -= new - u.output_kw
            u.set_output(new)
        return deficit_kw

    def _electricity(
        self,
        demand: Demand,
        out: Flows,
        extra_el_kw: dict[str, float],
        emergency_kw: dict[str, float],
    ) -> None:
        pv = 0.0
        for name, kwp in self.pv_kwp.items():
            out[f"{name}.p_kw"] = kwp * max(demand.pv_kw_per_kwp, 0.0)
            pv += out[f"{name}.p_kw"]
        for name, p in extra_el_kw.items():
            out[f"{name}.p_kw"] = p
        for name, p in emergency_kw.items():
            out[f"{name}.p_el_kw"] = p
        use = (
            demand.electricity_kw
            + sum(extra_el_kw.values())
            + sum(out[f"{u.name}.p_el_kw"] for u in self._of("chiller"))
            + sum(out[f"{u.name}.aux_el_kw"] for u in self._of("absorption"))
        )
        gen = pv + sum(u.output_kw for u in self._of("chp")) + sum(emergency_kw.values())
        net = use - gen
        out["grid.import_kw"] = max(net, 0.0)
        out["grid.export_kw"] = max(-net, 0.0)
        out["grid.net_import_kw"] = net


_KINDS = {
    "chp": ("chp", "p_el_kw"),
    "boiler": ("boiler", "q_kw"),
    "compression_chiller": ("chiller", "cold_kw"),
    "absorption_chiller": ("absorption", "cold_kw"),
}
_PASSIVE = frozenset({"grid", "pv", "thermal_storage", "emergency_generator", "flexible_load"})


def _unit(a: Any) -> Unit:
    p = a.params
    kind, quantity = _KINDS[p.type]
    unit_max = {"chp": "p_el_max_kw", "boiler": "q_max_kw"}.get(kind, "cold_max_kw")
    min_pu = {"chp": "p_el_min_pu", "boiler": "q_min_pu"}.get(kind, "cold_min_pu")
    u_max, n = float(getattr(p, unit_max)), int(getattr(p, "units", 1))
    ramp = getattr(p, "ramp_kw_per_min", None)
    if ramp is None and p.start_time_min > 0:
        ramp = u_max * n / p.start_time_min  # all units from zero to full in start_time_min
    column = f"{a.name}.{quantity}"
    return Unit(a.name, kind, column, u_max, n, float(getattr(p, min_pu)), ramp, asset=a)


def build_plant(site: Site) -> Plant:
    """The site's plant in its initial state (stores at ``initial_level_pu``, units off).

    Raises
    ------
    SiteError
        For asset types the simulator does not model (battery, heat pump, electric boiler,
        district heat, heat dump) and heat or cooling flexible loads outside the demand series.
    """
    units: list[Unit] = []
    stores: list[Store] = []
    pv: dict[str, float] = {}
    curves: dict[str, tuple[list[float], list[float]]] = {}
    runs: list[TestRun] = []
    generators: list[str] = []
    flexible: list[Any] = []
    problems: list[Problem] = []
    for a in site.asset_objects:
        p = a.params
        if p.type in _KINDS:
            units.append(_unit(a))
            if p.type == "compression_chiller" and p.eer_by_temp_c:
                pts = sorted(p.eer_by_temp_c)
                curves[a.name] = ([t for t, _ in pts], [e for _, e in pts])
        elif p.type == "thermal_storage":
            lo, hi = p.level_min_pu * p.capacity_kwh, p.level_max_pu * p.capacity_kwh
            level = min(max(p.initial_level_pu * p.capacity_kwh, lo), hi)
            stores.append(
                Store(
                    a.name, p.carrier, p.capacity_kwh, p.charge_max_kw, p.discharge_max_kw,
                    p.loss_pu_per_h, lo, hi, level,
                )
            )  # fmt: skip
        elif p.type == "pv":
            pv[a.name] = p.p_kwp
        elif p.type == "emergency_generator":
            generators.append(a.name)
            for run in p.test_runs:
                t0 = pd.Timestamp(run.start)
                t0 = (t0.tz_localize(site.tz) if t0.tzinfo is None else t0).tz_convert("UTC")
                t1 = t0 + pd.Timedelta(hours=run.duration_h)
                runs.append(TestRun(a.name, t0, t1, run.load_pu * p.p_el_kw))
        elif p.type == "flexible_load":
            if not p.included_in_demand and p.carrier != "electricity":
                msg = "the plant simulator does not model heat or cooling flexible loads"
                problems.append(Problem(site.source, f"assets.{a.name}", msg, ""))
            flexible.append(p)
        elif p.type not in _PASSIVE:
            msg = f"the plant simulator does not model asset type {p.type}"
            problems.append(Problem(site.source, f"assets.{a.name}.type", msg, ""))
    if problems:
        raise SiteError(problems)
    return Plant(
        units=units,
        stores=stores,
        pv_kwp=pv,
        eer_curves=curves,
        generators=generators,
        test_runs=runs,
        flexible=flexible,
    )
