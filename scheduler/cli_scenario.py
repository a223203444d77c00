"""``energiemodell scenario run|compare``: what-if studies and their reports.

Exit codes: 0 done, 1 failed at run time (solver, worker, database), 2 bad input (the scenario
file, a change, the period, an option: the message names the path and the reason; nothing has
been solved). The lead wires this in ``scheduler/cli.py`` with
``app.add_typer(scenario_app, name="scenario")``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from energiemodell.errors import EnergiemodellError, SiteError
from scenarios.executors import DaskExecutor, LocalExecutor
from scenarios.kpis import TOTAL
from scenarios.report import write_comparison
from scenarios.runner import Executor, ScenarioResult, prepare, run_scenario
from scenarios.spec import load_spec
from scheduler.cli_common import fail

logger = logging.getLogger(__name__)

scenario_app = typer.Typer(
    help="Run what-if scenarios against the heat-led baseline, and compare runs.",
    no_args_is_help=True,
)


@scenario_app.command("run")
def run_cmd(
    spec_file: Annotated[Path, typer.Argument(help="Scenario YAML file", metavar="SPEC")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (created)")],
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Local worker processes (default: one per core)"),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option("--dask", help="Run on this Dask scheduler, e.g. tcp://host:8786"),
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Record the run in this store database (URL)")
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr")
    ] = True,
) -> None:
    """Run a scenario (every sweep point, with the heat-led baseline) and write its report.

    Writes kpis.csv, kpis.json, dispatch.parquet, report.html and run.json into OUT.
    """
    try:
        spec = load_spec(spec_file)
        tasks = prepare(spec, spec_file)
    except SiteError as exc:
        fail(2, str(exc))
    if dask is not None and workers is not None:
        fail(2, "--workers and --dask exclude each other")
    if dask is not None and not dask.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        fail(2, f"--dask: {dask!r} is not a scheduler address (tcp://host:8786)")
    executor: Executor = DaskExecutor(dask) if dask is not None else LocalExecutor(workers)
    total = sum(t.windows for t in tasks)
    bar = tqdm(total=total, unit="window", file=sys.stderr, disable=not progress, desc=spec.name)
    try:
        result = run_scenario(spec, spec_file, executor, progress=bar.update)
    except SiteError as exc:
        fail(2, str(exc))
    except (EnergiemodellError, OSError) as exc:
        fail(1, f"scenario failed: {exc}")
    finally:
        bar.close()
    try:
        result.write(out)
    except OSError as exc:
        fail(1, f"cannot write the results: {exc}")
    if db is not None:
        _record(db, result, out)
    _print_totals(result)


def _record(url: str, result: ScenarioResult, out: Path) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from energiemodell.store import StoreError, open_db, save_scenario_run

    try:
        handle = open_db(url)
    except StoreError as exc:
        fail(2, f"--db: {exc}")
    try:
        for r in result.results:
            if r.task.kind != "scenario":
                continue
            save_scenario_run(
                db=handle,
                name=r.task.label[:128],
                started_at=result.started_at,
                finished_at=result.finished_at,
                status="done",
                spec={
                    **result.spec.model_dump(mode="json", by_alias=True),
                    "sweep_value": r.task.sweep_value,
                },
                kpis=r.kpis[TOTAL],
                report_location=str((out / "report.html").resolve()),
            )
    except (SQLAlchemyError, StoreError) as exc:
        fail(1, f"--db: cannot record the run ({exc}); run: energiemodell db upgrade --db URL")
    finally:
        handle.dispose()


def _print_totals(result: ScenarioResult) -> None:
    for r in result.results:
        k = r.kpis[TOTAL]
        line = (
            f"{r.task.label}: cost {k['cost_eur']:,.2f} EUR, CO2 {k['co2_t']:,.2f} t, "
            f"peak {k['peak_import_kw']:,.0f} kW, unserved {k['unserved_kwh']:,.1f} kWh"
        )
        if "savings_eur" in k:
            line += (
                f", saves {k['savings_eur']:,.2f} EUR ({100 * k['savings_pu']:.2f} %) vs heat-led"
            )
        typer.echo(line)


@scenario_app.command("compare")
def compare_cmd(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Run directories (scenario run --out)", metavar="DIR...")
    ],
    out: Annotated[Path, typer.Option("--out", help="Comparison report (HTML)")],
) -> None:
    """Put runs side by side with deltas against the first run of the first directory."""
    for d in run_dirs:
        if not (d / "kpis.json").exists():
            fail(2, f"{d}: no kpis.json (not a scenario run directory)")
    try:
        rows = write_comparison(run_dirs, out)
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        fail(2, f"cannot compare: {exc}")
    except OSError as exc:
        fail(1, f"cannot write {out}: {exc}")
    for row in rows:
        delta = row.get("delta cost_eur", 0.0)
        typer.echo(f"{row['run']}: cost {row['cost_eur']:,.2f} EUR (delta {delta:+,.2f})")
