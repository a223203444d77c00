"""The public API of connectors is what __all__ says, and it keeps its dependency direction."""

from __future__ import annotations

import ast
from pathlib import Path

import connectors


def test_all_names_exist_and_are_sorted():
    for name in connectors.__all__:
        assert hasattr(connectors, name), name
    assert connectors.__all__ == sorted(connectors.__all__)


def test_connectors_import_only_the_site_and_errors_from_energiemodell():
    # The plant simulator also reads the site's series and starts the rules from a PlantState.
    allowed = {
        "energiemodell.site",
        "energiemodell.errors",
        "energiemodell.heat_led",
        "energiemodell.timeseries",
        "energiemodell.state",
    }
    root = Path(connectors.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                continue
            for mod in mods:
                if mod.startswith("energiemodell"):
                    assert mod in allowed, f"{path.name} imports {mod}"
                assert not mod.startswith(("scheduler", "scenarios")), f"{path.name}: {mod}"
                if mod.startswith("pymodbus"):
                    assert path.name == "modbus.py", f"{path.name} imports {mod}"
