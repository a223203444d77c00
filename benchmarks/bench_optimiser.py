"""Optimiser benchmark: the reference campus at 24 h, 48 h and 7 d on three reference days.

For each case: build, solve, extract and marginal-price time of a cold plan; a re-plan 15 minutes
later from the state the cold plan left then (warm-started, data updated in place); and the time
HiGHS alone needs for the same model (written once as MPS, solved with highspy directly, same
options). Peak memory of a 48 h plan is measured in a fresh process. Results go to
benchmarks/results/optimiser.json; medians of ``--repeat`` runs. Usage:
``python benchmarks/bench_optimiser.py [--repeat 3] [--cases 48h]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import highspy
import numpy as np
import pandas as pd
from pyomo.common.tee import capture_output

from energiemodell import Planner, PlantState, load_forecast, load_site
from energiemodell.model.build import update_model
from energiemodell.model.data import horizon_data
from energiemodell.rolling.carry import carry_state
from energiemodell.timeseries import parse_local_start

DAYS = {"winter": "2024-01-16", "spring": "2024-04-16", "summer": "2024-07-16"}
HORIZONS = {"24h": 96, "48h": 192, "7d": 672}


def highs_alone(planner: Planner, forecast: pd.DataFrame) -> float:
    """Seconds HiGHS needs for the planner's model, read from an MPS file."""
    update_model(planner.built, horizon_data(planner.site, forecast, PlantState()))
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "model.mps")
        planner.model.write(path)
        c = planner.site.control
        with capture_output(capture_fd=True):
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.readModel(path)
            for k, v in {
                "mip_rel_gap": c.mip_gap_pu,
                "time_limit": c.time_limit_s,
                "threads": c.threads,
                "random_seed": c.seed,
            }.items():
                h.setOptionValue(k, v)
            t0 = time.perf_counter()
            h.run()
            return time.perf_counter() - t0


def one_case(day: str, n: int) -> dict[str, float]:
    site = load_site("reference_campus")
    start = parse_local_start(day, site.timezone)
    fc = load_forecast(site, start, n)
    t0 = time.perf_counter()
    planner = Planner(site, n)
    cold = planner.plan(fc, PlantState())
    cold_total = time.perf_counter() - t0
    # the loop re-plans from the measured state: here the state the cold plan left after 15 min
    state = carry_state(site, PlantState(), cold.frame.iloc[:1], counts=np.ones(1), state_year=2024)
    fc2 = load_forecast(site, start + pd.Timedelta(minutes=15), n)
    t1 = time.perf_counter()
    warm = planner.plan(fc2, state)
    warm_total = time.perf_counter() - t1
    alone = highs_alone(Planner(site, n), fc)
    return {
        "build_s": cold.timings["build_s"],
        "solve_s": cold.timings["solve_s"],
        "extract_s": cold.timings["extract_s"],
        "marginal_s": cold.timings["marginal_s"],
        "cold_total_s": cold_total,
        "replan_total_s": warm_total,
        "replan_solve_s": warm.timings["solve_s"],
        "highs_alone_s": alone,
        "cold_gap": cold.mip_gap or 0.0,
        "cold_status": cold.status,  # type: ignore[dict-item]
    }


def peak_memory_48h() -> float:
    """Peak RSS (MB) of a fresh process planning 48 h.

    Read as ``VmHWM`` of the child's own address space: ``ru_maxrss`` would carry this
    process's peak across ``fork`` and ``exec``.
    """
    code = (
        "from energiemodell import *;from energiemodell.timeseries import "
        "parse_local_start as p;s=load_site('reference_campus');"
        "Planner(s,192).plan(load_forecast(s,p('2024-04-16',s.timezone),192),PlantState());"
        "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cases", nargs="*", default=list(HORIZONS))
    ap.add_argument("--out", default="benchmarks/results/optimiser.json")
    args = ap.parse_args()
    results: dict[str, dict[str, float | str]] = {}
    for label in args.cases:
        for season, day in DAYS.items():
            runs = [one_case(day, HORIZONS[label]) for _ in range(args.repeat)]
            med: dict[str, float | str] = {
                k: statistics.median(float(r[k]) for r in runs)
                for k in runs[0]
                if k != "cold_status"
            }
            med["cold_status"] = ",".join(str(r["cold_status"]) for r in runs)
            med["cold_ratio"] = float(med["cold_total_s"]) / float(med["highs_alone_s"])
            med["replan_ratio"] = float(med["replan_total_s"]) / float(med["highs_alone_s"])
            med["marginal_share"] = float(med["marginal_s"]) / float(med["solve_s"])
            results[f"{label}/{season}"] = med
            print(
                label,
                season,
                json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in med.items()}),
                flush=True,
            )
    results["peak_memory_48h_mb"] = {"value": peak_memory_48h()}
    print("peak memory 48 h (MB):", results["peak_memory_48h_mb"]["value"])
    meta = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
