"""Scenario files on the 2024 reference data, and one shared run of a short study.

The shared run (``smoke_result``) is a two-day perfect-foresight study with its heat-led
baseline, run once per session in this process; several tests read it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scenarios.executors import LocalExecutor
from scenarios.runner import ScenarioResult, run_scenario
from scenarios.spec import load_spec

SMOKE: dict[str, Any] = {
    "name": "smoke",
    "description": "Two March days, 24 h windows, gas at +30 %",
    "base_site": "reference_campus",
    "period": {"start": "2024-03-12", "end": "2024-03-14"},
    "strategy": "perfect_foresight",
    "rolling": {"window_h": 24},
    "changes": [{"path": "tariffs.0.gas.commodity_eur_per_mwh", "scale": 1.3}],
}


def write_scenario(directory: Path, doc: dict[str, Any] | str, name: str = "scenario.yaml") -> Path:
    """Write a scenario document (a mapping, or raw text) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[..., Path]:
    """``scenario_file(doc)`` writes a scenario into ``tmp_path``."""
    return lambda doc, name="scenario.yaml": write_scenario(tmp_path, doc, name)


@pytest.fixture(scope="session")
def smoke_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke scenario on disk."""
    return write_scenario(tmp_path_factory.mktemp("smoke"), SMOKE, "smoke.yaml")


@pytest.fixture(scope="session")
def smoke_result(smoke_path: Path) -> ScenarioResult:
    """The smoke scenario run in this process (perfect foresight and the heat-led baseline)."""
    return run_scenario(load_spec(smoke_path), smoke_path, LocalExecutor(workers=1))
