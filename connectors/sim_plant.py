"""The simulated plant's physics: units that ramp toward targets, stores, and closed balances.

One call of :meth:`Plant.step` moves the plant by ``dt_s`` seconds at constant demand and returns
the :class:`Flows` of that step (mean kW over the step, Schedule-style column names). The parts
are in :mod:`connectors.sim_units`; :func:`connectors.sim_build.build_plant` builds a site's plant.

Notes
-----
Per step of length ``dt`` (h), with every flow non-negative:

- unit output ``x`` moves toward its feasible target by at most ``R * dt * 60`` (``R`` in kW/min:
  the asset's ``ramp_kw_per_min``, else its capacity over ``start_time_min``; instantaneous when
  it has neither). A steady target above zero is raised to the minimum load of one unit and
  capped at the available capacity; a unit ramping down to a zero target stops below its minimum
  load.
- CHP heat ``q = heat_at(p_el)``; chiller ``p_el = cold / EER(T_amb)``; absorption drive heat
  ``q_in = cold / COP`` and auxiliary power ``aux = cold * aux_el_kw_per_kw_cold``; electric
  boiler ``p_el = q / eta``; heat pump ``p_el = q / COP(T_amb)`` (constant or the asset's curve).
- Heat: ``sum chp.q + boilers.q + eboilers.q + heat_pumps.q + district_heat.q + store.discharge
  - store.charge - dump.q + unserved.heat = demand.heat + absorption.q_in + heat flexible
  loads``; cooling likewise with chillers, absorption and the cold stores. Each carrier settles
  in this order. A surplus goes into the free stores (those without a valid charge setpoint:
  the hydraulic buffer), then the peak units back off (district heat, heat pumps, electric
  boilers, boilers; chillers), then steered stores take more than their setpoint, then heat
  dumps reject up to their setpoint, then the base units back off (CHPs, the absorption chiller;
  a unit pushed below its minimum load stops), as return-temperature protection does. A deficit
  is given by the free stores, then the peak units add to their output in the rules' order
  (boilers, electric boilers, heat pumps, district heat; chillers: their setpoint is a floor, the
  plant keeps its supply temperature), then steered stores give more than their setpoint; what
  is left is ``unserved``, never hidden.
- Store level: ``level' = level * (1 - loss_pu_per_h * dt) + (eta_c * charge - discharge /
  eta_d) * dt`` (``eta = 1`` for thermal stores), reported as ``loss_kw = level * loss_pu_per_h``.
  A steered store's net charge is its setpoint clipped to its power and level limits.
- Flexible loads draw ``p_kw`` (their setpoint, else their even profile ``base_kw``); one in the
  demand series adds ``p_kw - base_kw`` to its carrier's demand, any other ``p_kw``.
- Electricity: ``grid.import - grid.export = demand.electricity + electric flexible loads +
  chillers.p_el + absorption.aux + eboilers.p_el + heat_pumps.p_el + battery.charge - chp.p_el
  - pv - emergency generators - battery.discharge``. The grid is the slack; a battery charges or
  discharges only on a setpoint (idle under the heat-led rules).
"""

from __future__ import annotations

import math
from datetime import time
from typing import Any

import numpy as np
import pandas as pd

from connectors.sim_units import (
    BASE,
    EPS,
    PEAK,
    Demand,
    Flows,
    HeatDump,
    Store,
    TestRun,
    Unit,
)

__all__ = ["Demand", "Flows", "Plant", "Store", "Unit"]

_ELECTRIC = ("chiller", "eboiler", "heat_pump")
"""Units whose input is electricity (``<name>.p_el_kw``)."""
_EFFICIENCY = ("chiller", "heat_pump")
"""Units whose efficiency may depend on the ambient temperature (EER, COP)."""


