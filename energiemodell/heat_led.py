"""Conventional heat-led ("wärmegeführt") operation: the one place these rules live.

Used by the scheduler's fallback, the simulator's local control and the scenarios' baseline,
so every saving is measured against the same rules. The rules, per interval:

1. Cooling: the absorption chiller runs on CHP heat when a CHP ran in the previous interval,
   up to the cooling demand; compression chillers cover the rest, as few units as possible,
   each at least at its minimum load. Cold storage is left alone (held).
2. Heat need = heat demand + absorption drive heat. CHP units, in site order, run when the
   remaining need (plus what the heat store can take) reaches their heat at minimum load,
   following the need and charging the store with what is left; min up/down times and
   outages are honoured.
3. The heat store covers what the CHP units do not, up to its content and discharge limit;
   boilers (then electric boilers, heat pumps, district heat) cover the rest.
4. Electricity is whatever is left: the grid balances it. PV is never curtailed, batteries
   stay idle, flexible loads run their even profile, emergency generators only test.

Outputs are Schedule column names (``chp1.p_el_kw``, ``chp1.on``, ``boilers.q_kw`` ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd

from energiemodell.assets.absorption_chiller import AbsorptionChiller
from energiemodell.assets.base import Asset, Carrier
from energiemodell.assets.battery import Battery
from energiemodell.assets.boiler import Boiler
from energiemodell.assets.chp import Chp
from energiemodell.assets.compression_chiller import CompressionChiller
from energiemodell.assets.district_heat import DistrictHeat
from energiemodell.assets.electric_boiler import ElectricBoiler
from energiemodell.assets.flexible_load import FlexibleLoad, FlexibleLoadParams
from energiemodell.assets.heat_pump import HeatPump
from energiemodell.assets.pv import Pv
from energiemodell.assets.thermal_storage import ThermalStorage
from energiemodell.site import Site
from energiemodell.state import PlantState, UnitState


@dataclass
class RuleState:
    """What the rules carry from one interval to the next."""

    units: dict[str, UnitState] = field(default_factory=dict)
    storage_kwh: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_plant(cls, site: Site, state: PlantState) -> RuleState:
        """Start from a PlantState (defaults as in the planner)."""
        levels = {}
        for a in site.asset_objects:
            if isinstance(a, ThermalStorage):
                p = a.params
                lo, hi = p.level_min_pu * p.capacity_kwh, p.level_max_pu * p.capacity_kwh
                level = state.storage_kwh.get(a.name, p.initial_level_pu * p.capacity_kwh)
                levels[a.name] = min(max(level, lo), hi)
        return cls(units={k: v.model_copy() for k, v in state.units.items()}, storage_kwh=levels)

    def to_plant(self, base: PlantState) -> PlantState:
        """The PlantState after the intervals run (peak and KWKG hours from ``base``)."""
        return base.model_copy(
            update={
                "units": dict(self.units),
                "storage_kwh": {**base.storage_kwh, **self.storage_kwh},
            }
        )


def _running(rs: RuleState, name: str) -> UnitState:
    return rs.units.get(name) or UnitState(on=False)


def _advance(rs: RuleState, name: str, on: bool, dt_h: float, p_kw: float) -> None:
    st = _running(rs, name)
    tis = st.time_in_state_h + dt_h if st.on == on else dt_h
    rs.units[name] = UnitState(on=on, time_in_state_h=tis, p_kw=p_kw)


def _available(state: PlantState, name: str, ts: pd.Timestamp, units: int = 1) -> int:
    return units - state.unavailable_units(name, ts.to_pydatetime(), units)


def _group(need_kw: float, unit_max: float, min_pu: float, units: int) -> tuple[int, float]:
    """Units on and output of a group covering ``need_kw`` (at least min load when on)."""
    if need_kw <= 1e-9 or units <= 0:
        return 0, 0.0
    k = min(units, math.ceil(need_kw / unit_max - 1e-9))
    out = min(max(need_kw, k * min_pu * unit_max), k * unit_max)
    return k, out


def heat_led_step(
    site: Site,
    rs: RuleState,
    *,
    ts: pd.Timestamp,
    demand_kw: dict[str, float],
    plant: PlantState,
) -> dict[str, float]:
    """Decide one interval by the heat-led rules and advance ``rs``; returns Schedule values."""
    dt_h = site.step_min / 60
    out: dict[str, float] = {}
    assets: list[Asset[Any]] = site.asset_objects
    chps = [a for a in assets if isinstance(a, Chp)]
    chp_ran = any(_running(rs, a.name).on for a in chps)

    cooling = max(0.0, demand_kw.get("cooling", 0.0))
    absorption_heat = 0.0
    for a in assets:
        if isinstance(a, AbsorptionChiller):
            pa = a.params
            ok = chp_ran and _available(plant, a.name, ts) > 0
            cold = min(cooling, pa.cold_max_kw) if ok else 0.0
            if cold < pa.cold_min_pu * pa.cold_max_kw:
                cold = 0.0
            out[f"{a.name}.cold_kw"] = cold
            if pa.cold_min_pu > 0:
                out[f"{a.name}.on"] = 1.0 if cold > 0 else 0.0
            absorption_heat += cold / pa.cop
            cooling -= cold
    for a in assets:
        if isinstance(a, CompressionChiller):
            pc = a.params
            n_av = _available(plant, a.name, ts, pc.units)
            k, cold = _group(cooling, pc.cold_max_kw, pc.cold_min_pu, n_av)
            out[f"{a.name}.cold_kw"] = cold
            if pc.cold_min_pu > 0:
                out[f"{a.name}.on"] = float(k)
            cooling -= cold
    cold_stores = [
        a for a in assets if isinstance(a, ThermalStorage) and a.params.carrier == "cooling"
    ]
    for a in cold_stores:
        out[f"{a.name}.charge_kw"] = 0.0
        out[f"{a.name}.discharge_kw"] = 0.0
    _store_excess(cold_stores, rs, out, -cooling, dt_h)  # a chiller held at minimum load

    need = max(0.0, demand_kw.get("heat", 0.0)) + absorption_heat
    stores = [a for a in assets if isinstance(a, ThermalStorage) and a.params.carrier == "heat"]

    def room_kw() -> float:
        total = 0.0
        for s in stores:
            p = s.params
            hi = p.level_max_pu * p.capacity_kwh
            total += min(p.charge_max_kw, max(0.0, hi - rs.storage_kwh[s.name]) / dt_h)
        return total

    chp_heat = 0.0
    for chp in chps:
        a, p = chp, chp.params
        st = _running(rs, a.name)
        q_full = a.capacity_kw(Carrier.HEAT)
        q_min = a.heat_at(p.p_el_min_pu * p.p_el_max_kw)
        avail = _available(plant, a.name, ts) > 0
        must_run = st.on and st.time_in_state_h < p.min_up_h
        may_start = st.on or st.time_in_state_h >= p.min_down_h
        want = need - chp_heat + room_kw()
        on = avail and (must_run or (may_start and want >= q_min))
        p_el = 0.0
        if on:
            target = min(max(need - chp_heat + room_kw() * 0.5, q_min), q_full)
            p_el = a.power_for_heat(target)
        out[f"{a.name}.p_el_kw"] = p_el
        out[f"{a.name}.on"] = 1.0 if on else 0.0
        chp_heat += a.heat_at(p_el) if on else 0.0
        _advance(rs, a.name, on, dt_h, p_el)

    balance = chp_heat - need  # > 0: surplus to store, < 0: shortfall
    for s in stores:
        ps = s.params
        lo, hi = ps.level_min_pu * ps.capacity_kwh, ps.level_max_pu * ps.capacity_kwh
        level = rs.storage_kwh[s.name] * (1 - ps.loss_pu_per_h * dt_h)
        charge = discharge = 0.0
        if balance > 0:
            charge = min(balance, ps.charge_max_kw, max(0.0, hi - level) / dt_h)
            balance -= charge
        elif balance < 0:
            discharge = min(-balance, ps.discharge_max_kw, max(0.0, level - lo) / dt_h)
            balance += discharge
        rs.storage_kwh[s.name] = min(max(level + (charge - discharge) * dt_h, lo), hi)
        out[f"{s.name}.charge_kw"] = charge
        out[f"{s.name}.discharge_kw"] = discharge

    rest = max(0.0, -balance)
    for a in assets:
        if isinstance(a, Boiler):
            pb = a.params
            k, q = _group(rest, pb.q_max_kw, pb.q_min_pu, _available(plant, a.name, ts, pb.units))
            out[f"{a.name}.q_kw"] = q
            if pb.q_min_pu > 0:
                out[f"{a.name}.on"] = float(k)
            rest -= q
        elif isinstance(a, ElectricBoiler | HeatPump | DistrictHeat):
            cap = a.capacity_kw(Carrier.HEAT) * _available(plant, a.name, ts, a.units())
            q = min(max(rest, 0.0), cap)
            out[f"{a.name}.q_kw"] = q
            rest -= q
    _store_excess(stores, rs, out, -rest, dt_h)  # a boiler held at minimum load
    return out


def _store_excess(
    stores: list[ThermalStorage],
    rs: RuleState,
    out: dict[str, float],
    excess_kw: float,
    dt_h: float,
) -> None:
    """Put output above demand (units at minimum load) into the stores, as far as they take it."""
    for s in stores:
        if excess_kw <= 1e-9:
            return
        p = s.params
        hi = p.level_max_pu * p.capacity_kwh
        key = f"{s.name}.charge_kw"
        charging = out.get(key, 0.0) - out.get(f"{s.name}.discharge_kw", 0.0)
        room = min(
            p.charge_max_kw - max(charging, 0.0), max(0.0, hi - rs.storage_kwh[s.name]) / dt_h
        )
        add = min(excess_kw, max(room, 0.0))
        if add <= 0:
            continue
        net = charging + add
        out[key], out[f"{s.name}.discharge_kw"] = max(net, 0.0), max(-net, 0.0)
        rs.storage_kwh[s.name] = min(rs.storage_kwh[s.name] + add * dt_h, hi)
        excess_kw -= add


def heat_led_dispatch(
    site: Site, forecast: pd.DataFrame, state: PlantState
) -> tuple[pd.DataFrame, PlantState]:
    """Run the rules over every interval of ``forecast``; return decisions and the end state."""
    rs = RuleState.from_plant(site, state)
    rows = []
    cols = {
        c: forecast[f"demand.{c}_kw"].to_numpy(dtype=float)
        for c in ("electricity", "heat", "cooling")
        if f"demand.{c}_kw" in forecast
    }
    for t, ts in enumerate(forecast.index):
        demand = {c: float(v[t]) for c, v in cols.items()}
        rows.append(heat_led_step(site, rs, ts=ts, demand_kw=demand, plant=state))
    frame = pd.DataFrame(rows, index=forecast.index).fillna(0.0)
    _add_passive(site, forecast, state, frame)
    return frame, rs.to_plant(state)


def _flexible_kw(
    p: FlexibleLoadParams, local: pd.DatetimeIndex, step_min: int, state: PlantState
) -> list[float]:
    """A flexible load's power: what is still due in each window, spread evenly over the rest.

    The window open at the first interval owes what :meth:`FlexibleLoadParams.still_due` says
    (its even share, unless ``state.flexible_kwh`` says what the load drew), later ones their
    whole energy.
    """
    step = timedelta(minutes=step_min)
    first = local[0].to_pydatetime().replace(tzinfo=None)
    out = []
    for ts in local:
        start = ts.to_pydatetime().replace(tzinfo=None)
        opened, closes = p.window_at(start)
        if start + step > closes:
            out.append(0.0)
        elif opened <= first:
            due, left_h = p.still_due(first, state.flexible_kwh.get(p.name))
            out.append(min(max(due / left_h, p.p_min_kw), p.p_max_kw))
        else:
            out.append(p.energy_kwh / p.window_h)
    return out


def _add_passive(
    site: Site, forecast: pd.DataFrame, state: PlantState, frame: pd.DataFrame
) -> None:
    """Rule 4 as decisions: batteries idle, PV uncurtailed, flexible loads spread evenly."""
    index = pd.DatetimeIndex(forecast.index)
    for a in site.asset_objects:
        if isinstance(a, Battery):
            frame[f"{a.name}.charge_kw"] = 0.0
            frame[f"{a.name}.discharge_kw"] = 0.0
        elif isinstance(a, Pv) and "pv.kw_per_kwp" in forecast:
            up = [_available(state, a.name, ts) for ts in index]
            per_kwp = forecast["pv.kw_per_kwp"].clip(lower=0).to_numpy(dtype=float)
            frame[f"{a.name}.p_el_kw"] = per_kwp * a.params.p_kwp * up
        elif isinstance(a, FlexibleLoad):
            local = index.tz_convert(site.timezone)
            frame[f"{a.name}.p_kw"] = _flexible_kw(a.params, local, site.step_min, state)
