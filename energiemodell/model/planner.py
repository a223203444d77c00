"""The Planner: a model built once for a site and horizon length, re-solved with new data."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from energiemodell.assets.base import Carrier
from energiemodell.model.build import BuiltModel, build_model, update_model
from energiemodell.model.data import HorizonData, horizon_data
from energiemodell.model.explain import binding_limits
from energiemodell.model.operator_limits import OperatorLimits
from energiemodell.model.schedule import Schedule, column_values
from energiemodell.model.solve import HighsSolver, SolveOutcome, SolveStatus
from energiemodell.site import Site
from energiemodell.state import PlantState

logger = logging.getLogger(__name__)

WARM_START_MAX_GAP_PU = 0.05
"""A plan's integer decisions start the next plan only if its MIP gap was at most this."""


class Planner:
    """Plans the dispatch of one site over a fixed number of intervals.

    The horizon is indexed relative to "now" (interval 0 starts at the Forecast's first
    timestamp); every :meth:`plan` copies new data into mutable parameters, passes the previous
    plan shifted by the elapsed intervals to HiGHS as a start, and re-solves the persistent
    instance.
    """

    def __init__(self, site: Site, n: int, *, fixed_dispatch: bool = False) -> None:
        t0 = time.perf_counter()
        self.site = site
        self.n = n
        self.built: BuiltModel = build_model(site, n)
        self.solver = HighsSolver(
            time_limit_s=site.control.time_limit_s,
            mip_gap_pu=site.control.mip_gap_pu,
            threads=site.control.threads,
            seed=site.control.seed,
            fixed_dispatch=fixed_dispatch,
        )
        self.build_s = time.perf_counter() - t0
        self._site_hash = site.content_hash()
        self._last: tuple[pd.DatetimeIndex, list[tuple[Any, float]]] | None = None
        self._fixed: list[Any] = []  # variables fixed by the last evaluate()
        self._operator = OperatorLimits(self.built)  # the state's pins and storage targets
        self._discrete = [
            v
            for v in self.built.model.component_data_objects(pyo.Var, descend_into=True)
            if v.is_integer() or v.is_binary()
        ]

    @property
    def model(self) -> Any:
        """The Pyomo model."""
        return self.built.model

    def plan(
        self, forecast: pd.DataFrame, state: PlantState, *, marginal_prices: bool = True
    ) -> Schedule:
        """Plan the horizon of ``forecast`` from ``state``; always returns a Schedule.

        The Schedule's ``status`` says how the solve ended; with status ``error`` or
        ``infeasible`` and no solution, its frame holds no dispatch (origin ``none``).
        """
        t0 = time.perf_counter()
        data = horizon_data(self.site, forecast, state)
        update_model(self.built, data)
        self.solver.update_variables(self._operator.apply(data))
        build_s = (self.build_s if self._last is None else 0.0) + time.perf_counter() - t0
        self.build_s = 0.0
        start = self._warm_start(data.index)
        outcome = self.solver.solve(self.model, start=start)
        t1 = time.perf_counter()
        if not outcome.has_solution:
            return self._no_plan(data, outcome, build_s)
        schedule = self._extract(data, outcome)
        extract_s = time.perf_counter() - t1
        marginal_s = 0.0
        if marginal_prices:
            t2 = time.perf_counter()
            self._marginal_prices(schedule)
            marginal_s = time.perf_counter() - t2
        schedule.explanations = binding_limits(self.built, schedule.frame)
        schedule.timings = {
            "build_s": build_s,
            "solve_s": outcome.solve_s,
            "extract_s": extract_s,
            "marginal_s": marginal_s,
        }
        # A plan far from proven (a time-limited search that found little better than slack) is
        # no start for the next: HiGHS spends longer repairing it than searching afresh.
        good = outcome.mip_gap is not None and outcome.mip_gap <= WARM_START_MAX_GAP_PU
        values = [(v, v.value) for v in self._discrete if v.value is not None]
        self._last = (data.index, values) if good else None
        return schedule

    def evaluate(
        self, forecast: pd.DataFrame, state: PlantState, decisions: pd.DataFrame
    ) -> Schedule:
        """Cost a given dispatch (e.g. the heat-led rules) with the planner's own accounting.

        Every decision column (``chp1.p_el_kw``, ``boilers.on``, ...) fixes the model variable of
        that name; the grid, the slacks and what follows from the fixed values stay free, so
        costs, penalties and KPIs are computed exactly as for an optimised plan. Needs a
        Planner built with ``fixed_dispatch=True``.
        """
        data = horizon_data(self.site, forecast, state)
        data.evaluating = True
        update_model(self.built, data)
        m = self.model
        if hasattr(m, "sym_relax"):
            for key in m.sym_relax:
                m.sym_relax[key] = 1.0
        for var in self._fixed:  # a column of the last call may be absent from this one
            var.unfix()
        self._fixed = []
        for name, a in self.built.assets.items():
            for q, items in a.outputs(m.asset[name]).items():
                col = f"{name}.{q}"
                if col not in decisions or not isinstance(items, pyo.Var):
                    continue
                values = decisions[col].to_numpy(dtype=float)
                for t in range(self.n):
                    items[t].fix(_within(items[t], float(values[t])))
                    self._fixed.append(items[t])
        outcome = self.solver.solve(m)
        if not outcome.has_solution:
            return self._no_plan(data, outcome, 0.0)
        schedule = self._extract(data, outcome)
        schedule.origin = "heat_led"
        schedule.timings = {"solve_s": outcome.solve_s}
        return schedule

    def _warm_start(self, index: pd.DatetimeIndex) -> list[tuple[Any, float]] | None:
        """The previous plan's integer decisions shifted to the new horizon start."""
        if self._last is None:
            return None
        prev_index, values = self._last
        shift = round((index[0] - prev_index[0]) / pd.Timedelta(minutes=self.site.step_min))
        if shift < 0 or shift >= self.n:
            return None
        start: list[tuple[Any, float]] = []
        for var, val in values:
            idx = var.index()
            t = idx[-1] if isinstance(idx, tuple) else idx
            if not isinstance(t, int):
                continue
            if t - shift < 0:
                continue
            parent = var.parent_component()
            new_idx = (*idx[:-1], t - shift) if isinstance(idx, tuple) else t - shift
            start.append((parent[new_idx], val))
        return start

    def _model_size(self) -> dict[str, int]:
        m = self.model
        n_vars = sum(1 for _ in m.component_data_objects(pyo.Var, descend_into=True))
        n_cons = sum(
            1 for _ in m.component_data_objects(pyo.Constraint, active=True, descend_into=True)
        )
        return {"variables": n_vars, "binaries": len(self._discrete), "constraints": n_cons}

    def _no_plan(self, data: HorizonData, outcome: SolveOutcome, build_s: float) -> Schedule:
        return Schedule(
            frame=pd.DataFrame(index=data.index),
            costs={},
            costs_by_asset={},
            penalties={},
            kpis={},
            status=str(outcome.status),
            mip_gap=None,
            origin="none",
            site_hash=self._site_hash,
            created_at=datetime.now(UTC),
            timings={"build_s": build_s, "solve_s": outcome.solve_s},
            alarms=[*data.alarms, f"no plan: solver ended with {outcome.message}"],
            model_size=self._model_size(),
        )

    def _extract(self, data: HorizonData, outcome: SolveOutcome) -> Schedule:
        built, m, n = self.built, self.model, self.n
        cols: dict[str, np.ndarray] = {}
        for c in Carrier:
            cols[f"demand.{c}_kw"] = np.asarray(data.demand_kw[c], dtype=float)
        for name, a in built.assets.items():
            for q, items in a.outputs(m.asset[name]).items():
                cols[f"{name}.{q}"] = column_values(items, n)
        for c in built.carriers:
            key = str(c)
            crit = np.array([m.shed_crit[key, t].value or 0.0 for t in range(n)])
            other = np.array([m.shed_other[key, t].value or 0.0 for t in range(n)])
            cols[f"unserved.{key}_kw"] = crit + other
            cols[f"unserved.{key}_critical_kw"] = crit
            cols[f"surplus.{key}_kw"] = np.array([m.surplus[key, t].value or 0.0 for t in range(n)])
        for key in m.n1_rules:
            blk = getattr(m, f"n1_{key}")
            cols[f"n1.{key}_shortfall_kw"] = np.array([blk.short[t].value or 0.0 for t in range(n)])
        frame = pd.DataFrame(cols, index=data.index)
        frame[np.abs(frame) < 1e-7] = 0.0
        costs_by_asset: dict[str, dict[str, float]] = {}
        costs: dict[str, float] = {}
        constants = 0.0
        for name, terms in built.cost_terms.items():
            a = built.assets[name]
            per = {k: float(pyo.value(e)) for k, e in terms.items()}
            for k, v in a.constant_eur(m.asset[name], built.ctx).items():
                per[k] = per.get(k, 0.0) + v
                constants += v
            costs_by_asset[name] = per
            for k, v in per.items():
                costs[k] = costs.get(k, 0.0) + v
        penalties = {k: float(pyo.value(e)) for k, e in built.penalty_terms.items()}
        co2 = float(sum(pyo.value(e) for e in built.emission_terms.values()))
        alarms = list(data.alarms)
        dt = data.dt_h
        for c in built.carriers:
            un = frame[f"unserved.{c}_kw"].to_numpy()
            if (un > 1e-6).any():
                when = [ts.isoformat() for ts in data.index[un > 1e-6][:3]]
                alarms.append(f"unserved {c}: {un.sum() * dt:.1f} kWh, first at {', '.join(when)}")
            sp = frame[f"surplus.{c}_kw"].to_numpy()
            if (sp > 1e-6).any():
                alarms.append(f"surplus {c} that no asset can absorb: {sp.sum() * dt:.1f} kWh")
        for key in m.n1_rules:
            short = frame[f"n1.{key}_shortfall_kw"].to_numpy()
            if (short > 1e-6).any():
                first = data.index[short > 1e-6][0].isoformat()
                alarms.append(
                    f"N-1 {key} not secured in {int((short > 1e-6).sum())} intervals from {first}"
                )
        for col in frame.columns:
            if col.endswith(".unserved_kw") and (short := frame[col].to_numpy()).sum() > 1e-6:
                load = col.removesuffix(".unserved_kw")
                alarms.append(f"{load}: {short.sum() * dt:.1f} kWh of its window not delivered")
        for k, v in penalties.items():
            if k.startswith(("reserve", "storage_end")) and v > 1e-6:
                alarms.append(f"penalty {k}: {v:.2f} EUR")
        origin = "optimal" if outcome.status == SolveStatus.OPTIMAL else "time_limited"
        sched = Schedule(
            frame=frame,
            costs=costs,
            costs_by_asset=costs_by_asset,
            penalties=penalties,
            kpis={},
            status=str(outcome.status),
            mip_gap=outcome.mip_gap,
            origin=origin,
            site_hash=self._site_hash,
            created_at=datetime.now(UTC),
            alarms=alarms,
            objective_eur=outcome.objective,
            constants_eur=constants,
            co2_t=co2,
            co2_weighted_eur=co2 * data.co2_weight_eur_per_t,
            model_size=self._model_size(),
        )
        sched.kpis = compute_kpis(self.built, sched, data)
        return sched

    def _marginal_prices(self, schedule: Schedule) -> None:
        """``price.<carrier>_eur_per_mwh``: balance duals of the LP with integers fixed."""
        m, n, dt = self.model, self.n, self.built.ctx.dt_h
        rows = [m.balance[str(c), t] for c in self.built.carriers for t in range(n)]
        duals = self.solver.lp_duals(rows)
        if duals is None:
            schedule.alarms.append(
                "marginal prices unavailable: the fixed-integer LP did not solve"
            )
            return
        for i, c in enumerate(self.built.carriers):
            schedule.frame[f"price.{c}_eur_per_mwh"] = duals[i * n : (i + 1) * n] * 1000 / dt