class Plant:
    """The plant of a site: units, stores, heat dumps, PV, emergency generators and the grid.

    Parameters
    ----------
    units
        Dispatchable units, in site order.
    stores
        Thermal stores and batteries, in site order.
    dumps
        Heat dumps.
    pv_kwp
        PV name -> installed kWp.
    curves
        Compression chiller -> (ambient temperatures, EER), heat pump -> (temperatures, COP).
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
        curves: dict[str, tuple[list[float], list[float]]],
        dumps: list[HeatDump] | None = None,
        generators: list[str] | None = None,
        test_runs: list[TestRun] | None = None,
        flexible: list[Any] | None = None,
    ) -> None:
        self.units = {u.name: u for u in units}
        self.stores = {s.name: s for s in stores}
        self.dumps = {d.name: d for d in dumps or []}
        self.pv_kwp = pv_kwp
        self.curves = curves
        self.test_runs = test_runs or []
        self.generators = generators or []
        self.flexible = list(flexible or [])

    def emergency_kw(self, now: pd.Timestamp) -> dict[str, float]:
        """Emergency generators' output: their test runs only."""
        out = dict.fromkeys(self.generators, 0.0)
        for r in self.test_runs:
            if r.start <= now < r.end:
                out[r.name] = r.p_kw
        return out

    def flexible_kw(self, local: time) -> dict[str, float]:
        """Each flexible load's even profile: its energy spread over its window."""
        out: dict[str, float] = {}
        for p in self.flexible:
            start, end = p.window_start, p.window_end
            hours = ((end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)) % 1440 / 60
            hours = hours or 24.0  # a window that closes when it opens lasts a day
            inside = start <= local < end if start < end else (local >= start or local < end)
            out[p.name] = p.energy_kwh / hours if inside else 0.0
        return out

    def efficiency(self, unit: Unit, temp_c: float) -> float:
        """EER of a compression chiller or COP of a heat pump at the ambient temperature."""
        curve = self.curves.get(unit.name)
        if curve is not None:
            return float(np.interp(temp_c, curve[0], curve[1]))
        p = unit.asset.params
        return float(p.eer if unit.kind == "chiller" else p.cop)

    def step(
        self,
        dt_s: float,
        demand: Demand,
        *,
        targets: dict[str, float],
        caps: dict[str, float],
        flexible_kw: dict[str, tuple[float, float]],
        emergency_kw: dict[str, float],
        store_kw: dict[str, float] | None = None,
        dump_kw: dict[str, float] | None = None,
    ) -> Flows:
        """Move the plant by ``dt_s`` seconds; return the step's flows (module notes).

        ``flexible_kw`` gives each flexible load's even profile and what it draws (name ->
        ``(base, drawn)``; a load in the demand series changes it by ``drawn - base``),
        ``store_kw`` the valid net-charge setpoints of steered stores and batteries (positive:
        charge), ``dump_kw`` the valid setpoints of heat dumps (what each may reject).
        """
        for u in self.units.values():
            u.move(targets.get(u.column, 0.0), caps.get(u.name, 1.0), dt_s)
        dt_h = dt_s / 3600.0
        out: Flows = {
            "demand.electricity_kw": demand.electricity_kw,
            "demand.heat_kw": demand.heat_kw,
            "demand.cooling_kw": demand.cooling_kw,
            "weather.temp_c": demand.temp_c,
        }
        extra = {"electricity": 0.0, "heat": 0.0, "cooling": 0.0}
        for p in self.flexible:
            base, drawn = flexible_kw.get(p.name, (0.0, 0.0))
            out[f"{p.name}.base_kw"], out[f"{p.name}.p_kw"] = base, drawn
            extra[p.carrier] += drawn - (base if p.included_in_demand else 0.0)
        steer, dumps = store_kw or {}, dump_kw or {}
        cold_need = demand.cooling_kw + extra["cooling"]
        out["unserved.cooling_kw"] = self._settle("cooling", cold_need, dt_h, out, steer, {})
        for u in self._of("chiller"):
            out[f"{u.name}.cold_kw"] = u.output_kw
        for u in self._of("absorption"):
            p = u.asset.params
            out[f"{u.name}.cold_kw"] = u.output_kw
            out[f"{u.name}.q_in_kw"] = u.output_kw / p.cop
            out[f"{u.name}.aux_el_kw"] = u.output_kw * p.aux_el_kw_per_kw_cold
            out[f"{u.name}.p_el_kw"] = out[f"{u.name}.aux_el_kw"]  # the Schedule's name
        heat_need = demand.heat_kw + extra["heat"]
        heat_need += sum(out[f"{u.name}.q_in_kw"] for u in self._of("absorption"))
        out["unserved.heat_kw"] = self._settle("heat", heat_need, dt_h, out, steer, dumps)
        for u in self._of("chp"):
            out[f"{u.name}.p_el_kw"] = u.output_kw
            out[f"{u.name}.q_kw"] = u.heat_kw(u.output_kw)
        for kind in PEAK["heat"]:
            for u in self._of(kind):
                out[f"{u.name}.q_kw"] = u.output_kw
        for u in self.units.values():
            if u.kind in _EFFICIENCY:
                out[f"{u.name}.p_el_kw"] = u.output_kw / self.efficiency(u, demand.temp_c)
            elif u.kind == "eboiler":
                out[f"{u.name}.p_el_kw"] = u.output_kw / u.asset.params.eta
        self._electricity(demand, dt_h, out, extra["electricity"], emergency_kw, steer)
        for u in self.units.values():
            out[f"{u.name}.on"] = float(math.ceil(u.output_kw / u.unit_max_kw - 1e-6))
        return out

    def _of(self, kind: str) -> list[Unit]:
        return [u for u in self.units.values() if u.kind == kind]

    def _settle(
        self,
        carrier: str,
        need_kw: float,
        dt_h: float,
        out: Flows,
        steer: dict[str, float],
        dump_kw: dict[str, float],
    ) -> float:
        """Settle one carrier (module notes); write the store and dump flows; return unserved."""
        peak = [u for kind in PEAK[carrier] for u in self._of(kind)]
        base = [u for kind in BASE[carrier] for u in self._of(kind)]
        stores = [s for s in self.stores.values() if s.carrier == carrier]
        bounds = {s.name: s.limits_kw(dt_h) for s in stores}
        net = {
            s.name: min(max(steer[s.name], bounds[s.name][0]), bounds[s.name][1])
            for s in stores
            if s.name in steer
        }
        free = [s.name for s in stores if s.name not in net]
        steered = list(net)
        net |= dict.fromkeys(free, 0.0)
        supply = sum(u.heat_kw(u.output_kw) for u in peak + base)
        surplus = supply - need_kw - sum(net.values())
        surplus = _shift(free, surplus, net, bounds)
        if surplus > EPS:
            for u in reversed(peak):
                surplus -= u.back_off(surplus) if surplus > EPS else 0.0
            surplus = _shift(steered, surplus, net, bounds)
            for d in self.dumps.values() if carrier == "heat" else ():
                q = min(max(surplus, 0.0), d.q_max_kw, max(dump_kw.get(d.name, 0.0), 0.0))
                out[f"{d.name}.q_kw"] = q
                surplus -= q
            for u in base:
                surplus -= u.back_off(surplus) if surplus > EPS else 0.0
        elif surplus < -EPS:
            surplus = -_top_up(peak, -surplus)
            surplus = _shift(steered, surplus, net, bounds)
        for d in self.dumps.values() if carrier == "heat" else ():
            out.setdefault(f"{d.name}.q_kw", 0.0)
        for s in stores:
            out.update(s.apply(net[s.name], dt_h))
        return max(0.0, -surplus)

    def _electricity(
        self,
        demand: Demand,
        dt_h: float,
        out: Flows,
        extra_kw: float,
        emergency_kw: dict[str, float],
        steer: dict[str, float],
    ) -> None:
        pv = 0.0
        for name, kwp in self.pv_kwp.items():
            out[f"{name}.p_kw"] = kwp * max(demand.pv_kw_per_kwp, 0.0)
            out[f"{name}.p_el_kw"] = out[f"{name}.p_kw"]  # the Schedule's name
            pv += out[f"{name}.p_kw"]
        for name, p in emergency_kw.items():
            out[f"{name}.p_el_kw"] = p
        battery = 0.0  # net charge of the batteries
        for s in self.stores.values():
            if s.carrier == "electricity":
                lo, hi = s.limits_kw(dt_h)
                net = min(max(steer.get(s.name, 0.0), lo), hi)  # no setpoint: idle
                out.update(s.apply(net, dt_h))
                battery += net
        use = (
            demand.electricity_kw
            + extra_kw
            + battery
            + sum(out[f"{u.name}.p_el_kw"] for u in self.units.values() if u.kind in _ELECTRIC)
            + sum(out[f"{u.name}.aux_el_kw"] for u in self._of("absorption"))
        )
        gen = pv + sum(u.output_kw for u in self._of("chp")) + sum(emergency_kw.values())
        net_import = use - gen
        out["grid.import_kw"] = max(net_import, 0.0)
        out["grid.export_kw"] = max(-net_import, 0.0)
        out["grid.net_import_kw"] = net_import


