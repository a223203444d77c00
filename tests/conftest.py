"""Shared fixtures: small site files on disk, the reference campus, and service requirements.

- ``write_site(directory, **overrides)``: write a small valid site (grid, boiler group and one
  local day of hourly series) into ``directory`` and return the site file's path.
- ``reference_site``: the shipped reference campus, loaded once per session.
- ``require_or_skip(reason)``: for fixtures that need a service (PostgreSQL, sockets): skips the
  test, or fails it when ``ENERGIEMODELL_REQUIRE_SERVICES=1`` (set by ``.ci/run``), so CI never
  passes by skipping.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from energiemodell.site import Site, load_site

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository checkout (docs/, scripts/ live here)."""

REQUIRE_SERVICES_ENV = "ENERGIEMODELL_REQUIRE_SERVICES"

# --- service requirements -------------------------------------------------------------------------


def _require_or_skip(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail when the environment says services are required."""
    if os.environ.get(REQUIRE_SERVICES_ENV, "") == "1":
        pytest.fail(f"{reason} ({REQUIRE_SERVICES_ENV}=1: this service is required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def require_or_skip() -> Callable[[str], NoReturn]:
    """The skip-or-fail function for fixtures of any scope: ``require_or_skip("no PostgreSQL")``."""
    return _require_or_skip


# --- small site files -----------------------------------------------------------------------------

SMALL_SITE_DAY = "2024-03-12"
"""The local day (Europe/Berlin, UTC+01:00) the small site's series cover."""

SMALL_SITE: dict[str, Any] = {
    "name": "small_site",
    "timezone": "Europe/Berlin",
    "step_min": 15,
    "series": [
        {
            "file": "series.csv",
            "columns": {
                "electricity_kw": "demand.electricity_kw",
                "heat_kw": "demand.heat_kw",
                "price_eur_mwh": "price.day_ahead_eur_per_mwh",
            },
        }
    ],
    "tariffs": [
        {
            "valid_from": "2024-01-01",
            "valid_to": "2025-01-01",
            "electricity": {"energy_price": "day_ahead", "supplier_margin_eur_per_mwh": 5.0},
            "gas": {"commodity_eur_per_mwh": 40.0},
        }
    ],
    "assets": [
        {"name": "grid", "type": "grid", "max_import_kw": 2000},
        {"name": "boilers", "type": "boiler", "units": 2, "q_max_kw": 1000, "eta": 0.95},
    ],
}
"""The small site's document; heat is N-1 secure (peak 800 kW, one 1000 kW boiler left)."""


def small_site_csv() -> str:
    """One local day of hourly rows, timestamps in local time with their UTC offset."""
    lines = ["timestamp,electricity_kw,heat_kw,price_eur_mwh"]
    for hour in range(24):
        heat = 500 + 300 * (6 <= hour < 18)
        lines.append(
            f"{SMALL_SITE_DAY}T{hour:02d}:00:00+01:00,{400 + 10 * hour},{heat},{50 + hour}"
        )
    return "\n".join(lines) + "\n"


def write_site_files(
    directory: Path, *, csv: str | None = None, raw: str | None = None, **overrides: Any
) -> Path:
    """Write ``site.yaml`` and ``series.csv`` into ``directory``; return the site file.

    ``overrides`` replace top-level keys of :data:`SMALL_SITE` (``None`` removes the key);
    ``csv`` replaces the series file's text; ``raw`` is written as the site file verbatim.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "series.csv").write_text(
        small_site_csv() if csv is None else csv, encoding="utf-8"
    )
    path = directory / "site.yaml"
    if raw is not None:
        path.write_text(raw, encoding="utf-8")
        return path
    doc = copy.deepcopy(SMALL_SITE)
    for key, value in overrides.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def write_site() -> Callable[..., Path]:
    """``write_site(tmp_path, **overrides) -> Path`` (see :func:`write_site_files`)."""
    return write_site_files


@pytest.fixture(scope="session")
def reference_site() -> Site:
    """The shipped reference campus (do not mutate: site models are frozen anyway)."""
    return load_site("reference_campus")
