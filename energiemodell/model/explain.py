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
    col = {c: frame[c].to_numpy() for c in frame.columns}
    units = []  # per asset, what does not change with t (outputs() builds expressions: once)
    for name, a in built.assets.items():
        b = m.asset[name]
        main = next(iter(a.outputs(b)), None)
        value = col.get(f"{name}.{main}") if main and main != "charge_kw" else None
        cap = max(a.capacity_kw(c) for c in Carrier) * a.units()
        on = col.get(f"{name}.on") if a.commitment(b) is not None else None
        units.append((name, b, cap, value if cap > 0 else None, on))
    for t, ts in enumerate(frame.index):
        words: list[str] = []
        for name, b, cap, value, on in units:
            if on is not None and on[t] < 0.5:
                held = b.avail[t].value < 1
                words.append(f"{name} off" + (" (not available)" if held else ""))
            elif value is not None:
                if value[t] >= cap - TOL * max(cap, 1):
                    words.append(f"{name} at maximum ({cap:g} kW)")
                elif hasattr(b, "min_load") and value[t] > TOL and b.min_load[t].slack() < TOL:
                    words.append(f"{name} at minimum load")
            if f"{name}.level_kwh" in col:
                level = col[f"{name}.level_kwh"][t]
                lo, hi = b.level_kwh[t].lb, b.level_kwh[t].ub
                if level >= hi - TOL * max(hi, 1):
                    words.append(f"{name} full")
                elif level <= lo + TOL * max(hi, 1):
                    words.append(f"{name} empty")
            if f"{name}.import_kw" in col:
                imp = col[f"{name}.import_kw"][t]
                if imp >= b.import_kw[t].ub - TOL:
                    words.append(f"{name} import at the contracted limit")
                elif imp > TOL and b.counts[t].value > 0 and abs(b.peak[t].uslack()) < TOL:
                    words.append(f"{name} import at the year's peak threshold")
                exp = col[f"{name}.export_kw"][t]
                if b.export_kw[t].ub and exp >= b.export_kw[t].ub - TOL:
                    words.append(f"{name} export at its limit")
        for key in m.n1_rules:
            blk = getattr(m, f"n1_{key}")
            if any(blk.cover[u, t].lslack() < TOL for u in blk.U):
                short = col[f"n1.{key}_shortfall_kw"][t] if f"n1.{key}_shortfall_kw" in col else 0.0
                words.append(
                    f"N-1 {key} binding" + (f" (short {short:.0f} kW)" if short > TOL else "")
                )
        out[ts.isoformat()] = words
    return out