def _within(var: Any, value: float) -> float:
    """``value`` inside the variable's bounds and domain (solver noise such as 1.0000000002)."""
    if var.is_integer() or var.is_binary():
        value = float(round(value))
    lb, ub = var.lb, var.ub
    if lb is not None:
        value = max(value, float(lb))
    if ub is not None:
        value = min(value, float(ub))
    return value


def compute_kpis(built: BuiltModel, sched: Schedule, data: HorizonData) -> dict[str, float]:
    """KPIs: cost, CO2, peak, full-load hours and starts, storage cycles, self-supply share."""
    frame, dt, m = sched.frame, data.dt_h, built.model
    kpis: dict[str, float] = {"cost_eur": sched.cost_eur, "co2_t": sched.co2_t}
    imp = sum(
        (frame[c] for c in frame.columns if c.endswith(".import_kw")),
        start=pd.Series(0.0, index=frame.index),
    )
    exp = sum(
        (frame[c] for c in frame.columns if c.endswith(".export_kw")),
        start=pd.Series(0.0, index=frame.index),
    )
    kpis["peak_import_kw"] = float(imp.max()) if len(imp) else 0.0
    kpis["import_kwh"] = float(imp.sum() * dt)
    kpis["export_kwh"] = float(exp.sum() * dt)
    use = float(frame["demand.electricity_kw"].sum() * dt)
    local = 0.0
    for name, a in built.assets.items():
        b = m.asset[name]
        on = a.commitment(b)
        el = a.capacity_kw(Carrier.ELECTRICITY)
        if on is not None:
            kpis[f"starts.{name}"] = float(sum((b.start[t].value or 0.0) for t in built.ctx.T))
            kpis[f"run_hours.{name}"] = float(frame[f"{name}.on"].sum() * dt / a.units())
        if on is not None and el > 0 and f"{name}.p_el_kw" in frame:
            kpis[f"full_load_hours.{name}"] = float(frame[f"{name}.p_el_kw"].sum() * dt / el)
        cap = a.storage_capacity_kwh()
        if cap > 0:
            kpis[f"cycles.{name}"] = float(frame[f"{name}.discharge_kw"].sum() * dt / cap)
        if el > 0 and cap == 0 and f"{name}.p_el_kw" in frame:
            local += float(frame[f"{name}.p_el_kw"].sum() * dt)
    consumed = kpis["import_kwh"] + local - kpis["export_kwh"]
    kpis["electricity_use_kwh"] = max(use, consumed)
    kpis["self_supply_pu"] = 0.0 if consumed <= 0 else max(0.0, 1 - kpis["import_kwh"] / consumed)
    kpis["unserved_kwh"] = sched.unserved_kwh
    return kpis


def optimise(site: Site, forecast: pd.DataFrame, state: PlantState | None = None) -> Schedule:
    """Plan once: build a Planner for the Forecast's length and solve."""
    planner = Planner(site, len(forecast.index))
    return planner.plan(forecast, state or PlantState())
