"""How a period is cut into committed blocks: the options and the block boundaries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

import pandas as pd

from energiemodell.errors import SiteError
from energiemodell.site import Site

Strategy = Literal["perfect_foresight", "mpc", "heat_led"]
STRATEGIES: tuple[Strategy, ...] = ("perfect_foresight", "mpc", "heat_led")


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
    """How many committed blocks :func:`~energiemodell.rolling.run_rolling` will run."""
    return len(block_starts(site, start, end, length_min=block_min(strategy, options))) - 1


def block_min(strategy: Strategy, options: RollingOptions) -> float:
    """Length of a committed block (min): ``replan_min`` under mpc, else ``commit_h``."""
    return options.replan_min if strategy == "mpc" else options.commit_h * 60
