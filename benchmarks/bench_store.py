"""Benchmark the store on SQLite and PostgreSQL with a synthetic year of the reference campus.

A script, not a test:

    .venv/bin/python benchmarks/bench_store.py                      # both databases, full scale
    .venv/bin/python benchmarks/bench_store.py --raw-days 7 --db sqlite
    .venv/bin/python benchmarks/bench_store.py --db sqlite --keep /tmp/store.sqlite  # reuse
    .venv/bin/python benchmarks/bench_store.py --db postgresql+psycopg://postgres@127.0.0.1/test

The synthetic store: ``--agg-days`` (365) of 15-minute aggregates and ``--raw-days`` (35) of raw
readings at a 10 s poll for ``POINTS`` (60) site quantities, plus ``--schedule-days`` (7) of
schedule versions every 15 minutes (48 h horizon, 40 columns). The history is built with bulk
inserts through the driver (SQLite ``executemany``, PostgreSQL ``COPY``), since it only stands in
for years of control-loop operation; everything measured goes through the store's functions.

Measured (medians): saving one full poll (60 readings, one transaction) and the plan-versus-
actual query of one day, plus a few other look-ups. Results go to
``benchmarks/results/store-<timestamp>.json`` and to stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from energiemodell.store import (
    Database,
    ReadingRow,
    aggregate_readings,
    clear_decoded_versions,
    latest_schedule_info,
    open_db,
    peak_import_so_far,
    plan_vs_actual,
    plant_state,
    readings_between,
    save_readings,
    save_schedule,
    upgrade,
)
from energiemodell.store.state import _on_since  # the time-in-state look-up alone

PG_DEFAULT = os.environ.get(
    "ENERGIEMODELL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ASSETS = ["chp1", "chp2", "boiler1", "boiler2", "boiler3", "hp1", "cc1", "cc2", "ac1", "eb1"]
POINTS = (
    ["grid.import_kw", "grid.export_kw", "pv.p_kw", "battery.soc_kwh"]
    + ["demand.electricity_kw", "demand.heat_kw", "demand.cooling_kw", "weather.temp_c"]
    + ["tes1.level_kwh", "tes2.level_kwh", "tes_cold.level_kwh", "battery.level_kwh"]
    + [f"{a}.{q}" for a in ASSETS for q in ("p_kw", "on", "t_flow_c", "setpoint_kw")]
    + [f"net.t_{k}_c" for k in range(8)]
)[:60]
END = datetime(2025, 12, 1, tzinfo=UTC)  # the synthetic history ends here
POLL_S = 10


@dataclass
class Plan:
    """The schedule attributes the store needs (a stand-in for model.schedule.Schedule)."""

    frame: pd.DataFrame
    created_at: datetime
    costs: dict[str, float] = field(default_factory=lambda: {"energy": 900.0, "fuel": 1500.0})
    status: str = "optimal"
    mip_gap: float | None = 0.003
    origin: str = "optimal"
    site_hash: str = "f" * 64
    alarms: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        split = self.frame.to_dict(orient="split")
        split["index"] = [ts.isoformat() for ts in self.frame.index]
        return {"frame": split, "costs": self.costs, "status": self.status}


def _ts_text(stamps: np.ndarray) -> np.ndarray:
    """Timestamps as the store keeps them in SQLite (naive UTC, microseconds)."""
    return np.char.replace(np.datetime_as_string(stamps, unit="us"), "T", " ")


def _bulk(db: Database, table: str, columns: list[str], frame: pd.DataFrame) -> None:
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if db.is_sqlite:
            marks = ", ".join("?" * len(columns))
            cur.execute("BEGIN")  # the store's connections run in autocommit mode otherwise
            cur.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                frame.itertuples(index=False, name=None),
            )
        else:
            buf = io.StringIO()
            frame.to_csv(buf, index=False, header=False)
            with cur.copy(  # type: ignore[attr-defined]
                f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
            ) as copy:
                copy.write(buf.getvalue())
        raw.commit()
    finally:
        raw.close()


def _values(rng: np.random.Generator, polls: pd.DatetimeIndex, n: int) -> np.ndarray:
    """Values per poll x point: unit states switch every few hours, the rest is noise."""
    values = rng.uniform(0, 3000, (n, len(POINTS))).round(2)
    hours = polls.hour.to_numpy() + 24 * polls.day_of_year.to_numpy()
    for j, q in enumerate(POINTS):
        if q.endswith(".on"):
            values[:, j] = ((hours + 3 * j) // (4 + j % 3)) % 2
    return values.reshape(-1)


def build(db: Database, *, agg_days: int, raw_days: int, schedule_days: int) -> dict[str, float]:
    """Fill an empty, migrated store; return build timings (s)."""
    rng = np.random.default_rng(7)
    n_q = len(POINTS)
    timings: dict[str, float] = {}
    tz = None if db.is_sqlite else "UTC"

    t = time.perf_counter()
    start = END - timedelta(days=agg_days)
    for day in range(agg_days):
        buckets = pd.date_range(start + timedelta(days=day), periods=96, freq="15min")
        stamps = np.repeat(buckets.tz_localize(None).to_numpy(), n_q)
        means = rng.uniform(0, 3000, len(stamps))
        frame = pd.DataFrame(
            {
                "bucket_start": _ts_text(stamps)
                if db.is_sqlite
                else pd.DatetimeIndex(stamps, tz=tz),
                "quantity": np.tile(POINTS, 96),
                "value_mean": means,
                "value_min": means - 10,
                "value_max": means + 10,
                "n_good": 90,
                "n_total": 90,
                "revision": 0,
                "max_reading_id": 0,
                "created_at": _ts_text(stamps) if db.is_sqlite else pd.DatetimeIndex(stamps, tz=tz),
            }
        )
        _bulk(db, "aggregates", list(frame.columns), frame)
    timings["aggregates_s"] = time.perf_counter() - t

    t = time.perf_counter()
    polls_per_day = 86_400 // POLL_S
    raw_start = END - timedelta(days=raw_days)
    for day in range(raw_days):
        polls = pd.date_range(raw_start + timedelta(days=day), periods=polls_per_day, freq="10s")
        stamps = np.repeat(polls.tz_localize(None).to_numpy(), n_q)
        frame = pd.DataFrame(
            {
                "ts": _ts_text(stamps) if db.is_sqlite else pd.DatetimeIndex(stamps, tz=tz),
                "device": np.tile([q.split(".")[0] + "_ctrl" for q in POINTS], polls_per_day),
                "point": np.tile([q.split(".")[1] for q in POINTS], polls_per_day),
                "quantity": np.tile(POINTS, polls_per_day),
                "value": _values(rng, polls, polls_per_day),
                "quality": "good",
            }
        )
        _bulk(db, "readings", list(frame.columns), frame)
    timings["readings_s"] = time.perf_counter() - t

    t = time.perf_counter()
    columns = [f"{a}.{q}" for a in ASSETS for q in ("p_el_kw", "q_kw", "on", "fuel_kw")]
    first = END - timedelta(days=schedule_days)
    for k in range(schedule_days * 96):
        valid_from = first + timedelta(minutes=15 * k)
        index = pd.date_range(valid_from, periods=192, freq="15min")
        frame = pd.DataFrame(
            rng.uniform(0, 1000, (192, len(columns))), index=index, columns=columns
        )
        frame["grid.import_kw"] = rng.uniform(0, 1500, 192)
        plan = Plan(frame=frame, created_at=valid_from - timedelta(minutes=2))
        save_schedule(db=db, schedule=plan, site_yaml="name: reference_campus\n", inputs_summary={})
    timings["schedules_s"] = time.perf_counter() - t

    analyze(db)
    return timings


def analyze(db: Database) -> None:
    """Refresh the planner statistics (as a maintained production database has them)."""
    if db.is_sqlite:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def _time(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    samples = []
    cpu = []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        # this process's CPU only (on SQLite: all of the work); wall time also counts waiting
        # for a core on a shared machine, and PostgreSQL's server
        "cpu_median_ms": statistics.median(cpu),
        "p95_ms": samples[min(len(samples) - 1, int(0.95 * len(samples)))],
        "min_ms": samples[0],
        "n": len(samples),
    }


def measure(db: Database, *, repeat: int) -> dict[str, dict[str, float]]:
    """Time the store's operations on the built store."""
    poll_no = [0]

    def one_poll() -> None:
        poll_no[0] += 1
        ts = END + timedelta(seconds=POLL_S * poll_no[0])
        rows = [ReadingRow(ts, q.split(".")[0] + "_ctrl", q.split(".")[1], q, 1.0) for q in POINTS]
        save_readings(db=db, rows=rows)

    day = (END - timedelta(days=2)).date()
    at = END - timedelta(hours=1)
    # each unit's state at ``at``, as plant_state finds it; time in state is then looked up
    units = {f"{u}.on": on for u, on in plant_state(db=db, at=at).units_on.items()}

    def cold_plan_vs_actual() -> None:
        clear_decoded_versions()  # every version decoded from the database again
        plan_vs_actual(db=db, day=day)

    def time_in_state() -> None:
        with db.read() as conn:
            _on_since(conn, at=at, units_on=units)

    results = {
        "save_one_poll_60_readings": _time(one_poll, repeat * 10),
        # the dashboard asks for a day again and again: decoded versions are kept in memory
        "plan_vs_actual_one_day": _time(lambda: plan_vs_actual(db=db, day=day), repeat),
        "plan_vs_actual_one_day_cold": _time(cold_plan_vs_actual, repeat),
        "latest_schedule_info": _time(lambda: latest_schedule_info(db=db, at=at), repeat),
        "peak_import_so_far_year": _time(lambda: peak_import_so_far(db=db, at=at), repeat),
        "plant_state": _time(lambda: plant_state(db=db, at=at), repeat),
        "time_in_state_10_units": _time(time_in_state, repeat),
        "readings_one_hour_one_quantity": _time(
            lambda: readings_between(
                db=db, start=at - timedelta(hours=1), end=at, quantities=["grid.import_kw"]
            ),
            repeat,
        ),
    }
    upto = END + timedelta(seconds=POLL_S * poll_no[0] + 900)
    results["aggregate_one_bucket"] = _time(
        lambda: aggregate_readings(db=db, until=upto, lookback=timedelta(minutes=30)), 1
    )
    return results


