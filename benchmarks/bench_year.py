"""Perfect foresight over the reference campus: our rolling run against HiGHS alone.

Runs ``energiemodell.rolling.run_rolling`` (48 h windows committed 24 h, the product path:
data, Pyomo updates, HiGHS, extraction, the fixed-dispatch cost evaluation, state carry) over a
contiguous period, and for every window passes the very matrix HiGHS solved to a fresh
``highspy.Highs`` with the same options (one thread, the site's seed, gap and time limit): the
time "HiGHS alone" needs for the same windows (without the warm start our run gives it). The
extra solves are timed apart and taken out of our wall time.

Reports window solve-time percentiles, the share of our time spent outside HiGHS, and the ratio
to HiGHS alone; with ``--year-extrapolate`` it scales the measured part to 366 windows (labelled
as an extrapolation). Usage::

    python benchmarks/bench_year.py --start 2024-01-01T01:00 --end 2024-02-01 --out results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from energiemodell.model.solve import HighsSolver
from energiemodell.rolling import RollingOptions, run_rolling
from energiemodell.site import load_site
from energiemodell.timeseries import parse_local_start

RECORD: dict[str, list[float]] = {"plan_highs": [], "eval_highs": [], "alone": [], "extra": []}


def _alone(h: Any, opts: dict[str, Any]) -> float:
    """Solve HiGHS's current model again in a fresh instance; return its run time (s)."""
    import highspy
    from pyomo.common.tee import capture_output

    with capture_output(capture_fd=True):
        fresh = highspy.Highs()
        fresh.setOptionValue("output_flag", False)
        for k, v in opts.items():
            fresh.setOptionValue(k, v)
        fresh.passModel(h.getModel())
        t0 = time.perf_counter()
        fresh.run()
        return time.perf_counter() - t0


def _instrument() -> None:
    original = HighsSolver.solve

    def solve(self: HighsSolver, model: Any, *, start: Any = None) -> Any:
        h0 = self._opt._solver_model
        before = h0.getRunTime() if h0 is not None else 0.0
        out = original(self, model, start=start)
        h = self._opt._solver_model
        highs_s = h.getRunTime() - before
        evaluating = bool(self._opt.config.auto_updates.update_vars)
        RECORD["eval_highs" if evaluating else "plan_highs"].append(highs_s)
        if not evaluating:
            t0 = time.perf_counter()
            cfg = self._opt.config
            opts = {
                "threads": int(cfg.threads),
                "random_seed": int(cfg.solver_options["random_seed"]),
                "mip_rel_gap": float(cfg.rel_gap),
                "time_limit": float(cfg.time_limit),
            }
            RECORD["alone"].append(_alone(h, opts))
            RECORD["extra"].append(time.perf_counter() - t0)
        return out

    HighsSolver.solve = solve  # type: ignore[method-assign]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", default="reference_campus")
    ap.add_argument("--start", default="2024-01-01T01:00", help="local start")
    ap.add_argument("--end", default="2024-02-01", help="local end (exclusive)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_year.json"))
    args = ap.parse_args()
    site = load_site(args.site)
    start = parse_local_start(args.start, site.timezone)
    end = parse_local_start(args.end, site.timezone)
    _instrument()
    t0 = time.perf_counter()
    result = run_rolling(site, start, end, strategy="perfect_foresight", options=RollingOptions())
    total = time.perf_counter() - t0
    ours = total - sum(RECORD["extra"])
    plan_highs = np.array(RECORD["plan_highs"])
    alone = np.array(RECORD["alone"])
    eval_highs = float(sum(RECORD["eval_highs"]))
    windows = len(result.blocks)
    solve_s = np.array([b.solve_s for b in result.blocks])
    pct = {f"p{p}": round(float(np.percentile(plan_highs, p)), 3) for p in (50, 90, 95, 99)}
    figures = {
        "period_local": [args.start, args.end],
        "windows": windows,
        "window_h": 48,
        "commit_h": 24,
        "ours_wall_s": round(ours, 1),
        "highs_alone_s": round(float(alone.sum()), 1),
        "ratio_ours_to_highs_alone": round(ours / float(alone.sum()), 2),
        "highs_in_our_run_plan_s": round(float(plan_highs.sum()), 1),
        "highs_in_our_run_eval_s": round(eval_highs, 1),
        "share_outside_highs": round(1 - (float(plan_highs.sum()) + eval_highs) / ours, 3),
        "window_highs_s": {**pct, "max": round(float(plan_highs.max()), 3)},
        "window_solve_s_incl_pyomo_update": {
            "p50": round(float(np.percentile(solve_s, 50)), 3),
            "p95": round(float(np.percentile(solve_s, 95)), 3),
            "max": round(float(solve_s.max()), 3),
        },
        "highs_alone_window_s": {
            "p50": round(float(np.percentile(alone, 50)), 3),
            "p95": round(float(np.percentile(alone, 95)), 3),
            "max": round(float(alone.max()), 3),
        },
        "time_limited_windows": sum(b.origin == "time_limited" for b in result.blocks),
        "fallback_windows": sum(b.origin == "fallback_heat_led" for b in result.blocks),
        "cost_eur": round(result.cost_eur, 2),
        "extrapolated_year_ours_s": round(ours * 366 / windows, 0),
        "extrapolated_year_highs_alone_s": round(float(alone.sum()) * 366 / windows, 0),
        "extrapolation_note": "linear in windows from the measured part; seasons differ",
    }
    machine = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_avg_at_end": os.getloadavg(),
        "highspy": metadata.version("highspy"),
        "pyomo": metadata.version("pyomo"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"figures": figures, "machine": machine}, indent=2))
    print(json.dumps(figures, indent=2))
    print(json.dumps(machine))


if __name__ == "__main__":
    main()
