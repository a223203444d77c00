"""Run a period window by window, carrying the PlantState from one committed block to the next.

Three strategies share one cost accounting:

- ``perfect_foresight``: plan ``window_h`` (48 h) on the real data, commit the first block
  (``commit_h``, 24 h: one local day), carry the state, move on;
- ``mpc``: as the live loop runs: every ``replan_min`` a :class:`~energiemodell.forecast.Forecaster`
  predicts the horizon from what is known then, the plan is made on the forecast, and its
  setpoints (CHP output and status, battery flows) meet the real demand, which boilers,
  chillers, stores and flexible loads balance;
- ``heat_led``: the conventional rules of :mod:`energiemodell.heat_led`, the baseline.

Every committed block, whatever made its decisions, is costed by the same fixed-dispatch
evaluation (:meth:`energiemodell.model.planner.Planner.evaluate`) on the real data, at a tight
MIP gap; only committed intervals count. The state carried between blocks is: storage levels
(last committed level), each unit's status and time in that state (from its ``on`` column),
the billing year's peak import (intervals that count for the peak only; reset at local New Year)
and each CHP's KWKG full-load hours (reset at New Year).

Stores are valued at the window end (``end_value_eur_per_mwh``), so no window drains them; a
store without a value in the site gets :func:`default_storage_values`. The change of stored
value over a run is the cost category ``storage_end_value`` (positive: the stores were drawn
down), so strategies that end with different levels compare fairly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd

from energiemodell.assets.battery import Battery
from energiemodell.assets.boiler import Boiler
from energiemodell.assets.chp import Chp
from energiemodell.assets.compression_chiller import CompressionChiller
from energiemodell.assets.flexible_load import FlexibleLoad
from energiemodell.assets.thermal_storage import ThermalStorage
from energiemodell.errors import SiteError, SolveError
from energiemodell.forecast import Forecaster, PersistenceForecaster
from energiemodell.heat_led import heat_led_dispatch
from energiemodell.model.data import horizon_data
from energiemodell.model.planner import Planner
from energiemodell.model.schedule import Schedule
from energiemodell.site import Site, site_from_dict
from energiemodell.state import PlantState, UnitState
from energiemodell.timeseries import load_forecast, series_coverage

logger = logging.getLogger(__name__)

Strategy = Literal["perfect_foresight", "mpc", "heat_led"]
STRATEGIES: tuple[Strategy, ...] = ("perfect_foresight", "mpc", "heat_led")
HISTORY_DAYS = 8
"""Days of data before the start handed to the mpc forecaster (it needs a week ago)."""


@dataclass(frozen=True)
class RollingOptions:
    """How a period is cut into windows and how the blocks are costed."""

    window_h: float = 48.0
    """Planning horizon of each window (h)."""
    commit_h: float = 24.0
    """Committed part of each perfect-foresight window (h); multiples of 24 h are local days."""
    replan_min: float = 60.0
    """mpc: minutes between plans (each plan commits this long)."""
    value_storage: bool = True
    """Value storage content at the window end (stores without a value get a default)."""
    storage_value_eur_per_mwh: Mapping[str, float] = field(default_factory=dict)
    """Store name -> value (EUR/MWh), overriding the site and the defaults."""
    eval_gap_pu: float = 1e-6
    """MIP gap of the fixed-dispatch evaluation (the few free binaries: grid direction)."""


@dataclass
class Block:
    """One committed block: who decided, what it cost, how long it took."""

    start: pd.Timestamp
    n: int
    origin: str
    status: str
    mip_gap: float | None
    costs: dict[str, float]
    penalties: dict[str, float]
    co2_t: float
    plan_s: float
    solve_s: float
    eval_s: float
    gap_eur: float = 0.0
    """MIP gap of the plan in money: ``mip_gap * |objective|`` of its whole window."""
    alarms: list[str] = field(default_factory=list)

    @property
    def cost_eur(self) -> float:
        """Money cost of the block (EUR, including the change of stored value)."""
        return float(sum(self.costs.values()))


@dataclass
class RollingResult:
    """The committed dispatch of a whole period and its blocks."""

    strategy: str
    site: Site
    frame: pd.DataFrame
    blocks: list[Block]
    start_state: PlantState
    end_state: PlantState
    storage_values_eur_per_mwh: dict[str, float]
    wall_s: float

    @property
    def cost_eur(self) -> float:
        """Money cost of the period (EUR)."""
        return float(sum(b.cost_eur for b in self.blocks))


# --- windows --------------------------------------------------------------------------------------


def block_starts(
    site: Site, start: pd.Timestamp, end: pd.Timestamp, *, length_min: float
) -> list[pd.Timestamp]:
    """Block boundaries from ``start`` to ``end`` (both included, UTC).

    Lengths that are whole days cut at local midnights (a block is then one or more local days,
    92 to 100 quarter-hours across daylight saving changes); others cut every ``length_min``.
    """
    step = pd.Timedelta(minutes=site.step_min)
    if length_min <= 0 or length_min % site.step_min:
        msg = f"block length {length_min:g} min is not a positive multiple of the site step"
        raise SiteError.one(site.source, "", msg)
    if (end - start) % step:
        msg = f"the period {start} .. {end} is not a whole number of {site.step_min}-min steps"
        raise SiteError.one(site.source, "", msg)
    out = [start]
    if length_min % 1440 == 0:
        days = int(length_min // 1440)
        local = start.tz_convert(site.timezone)
        day = local.date()
        while True:
            day += timedelta(days=days)
            edge = pd.Timestamp(day).tz_localize(site.timezone).tz_convert("UTC")
            if edge >= end:
                break
            out.append(edge)
    else:
        length = pd.Timedelta(minutes=length_min)
        edge = start + length
        while edge < end:
            out.append(edge)
            edge += length
    out.append(end)
    return out


def count_blocks(
    site: Site, start: pd.Timestamp, end: pd.Timestamp, strategy: Strategy, options: RollingOptions
) -> int:
    """How many committed blocks :func:`run_rolling` will run (for progress bars)."""
    return len(block_starts(site, start, end, length_min=_block_min(strategy, options))) - 1


def _block_min(strategy: Strategy, options: RollingOptions) -> float:
    return options.replan_min if strategy == "mpc" else options.commit_h * 60


# --- storage values -------------------------------------------------------------------------------


def default_storage_values(site: Site, mean_day_ahead_eur_per_mwh: float) -> dict[str, float]:
    """What a kWh in each store is worth by default (EUR/MWh).

    Heat: fuel cost of the best boiler (gas commodity, fees, tax, CO2 price) divided by its
    efficiency. Electricity (batteries): the import price at the mean day-ahead price of the run
    (or the fixed price) plus grid charge and levies. Cold: that electricity price divided by
    the best compression chiller's nominal EER. Tariffs of the first tariff period.
    """
    tp = min(site.tariffs, key=lambda t: t.valid_from)
    g, e = tp.gas, tp.electricity
    gas = (
        g.commodity_eur_per_mwh
        + g.grid_fees_eur_per_mwh
        + g.energy_tax_eur_per_mwh
        + g.co2_price_eur_per_t * g.co2_t_per_mwh
    )
    energy = (
        mean_day_ahead_eur_per_mwh + e.supplier_margin_eur_per_mwh
        if e.energy_price == "day_ahead"
        else float(e.fixed_price_eur_per_mwh or 0.0)
    )
    el = energy + e.grid_energy_charge_eur_per_mwh + sum(e.levies_eur_per_mwh.values())
    objs = site.asset_objects
    etas = [a.params.eta for a in objs if isinstance(a, Boiler)]
    heat = gas / max(etas) if etas else el
    eers = [a.params.eer for a in objs if isinstance(a, CompressionChiller)]
    cold = el / max(eers) if eers else el
    out: dict[str, float] = {}
    for a in objs:
        if isinstance(a, ThermalStorage):
            out[a.name] = heat if a.params.carrier == "heat" else cold
        elif isinstance(a, Battery):
            out[a.name] = el
    return out


def value_storage(
    site: Site, defaults: Mapping[str, float], overrides: Mapping[str, float]
) -> tuple[Site, dict[str, float]]:
    """The site with every store's end content valued; returns the site and the values used."""
    data = site.model_dump()
    used: dict[str, float] = {}
    for entry in data["assets"]:
        name = entry["name"]
        if name not in defaults and name not in overrides:
            continue
        if name in overrides:
            entry["end_value_eur_per_mwh"] = float(overrides[name])
        elif entry.get("end_value_eur_per_mwh") is None:
            entry["end_value_eur_per_mwh"] = round(float(defaults[name]), 4)
        used[name] = float(entry["end_value_eur_per_mwh"])
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        msg = f"storage values given for {', '.join(unknown)}, which are not stores of the site"
        raise SiteError.one(site.source, "storage_value_eur_per_mwh", msg)
    valued = site_from_dict(data, source=site.source, base_dir=site.base_dir)
    return valued, used


