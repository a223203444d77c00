"""Run a scenario: every sweep point with its strategy and the heat-led baseline, then KPIs.

:func:`prepare` checks everything that can be checked without a solver (the spec, every
changed site, the period against the series, the window settings) and returns the tasks; a
task is small and picklable, so an executor can run it in another process or on a Dask worker,
where :func:`run_task` rebuilds its site from the spec (deterministic, milliseconds). Windows
of one task run in sequence (the state carries over); tasks are independent.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from energiemodell.errors import SiteError
from energiemodell.forecast import Forecaster
from energiemodell.rolling import (
    RollingOptions,
    RollingResult,
    Strategy,
    count_blocks,
    make_forecaster,
    run_rolling,
)
from energiemodell.site import Site
from energiemodell.state import PlantState
from energiemodell.timeseries import series_coverage
from scenarios.apply import apply_changes, load_base_site, local_instant, outages, sweep_changes
from scenarios.kpis import TOTAL, add_savings, flat_rows, period_kpis
from scenarios.spec import ScenarioSpec, spec_from_dict

logger = logging.getLogger(__name__)

Progress = Callable[[int], Any]


@dataclass(frozen=True)
class Task:
    """One rolling run: a sweep point of a scenario with one strategy."""

    index: int
    label: str
    kind: str  # "scenario" or "baseline"
    strategy: Strategy
    sweep_value: float | None
    spec: dict[str, Any]
    spec_dir: str
    windows: int


@dataclass
class TaskResult:
    """What a task returns: its KPIs, committed dispatch and run facts."""

    task: Task
    kpis: dict[str, dict[str, float]]
    peak_charge_basis: str
    frame: pd.DataFrame
    storage_values_eur_per_mwh: dict[str, float]
    site_hash: str
    alarms: list[str]
    wall_s: float


class Executor(Protocol):
    """Runs tasks (in any order, anywhere) and returns their results in task order."""

    def run(self, tasks: Sequence[Task], progress: Progress) -> list[TaskResult]:
        """Run every task; ``progress(k)`` as windows finish."""
        ...


def _period(spec: ScenarioSpec, site: Site) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = local_instant(spec.period.start, site.timezone, field="period.start")
    end = local_instant(spec.period.end, site.timezone, field="period.end")
    if end <= start:
        msg = f"end {spec.period.end} is not after start {spec.period.start}"
        raise SiteError.one(spec.name, "period", msg)
    return start, end


def _options(spec: ScenarioSpec) -> RollingOptions:
    r = spec.rolling
    return RollingOptions(
        window_h=r.window_h,
        commit_h=r.commit_h,
        replan_min=r.replan_min,
        storage_value_eur_per_mwh=dict(r.storage_value_eur_per_mwh),
    )


def forecaster_of(spec: ScenarioSpec, strategy: Strategy) -> Forecaster | None:
    """The forecaster a run of ``strategy`` uses: the spec's under mpc, none otherwise."""
    return make_forecaster(spec.forecaster) if strategy == "mpc" else None


def _check_period(site: Site, start: pd.Timestamp, end: pd.Timestamp, source: str) -> None:
    cover = series_coverage(site)
    if not cover:
        raise SiteError.one(source, "base_site", "the site has no series: a scenario needs data")
    lo = max(a for a, _ in cover.values())
    hi = min(b for _, b in cover.values())
    if start < lo or end > hi:
        msg = (
            f"{start.isoformat()} .. {end.isoformat()} (UTC) is not covered by the series, "
            f"which cover {lo.isoformat()} .. {hi.isoformat()}"
        )
        raise SiteError.one(source, "period", msg, "choose a period inside the data")


