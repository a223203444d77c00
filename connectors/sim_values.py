"""What each simulated device model shows: register values from the simulated plant.

Meters measure the flow their power point is bound to (``quantity = sign * scale * value``,
solved for ``value``) and count energy in both directions themselves. Controllers show their
unit. Tank sensors show a stratified tank whose mean temperature gives back the stored heat
through :func:`connectors.estimates.storage_level_kwh`:

    T_i = t_empty_c + clip(share * n - i, 0, 1) * (t_full_c - t_empty_c),   i = 0 .. n-1

from the top of a hot store (from the bottom of a cold one), so
``mean(T) = t_empty_c + share * (t_full_c - t_empty_c)`` with ``share = level / capacity``.
"""

from __future__ import annotations

import math

from connectors.registers import Value
from connectors.sim_devices import PlantDevice
from connectors.sim_units import Flows, Store, Unit

TANK_TEMPS_C: dict[str, tuple[float, float]] = {"heat": (60.0, 90.0), "cooling": (12.0, 6.0)}
"""Carrier -> (t_empty_c, t_full_c) of the simulated tanks (30 K hot-water spread, 6/12 degC)."""

METERS: dict[str, tuple[str, str, str]] = {
    "janitza_umg96rm": ("p_sum_w", "e_19068_wh", "e_19076_wh"),
    "siemens_pac3200": ("p_total_w", "e_import_wh", "e_export_wh"),
}
"""Meter model -> (power point, counter of the positive direction, of the negative one)."""

CONTROLLERS: dict[str, tuple[str, ...]] = {
    "chp_controller": ("chp",),
    "boiler_controller": ("boiler",),
    "chiller_controller": ("chiller", "absorption"),
}
"""Controller model -> the unit kinds it can be bound to."""

SUNSPEC = "sunspec_124_battery"
"""The SunSpec storage inverter map (models 1, 103, 124)."""

OTHER_MODELS = frozenset({*METERS, "tank_sensors", "bms_gateway", SUNSPEC})
"""Models with a simulated behaviour besides the controllers."""

VOLTAGE_V, COS_PHI, TAN_PHI = 230.0, 0.95, 0.33


def meter_power_w(dev: PlantDevice, flows: Flows) -> float:
    """The meter's power point value: its bound quantity solved for the register value."""
    pb = dev.binding.points.get(METERS[dev.rmap.model][0])
    if pb is None or pb.quantity not in flows:
        return 0.0
    return flows[pb.quantity] / (pb.scale * pb.sign)


def meter_values(dev: PlantDevice, power_w: float, counters_wh: list[float]) -> dict[str, Value]:
    """A three-phase meter with balanced phases at 230 V and cos phi 0.95."""
    power, pos, neg = METERS[dev.rmap.model]
    var = TAN_PHI * power_w
    amps = abs(power_w) / 3 / (VOLTAGE_V * COS_PHI)
    out: dict[str, Value] = {power: power_w, pos: counters_wh[0], neg: counters_wh[1]}
    for name in dev.rmap.points:
        if name.startswith("u_l"):
            out[name] = VOLTAGE_V
        elif name.startswith("i_l") or name == "i_avg_a":
            out[name] = amps
        elif name == "i_sum_a":
            out[name] = 3 * amps
        elif name.startswith("p_l"):
            out[name] = power_w / 3
        elif name.startswith("q_l"):
            out[name] = var / 3
        elif name in ("q_sum_var", "q_total_var"):
            out[name] = var
        elif name == "f_hz":
            out[name] = 50.0
    return out


def tank_values(dev: PlantDevice, store: Store) -> dict[str, Value]:
    """Layer temperatures of a stratified tank holding ``store.level_kwh`` (module notes)."""
    t_empty, t_full = TANK_TEMPS_C[store.carrier]
    share = store.level_kwh / store.capacity_kwh
    names = list(dev.rmap.points)  # top to bottom
    if store.carrier == "cooling":
        names.reverse()  # cold water sits at the bottom
    n = len(names)
    return {
        name: t_empty + min(max(share * n - i, 0.0), 1.0) * (t_full - t_empty)
        for i, name in enumerate(names)
    }