def _with_gap(site: Site, gap: float) -> Site:
    data = site.model_dump()
    data["control"]["mip_gap_pu"] = gap
    return site_from_dict(data, source=site.source, base_dir=site.base_dir)


# --- state carried between blocks ---------------------------------------------------------------


def carry_state(
    site: Site,
    state: PlantState,
    frame: pd.DataFrame,
    *,
    counts: np.ndarray,
    state_year: int,
) -> PlantState:
    """The PlantState after the committed ``frame``, which started from ``state``.

    ``counts`` marks the intervals whose import counts for the peak (1 or 0); ``state_year``
    is the local billing year ``state.peak_import_kw`` and the KWKG hours belong to.
    """
    dt_h = site.step_min / 60
    storage = dict(state.storage_kwh)
    units = dict(state.units)
    for a in site.asset_objects:
        level = f"{a.name}.level_kwh"
        if level in frame:
            storage[a.name] = float(frame[level].iloc[-1])
        on_col = f"{a.name}.on"
        if on_col not in frame:
            continue
        count = np.round(frame[on_col].to_numpy(dtype=float)).astype(int)
        running = count > 0
        last = bool(running[-1])
        flips = np.flatnonzero(running != last)
        same = len(running) - (int(flips[-1]) + 1 if len(flips) else 0)
        tis = same * dt_h
        prev = state.units.get(a.name) or UnitState(on=False)
        if same == len(running) and prev.on == last:
            tis += prev.time_in_state_h
        p_col = f"{a.name}.p_el_kw"
        units[a.name] = UnitState(
            on=last,
            time_in_state_h=tis,
            p_kw=float(frame[p_col].iloc[-1]) if p_col in frame else None,
            units_on=int(count[-1]) if a.units() > 1 else None,
        )
    imports = sum(
        (frame[c].to_numpy(dtype=float) for c in frame.columns if c.endswith(".import_kw")),
        start=np.zeros(len(frame)),
    )
    counted = imports * counts
    years = pd.DatetimeIndex(frame.index).tz_convert(site.timezone).year.to_numpy()
    new_year = bool((years != state_year).any())
    keep = years == years[-1] if new_year else np.ones(len(frame), dtype=bool)
    peak = float(counted[keep].max()) if keep.any() else 0.0
    if not new_year:
        peak = max(peak, state.peak_import_kw)
    kwkg = {} if new_year else dict(state.kwkg_hours_used)
    for a in site.asset_objects:
        col = f"{a.name}.kwkg_kw"
        if isinstance(a, Chp) and col in frame:
            hours = (
                float(frame[col].to_numpy(dtype=float)[keep].sum() * dt_h) / a.params.p_el_max_kw
            )
            kwkg[a.name] = kwkg.get(a.name, 0.0) + hours
    return state.model_copy(
        update={
            "storage_kwh": storage,
            "units": units,
            "peak_import_kw": peak,
            "kwkg_hours_used": kwkg,
        }
    )


