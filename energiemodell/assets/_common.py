"""Pieces shared by several asset types: unit commitment and fuel costs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyomo.environ as pyo

from energiemodell.assets.base import BuildContext
from energiemodell.errors import ModelBuildError
from energiemodell.model.data import HorizonData

# Money categories (Schedule.costs keys).
GAS_COMMODITY = "gas_commodity"
GAS_FEES_TAXES = "gas_fees_taxes"
CO2_PRICE = "co2_price"
STARTS = "starts"
O_AND_M = "o_and_m"
KWKG = "kwkg_surcharge"
ELECTRICITY_ENERGY = "electricity_energy"
GRID_ENERGY_CHARGE = "grid_energy_charge"
LEVIES_TAXES = "levies_taxes"
PEAK_CHARGE = "peak_charge"
EXPORT_REVENUE = "export_revenue"
DISTRICT_HEAT = "district_heat"
WEAR = "battery_wear"
STORAGE_VALUE = "storage_end_value"
EMERGENCY = "emergency_generator_tests"


def steps(hours: float, dt_h: float) -> int:
    """Whole steps needed to cover ``hours``."""
    return math.ceil(hours / dt_h - 1e-9)


def add_commitment(
    b: Any, ctx: BuildContext, *, units: int, min_up_h: float, min_down_h: float
) -> None:
    """Add on/start/stop variables with minimum up and down times.

    Notes
    -----
    ``on[t]`` counts running units (binary for one unit, integer for a group of identical
    units); ``start[t], stop[t] >= 0`` are continuous and integral at any solution because
    ``start[t] - stop[t] == on[t] - on[t-1]`` (``on[-1] = on0``) and starts cost or are limited.

    - min up:   sum(start[tau], tau = t-U+1..t) <= on[t]
    - min down: sum(stop[tau],  tau = t-D+1..t) <= units - on[t]
    - availability and initial time in state: ``must_on[t] <= on[t] <= avail[t]`` (mutable).

    Windows are truncated at the horizon start; a unit that started (stopped) before the horizon
    is held by ``must_on`` (``avail``), so the state's time in state is honoured, and nothing
    restricts starts near the horizon end.
    """
    domain = pyo.Binary if units == 1 else pyo.NonNegativeIntegers
    b.on = pyo.Var(ctx.T, within=domain, bounds=(0, units))
    b.start = pyo.Var(ctx.T, bounds=(0, units))
    b.stop = pyo.Var(ctx.T, bounds=(0, units))
    b.avail = pyo.Param(ctx.T, mutable=True, initialize=units, within=pyo.Reals)
    b.must_on = pyo.Param(ctx.T, mutable=True, initialize=0, within=pyo.Reals)
    b.on0 = pyo.Param(mutable=True, initialize=0, within=pyo.Reals)
    b.available = pyo.Constraint(ctx.T, rule=lambda b, t: b.on[t] <= b.avail[t])
    b.held_on = pyo.Constraint(ctx.T, rule=lambda b, t: b.on[t] >= b.must_on[t])
    b.transition = pyo.Constraint(
        ctx.T,
        rule=lambda b, t: b.start[t] - b.stop[t] == b.on[t] - (b.on[t - 1] if t else b.on0),
    )
    up, down = steps(min_up_h, ctx.dt_h), steps(min_down_h, ctx.dt_h)
    if up > 1:
        b.min_up = pyo.Constraint(
            ctx.T,
            rule=lambda b, t: sum(b.start[k] for k in range(max(0, t - up + 1), t + 1)) <= b.on[t],
        )
    if down > 1:
        b.min_down = pyo.Constraint(
            ctx.T,
            rule=lambda b, t: (
                sum(b.stop[k] for k in range(max(0, t - down + 1), t + 1)) <= units - b.on[t]
            ),
        )


def update_commitment(
    b: Any,
    data: HorizonData,
    *,
    name: str,
    units: int,
    min_up_h: float,
    min_down_h: float,
) -> None:
    """Set availability, held-on intervals and the initial status from the PlantState."""
    st = data.state.units.get(name)
    n = data.n
    avail = np.array(
        [units - data.state.unavailable_units(name, ts, units) for ts in data.index], dtype=float
    )
    must_on = np.zeros(n)
    on0 = 0
    if st is not None:
        on0 = (st.units_on if st.units_on is not None else units) if st.on else 0
        on0 = min(on0, units)
        if units == 1 and st.on and st.time_in_state_h < min_up_h:
            must_on[: steps(min_up_h - st.time_in_state_h, data.dt_h)] = 1
        if units == 1 and not st.on and st.time_in_state_h < min_down_h:
            avail[: steps(min_down_h - st.time_in_state_h, data.dt_h)] = 0
    must_on = np.minimum(must_on, avail)
    b.on0.set_value(on0)
    for t in range(n):
        b.avail[t] = float(avail[t])
        b.must_on[t] = float(must_on[t])


def available_units(data: HorizonData, name: str, units: int) -> np.ndarray:
    """Units available per interval (outages subtracted) for assets without commitment."""
    return np.array(
        [units - data.state.unavailable_units(name, ts, units) for ts in data.index], dtype=float
    )


def add_fuel_prices(b: Any, ctx: BuildContext) -> None:
    """Mutable per-interval gas prices (EUR/kWh fuel) and emission factor (t/kWh)."""
    for p in ("gas_commodity", "gas_fees", "gas_co2_price", "gas_co2"):
        setattr(b, p, pyo.Param(ctx.T, mutable=True, initialize=0.0, within=pyo.Reals))


def update_fuel_prices(b: Any, data: HorizonData) -> None:
    """Copy the horizon's gas prices into the block."""
    for t in range(data.n):
        b.gas_commodity[t] = float(data.gas_commodity_eur_per_kwh[t])
        b.gas_fees[t] = float(data.gas_fees_taxes_eur_per_kwh[t])
        b.gas_co2_price[t] = float(data.gas_co2_price_eur_per_kwh[t])
        b.gas_co2[t] = float(data.gas_co2_t_per_kwh[t])