def _shift(
    names: list[str], surplus: float, net: dict[str, float], bounds: dict[str, tuple[float, float]]
) -> float:
    """Let stores take a surplus (charge more) or give a deficit (charge less); return the rest."""
    for n in names:
        lo, hi = bounds[n]
        if surplus > EPS:
            add = min(surplus, max(hi - net[n], 0.0))
            net[n] += add
            surplus -= add
        elif surplus < -EPS:
            take = min(-surplus, max(net[n] - lo, 0.0))
            net[n] -= take
            surplus += take
    return surplus


def _top_up(peak: list[Unit], deficit_kw: float) -> float:
    """Cover a deficit the setpoints leave with the peak units; return what remains.

    A boiler house or chiller plant keeps its supply temperature under any control mode: an
    external setpoint is the output it runs at, not a cap when the header cools down (a store
    emptied earlier than planned, a demand above the forecast). Running groups extend up to
    their capacity (times their permissive cap); a stopped group starts only for at least one
    unit's minimum load.
    """
    for u in peak:
        if deficit_kw <= EPS:
            break
        cap = u.capacity_kw * u.cap_pu  # a unit locked off or limited stays so
        if (not u.on and deficit_kw < u.min_kw - EPS) or cap < u.min_kw or cap <= u.output_kw:
            continue
        new = min(u.output_kw + deficit_kw, cap)
        deficit_kw -= new - u.output_kw
        u.set_output(new)
    return deficit_kw