def prepare(spec: ScenarioSpec, spec_path: Path) -> list[Task]:
    """Validate the whole study and return its tasks (no solve). Raises :class:`SiteError`."""
    source = str(spec_path)
    spec_dir = spec_path.parent
    base = load_base_site(spec, spec_dir)
    options = _options(spec)
    strategies: list[tuple[str, Strategy]] = [("scenario", spec.strategy)]
    if spec.baseline and spec.strategy != "heat_led":
        strategies.append(("baseline", "heat_led"))
    tasks: list[Task] = []
    for label, value, changes in sweep_changes(spec):
        site = apply_changes(base, changes, source=source, spec_dir=spec_dir)
        outages(site, changes)
        start, end = _period(spec, site)
        _check_period(site, start, end, source)
        for kind, strategy in strategies:
            step = site.step_min
            for name, minutes in (
                ("commit_h", options.commit_h * 60),
                ("replan_min", options.replan_min),
            ):
                if minutes % step:
                    msg = f"{minutes:g} min is not a multiple of the site step ({step} min)"
                    raise SiteError.one(source, f"rolling.{name}", msg)
            tasks.append(
                Task(
                    index=len(tasks),
                    label=label if kind == "scenario" else f"{label} (heat-led)",
                    kind=kind,
                    strategy=strategy,
                    sweep_value=value,
                    spec=spec.model_dump(mode="json", by_alias=True, exclude_none=False),
                    spec_dir=str(spec_dir),
                    windows=count_blocks(site, start, end, strategy, options),
                )
            )
    return tasks


def run_task(task: Task, progress: Progress | Any = None) -> TaskResult:
    """Run one task (in this process). ``progress`` is a callable or a queue (``put(1)``)."""
    spec = spec_from_dict(task.spec, source=f"{task.spec_dir}/{task.spec['name']}")
    spec_dir = Path(task.spec_dir)
    base = load_base_site(spec, spec_dir)
    changes = sweep_changes(spec)[0 if spec.sweep is None else _point(spec, task)][2]
    site = apply_changes(base, changes, source=spec.name, spec_dir=spec_dir)
    start, end = _period(spec, site)
    state = PlantState(outages=outages(site, changes))
    if progress is not None and not callable(progress):
        queue = progress
        progress = queue.put
    result: RollingResult = run_rolling(
        site,
        start,
        end,
        strategy=task.strategy,
        state=state,
        options=_options(spec),
        forecaster=forecaster_of(spec, task.strategy),
        progress=progress,
    )
    kpis, basis = period_kpis(result)
    alarms = [f"{b.start.isoformat()}: {a}" for b in result.blocks for a in b.alarms]
    return TaskResult(
        task=task,
        kpis=kpis,
        peak_charge_basis=basis,
        frame=result.frame,
        storage_values_eur_per_mwh=result.storage_values_eur_per_mwh,
        site_hash=result.site.content_hash(),
        alarms=alarms,
        wall_s=result.wall_s,
    )


def _point(spec: ScenarioSpec, task: Task) -> int:
    assert spec.sweep is not None  # noqa: S101  (only called for sweeps)
    return spec.sweep.points().index(task.sweep_value) if task.sweep_value is not None else 0


