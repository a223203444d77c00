"""The run: block after block, each decided, costed on the real data, and its state carried."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pandas as pd

from energiemodell.errors import SiteError
from energiemodell.forecast import Forecaster
from energiemodell.model.data import horizon_data
from energiemodell.rolling.carry import carry_state
from energiemodell.rolling.costing import Block, Planners, block_record, evaluate_committed
from energiemodell.rolling.strategies import (
    DEFAULT_FORECAST,
    HISTORY_DAYS,
    decide,
    make_forecaster,
)
from energiemodell.rolling.valuation import (
    default_storage_values,
    valuation_price,
    value_storage,
)
from energiemodell.rolling.windows import (
    STRATEGIES,
    RollingOptions,
    Strategy,
    block_min,
    block_starts,
)
from energiemodell.site import Site
from energiemodell.state import PlantState
from energiemodell.timeseries import load_forecast, series_coverage


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


def _data_span(site: Site) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC span (end exclusive) every series of the site covers."""
    cover = series_coverage(site)
    if not cover:
        msg = "the site has no series: a scenario needs data for its period"
        raise SiteError.one(site.source, "series", msg)
    return max(a for a, _ in cover.values()), min(b for _, b in cover.values())


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

    ``forecaster`` is mpc's (default: the live loop's,
    :class:`~energiemodell.forecast.ProfileForecaster`); it sees only what was known at each
    decision time (:func:`~energiemodell.rolling.strategies.history_known_at`). ``progress(1)``
    is called after each committed block. Raises :class:`SiteError` before any solve if the
    series do not cover the period.
    """
    t_wall = time.perf_counter()
    options = options or RollingOptions()
    if strategy not in STRATEGIES:
        msg = f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}"
        raise SiteError.one(site.source, "strategy", msg)
    start_state = state or PlantState()
    step = pd.Timedelta(minutes=site.step_min)
    bounds = block_starts(site, start, end, length_min=block_min(strategy, options))
    data_start, data_end = _data_span(site)
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
        price = valuation_price(site, actual, start, end, known_only=strategy == "mpc")
        defaults = default_storage_values(site, price)
        site, values = value_storage(site, defaults, options.storage_value_eur_per_mwh)
    counts = horizon_data(site, in_run, start_state).peak_counts
    planners = Planners(site, options.eval_gap_pu)
    forecaster = forecaster or make_forecaster(DEFAULT_FORECAST)
    st, year = start_state, int(start.tz_convert(site.timezone).year)
    frames: list[pd.DataFrame] = []
    blocks: list[Block] = []
    pos = 0
    for b0, b1 in pairwise(bounds):
        n = int((b1 - b0) / step)
        block_actual = actual.loc[b0 : b1 - step]
        m = max(n, min(int(window / step), int((load_end - b0) / step)))
        decisions, plan = decide(site, strategy, planners, actual, forecaster, b0, n, m, st)
        t1 = time.perf_counter()
        sched = evaluate_committed(planners.evaluate(n), block_actual, st, decisions)
        eval_s = time.perf_counter() - t1
        frame = sched.frame.copy()
        frame["peak.counts"] = counts[pos : pos + n]
        if "price.day_ahead_eur_per_mwh" in block_actual:
            frame["price.day_ahead_eur_per_mwh"] = block_actual["price.day_ahead_eur_per_mwh"]
        frames.append(frame)
        blocks.append(block_record(b0, n, plan, sched, eval_s))
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
