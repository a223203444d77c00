"""Plotly figures as plain dicts (``{"data": [...], "layout": {...}}``), drawn by plotly.js.

The figures are built as JSON-ready dicts rather than ``plotly.graph_objects`` figures: the
pages stay fast with long days (no validation pass) and the browser does the drawing. Times
are local (the site's zone) on the x axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from energiemodell.store import PlanVsActual

Figure = dict[str, Any]
UNITS = {"electricity": "kW", "heat": "kW", "cooling": "kW"}


def _xs(index: pd.Index, tz: str) -> list[str]:
    return [ts.strftime("%Y-%m-%dT%H:%M:%S") for ts in pd.DatetimeIndex(index).tz_convert(tz)]


def _ys(series: pd.Series) -> list[float | None]:
    return [None if (v is None or math.isnan(v)) else round(float(v), 3) for v in series]


def _layout(title: str, y_title: str, marker: datetime | None, tz: str) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title},
        "yaxis": {"title": {"text": y_title}},
        "xaxis": {"type": "date"},
        "legend": {"orientation": "h"},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
        "height": 320,
    }
    if marker is not None:
        x = pd.Timestamp(marker).tz_convert(tz).strftime("%Y-%m-%dT%H:%M:%S")
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"color": "#c0392b", "width": 2, "dash": "dot"},
            }
        ]
    return layout


def plan_vs_actual_figure(
    pva: PlanVsActual,
    carrier: str,
    columns: Sequence[tuple[str, float]],
    *,
    tz: str,
    marker: datetime | None,
    words: dict[str, str],
) -> Figure:
    """One carrier: each unit's planned flow (dashed) and measured flow (solid)."""
    x = _xs(pva.plan.index, tz)
    data: list[dict[str, Any]] = []
    for column in [f"demand.{carrier}_kw", *[c for c, _ in columns]]:
        if column not in pva.plan.columns:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"{column} ({words['plan']})",
                "x": x,
                "y": _ys(pva.plan[column]),
                "line": {"dash": "dash", "shape": "hv"},
            }
        )
        if column in pva.actual.columns and pva.actual[column].notna().any():
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": f"{column} ({words['actual']})",
                    "x": x,
                    "y": _ys(pva.actual[column]),
                    "line": {"shape": "hv"},
                }
            )
    return {"data": data, "layout": _layout(carrier, UNITS.get(carrier, ""), marker, tz)}


def stacked_figure(
    pva: PlanVsActual, carrier: str, columns: Sequence[tuple[str, float]], *, tz: str
) -> Figure:
    """One carrier's plan stacked: supplies above zero, uses below, demand as a line."""
    x = _xs(pva.plan.index, tz)
    data: list[dict[str, Any]] = []
    for column, sign in columns:
        if column not in pva.plan.columns:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": column,
                "x": x,
                "y": _ys(sign * pva.plan[column]),
                "stackgroup": "supply" if sign > 0 else "use",
                "line": {"shape": "hv", "width": 0.5},
            }
        )
    demand = f"demand.{carrier}_kw"
    if demand in pva.plan.columns:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": demand,
                "x": x,
                "y": _ys(pva.plan[demand]),
                "line": {"color": "black", "width": 2, "shape": "hv"},
            }
        )
    return {"data": data, "layout": _layout(carrier, "kW", None, tz)}


def lines_figure(
    pva: PlanVsActual,
    columns: Sequence[str],
    *,
    title: str,
    y_title: str,
    tz: str,
    marker: datetime | None = None,
    actual: bool = True,
    words: dict[str, str] | None = None,
    hline: tuple[float, str] | None = None,
) -> Figure:
    """Plan (and measured) lines of some columns, e.g. storage levels or prices."""
    x = _xs(pva.plan.index, tz)
    w = words or {"plan": "plan", "actual": "actual"}
    data: list[dict[str, Any]] = []
    for column in columns:
        if column in pva.plan.columns:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"{column} ({w['plan']})" if actual else column,
                    "x": x,
                    "y": _ys(pva.plan[column]),
                    "line": {"shape": "hv", "dash": "dash" if actual else "solid"},
                }
            )
        if actual and column in pva.actual.columns and pva.actual[column].notna().any():
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": f"{column} ({w['actual']})",
                    "x": x,
                    "y": _ys(pva.actual[column]),
                    "line": {"shape": "hv"},
                }
            )
    layout = _layout(title, y_title, marker, tz)
    if hline is not None and x:
        layout.setdefault("shapes", []).append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": hline[0],
                "y1": hline[0],
                "line": {"color": "#8e44ad", "width": 1.5},
            }
        )
        layout["annotations"] = [
            {
                "xref": "paper",
                "x": 0,
                "y": hline[0],
                "text": hline[1],
                "showarrow": False,
                "yshift": 10,
                "xanchor": "left",
            }
        ]
    return {"data": data, "layout": layout}


def on_off_figure(pva: PlanVsActual, *, tz: str, title: str) -> Figure:
    """Units' planned on/off state as a timeline (heatmap rows)."""
    columns = [c for c in pva.plan.columns if str(c).endswith(".on")]
    x = _xs(pva.plan.index, tz)
    z = [_ys(pva.plan[c]) for c in columns]
    data = [
        {
            "type": "heatmap",
            "x": x,
            "y": [c.removesuffix(".on") for c in columns],
            "z": z,
            "zmin": 0,
            "zmax": 1,
            "colorscale": [[0, "#ecf0f1"], [1, "#27ae60"]],
            "showscale": False,
        }
    ]
    layout = _layout(title, "", None, tz)
    layout["height"] = 120 + 30 * len(columns)
    return {"data": data if columns else [], "layout": layout}


def cost_figure(costs: dict[str, float], *, title: str) -> Figure:
    """The cost breakdown of a plan version as bars (EUR, revenues negative)."""
    items = [
        (k, v) for k, v in sorted(costs.items(), key=lambda kv: -abs(kv[1])) if abs(v) >= 0.005
    ]
    return {
        "data": [
            {
                "type": "bar",
                "x": [k for k, _ in items],
                "y": [round(v, 2) for _, v in items],
                "marker": {"color": "#2c3e50"},
            }
        ],
        "layout": {
            "title": {"text": title},
            "yaxis": {"title": {"text": "EUR"}},
            "margin": {"l": 60, "r": 20, "t": 40, "b": 100},
            "height": 320,
        },
    }