def controller_values(
    model: str, u: Unit, flows: Flows, *, t_set_c: float | None = None
) -> dict[str, Value]:
    """Measured points of a CHP, boiler or chiller controller.

    A boiler holds a valid flow-temperature setpoint ``t_set_c`` while it fires (without one, its
    own curve ``70 + 10 * load`` degC), with a return ``15 + 5 * load`` K below; a chiller holds
    a valid chilled-water setpoint (without one, 6 degC) with a 6 K spread. The temperatures are
    reported only: the model's efficiencies do not depend on them.
    """
    a = u.name
    load = u.output_kw / u.capacity_kw
    common: dict[str, Value] = {"running": u.on}
    if model == "chp_controller":
        full = u.output_kw >= u.min_kw - 1e-6
        return common | {
            "p_el_kw": flows[f"{a}.p_el_kw"],
            "q_th_kw": flows[f"{a}.q_kw"],
            "engine_state": (2 if full else 1) if u.on else 0,  # 1: starting, below min load
            "run_hours_h": int(u.run_h),
            "starts": u.starts,
            "ready": True,
        }
    if model == "boiler_controller":
        t_flow = (70.0 + 10.0 * load if t_set_c is None else t_set_c) if u.on else 60.0
        return common | {
            "q_th_kw": flows[f"{a}.q_kw"],
            "t_flow_c": t_flow,
            "t_return_c": t_flow - 15.0 - 5.0 * load if u.on else 58.0,
            "firing_rate_pct": 100.0 * load,
        }
    el = flows[f"{a}.p_el_kw"] if u.kind == "chiller" else flows[f"{a}.aux_el_kw"]
    t_supply = (6.0 if t_set_c is None else t_set_c) if u.on else 10.0
    return common | {
        "cold_kw": flows[f"{a}.cold_kw"],
        "p_el_kw": el,
        "t_chw_supply_c": t_supply,
        "t_chw_return_c": t_supply + 6.0 if u.on else 12.0,
    }


def _exponent(max_value: float, limit: float) -> int:
    """The smallest power-of-ten exponent (>= 0) that fits ``max_value`` under ``limit``."""
    return max(0, math.ceil(math.log10(max_value / limit))) if max_value > limit else 0


def sunspec_constants(store: Store) -> dict[str, Value]:
    """A SunSpec battery's marker and scale factors (published once, before any value)."""
    w_max = 1000.0 * max(store.charge_max_kw, store.discharge_max_kw)
    return {
        "sunspec_marker": 0x53756E53,
        "w_sf": _exponent(w_max, 32767),
        "w_cha_max_sf": _exponent(1000.0 * store.charge_max_kw, 65534),
        "min_rsv_pct_sf": 0,
        "cha_state_sf": -1,
        "in_out_w_rte_sf": -1,
    }


def sunspec_values(store: Store, flows: Flows) -> dict[str, Value]:
    """A SunSpec battery's measurements: AC power (positive: discharging), state of charge."""
    n = store.name
    w = 1000.0 * (flows.get(f"{n}.discharge_kw", 0.0) - flows.get(f"{n}.charge_kw", 0.0))
    soc = store.level_kwh / store.capacity_kwh
    if w > 1e-3:
        cha_st = 3  # discharging
    elif w < -1e-3:
        cha_st = 4  # charging
    elif store.level_kwh <= store.lo_kwh + 1e-6:
        cha_st = 2  # empty
    elif store.level_kwh >= store.hi_kwh - 1e-6:
        cha_st = 5  # full
    else:
        cha_st = 6  # holding
    return {
        "w": w,
        "st": 4 if abs(w) > 1e-3 else 8,  # 4 operating (MPPT), 8 standby
        "w_cha_max": 1000.0 * store.charge_max_kw,
        "cha_state": 100.0 * soc,
        "cha_st": cha_st,
    }
