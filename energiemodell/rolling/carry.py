"""The PlantState carried from one committed block to the next."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from energiemodell.assets.chp import Chp
from energiemodell.assets.flexible_load import FlexibleLoad
from energiemodell.site import Site
from energiemodell.state import PlantState, UnitState


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
            "flexible_kwh": _flexible_drawn(site, state, frame),
        }
    )


def _flexible_drawn(site: Site, state: PlantState, frame: pd.DataFrame) -> dict[str, float]:
    """What each flexible load drew in its window open at the end of ``frame`` (kWh).

    The window's part before the frame counts as ``state`` says, else its even share.
    """
    out: dict[str, float] = {}
    local = pd.DatetimeIndex(frame.index).tz_convert(site.timezone).tz_localize(None)  # wall clock
    dt_h = site.step_min / 60
    first = local[0].to_pydatetime()
    end = (local[-1] + pd.Timedelta(minutes=site.step_min)).to_pydatetime()
    for a in site.asset_objects:
        col = f"{a.name}.p_kw"
        if not isinstance(a, FlexibleLoad) or a.params.critical or col not in frame:
            continue
        p = a.params
        opened, closes = p.window_at(end)
        if not opened < end < closes:
            continue
        inside = np.array([opened <= ts.to_pydatetime() for ts in local])
        kwh = float(frame[col].to_numpy(dtype=float)[inside].sum() * dt_h)
        if opened < first:
            before = state.flexible_kwh.get(p.name)
            share = p.energy_kwh * ((first - opened) / timedelta(hours=1)) / p.window_h
            kwh += share if before is None else before
        out[p.name] = kwh
    return out
