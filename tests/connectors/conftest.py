"""Fixtures of the connector tests: leak checks and small sites."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis writes a .hypothesis directory into the working directory; pytest (whose
# norecursedirs does not list dot-directories here) would then warn about it, which is an error.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "energiemodell-hypothesis")


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves threads behind (as pymodbus's own tests do).

    The only event loops are the pymodbus test servers' own; ``PymodbusServer.stop`` checks that
    no task outlives them.
    """
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not extra, f"leaked threads: {extra}"


TARIFFS: list[dict[str, Any]] = [
    {
        "valid_from": "2024-01-01",
        "valid_to": "2030-01-01",
        "electricity": {"energy_price": "fixed", "fixed_price_eur_per_mwh": 100},
        "gas": {"commodity_eur_per_mwh": 40},
    }
]


def site_dict(devices: list[dict[str, Any]]) -> dict[str, Any]:
    """A minimal valid site document with these devices (the one place that knows site format)."""
    return {
        "name": "connector_test",
        "tariffs": TARIFFS,
        "assets": [{"name": "grid", "type": "grid", "max_import_kw": 1000, "max_export_kw": 0}],
        "devices": devices,
    }


@pytest.fixture
def make_site_file(tmp_path: Path):
    """Write a site YAML with the given devices and return its path."""
    import yaml

    def _make(devices: list[dict[str, Any]]) -> Path:
        path = tmp_path / "site.yaml"
        path.write_text(yaml.safe_dump(site_dict(devices)), encoding="utf-8")
        return path

    return _make
