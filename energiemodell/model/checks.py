"""Invariants of a solved Schedule, checked from the Schedule and the Site alone.

Each check is a pure function returning a list of violations in plain words (empty: all
holds). The tests run them on every solved plan; the control loop runs :func:`check_schedule`
before it dispatches a plan. The checks ask the assets through small methods
(:meth:`~energiemodell.assets.base.Asset.balance_columns`, ``column_limits``, ``storage_spec``),
never through their types.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from energiemodell.assets.base import Carrier
from energiemodell.model.schedule import Schedule
from energiemodell.site import Site
from energiemodell.state import PlantState

TOL_KW = 1e-3
"""Absolute tolerance on powers (kW) and levels (kWh): far below any real error, far above noise."""

REL_TOL = 1e-6
"""Relative tolerance of the cost identities."""


def _col(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    return frame[name].to_numpy(dtype=float) if name in frame.columns else None


def _first(mask: np.ndarray, index: pd.Index) -> str:
    return str(index[int(np.argmax(mask))].isoformat())


def check_balances(site: Site, schedule: Schedule, *, tol_kw: float = TOL_KW) -> list[str]:
    """Every balanced carrier balances in every interval, rebuilt from the Schedule's columns.

    Notes
    -----
    ``sum_a sum_q k[a, c, q] * frame[a.q][t] + unserved.c_kw[t] - surplus.c_kw[t]
    == demand.c_kw[t]`` for each carrier ``c`` that any asset supplies or that has demand.
    """
    frame, out = schedule.frame, []
    for carrier in Carrier:
        terms = [
            (f"{a.name}.{q}", k)
            for a in site.asset_objects
            for q, k in a.balance_columns().get(carrier, {}).items()
        ]
        demand = _col(frame, f"demand.{carrier}_kw")
        if demand is None:
            demand = np.zeros(len(frame))
        if not terms:
            if (demand > tol_kw).any():
                out.append(f"{carrier}: demand but no asset supplies {carrier}")
            continue
        total = np.zeros(len(frame))
        for name, k in [*terms, (f"unserved.{carrier}_kw", 1.0), (f"surplus.{carrier}_kw", -1.0)]:
            values = _col(frame, name)
            if values is None:
                out.append(f"{carrier}: column {name} missing from the Schedule")
                continue
            total += k * values
        gap = np.abs(total - demand)
        bad = gap > tol_kw
        if bad.any():
            out.append(
                f"{carrier} does not balance in {int(bad.sum())} intervals, first at "
                f"{_first(bad, frame.index)} (off by {gap.max():.6g} kW)"
            )
    return out


def check_bounds(site: Site, schedule: Schedule, *, tol_kw: float = TOL_KW) -> list[str]:
    """Asset quantities within their static limits; slacks non-negative and within demand.

    Notes
    -----
    ``0 <= unserved_critical <= min(unserved, share * demand)``, ``unserved <= demand``, and
    ``unserved_critical > 0`` only when ``unserved - unserved_critical == (1 - share) * demand``.
    """
    frame, out = schedule.frame, []
    for a in site.asset_objects:
        for q, (lo, hi) in a.column_limits().items():
            values = _col(frame, f"{a.name}.{q}")
            if values is None:
                continue
            low, high = values < lo - tol_kw, values > hi + tol_kw
            if low.any() or high.any():
                out.append(
                    f"{a.name}.{q} outside {lo:g}..{hi:g} "
                    f"(min {values.min():.6g}, max {values.max():.6g})"
                )
    for carrier in Carrier:
        unserved = _col(frame, f"unserved.{carrier}_kw")
        if unserved is None:
            continue
        critical = _col(frame, f"unserved.{carrier}_critical_kw")
        raw = _col(frame, f"demand.{carrier}_kw")
        demand = np.zeros(len(frame)) if raw is None else np.maximum(raw, 0.0)
        share = float(site.security.critical_share_pu.get(carrier, 1.0))
        if (unserved < -tol_kw).any() or (unserved > demand + tol_kw).any():
            out.append(f"unserved.{carrier}_kw outside 0..demand")
        if critical is not None and (
            (critical < -tol_kw).any()
            or (critical > unserved + tol_kw).any()
            or (critical > share * demand + tol_kw).any()
        ):
            out.append(f"unserved.{carrier}_critical_kw outside 0..min(unserved, share x demand)")
        if critical is not None:
            # Critical demand is shed only once all non-critical demand is (penalty order).
            early = (critical > tol_kw) & (unserved - critical < (1 - share) * demand - tol_kw)
            if early.any():
                out.append(
                    f"{carrier}: critical demand shed before non-critical at "
                    f"{_first(early, frame.index)}"
                )
    for name in frame.columns:
        if name.startswith(("surplus.", "n1.")) and (frame[name].to_numpy() < -tol_kw).any():
            out.append(f"{name} is negative")
    return out


def check_storage(
    site: Site, schedule: Schedule, *, state: PlantState | None = None, tol_kwh: float = TOL_KW
) -> list[str]:
    """Stores follow their level dynamics; exclusive stores never charge and discharge at once.

    Notes
    -----
    ``level[t] == level[t-1] * (1 - loss * dt) + (eta_c * charge[t] - discharge[t] / eta_d)
    * dt`` for ``t >= 1``; with ``state`` also for ``t = 0`` from the measured level clipped
    into bounds (or the default level). Exclusive: ``min(charge[t], discharge[t]) == 0``.
    """
    frame, out, dt = schedule.frame, [], schedule.step_h
    for a in site.asset_objects:
        spec = a.storage_spec()
        if spec is None:
            continue
        level = _col(frame, f"{a.name}.level_kwh")
        charge = _col(frame, f"{a.name}.charge_kw")
        discharge = _col(frame, f"{a.name}.discharge_kw")
        if level is None or charge is None or discharge is None or not len(level):
            out.append(f"{a.name}: level, charge or discharge missing from the Schedule")
            continue
        keep = 1 - spec.loss_pu_per_h * dt
        net = dt * (spec.eta_charge * charge - discharge / spec.eta_discharge)
        prev = np.roll(level, 1)
        first = 1
        if state is not None:
            measured = state.storage_kwh.get(a.name, spec.level_default_kwh)
            prev[0] = min(max(measured, spec.level_min_kwh), spec.level_max_kwh)
            first = 0
        err = np.abs(level - keep * prev - net)[first:]
        if (err > tol_kwh).any():
            out.append(f"{a.name}: level does not follow its dynamics (off by {err.max():.6g} kWh)")
        both = np.minimum(charge, discharge) > tol_kwh
        if spec.exclusive and both.any():
            out.append(
                f"{a.name} charges and discharges at once in {int(both.sum())} intervals, first "
                f"at {_first(both, frame.index)}"
            )
    return out


def check_costs(schedule: Schedule, *, rel_tol: float = REL_TOL) -> list[str]:
    """The cost breakdown sums up, and money + penalties + CO2 weight is the objective.

    Notes
    -----
    ``sum_a costs_by_asset[a][k] == costs[k]``, ``sum_k costs[k] == cost_eur`` and
    ``cost_eur + penalty_eur + co2_weighted_eur == objective_eur + constants_eur`` (the
    constants are kept out of the solver's objective).
    """
    out = []
    scale = max(1.0, abs(schedule.cost_eur), schedule.penalty_eur, abs(schedule.co2_weighted_eur))

    def close(x: float, y: float) -> bool:
        return math.isclose(x, y, rel_tol=rel_tol, abs_tol=rel_tol * scale)

    by_kind: dict[str, float] = {}
    for per in schedule.costs_by_asset.values():
        for kind, value in per.items():
            by_kind[kind] = by_kind.get(kind, 0.0) + value
    for kind in sorted(set(by_kind) | set(schedule.costs)):
        if not close(by_kind.get(kind, 0.0), schedule.costs.get(kind, 0.0)):
            out.append(f"cost {kind}: the assets' costs do not sum to the total")
    if not close(sum(schedule.costs.values()), schedule.cost_eur):
        out.append("the cost categories do not sum to cost_eur")
    if schedule.objective_eur is not None:
        lhs = schedule.cost_eur + schedule.penalty_eur + schedule.co2_weighted_eur
        rhs = schedule.objective_eur + schedule.constants_eur
        if not close(lhs, rhs):
            out.append(
                f"cost {schedule.cost_eur:.6g} + penalties {schedule.penalty_eur:.6g} + CO2 weight "
                f"{schedule.co2_weighted_eur:.6g} != objective {schedule.objective_eur:.6g} + "
                f"constants {schedule.constants_eur:.6g}"
            )
    return out


def check_alarms(site: Site, schedule: Schedule, *, tol_kw: float = TOL_KW) -> list[str]:
    """A plan that uses a soft constraint says so: every slack used has its alarm."""
    frame, out = schedule.frame, []

    def alarmed(prefix: str) -> bool:
        return any(a.startswith(prefix) for a in schedule.alarms)

    for name in frame.columns:
        used = bool((frame[name].to_numpy() > tol_kw).any())
        kind, _, quantity = name.partition(".")
        if (
            not used
            or kind not in ("unserved", "surplus", "n1")
            or quantity.endswith("critical_kw")
        ):
            continue
        carrier = quantity.split("_")[0]
        prefix = {"unserved": f"unserved {carrier}", "surplus": f"surplus {carrier}"}.get(
            kind, f"N-1 {carrier}"
        )
        if not alarmed(prefix):
            out.append(f"{name} is used but no alarm says so")
    for kind, value in schedule.penalties.items():
        if (
            kind.startswith(("reserve", "storage_end"))
            and value > 1e-6
            and not alarmed(f"penalty {kind}")
        ):
            out.append(f"penalty {kind} paid but no alarm says so")
    if site.security.battery_reserve:
        for a in site.asset_objects:
            reserve = float(getattr(a.params, "backup_reserve_kwh", 0.0))
            level = _col(frame, f"{a.name}.level_kwh")
            below = level is not None and bool((level < reserve - tol_kw).any())
            if reserve > 0 and below and schedule.penalties.get("reserve_shortfall", 0.0) <= 0:
                out.append(f"{a.name} below its backup reserve without a penalty")
    return out


def check_schedule(site: Site, schedule: Schedule, *, state: PlantState | None = None) -> list[str]:
    """All invariants of a solved plan (empty list: the plan is consistent)."""
    if schedule.origin == "none":
        return ["the Schedule holds no plan"]
    return [
        *check_balances(site, schedule),
        *check_bounds(site, schedule),
        *check_storage(site, schedule, state=state),
        *check_costs(schedule),
        *check_alarms(site, schedule),
    ]
