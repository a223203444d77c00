"""The public API of scenarios is what __all__ says; scenarios imports energiemodell only."""

from __future__ import annotations

import ast
from pathlib import Path

import scenarios


def test_all_names_exist_and_are_sorted():
    for name in scenarios.__all__:
        assert hasattr(scenarios, name), name
    assert scenarios.__all__ == sorted(scenarios.__all__)


def test_scenarios_import_energiemodell_and_nothing_else_of_ours():
    root = Path(scenarios.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                top = name.split(".")[0]
                assert top not in {"connectors", "scheduler"}, (path.name, name)


def test_energiemodell_rolling_and_forecast_import_no_other_package():
    root = Path(scenarios.__file__).parents[1] / "energiemodell"
    modules = [root / "forecast.py", *sorted((root / "rolling").glob("*.py"))]
    assert len(modules) > 2  # the rolling package was found
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] not in {"scenarios", "connectors", "scheduler"}
