"""KPIs of a rolling run, per local month and for the whole period.

Money comes from the blocks' evaluation (the planner's own accounting, committed intervals
only); a block is counted in the local month it starts in (exact with daily blocks). Energy,
hours, starts and cycles come from the committed dispatch per interval.

``cost_eur`` is the planner's accounting: energy, fuel, CO2 price, fees, levies, starts, O&M,
the peak charge on rises above ``max(peak so far, the site's planning floor)``, minus revenues,
plus ``storage_end_value`` (value of the stores' content drawn down over the period).
``cash_cost_eur`` leaves the storage value out. ``peak_charge_eur`` is the bill the period's
annual peak implies: peak x demand charge, pro-rated by the share of the billing year the
period covers (``peak_charge_basis`` says how); it is reported beside ``cost_eur``, not in it.
"""

from __future__ import annotations

import calendar
from typing import Any

import numpy as np
import pandas as pd

from energiemodell.assets.base import Carrier
from energiemodell.assets.chp import Chp
from energiemodell.assets.pv import Pv
from energiemodell.rolling import RollingResult
from energiemodell.state import PlantState

STORAGE_VALUE = "storage_end_value"
TOTAL = "total"


def _sum_cols(frame: pd.DataFrame, suffix: str) -> np.ndarray:
    cols = [c for c in frame.columns if c.endswith(suffix)]
    if not cols:
        return np.zeros(len(frame))
    return np.asarray(frame[cols].to_numpy(dtype=float).sum(axis=1), dtype=float)


def _starts(frame: pd.DataFrame, name: str, state: PlantState) -> np.ndarray:
    on = np.round(frame[f"{name}.on"].to_numpy(dtype=float))
    st = state.units.get(name)
    first = 0.0
    if st is not None and st.on:
        first = float(st.units_on if st.units_on is not None else 1)
    prev = np.concatenate([[first], on[:-1]])
    return np.asarray(np.clip(on - prev, 0.0, None), dtype=float)


def _energy_kpis(
    result: RollingResult, frame: pd.DataFrame, starts: dict[str, np.ndarray]
) -> dict[str, float]:
    site = result.site
    dt_h = site.step_min / 60
    out: dict[str, float] = {}
    imp = _sum_cols(frame, ".import_kw")
    exp = _sum_cols(frame, ".export_kw")
    counts = frame["peak.counts"].to_numpy(dtype=float) if "peak.counts" in frame else 1.0
    out["peak_import_kw"] = float((imp * counts).max()) if len(frame) else 0.0
    out["import_kwh"] = float(imp.sum() * dt_h)
    out["export_kwh"] = float(exp.sum() * dt_h)
    local = 0.0
    for a in site.asset_objects:
        col = f"{a.name}.p_el_kw"
        if isinstance(a, Chp):
            p_max = a.params.p_el_max_kw
            out[f"full_load_hours.{a.name}"] = float(frame[col].sum() * dt_h / p_max)
            kw = f"{a.name}.kwkg_kw"
            if kw in frame:
                out[f"kwkg_hours.{a.name}"] = float(frame[kw].sum() * dt_h / p_max)
            local += float(frame[col].sum() * dt_h)
        elif isinstance(a, Pv) and col in frame:
            local += float(frame[col].sum() * dt_h)
        cap = a.storage_capacity_kwh()
        if cap > 0 and f"{a.name}.discharge_kw" in frame:
            out[f"cycles.{a.name}"] = float(frame[f"{a.name}.discharge_kw"].sum() * dt_h / cap)
    for name, s in starts.items():
        out[f"starts.{name}"] = float(s.sum())
    consumed = out["import_kwh"] + local - out["export_kwh"]
    out["self_supply_pu"] = 0.0 if consumed <= 0 else max(0.0, 1 - out["import_kwh"] / consumed)
    total_unserved = 0.0
    for c in Carrier:
        col = f"unserved.{c}_kw"
        value = float(frame[col].sum() * dt_h) if col in frame else 0.0
        out[f"unserved.{c}_kwh"] = value
        total_unserved += value
    out["unserved.flexible_kwh"] = float(_sum_cols(frame, ".unserved_kw").sum() * dt_h)
    out["unserved_kwh"] = total_unserved + out["unserved.flexible_kwh"]
    return out