def _size_mb(db: Database) -> float:
    """Size of the store on disk (SQLite file and WAL; PostgreSQL tables with indexes)."""
    if db.is_sqlite:
        path = Path(str(db.engine.url.database))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    with db.engine.connect() as conn:
        total = conn.execute(
            sa.text(
                "select sum(pg_total_relation_size(c.oid)) from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = current_schema() and c.relkind = 'r'"
            )
        ).scalar()
    return float(total or 0) / 1e6


def _machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlalchemy": sa.__version__,
        "load_average_1_5_15_min": os.getloadavg(),
    }


def run_one(url: str, args: argparse.Namespace) -> dict[str, object]:
    admin = None
    schema = None
    reuse = False
    if url.startswith("postgresql"):
        admin = sa.create_engine(url)
        schema = args.pg_schema or f"bench_store_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            reuse = bool(
                conn.execute(
                    sa.text("select count(*) from pg_namespace where nspname = :s"), {"s": schema}
                ).scalar()
            )
            if not reuse:
                conn.execute(sa.text(f'create schema "{schema}"'))
        parsed = sa.engine.make_url(url)
        url = parsed.set(
            query=dict(parsed.query) | {"options": f"-csearch_path={schema}"}
        ).render_as_string(hide_password=False)
    db = open_db(url)
    try:
        reuse = reuse or (db.is_sqlite and args.keep is not None and args.keep.exists())
        upgrade(db=db)
        if reuse:
            build_s = {"reused": 1.0}
            print("  reusing the store built before (migrated to head, analysed)", flush=True)
            analyze(db)
        else:
            t = time.perf_counter()
            build_s = build(
                db, agg_days=args.agg_days, raw_days=args.raw_days, schedule_days=args.schedule_days
            )
            build_s["total_s"] = time.perf_counter() - t
            print(f"  built in {build_s['total_s']:.0f} s: {build_s}", flush=True)
        return {
            "database": db.engine.dialect.name,
            "scale": {
                "points": len(POINTS),
                "aggregate_days": args.agg_days,
                "raw_days": args.raw_days,
                "raw_rows": args.raw_days * 86_400 // POLL_S * len(POINTS),
                "aggregate_rows": args.agg_days * 96 * len(POINTS),
                "schedule_versions": args.schedule_days * 96,
            },
            "build": build_s,
            "size_mb": _size_mb(db),
            "results": measure(db, repeat=args.repeat),
        }
    finally:
        db.dispose()
        if admin is not None:
            if not args.pg_schema:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'drop schema "{schema}" cascade'))
            admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", action="append", help="sqlite, postgresql, or a URL (repeatable; default: both)"
    )
    parser.add_argument("--agg-days", type=int, default=365)
    parser.add_argument("--raw-days", type=int, default=35)
    parser.add_argument("--schedule-days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="SQLite file to build the store in and keep; measure it again without rebuilding",
    )
    parser.add_argument(
        "--pg-schema",
        default=None,
        help="PostgreSQL schema to build the store in and keep; measure it again if it exists",
    )
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for choice in args.db or ["sqlite", "postgresql"]:
            sqlite_path = args.keep or Path(tmp) / "bench.sqlite"
            url = {"sqlite": f"sqlite:///{sqlite_path}", "postgresql": PG_DEFAULT}.get(
                choice, choice
            )
            print(f"{sa.engine.make_url(url).render_as_string(hide_password=True)}", flush=True)
            result = run_one(url, args)
            runs.append(result)
            for name, r in result["results"].items():  # type: ignore[attr-defined]
                print(
                    f"  {name:<34} median {r['median_ms']:8.2f} ms   p95 {r['p95_ms']:8.2f} ms"
                    f"   cpu {r['cpu_median_ms']:8.2f} ms"
                )
    report = {"when": datetime.now(UTC).isoformat(), "machine": _machine(), "runs": runs}
    out = args.out or Path(__file__).parent / "results" / f"store-{date.today():%Y%m%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
