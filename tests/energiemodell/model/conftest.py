"""Tiny sites and hand-made Forecasts for the optimiser tests.

Tariffs are simple (a fixed or day-ahead energy price, no fees or levies unless a test asks), so
every optimum in these tests can be computed by hand. The security rules are off unless a test
switches them on: each test asks for exactly the rules it checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from energiemodell.model.planner import Planner
from energiemodell.model.schedule import Schedule
from energiemodell.site import Site, site_from_dict
from energiemodell.state import PlantState

START = pd.Timestamp("2024-03-12T00:00:00Z")
"""A Tuesday in winter time (01:00 local): far from daylight-saving changes and New Year."""

STEP_H = 0.25

Series = float | Sequence[float]


def make_site(
    assets: list[dict[str, Any]],
    *,
    electricity: dict[str, Any] | None = None,
    gas: dict[str, Any] | None = None,
    security: dict[str, Any] | None = None,
    **extra: Any,
) -> Site:
    """A validated site from asset dicts, with zero-levy tariffs valid all of 2024.

    ``electricity`` and ``gas`` update the tariff defaults (day-ahead energy price, no export
    price unless day-ahead, gas free of fees). ``security`` updates rules that default to off.
    """
    el: dict[str, Any] = {"energy_price": "day_ahead", "export_price": "day_ahead"}
    el.update(electricity or {})
    g: dict[str, Any] = {"commodity_eur_per_mwh": 0.0}
    g.update(gas or {})
    sec: dict[str, Any] = {"heat_n1": False, "cooling_n1": False, "battery_reserve": False}
    sec.update(security or {})
    doc: dict[str, Any] = {
        "name": "tiny",
        "timezone": "Europe/Berlin",
        "step_min": 15,
        "tariffs": [
            {"valid_from": "2024-01-01", "valid_to": "2025-01-01", "electricity": el, "gas": g}
        ],
        "security": sec,
        "control": {"mip_gap_pu": 1e-6, "time_limit_s": 20},
        "assets": assets,
    }
    doc.update(extra)
    return site_from_dict(doc)


def make_forecast(
    site: Site,
    n: int,
    *,
    electricity: Series = 0.0,
    heat: Series = 0.0,
    cooling: Series = 0.0,
    price: Series = 0.0,
    pv: Series = 0.0,
    temp_c: Series = 10.0,
    start: pd.Timestamp = START,
) -> pd.DataFrame:
    """A Forecast in the layout of :func:`energiemodell.timeseries.load_forecast`."""
    index = pd.date_range(start, periods=n, freq=f"{site.step_min}min")

    def arr(v: Series) -> np.ndarray:
        return np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()

    frame = pd.DataFrame(
        {
            "demand.electricity_kw": arr(electricity),
            "demand.heat_kw": arr(heat),
            "demand.cooling_kw": arr(cooling),
            "price.day_ahead_eur_per_mwh": arr(price),
            "pv.kw_per_kwp": arr(pv),
            "weather.temp_c": arr(temp_c),
        },
        index=index,
    )
    for carrier, share in site.security.critical_share_pu.items():
        frame[f"demand.{carrier}_critical_pu"] = share
    frame["price.is_forecast"] = False
    return frame


def plan(site: Site, forecast: pd.DataFrame, state: PlantState | None = None) -> Schedule:
    """Build a planner for the Forecast's length and plan once (with marginal prices)."""
    return Planner(site, len(forecast)).plan(forecast, state or PlantState())


def grid(max_import_kw: float = 10_000.0, max_export_kw: float = 0.0) -> dict[str, Any]:
    """A grid connection asset dict."""
    return {
        "name": "grid",
        "type": "grid",
        "max_import_kw": max_import_kw,
        "max_export_kw": max_export_kw,
    }


class Tiny:
    """The builders above, handed to tests by the ``tiny`` fixture."""

    START = START
    STEP_H = STEP_H
    site = staticmethod(make_site)
    forecast = staticmethod(make_forecast)
    plan = staticmethod(plan)
    grid = staticmethod(grid)


@pytest.fixture(scope="session")
def tiny() -> type[Tiny]:
    """The builders: ``tiny.site(assets)``, ``tiny.forecast(site, n)``, ``tiny.plan(site, fc)``."""
    return Tiny