def _block_kpis(result: RollingResult, blocks: list[int]) -> dict[str, float]:
    bs = [result.blocks[i] for i in blocks]
    out: dict[str, float] = {}
    costs: dict[str, float] = {}
    for b in bs:
        for k, v in b.costs.items():
            costs[k] = costs.get(k, 0.0) + v
    for k in sorted(costs):
        out[f"cost.{k}"] = costs[k]
    out["cost_eur"] = float(sum(costs.values()))
    out["storage_value_change_eur"] = costs.get(STORAGE_VALUE, 0.0)
    out["cash_cost_eur"] = out["cost_eur"] - out["storage_value_change_eur"]
    out["penalty_eur"] = float(sum(sum(b.penalties.values()) for b in bs))
    out["co2_t"] = float(sum(b.co2_t for b in bs))
    solve = np.array([b.solve_s for b in bs if b.origin != "heat_led"])
    out["windows"] = float(len(bs))
    out["plan_s"] = float(sum(b.plan_s for b in bs))
    out["solve_s"] = float(solve.sum()) if len(solve) else 0.0
    out["eval_s"] = float(sum(b.eval_s for b in bs))
    out["solve_s_p50"] = float(np.percentile(solve, 50)) if len(solve) else 0.0
    out["solve_s_p95"] = float(np.percentile(solve, 95)) if len(solve) else 0.0
    out["solve_s_max"] = float(solve.max()) if len(solve) else 0.0
    gaps = [b.mip_gap for b in bs if b.mip_gap is not None]
    out["mip_gap_max"] = float(max(gaps)) if gaps else 0.0
    out["gap_eur"] = float(sum(b.gap_eur for b in bs))
    out["time_limited"] = float(sum(b.origin == "time_limited" for b in bs))
    out["fallbacks"] = float(sum(b.origin == "fallback_heat_led" for b in bs))
    return out


def _peak_charges(result: RollingResult) -> tuple[dict[int, float], str, dict[int, float]]:
    """Billed peak charge per billing year (pro-rated), its label and each year's covered days."""
    site, frame = result.site, result.frame
    dt_h = site.step_min / 60
    local = pd.DatetimeIndex(frame.index).tz_convert(site.timezone)
    counts = frame["peak.counts"].to_numpy(dtype=float) if "peak.counts" in frame else 1.0
    counted = _sum_cols(frame, ".import_kw") * counts
    charges: dict[int, float] = {}
    days: dict[int, float] = {}
    labels = []
    for year in sorted(set(local.year)):
        mask = np.asarray(local.year == year)
        peak = float(counted[mask].max())
        if year == local[0].year:
            peak = max(peak, result.start_state.peak_import_kw)
        tp = site.tariff_at(local[mask][0].date())
        rate = tp.electricity.demand_charge_eur_per_kw_a if tp is not None else 0.0
        year_days = 366.0 if calendar.isleap(year) else 365.0
        covered = float(mask.sum() * dt_h / 24)
        days[year] = covered
        charges[year] = peak * rate * covered / year_days
        share = (
            "full year" if abs(covered - year_days) < 1e-6 else f"{covered:g}/{year_days:g} days"
        )
        labels.append(f"{year}: {peak:.1f} kW x {rate:g} EUR/kW/a x {share}")
    return charges, "pro-rated annual peak: " + "; ".join(labels), days


def period_kpis(result: RollingResult) -> tuple[dict[str, dict[str, float]], str]:
    """KPIs by local month (``YYYY-MM``) and for the whole period (key ``total``).

    Returns the table and the label saying how the peak charge was pro-rated.
    """
    site, frame = result.site, result.frame
    tz = site.timezone
    dt_h = site.step_min / 60
    local = pd.DatetimeIndex(frame.index).tz_convert(tz)
    months = np.asarray(local.strftime("%Y-%m"))
    starts = {
        a.name: _starts(frame, a.name, result.start_state)
        for a in site.asset_objects
        if f"{a.name}.on" in frame
    }
    block_months = [b.start.tz_convert(tz).strftime("%Y-%m") for b in result.blocks]
    charges, basis, year_days = _peak_charges(result)
    table: dict[str, dict[str, float]] = {}
    for month in sorted(set(months)):
        mask = months == month
        sub = frame[mask]
        row = _block_kpis(result, [i for i, m in enumerate(block_months) if m == month])
        row.update(_energy_kpis(result, sub, {k: v[mask] for k, v in starts.items()}))
        year = int(month[:4])
        row["peak_charge_eur"] = charges[year] * float(mask.sum() * dt_h / 24) / year_days[year]
        table[month] = row
    total = _block_kpis(result, list(range(len(result.blocks))))
    total.update(_energy_kpis(result, frame, starts))
    total["peak_charge_eur"] = float(sum(charges.values()))
    total["wall_s"] = result.wall_s
    table[TOTAL] = total
    return table, basis


def add_savings(rows: dict[str, dict[str, float]], baseline: dict[str, dict[str, float]]) -> None:
    """Savings against the heat-led baseline (positive: cheaper than the rules), in place."""
    for key, row in rows.items():
        base = baseline.get(key)
        if base is None:
            continue
        row["savings_eur"] = base["cost_eur"] - row["cost_eur"]
        row["savings_cash_eur"] = base["cash_cost_eur"] - row["cash_cost_eur"]
        row["savings_pu"] = row["savings_eur"] / base["cost_eur"] if base["cost_eur"] else 0.0
        row["co2_savings_t"] = base["co2_t"] - row["co2_t"]
        row["peak_charge_savings_eur"] = base["peak_charge_eur"] - row["peak_charge_eur"]


def flat_rows(
    label: str, strategy: str, kind: str, value: float | None, table: dict[str, dict[str, float]]
) -> list[dict[str, Any]]:
    """Rows for ``kpis.csv``: one per month and one ``total``."""
    return [
        {"run": label, "strategy": strategy, "kind": kind, "sweep_value": value, "month": k, **v}
        for k, v in table.items()
    ]
