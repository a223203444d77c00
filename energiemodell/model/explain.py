"""Plain-word reasons per interval: which limits bind, so a person sees why a unit runs or not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from energiemodell.assets.base import Carrier

if TYPE_CHECKING:
    from energiemodell.model.build import BuiltModel

TOL = 1e-4


def binding_limits(built: BuiltModel, frame: pd.DataFrame) -> dict[str, list[str]]:
    """For each interval (ISO UTC start), the limits that bind, in plain words."""
    m = built.model
    out: dict[str, list[str]] = {}
    for t, ts in enumerate(frame.index):
        words: list[str] = []
        row = frame.iloc[t]
        for name, a in built.assets.items():
            b = m.asset[name]
            cap = max(a.capacity_kw(c) for c in Carrier) * a.units()
            main = next(iter(a.outputs(b)), None)
            on = a.commitment(b)
            if on is not None and f"{name}.on" in row and row[f"{name}.on"] < 0.5:
                held = b.avail[t].value < 1
                words.append(f"{name} off" + (" (not available)" if held else ""))
            elif cap > 0 and main and main != "charge_kw" and f"{name}.{main}" in row:
                value = row[f"{name}.{main}"]
                if value >= cap - TOL * max(cap, 1):
                    words.append(f"{name} at maximum ({cap:g} kW)")
                elif hasattr(b, "min_load") and b.min_load[t].lslack() < TOL and value > TOL:
                    words.append(f"{name} at minimum load")
            if f"{name}.level_kwh" in row:
                level = row[f"{name}.level_kwh"]
                lo, hi = b.level_kwh[t].lb, b.level_kwh[t].ub
                if level >= hi - TOL * max(hi, 1):
                    words.append(f"{name} full")
                elif level <= lo + TOL * max(hi, 1):
                    words.append(f"{name} empty")
            if f"{name}.import_kw" in row:
                imp = row[f"{name}.import_kw"]
                if imp >= b.import_kw[t].ub - TOL:
                    words.append(f"{name} import at the contracted limit")
                elif abs(b.peak[t].uslack()) < TOL and imp > TOL and b.counts[t].value > 0:
                    words.append(f"{name} import at the year's peak threshold")
                if b.export_kw[t].ub and row[f"{name}.export_kw"] >= b.export_kw[t].ub - TOL:
                    words.append(f"{name} export at its limit")
        for key in m.n1_rules:
            blk = getattr(m, f"n1_{key}")
            if any(blk.cover[u, t].lslack() < TOL for u in blk.U):
                short = row.get(f"n1.{key}_shortfall_kw", 0.0)
                words.append(
                    f"N-1 {key} binding" + (f" (short {short:.0f} kW)" if short > TOL else "")
                )
        out[ts.isoformat()] = words
    return out
