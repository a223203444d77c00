"""Self-contained HTML reports (plotly.js embedded once, no CDN) for runs and comparisons."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from energiemodell.assets.absorption_chiller import AbsorptionChiller
from energiemodell.assets.battery import Battery
from energiemodell.assets.boiler import Boiler
from energiemodell.assets.chp import Chp
from energiemodell.assets.compression_chiller import CompressionChiller
from energiemodell.assets.district_heat import DistrictHeat
from energiemodell.assets.electric_boiler import ElectricBoiler
from energiemodell.assets.emergency_generator import EmergencyGenerator
from energiemodell.assets.grid import Grid
from energiemodell.assets.heat_pump import HeatPump
from energiemodell.assets.pv import Pv
from energiemodell.assets.thermal_storage import ThermalStorage
from energiemodell.site import Site
from scenarios.kpis import TOTAL

if TYPE_CHECKING:
    from scenarios.runner import ScenarioResult

HEADLINE = (
    "cost_eur",
    "cash_cost_eur",
    "savings_eur",
    "savings_pu",
    "co2_t",
    "peak_import_kw",
    "peak_charge_eur",
    "self_supply_pu",
    "unserved_kwh",
    "penalty_eur",
    "windows",
    "solve_s",
    "mip_gap_max",
)


def dispatch_columns(site: Site) -> dict[str, list[tuple[str, float]]]:
    """Per carrier: (dispatch column, sign) of supplies (+) and uses (-) for the week plot."""
    out: dict[str, list[tuple[str, float]]] = {"electricity": [], "heat": [], "cooling": []}
    for a in site.asset_objects:
        n = a.name
        if isinstance(a, Grid):
            out["electricity"] += [(f"{n}.import_kw", 1.0), (f"{n}.export_kw", -1.0)]
        elif isinstance(a, Chp):
            out["electricity"].append((f"{n}.p_el_kw", 1.0))
            out["heat"].append((f"{n}.q_kw", 1.0))
        elif isinstance(a, Pv | EmergencyGenerator):
            out["electricity"].append((f"{n}.p_el_kw", 1.0))
        elif isinstance(a, Battery):
            out["electricity"] += [(f"{n}.discharge_kw", 1.0), (f"{n}.charge_kw", -1.0)]
        elif isinstance(a, ThermalStorage):
            out[a.params.carrier] += [(f"{n}.discharge_kw", 1.0), (f"{n}.charge_kw", -1.0)]
        elif isinstance(a, Boiler | DistrictHeat):
            out["heat"].append((f"{n}.q_kw", 1.0))
        elif isinstance(a, ElectricBoiler | HeatPump):
            out["heat"].append((f"{n}.q_kw", 1.0))
            out["electricity"].append((f"{n}.p_el_kw", -1.0))
        elif isinstance(a, CompressionChiller):
            out["cooling"].append((f"{n}.cold_kw", 1.0))
            out["electricity"].append((f"{n}.p_el_kw", -1.0))
        elif isinstance(a, AbsorptionChiller):
            out["cooling"].append((f"{n}.cold_kw", 1.0))
            out["heat"].append((f"{n}.q_in_kw", -1.0))
    return out


def _figure_html(fig: go.Figure, first: bool) -> str:
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return str(fig.to_html(full_html=False, include_plotlyjs=bool(first), include_mathjax=False))


def _page(title: str, sections: list[str]) -> str:
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;"
        "text-align:right}th:first-child,td:first-child{text-align:left}.note{color:#555}"
    )
    body = "\n".join(sections)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{body}</body></html>"
    )


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            text = f"{v:,.6g}" if isinstance(v, float) else html.escape("" if v is None else str(v))
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _cost_stack(result: ScenarioResult) -> go.Figure:
    months: list[str] = []
    runs: list[str] = []
    cats: dict[str, list[float]] = {}
    for r in result.results:
        for month, row in r.kpis.items():
            if month == TOTAL:
                continue
            months.append(month)
            runs.append(r.task.label)
            for k in row:
                if k.startswith("cost."):
                    cats.setdefault(k, [])
    for key in cats:
        for r in result.results:
            cats[key] += [row.get(key, 0.0) for m, row in r.kpis.items() if m != TOTAL]
    fig = go.Figure()
    for key, values in cats.items():
        fig.add_bar(x=[months, runs], y=values, name=key.removeprefix("cost."))
    fig.update_layout(barmode="relative", title="Monthly cost by category (EUR)")
    return fig


def _duration_curves(result: ScenarioResult) -> go.Figure:
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Grid import (kW)", "Heat demand met by CHP (kW)")
    )
    for r in result.results:
        f = r.frame
        dt_h = (f.index[1] - f.index[0]).total_seconds() / 3600 if len(f) > 1 else 0.25
        imp = np.sort(
            f[[c for c in map(str, f.columns) if c.endswith(".import_kw")]].sum(axis=1).to_numpy()
        )[::-1]
        hours = np.arange(len(imp)) * dt_h
        stride = max(1, len(imp) // 2000)
        fig.add_scatter(x=hours[::stride], y=imp[::stride], name=r.task.label, row=1, col=1)
        chp = f[[c for c in map(str, f.columns) if c.endswith(".q_kw") and _is_chp(f, c[:-5])]]
        q = np.sort(chp.sum(axis=1).to_numpy())[::-1] if chp.shape[1] else np.zeros(len(f))
        fig.add_scatter(
            x=hours[::stride], y=q[::stride], name=r.task.label, row=1, col=2, showlegend=False
        )
    fig.update_xaxes(title_text="hours at or above")
    fig.update_layout(title="Load duration curves")
    return fig


def _is_chp(frame: pd.DataFrame, name: str) -> bool:
    return f"{name}.p_el_kw" in frame and f"{name}.fuel_kw" in frame


def _week(frame: pd.DataFrame, tz: str, week_start: Any) -> pd.DataFrame:
    local = pd.DatetimeIndex(frame.index).tz_convert(tz)
    if week_start is not None:
        lo = pd.Timestamp(week_start).tz_localize(tz)
    elif local[-1] - local[0] <= pd.Timedelta(days=7):
        return frame
    else:
        heat = frame.get("demand.heat_kw", pd.Series(0.0, index=frame.index))
        daily = heat.groupby(local.normalize()).mean()
        weekly = daily.rolling(7).mean().dropna()
        lo = pd.Timestamp(str(weekly.idxmax())) - pd.Timedelta(days=6) if len(weekly) else local[0]
    return frame[(local >= lo) & (local < lo + pd.Timedelta(days=7))]


def _dispatch_week(result: ScenarioResult, site: Site) -> go.Figure:
    r = next(x for x in result.results if x.task.kind == "scenario")
    week = _week(r.frame, site.timezone, result.spec.report.week_start)
    x = pd.DatetimeIndex(week.index).tz_convert(site.timezone)
    cols = dispatch_columns(site)
    fig = make_subplots(
        rows=3, cols=1, shared_xaxes=True, subplot_titles=tuple(f"{c} (kW)" for c in cols)
    )
    for row, (carrier, items) in enumerate(cols.items(), start=1):
        for col, sign in items:
            if col in week and (week[col].abs() > 1e-6).any():
                group = "supply" if sign > 0 else "use"
                fig.add_scatter(
                    x=x,
                    y=sign * week[col],
                    name=col,
                    stackgroup=f"{carrier}-{group}",
                    row=row,
                    col=1,
                )
        demand = f"demand.{carrier}_kw"
        if demand in week:
            fig.add_scatter(
                x=x, y=week[demand], name=demand, line={"color": "black"}, row=row, col=1
            )
    fig.update_layout(height=900, title=f"Dispatch of {r.task.label}, one week (local time)")
    return fig


def _storage_levels(result: ScenarioResult, site: Site) -> go.Figure:
    fig = go.Figure()
    for r in result.results:
        f = r.frame
        levels = [c for c in map(str, f.columns) if c.endswith(".level_kwh")]
        if not levels:
            continue
        hourly = f[levels].resample("1h").mean() if len(f) > 4 * 24 * 14 else f[levels]
        x = pd.DatetimeIndex(hourly.index).tz_convert(site.timezone)
        dash = "dot" if r.task.kind == "baseline" else "solid"
        for c in levels:
            fig.add_scatter(x=x, y=hourly[c], name=f"{r.task.label}: {c}", line={"dash": dash})
    fig.update_layout(title="Storage levels (kWh)")
    return fig


def _savings(result: ScenarioResult) -> go.Figure:
    fig = go.Figure()
    for r in result.results:
        if r.task.kind != "scenario":
            continue
        months = [m for m in r.kpis if m != TOTAL and "savings_eur" in r.kpis[m]]
        fig.add_bar(x=months, y=[r.kpis[m]["savings_eur"] for m in months], name=r.task.label)
    fig.update_layout(title="Savings against the heat-led rules (EUR, positive: cheaper)")
    return fig


def write_report(result: ScenarioResult, path: Path) -> None:
    """The run's report: KPI table and the five figures, one self-contained HTML file."""
    from scenarios.apply import apply_changes, load_base_site, sweep_changes

    spec = result.spec
    base = load_base_site(spec, result.spec_path.parent)
    site = apply_changes(base, sweep_changes(spec)[0][2], spec_dir=result.spec_path.parent)
    totals = [
        {"run": r.task.label, "strategy": r.task.strategy, **r.kpis[TOTAL]} for r in result.results
    ]
    cols = ["run", "strategy", *[k for k in HEADLINE if any(k in t for t in totals)]]
    figs = [
        _cost_stack(result),
        _duration_curves(result),
        _dispatch_week(result, site),
        _storage_levels(result, site),
    ]
    if spec.baseline and spec.strategy != "heat_led":
        figs.append(_savings(result))
    basis = "; ".join(sorted({r.peak_charge_basis for r in result.results}))
    strategy: str = spec.strategy
    if strategy == "mpc":
        strategy += f" ({spec.forecaster} forecaster)"
    sections = [
        f"<h1>Scenario {html.escape(spec.name)}</h1>",
        f"<p>{html.escape(spec.description)}</p>",
        f"<p class='note'>Period {spec.period.start} to {spec.period.end} (local, end exclusive), "
        f"strategy {strategy}. Costs: the planner's accounting of committed intervals, "
        f"including the change of stored value; peak charge: {html.escape(basis)}.</p>",
        _table(totals, cols),
        *[_figure_html(f, i == 0) for i, f in enumerate(figs)],
        "<h2>Specification</h2><pre>"
        + html.escape(json.dumps(spec.model_dump(mode="json", by_alias=True), indent=1))
        + "</pre>",
    ]
    path.write_text(_page(f"Scenario {spec.name}", sections), encoding="utf-8")


