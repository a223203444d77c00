"""Benchmark the dashboard's pages and API over a store holding a year of aggregates.

A script, not a test:

    .venv/bin/python benchmarks/bench_web.py                  # a year of aggregates (default)
    .venv/bin/python benchmarks/bench_web.py --agg-days 30    # quicker
    .venv/bin/python benchmarks/bench_web.py --keep /tmp/web.sqlite   # build once, re-measure

The store: ``--agg-days`` of 15-minute aggregates for the reference campus's plan columns (the
quantities a site measures), one day of raw readings, and ``--schedule-days`` of plan versions
every 15 minutes (48 h horizon, the reference campus's columns, stored with its site content).
History is bulk-inserted (as in ``bench_store.py``); every page and API call goes through the
real application (FastAPI TestClient, an API token of an admin). Results: median and maximum of
``--repeat`` requests per page, to stdout and ``benchmarks/results/web-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_store import _bulk, _ts_text

from energiemodell.site import load_site, site_to_yaml
from energiemodell.store import open_db, raise_alarm, save_schedule, upgrade

END = datetime(2025, 12, 1, tzinfo=UTC)
DAY = "2025-11-30"


@dataclass
class Plan:
    """The schedule attributes the store needs, with what the pages read from its content."""

    frame: pd.DataFrame
    created_at: datetime
    site_hash: str
    costs: dict[str, float] = field(default_factory=lambda: {"energy": 900.0, "fuel": 1500.0})
    status: str = "optimal"
    mip_gap: float | None = 0.003
    origin: str = "optimal"
    alarms: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        split = self.frame.to_dict(orient="split")
        split["index"] = [ts.isoformat() for ts in self.frame.index]
        words = {
            ts.isoformat(): ["chp1 at maximum (1200 kW)", "tes1 full"] for ts in self.frame.index
        }
        return {
            "frame": split,
            "costs": self.costs,
            "status": self.status,
            "origin": self.origin,
            "kpis": {"peak_import_kw": 1500.0},
            "timings": {"solve_s": 4.2},
            "explanations": words,
        }


def columns_of(site) -> list[str]:
    cols = ["demand.electricity_kw", "demand.heat_kw", "demand.cooling_kw"]
    for a in site.asset_objects:
        for carrier_cols in a.balance_columns().values():
            cols += [f"{a.name}.{q}" for q in carrier_cols]
        if a.storage_spec() is not None:
            cols.append(f"{a.name}.level_kwh")
        cols.append(f"{a.name}.on")
    cols += ["price.electricity_eur_per_mwh", "price.heat_eur_per_mwh", "price.cooling_eur_per_mwh"]
    return list(dict.fromkeys(cols))


def build(url: str, *, agg_days: int, schedule_days: int) -> dict[str, float]:
    db = open_db(url)
    upgrade(db=db)
    site = load_site("reference_campus")
    cols = columns_of(site)
    measured = [c for c in cols if not c.startswith("price.")]
    rng = np.random.default_rng(11)
    t0 = time.perf_counter()
    start = END - timedelta(days=agg_days)
    for day in range(agg_days):
        buckets = pd.date_range(start + timedelta(days=day), periods=96, freq="15min")
        stamps = np.repeat(buckets.tz_localize(None).to_numpy(), len(measured))
        means = rng.uniform(0, 3000, len(stamps))
        frame = pd.DataFrame(
            {
                "bucket_start": _ts_text(stamps),
                "quantity": np.tile(measured, 96),
                "value_mean": means,
                "value_min": means - 10,
                "value_max": means + 10,
                "n_good": 90,
                "n_total": 90,
                "revision": 0,
                "max_reading_id": 0,
                "created_at": _ts_text(stamps),
            }
        )
        _bulk(db, "aggregates", list(frame.columns), frame)
    t_agg = time.perf_counter() - t0
    t0 = time.perf_counter()
    yaml_text, site_hash = site_to_yaml(site), site.content_hash()
    first = END - timedelta(days=schedule_days)
    for k in range(schedule_days * 96):
        valid_from = first + timedelta(minutes=15 * k)
        index = pd.date_range(valid_from, periods=192, freq="15min")
        frame = pd.DataFrame(rng.uniform(0, 1000, (192, len(cols))), index=index, columns=cols)
        for c in cols:
            if c.endswith(".on"):
                frame[c] = (rng.uniform(size=192) > 0.5).astype(float)
        plan = Plan(frame=frame, created_at=valid_from - timedelta(minutes=2), site_hash=site_hash)
        save_schedule(db=db, schedule=plan, site_yaml=yaml_text, inputs_summary={})
    for k in range(20):
        raise_alarm(
            db=db,
            ts=END - timedelta(hours=k),
            source="loop",
            code="fallback.last_valid",
            severity="warning",
            message="benchmark alarm",
        )
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    db.dispose()
    return {"aggregates_s": t_agg, "schedules_s": time.perf_counter() - t0}


def measure(url: str, repeat: int) -> dict[str, dict[str, float]]:
    from fastapi.testclient import TestClient

    from scheduler.clock import SimulatedClock
    from scheduler.web import WebSettings, create_app
    from scheduler.web.auth import create_token, create_user

    db = open_db(url)
    now = END - timedelta(hours=3, minutes=50)
    create_user(
        db=db, name="bench", role="admin", password="benchmark password", actor="bench", now=now
    )
    _, token = create_token(db=db, user_name="bench", label="bench", actor="bench", now=now)
    db.dispose()
    app = create_app(
        WebSettings(db_url=url, secret_key="b" * 40, cookie_secure=False), clock=SimulatedClock(now)
    )
    pages = {
        "today": "/today",
        "day (with why)": f"/day?date={DAY}&interval={DAY}T12:00",
        "history": f"/history?at={DAY}T12:00",
        "approvals": "/approvals",
        "export day.csv": f"/export/day.csv?date={DAY}",
        "api plan (1 day)": f"/api/v1/plan?start={DAY}T00:00Z&end=2025-12-01T00:00Z",
        "api readings (1 day)": f"/api/v1/readings?start={DAY}T00:00Z&end=2025-12-01T00:00Z",
        "api status": "/api/v1/status",
        "metrics": "/metrics",
        "health": "/health",
    }
    out: dict[str, dict[str, float]] = {}
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        for name, path in pages.items():
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                r = client.get(path)
                times.append(time.perf_counter() - t)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
            out[name] = {"median_s": statistics.median(times), "max_s": max(times)}
            print(
                f"{name:<22} median {out[name]['median_s']:.3f} s  max {out[name]['max_s']:.3f} s"
            )
    app.state.ctx.db.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agg-days", type=int, default=365)
    parser.add_argument("--schedule-days", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="SQLite file to build once and reuse")
    args = parser.parse_args()
    path = args.keep or Path(tempfile.mkdtemp()) / "web.sqlite"
    url = f"sqlite:///{path}"
    build_s: dict[str, float] = {}
    if not path.exists():
        build_s = build(url, agg_days=args.agg_days, schedule_days=args.schedule_days)
        print(f"built {path} ({path.stat().st_size / 1e6:.0f} MB): {build_s}")
    results = measure(url, args.repeat)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    record = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "build_s": build_s,
        "pages": results,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg": os.getloadavg(),
        },
    }
    (out_dir / f"web-{stamp}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