def setpoint_columns(site: Site, columns: pd.Index) -> list[str]:
    """Plan columns the plant follows as setpoints under mpc (the rest balance locally).

    CHP output and status and battery flows are dispatched; boilers, chillers and thermal
    stores are left to their local controllers, which meet the real demand. Flexible loads
    deliver their window's energy within the block (a block shorter than the plan's window gets
    its pro-rata share), so their timing inside the block is left to the evaluation too.
    """
    wanted: list[str] = []
    for a in site.asset_objects:
        if isinstance(a, Chp):
            wanted += [f"{a.name}.p_el_kw", f"{a.name}.on"]
        elif isinstance(a, Battery):
            wanted += [f"{a.name}.charge_kw", f"{a.name}.discharge_kw"]
    return [c for c in wanted if c in columns]


def _flexible_columns(site: Site, columns: pd.Index) -> list[str]:
    names = [f"{a.name}.p_kw" for a in site.asset_objects if isinstance(a, FlexibleLoad)]
    return [c for c in names if c in columns]


# --- the run ------------------------------------------------------------------------------------


class _Planners:
    """Planners and evaluators by horizon length, built on first use and reused."""

    def __init__(self, site: Site, eval_site: Site) -> None:
        self.site, self.eval_site = site, eval_site
        self._plan: dict[int, Planner] = {}
        self._eval: dict[int, Planner] = {}

    def plan(self, n: int) -> Planner:
        if n not in self._plan:
            self._plan[n] = Planner(self.site, n)
        return self._plan[n]

    def evaluate(self, n: int) -> Planner:
        if n not in self._eval:
            self._eval[n] = Planner(self.eval_site, n, fixed_dispatch=True)
        return self._eval[n]