@dataclass
class ScenarioResult:
    """All runs of a scenario, with savings against the heat-led baseline."""

    spec: ScenarioSpec
    spec_path: Path
    results: list[TaskResult]
    started_at: datetime
    finished_at: datetime
    executor: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """``kpis.csv`` rows."""
        out: list[dict[str, Any]] = []
        for r in self.results:
            t = r.task
            rows = flat_rows(t.label, t.strategy, t.kind, t.sweep_value, r.kpis)
            for row in rows:
                row["peak_charge_basis"] = r.peak_charge_basis
            out += rows
        return out

    def scenario_totals(self) -> dict[str, dict[str, float]]:
        """Total KPIs of each scenario run (baselines left out), by run label."""
        return {r.task.label: r.kpis[TOTAL] for r in self.results if r.task.kind == "scenario"}

    def write(self, out_dir: Path) -> list[Path]:
        """Write kpis.csv, kpis.json, dispatch.parquet, report.html and run.json."""
        from scenarios.report import write_report

        out_dir.mkdir(parents=True, exist_ok=True)
        csv = out_dir / "kpis.csv"
        pd.DataFrame(self.rows()).to_csv(csv, index=False, float_format="%.10g")
        js = out_dir / "kpis.json"
        js.write_text(json.dumps(self.kpis_json(), indent=1), encoding="utf-8")
        parquet = out_dir / "dispatch.parquet"
        self.dispatch().to_parquet(parquet)
        report = out_dir / "report.html"
        write_report(self, report)
        run = out_dir / "run.json"
        run.write_text(json.dumps(self.run_json(), indent=2), encoding="utf-8")
        return [csv, js, parquet, report, run]

    def kpis_json(self) -> dict[str, Any]:
        """The KPIs as JSON: per run, by month and total."""
        return {
            "scenario": self.spec.name,
            "strategy": self.spec.strategy,
            "runs": [
                {
                    "run": r.task.label,
                    "kind": r.task.kind,
                    "strategy": r.task.strategy,
                    "sweep_value": r.task.sweep_value,
                    "peak_charge_basis": r.peak_charge_basis,
                    "storage_values_eur_per_mwh": r.storage_values_eur_per_mwh,
                    "months": {k: v for k, v in r.kpis.items() if k != TOTAL},
                    "total": r.kpis[TOTAL],
                }
                for r in self.results
            ],
        }

    def dispatch(self) -> pd.DataFrame:
        """Every run's committed dispatch, one frame (``run`` and ``strategy`` columns)."""
        parts = []
        for r in self.results:
            f = r.frame.copy()
            f.insert(0, "strategy", r.task.strategy)
            f.insert(0, "run", r.task.label)
            parts.append(f)
        out = pd.concat(parts)
        out.index.name = "timestamp"
        return out

    def run_json(self) -> dict[str, Any]:
        """What was run, where, with which software, and how long it took."""
        versions: dict[str, str | None] = {}
        for pkg in ("energiemodell", "pyomo", "highspy", "pandas", "dask", "distributed"):
            try:
                versions[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                versions[pkg] = None
        return {
            "scenario": self.spec.name,
            "spec_file": str(self.spec_path),
            "spec": self.spec.model_dump(mode="json", by_alias=True),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "wall_s": (self.finished_at - self.started_at).total_seconds(),
            "executor": self.executor,
            "runs": [
                {
                    "run": r.task.label,
                    "kind": r.task.kind,
                    "strategy": r.task.strategy,
                    "forecast": self.spec.forecaster if r.task.strategy == "mpc" else None,
                    "sweep_value": r.task.sweep_value,
                    "windows": r.task.windows,
                    "wall_s": r.wall_s,
                    "site_hash": r.site_hash,
                    "alarms": r.alarms[:50],
                    "alarm_count": len(r.alarms),
                }
                for r in self.results
            ],
            "versions": {**versions, "python": sys.version.split()[0]},
            "machine": {
                "platform": platform.platform(),
                "processor": platform.processor() or platform.machine(),
                "cpu_count": os.cpu_count(),
            },
        }


def run_scenario(
    spec: ScenarioSpec, spec_path: Path, executor: Executor, progress: Progress | None = None
) -> ScenarioResult:
    """Prepare (validate) and run every task of ``spec``; savings against the baseline added."""
    tasks = prepare(spec, spec_path)
    started = datetime.now(UTC)
    results = executor.run(tasks, progress or (lambda _k: None))
    finished = datetime.now(UTC)
    baselines = {r.task.sweep_value: r.kpis for r in results if r.task.kind == "baseline"}
    for r in results:
        if r.task.kind == "scenario" and r.task.sweep_value in baselines:
            add_savings(r.kpis, baselines[r.task.sweep_value])
    return ScenarioResult(
        spec=spec,
        spec_path=spec_path,
        results=results,
        started_at=started,
        finished_at=finished,
        executor=describe(executor),
    )


def describe(executor: Executor) -> dict[str, Any]:
    """The executor's kind and settings, for ``run.json``."""
    info = getattr(executor, "info", None)
    return dict(info()) if callable(info) else {"kind": type(executor).__name__}