def fuel_costs(b: Any, ctx: BuildContext, fuel: Any) -> dict[str, Any]:
    """Gas costs of a fuel flow ``fuel[t]`` (kW): commodity, fees and taxes, CO2 price."""
    dt = ctx.dt_h
    return {
        GAS_COMMODITY: sum(dt * b.gas_commodity[t] * fuel[t] for t in ctx.T),
        GAS_FEES_TAXES: sum(dt * b.gas_fees[t] * fuel[t] for t in ctx.T),
        CO2_PRICE: sum(dt * b.gas_co2_price[t] * fuel[t] for t in ctx.T),
    }


def fuel_emissions(b: Any, ctx: BuildContext, fuel: Any) -> Any:
    """CO2 (t) of a fuel flow ``fuel[t]`` (kW)."""
    return sum(ctx.dt_h * b.gas_co2[t] * fuel[t] for t in ctx.T)


def curve_at(curve: list[tuple[float, float]], temp_c: np.ndarray, *, asset: str) -> np.ndarray:
    """Interpolate an efficiency curve ``[(temp_c, value), ...]`` at ambient temperatures."""
    if np.isnan(temp_c).any():
        msg = (
            f"{asset}: its efficiency depends on temperature but the Forecast has no weather.temp_c"
        )
        raise ModelBuildError(msg)
    xs, ys = zip(*sorted(curve), strict=True)
    return np.asarray(np.interp(temp_c, xs, ys), dtype=float)


def add_output(
    b: Any,
    ctx: BuildContext,
    *,
    max_kw: float,
    units: int,
    min_pu: float,
    min_up_h: float = 0.0,
    min_down_h: float = 0.0,
) -> None:
    """Add ``out_kw[t]``: the asset's main output, with a commitment if it has a minimum load.

    Notes
    -----
    With ``min_pu > 0``: ``min_pu * max_kw * on[t] <= out_kw[t] <= max_kw * on[t]`` (``on``
    counts running units of a group). Without: ``0 <= out_kw[t] <= max_kw * avail[t]``, where
    ``avail[t]`` is the number of units in service.
    """
    b.out_kw = pyo.Var(ctx.T, bounds=(0, max_kw * units))
    if min_pu > 0 or min_up_h > 0 or min_down_h > 0:
        add_commitment(b, ctx, units=units, min_up_h=min_up_h, min_down_h=min_down_h)
        b.max_load = pyo.Constraint(ctx.T, rule=lambda b, t: b.out_kw[t] <= max_kw * b.on[t])
        b.min_load = pyo.Constraint(
            ctx.T, rule=lambda b, t: b.out_kw[t] >= min_pu * max_kw * b.on[t]
        )
    else:
        b.avail = pyo.Param(ctx.T, mutable=True, initialize=units, within=pyo.Reals)
        b.max_load = pyo.Constraint(ctx.T, rule=lambda b, t: b.out_kw[t] <= max_kw * b.avail[t])


def update_output(
    b: Any,
    data: HorizonData,
    *,
    name: str,
    units: int,
    min_up_h: float = 0.0,
    min_down_h: float = 0.0,
) -> None:
    """Set availability (and commitment state, if any) of an :func:`add_output` block."""
    if hasattr(b, "on"):
        update_commitment(b, data, name=name, units=units, min_up_h=min_up_h, min_down_h=min_down_h)
    else:
        avail = available_units(data, name, units)
        for t in range(data.n):
            b.avail[t] = float(avail[t])