def _data_end(site: Site) -> pd.Timestamp:
    cover = series_coverage(site)
    if not cover:
        msg = "the site has no series: a scenario needs data for its period"
        raise SiteError.one(site.source, "series", msg)
    return min(end for _, end in cover.values())


def _data_start(site: Site) -> pd.Timestamp:
    return max(start for start, _ in series_coverage(site).values())


def run_rolling(
    site: Site,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    strategy: Strategy,
    state: PlantState | None = None,
    options: RollingOptions | None = None,
    forecaster: Forecaster | None = None,
    progress: Callable[[int], Any] | None = None,
) -> RollingResult:
    """Run ``strategy`` from ``start`` to ``end`` (UTC, end exclusive) block by block.

    ``progress(1)`` is called after each committed block. Raises :class:`SiteError` before any
    solve if the series do not cover the period.
    """
    t_wall = time.perf_counter()
    options = options or RollingOptions()
    if strategy not in STRATEGIES:
        msg = f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}"
        raise SiteError.one(site.source, "strategy", msg)
    start_state = state or PlantState()
    step = pd.Timedelta(minutes=site.step_min)
    bounds = block_starts(site, start, end, length_min=_block_min(strategy, options))
    data_start, data_end = _data_start(site), _data_end(site)
    if start < data_start or end > data_end:
        msg = (
            f"the period {start.isoformat()} .. {end.isoformat()} (UTC) is not covered by the "
            f"series, which cover {data_start.isoformat()} .. {data_end.isoformat()}"
        )
        raise SiteError.one(site.source, "period", msg, "choose a period inside the data")
    window = pd.Timedelta(hours=options.window_h)
    load_start = (
        max(data_start, start - pd.Timedelta(days=HISTORY_DAYS)) if strategy == "mpc" else start
    )
    load_end = min(data_end, end + window) if strategy != "heat_led" else end
    actual = load_forecast(site, load_start, int((load_end - load_start) / step))
    in_run = actual.loc[start : end - step]
    values: dict[str, float] = {}
    if options.value_storage:
        mean_price = float(in_run.get("price.day_ahead_eur_per_mwh", pd.Series([0.0])).mean())
        defaults = default_storage_values(site, mean_price)
        site, values = value_storage(site, defaults, options.storage_value_eur_per_mwh)
    counts = horizon_data(site, in_run, start_state).peak_counts
    planners = _Planners(site, _with_gap(site, options.eval_gap_pu))
    forecaster = forecaster or PersistenceForecaster()
    st, year = start_state, int(start.tz_convert(site.timezone).year)
    frames: list[pd.DataFrame] = []
    blocks: list[Block] = []
    pos = 0
    for b0, b1 in pairwise(bounds):
        n = int((b1 - b0) / step)
        block_actual = actual.loc[b0 : b1 - step]
        m = max(n, min(int(window / step), int((load_end - b0) / step)))
        decisions, plan = _decide(site, strategy, planners, actual, forecaster, b0, n, m, st)
        t1 = time.perf_counter()
        sched = _evaluate(site, planners.evaluate(n), block_actual, st, decisions)
        eval_s = time.perf_counter() - t1
        frame = sched.frame.copy()
        frame["peak.counts"] = counts[pos : pos + n]
        if "price.day_ahead_eur_per_mwh" in block_actual:
            frame["price.day_ahead_eur_per_mwh"] = block_actual["price.day_ahead_eur_per_mwh"]
        frames.append(frame)
        blocks.append(_block(b0, n, plan, sched, eval_s))
        st = carry_state(site, st, frame, counts=counts[pos : pos + n], state_year=year)
        year = int((b1 - step).tz_convert(site.timezone).year)
        pos += n
        if progress is not None:
            progress(1)
    return RollingResult(
        strategy=strategy,
        site=site,
        frame=pd.concat(frames),
        blocks=blocks,
        start_state=start_state,
        end_state=st,
        storage_values_eur_per_mwh=values,
        wall_s=time.perf_counter() - t_wall,
    )


