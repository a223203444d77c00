"""The same tasks on every executor give the same KPIs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scenarios.executors import DaskExecutor, LocalExecutor
from scenarios.kpis import TOTAL
from scenarios.runner import ScenarioResult, run_scenario
from scenarios.spec import load_spec
from tests.scenarios.conftest import SMOKE, write_scenario

pytestmark = pytest.mark.solver

TIMINGS = ("wall_s", "plan_s", "solve_s", "eval_s", "solve_s_p50", "solve_s_p95", "solve_s_max")


def _assert_same_kpis(a: ScenarioResult, b: ScenarioResult) -> None:
    assert [r.task.label for r in a.results] == [r.task.label for r in b.results]
    for ra, rb in zip(a.results, b.results, strict=True):
        assert set(ra.kpis) == set(rb.kpis)
        for month, row in ra.kpis.items():
            other = rb.kpis[month]
            assert set(row) == set(other)
            for key, value in row.items():
                if key in TIMINGS:
                    continue
                assert other[key] == pytest.approx(value, rel=1e-6, abs=1e-6), (month, key)
        assert ra.frame.shape == rb.frame.shape


@pytest.mark.slow
@pytest.mark.integration
def test_dask_cluster_gives_the_local_kpis(smoke_path: Path, smoke_result: ScenarioResult) -> None:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        done: list[int] = []
        result = run_scenario(
            load_spec(smoke_path), smoke_path, DaskExecutor(client), progress=done.append
        )
    assert result.executor["kind"] == "dask"
    assert sum(done) == sum(r.task.windows for r in result.results) == 4
    _assert_same_kpis(smoke_result, result)


@pytest.mark.slow
@pytest.mark.integration
def test_worker_processes_give_the_in_process_kpis(tmp_path: Path) -> None:
    doc = {
        **SMOKE,
        "name": "heat_led_sweep",
        "strategy": "heat_led",
        "sweep": {"path": "assets.tes_heat.capacity_kwh", "from": 2000, "to": 4000, "step": 2000},
    }
    path = write_scenario(tmp_path, doc)
    spec = load_spec(path)
    ticks: list[int] = []
    parallel = run_scenario(spec, path, LocalExecutor(workers=2), progress=ticks.append)
    serial = run_scenario(spec, path, LocalExecutor(workers=1))
    assert parallel.executor == {"kind": "local", "workers": 2}
    assert [r.task.sweep_value for r in parallel.results] == [2000, 4000]
    assert sum(ticks) == 4  # two windows per sweep point, reported from the workers
    _assert_same_kpis(serial, parallel)
    small, big = (r.kpis[TOTAL] for r in parallel.results)
    assert small["cost_eur"] != big["cost_eur"]  # the sweep reached the workers


@pytest.mark.slow
@pytest.mark.integration
def test_mpc_on_worker_processes_gives_the_in_process_kpis(tmp_path: Path) -> None:
    # a June morning where the forecast decides whether the CHP runs
    doc = {
        **SMOKE,
        "name": "mpc_sweep",
        "strategy": "mpc",
        "period": {"start": "2024-06-11T10:00:00", "end": "2024-06-11T12:00:00"},
        "rolling": {"window_h": 12, "replan_min": 60},
        "baseline": False,
        "changes": [],
        "sweep": {"path": "assets.tes_heat.capacity_kwh", "values": [1750, 3500]},
    }
    path = write_scenario(tmp_path, doc)
    spec = load_spec(path)
    parallel = run_scenario(spec, path, LocalExecutor(workers=2))
    serial = run_scenario(spec, path, LocalExecutor(workers=1))
    assert [r.task.windows for r in parallel.results] == [2, 2]
    assert [run["forecast"] for run in parallel.run_json()["runs"]] == ["profile", "profile"]
    _assert_same_kpis(serial, parallel)
    for a, b in zip(serial.results, parallel.results, strict=True):
        pd.testing.assert_frame_equal(a.frame, b.frame)