def set_series(param: Any, values: np.ndarray) -> None:
    """Copy an array into an indexed mutable parameter."""
    for t, v in enumerate(values):
        param[t] = float(v)


def add_storage(
    b: Any,
    ctx: BuildContext,
    *,
    capacity_kwh: float,
    level_min_pu: float,
    level_max_pu: float,
    charge_max_kw: float,
    discharge_max_kw: float,
    eta_charge: float,
    eta_discharge: float,
    loss_pu_per_h: float,
    end_value: bool,
) -> None:
    """Add a storage level with charge and discharge flows.

    Notes
    -----
    ``level_kwh[t] = level_kwh[t-1] * (1 - loss_pu_per_h * dt) + (eta_c * charge_kw[t]
    - discharge_kw[t] / eta_d) * dt`` with ``level_kwh[-1] = level0`` (the measured level,
    clipped into bounds); ``level_min <= level_kwh[t] <= level_max``;
    ``charge_kw[t] <= charge_max * avail[t]``, ``discharge_kw[t] <= discharge_max * avail[t]``
    (``avail`` is 0 while the store is out of service). At the end either
    ``level_kwh[n-1] + end_short_kwh >= min(level0, level_max)`` (shortfall penalised) or, with
    a value price, the end level is credited and its start value is a constant kept out of the
    solver's objective.
    """
    lo, hi = level_min_pu * capacity_kwh, level_max_pu * capacity_kwh
    keep = 1 - loss_pu_per_h * ctx.dt_h
    b.level_kwh = pyo.Var(ctx.T, bounds=(lo, hi))
    b.charge_kw = pyo.Var(ctx.T, bounds=(0, charge_max_kw))
    b.discharge_kw = pyo.Var(ctx.T, bounds=(0, discharge_max_kw))
    b.level0 = pyo.Param(mutable=True, initialize=lo, within=pyo.Reals)
    b.avail = pyo.Param(ctx.T, mutable=True, initialize=1.0, within=pyo.Reals)
    b.charge_available = pyo.Constraint(
        ctx.T, rule=lambda b, t: b.charge_kw[t] <= charge_max_kw * b.avail[t]
    )
    b.discharge_available = pyo.Constraint(
        ctx.T, rule=lambda b, t: b.discharge_kw[t] <= discharge_max_kw * b.avail[t]
    )
    b.level_balance = pyo.Constraint(
        ctx.T,
        rule=lambda b, t: (
            b.level_kwh[t]
            == keep * (b.level_kwh[t - 1] if t else b.level0)
            + ctx.dt_h * (eta_charge * b.charge_kw[t] - b.discharge_kw[t] / eta_discharge)
        ),
    )
    last = ctx.n - 1
    if not end_value:
        b.end_target = pyo.Param(mutable=True, initialize=lo, within=pyo.Reals)
        b.end_short_kwh = pyo.Var(bounds=(0, None))
        b.end_level = pyo.Constraint(expr=b.level_kwh[last] + b.end_short_kwh >= b.end_target)


def update_storage(
    b: Any,
    data: HorizonData,
    *,
    name: str,
    capacity_kwh: float,
    lo: float,
    hi: float,
    default_pu: float,
) -> float:
    """Set the initial level from the state (clipped with an alarm) and availability; return it."""
    set_series(b.avail, available_units(data, name, 1))
    measured = data.state.storage_kwh.get(name)
    level = default_pu * capacity_kwh if measured is None else float(measured)
    if level < lo - 1e-6 or level > hi + 1e-6:
        data.alarms.append(
            f"{name}: measured level {level:.1f} kWh outside {lo:.1f}..{hi:.1f} kWh, clipped"
        )
    level = min(max(level, lo), hi)
    b.level0.set_value(level)
    if hasattr(b, "end_target"):
        b.end_target.set_value(min(level, hi))
    return level


def storage_costs(b: Any, ctx: BuildContext, value_eur_per_mwh: float | None) -> dict[str, Any]:
    """The end-level credit when the storage content is valued at a price."""
    if value_eur_per_mwh is None:
        return {}
    return {STORAGE_VALUE: -value_eur_per_mwh / 1000 * b.level_kwh[ctx.n - 1]}


def storage_penalties(b: Any, penalty_eur_per_mwh: float) -> dict[str, Any]:
    """The end-level shortfall penalty (when the end level is not valued)."""
    if not hasattr(b, "end_short_kwh"):
        return {}
    return {"storage_end_shortfall": penalty_eur_per_mwh / 1000 * b.end_short_kwh}