def write_comparison(run_dirs: list[Path], path: Path) -> list[dict[str, Any]]:
    """Runs side by side (total KPIs) with deltas against the first run of the first directory.

    Returns the table rows. Raises ``FileNotFoundError``/``ValueError`` for unusable inputs.
    """
    runs: list[dict[str, Any]] = []
    for d in run_dirs:
        data = json.loads((d / "kpis.json").read_text(encoding="utf-8"))
        for r in data["runs"]:
            runs.append({"dir": str(d), **r})
    if not runs:
        msg = "no runs in the given directories"
        raise ValueError(msg)
    ref = runs[0]["total"]
    keys = [k for k in HEADLINE if k in ref] + sorted(
        k for k in ref if k.startswith("cost.") and k not in HEADLINE
    )
    rows = []
    for r in runs:
        row: dict[str, Any] = {"dir": r["dir"], "run": r["run"], "strategy": r["strategy"]}
        for k in keys:
            v = r["total"].get(k)
            row[k] = v
            if v is not None and k in ref:
                row[f"delta {k}"] = float(v) - float(ref[k])
        rows.append(row)
    cols = ["dir", "run", "strategy", *[c for k in keys for c in (k, f"delta {k}")]]
    fig = go.Figure()
    for r in runs:
        months = sorted(r["months"])
        fig.add_scatter(x=months, y=[r["months"][m]["cost_eur"] for m in months], name=r["run"])
    fig.update_layout(title="Monthly cost (EUR)")
    bars = go.Figure(go.Bar(x=[r["run"] for r in runs], y=[r["total"]["cost_eur"] for r in runs]))
    bars.update_layout(title="Total cost per run (EUR)")
    sections = [
        "<h1>Scenario comparison</h1>",
        f"<p class='note'>Deltas against {html.escape(runs[0]['run'])} "
        f"({html.escape(runs[0]['dir'])}).</p>",
        _table(rows, cols),
        _figure_html(bars, True),
        _figure_html(fig, False),
    ]
    path.write_text(_page("Scenario comparison", sections), encoding="utf-8")
    return rows
