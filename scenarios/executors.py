"""Where scenario tasks run: in this process, in local worker processes, or on a Dask cluster.

Every executor runs the same :func:`scenarios.runner.run_task`; solves use the site's thread
count and seed (one thread, seed 0 by default), so the KPIs do not depend on the executor.
Dask workers need this project installed in the same version (the task names the base site
and the scenario directory, which the workers must see at the same paths).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue as queue_mod
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from scenarios.runner import Progress, Task, TaskResult, run_task

logger = logging.getLogger(__name__)


class LocalExecutor:
    """Runs tasks in worker processes on this machine (default: one per core).

    With one worker, or one task, everything runs in this process.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def info(self) -> dict[str, Any]:
        """Kind and settings, for ``run.json``."""
        return {"kind": "local", "workers": self.workers}

    def run(self, tasks: Sequence[Task], progress: Progress) -> list[TaskResult]:
        """Run ``tasks``; ``progress(1)`` after every window; results in task order."""
        workers = min(self.workers, len(tasks))
        if workers <= 1:
            return [run_task(t, progress) for t in tasks]
        ctx = mp.get_context("spawn")  # no forked solver or logging state in the workers
        with ctx.Manager() as manager, ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            windows: Any = manager.Queue()
            futures: dict[Future[TaskResult], int] = {
                pool.submit(run_task, t, windows): i for i, t in enumerate(tasks)
            }
            results: dict[int, TaskResult] = {}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(windows, progress)
                for f in done:
                    results[futures[f]] = f.result()
            _drain(windows, progress)
        return [results[i] for i in range(len(tasks))]


def _drain(windows: Any, progress: Progress) -> None:
    while True:
        try:
            progress(windows.get_nowait())
        except queue_mod.Empty:
            return


class DaskExecutor:
    """Runs tasks on an existing Dask distributed cluster (``tcp://host:8786``) or client.

    The progress bar advances by a task's windows when the task finishes.
    """

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def info(self) -> dict[str, Any]:
        """Kind and scheduler address, for ``run.json``."""
        address = (
            self.scheduler if isinstance(self.scheduler, str) else self.scheduler.scheduler.address
        )
        return {"kind": "dask", "scheduler": address}

    def run(self, tasks: Sequence[Task], progress: Progress) -> list[TaskResult]:
        """Submit every task, collect the results in task order."""
        from distributed import Client, as_completed

        own = isinstance(self.scheduler, str)
        client = Client(self.scheduler) if own else self.scheduler  # type: ignore[no-untyped-call]
        try:
            futures = [client.submit(run_task, t, None, pure=False) for t in tasks]
            index = {f.key: i for i, f in enumerate(futures)}
            results: dict[int, TaskResult] = {}
            for f in as_completed(futures):  # type: ignore[no-untyped-call]
                r: TaskResult = f.result()
                results[index[f.key]] = r
                progress(r.task.windows)
            return [results[i] for i in range(len(tasks))]
        finally:
            if own:
                client.close()