def _evaluate(
    site: Site, evaluator: Planner, actual: pd.DataFrame, state: PlantState, decisions: pd.DataFrame
) -> Schedule:
    """Cost the committed ``decisions`` on the real data (the one accounting of every block)."""
    sched = evaluator.evaluate(actual, state, decisions)
    flex = _flexible_columns(site, decisions.columns)
    if sched.origin == "none" and flex:
        # a flexible-load window cut by the block: the block owes its pro-rata energy,
        # which the plan may have placed elsewhere in the window
        sched = evaluator.evaluate(actual, state, decisions.drop(columns=flex))
        sched.alarms.append("flexible loads re-timed within the block (window cut by it)")
    if sched.origin == "none":
        start = actual.index[0].isoformat()
        msg = f"{start}: the committed dispatch could not be costed: {sched.alarms}"
        raise SolveError(msg)
    return sched


def _decide(
    site: Site,
    strategy: Strategy,
    planners: _Planners,
    actual: pd.DataFrame,
    forecaster: Forecaster,
    b0: pd.Timestamp,
    n: int,
    m: int,
    state: PlantState,
) -> tuple[pd.DataFrame, Schedule | None]:
    """The decisions for the block of ``n`` intervals at ``b0`` (and the plan, if any)."""
    step = pd.Timedelta(minutes=site.step_min)
    block_actual = actual.loc[b0 : b0 + (n - 1) * step]
    if strategy == "heat_led":
        return heat_led_dispatch(site, block_actual, state)[0], None
    if strategy == "perfect_foresight":
        fc = actual.loc[b0 : b0 + (m - 1) * step]
    else:
        fc = forecaster.forecast(site, actual, b0, m)
    plan = planners.plan(m).plan(fc, state, marginal_prices=False)
    if plan.origin == "none":
        logger.warning("%s: no plan (%s); heat-led rules for this block", b0, plan.status)
        return heat_led_dispatch(site, block_actual, state)[0], plan
    committed = plan.frame.iloc[:n]
    if strategy == "mpc":
        committed = committed[setpoint_columns(site, committed.columns)]
    return committed.set_axis(block_actual.index), plan


def _block(
    b0: pd.Timestamp, n: int, plan: Schedule | None, sched: Schedule, eval_s: float
) -> Block:
    if plan is None:
        origin, status, gap, plan_s, solve_s = "heat_led", "rules", None, 0.0, 0.0
    elif plan.origin == "none":
        origin, status, gap = "fallback_heat_led", plan.status, None
        plan_s = solve_s = float(plan.timings.get("solve_s", 0.0))
    else:
        origin, status, gap = plan.origin, plan.status, plan.mip_gap
        plan_s = float(sum(plan.timings.values()))
        solve_s = float(plan.timings.get("solve_s", 0.0))
    gap_eur = 0.0
    if plan is not None and plan.mip_gap is not None and plan.objective_eur is not None:
        gap_eur = plan.mip_gap * abs(plan.objective_eur)
    alarms = list(sched.alarms)
    if plan is not None and plan.origin == "none":
        alarms.insert(0, f"no plan ({plan.status}): heat-led rules used")
    return Block(
        start=b0,
        n=n,
        origin=origin,
        status=status,
        mip_gap=gap,
        costs=dict(sched.costs),
        penalties=dict(sched.penalties),
        co2_t=float(sched.co2_t),
        plan_s=plan_s,
        solve_s=solve_s,
        eval_s=eval_s,
        gap_eur=gap_eur,
        alarms=alarms,
    )
