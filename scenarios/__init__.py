"""What-if scenarios: a base site, a period, changes and a strategy, run window by window.

``load_spec`` reads a scenario file, ``run_scenario`` validates every change before any solve,
runs each sweep point with its strategy and the heat-led baseline on an executor (this process,
local worker processes, or a Dask cluster) and returns a ``ScenarioResult`` that writes
``kpis.csv``, ``kpis.json``, ``dispatch.parquet``, ``report.html`` and ``run.json``.
"""

from scenarios.apply import apply_changes, outages, sweep_changes
from scenarios.executors import DaskExecutor, LocalExecutor
from scenarios.kpis import period_kpis
from scenarios.report import write_comparison, write_report
from scenarios.runner import ScenarioResult, Task, TaskResult, prepare, run_scenario, run_task
from scenarios.spec import ScenarioSpec, load_spec, spec_from_dict

__all__ = [
    "DaskExecutor",
    "LocalExecutor",
    "ScenarioResult",
    "ScenarioSpec",
    "Task",
    "TaskResult",
    "apply_changes",
    "load_spec",
    "outages",
    "period_kpis",
    "prepare",
    "run_scenario",
    "run_task",
    "spec_from_dict",
    "sweep_changes",
    "write_comparison",
    "write_report",
]
