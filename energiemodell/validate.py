"""Checks of a loaded site beyond its schema: series coverage, tariffs, N-1 at peak demand.

Errors make the site unusable for the period; warnings are advisory (``--strict`` fails on
them, like PyPSA's ``_log_or_raise``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from energiemodell.assets.base import Carrier
from energiemodell.errors import Problem, SiteError
from energiemodell.site import Site
from energiemodell.timeseries import load_forecast, local_midnight_utc, series_coverage


@dataclass
class SiteReport:
    """What ``energiemodell validate`` prints."""

    summary: dict[str, Any]
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def default_period(site: Site) -> tuple[date, date]:
    """The local dates the series cover completely (end exclusive)."""
    cover = series_coverage(site)
    if not cover:
        today = date.today()
        return today, today + timedelta(days=1)
    start = max(s for s, _ in cover.values()).tz_convert(site.timezone)
    end = min(e for _, e in cover.values()).tz_convert(site.timezone)
    first = start.date() if start == start.normalize() else start.date() + timedelta(days=1)
    return first, end.date()


def _summary_without_checks(site: Site, period: list[str] | None) -> dict[str, Any]:
    """The summary's keys when the checks stopped early (the errors say why)."""
    return {
        "site": site.name,
        "file": site.source,
        "timezone": site.timezone,
        "step_min": site.step_min,
        "period": period,
        "assets": {},
        "security": {},
        "tariffs": [],
        "series_coverage": {},
        "devices": len(site.devices),
    }


def check_site(site: Site, period: tuple[date, date] | None = None) -> SiteReport:
    """Summarise the plant and check the site over ``period`` (local dates, end exclusive)."""
    src = site.source
    errors: list[Problem] = []
    warnings: list[Problem] = []
    try:
        start_day, end_day = period or default_period(site)
    except SiteError as exc:
        return SiteReport(summary=_summary_without_checks(site, None), errors=list(exc.problems))
    if end_day <= start_day:
        errors.append(Problem("--period", "", f"end {end_day} is not after start {start_day}"))
        span = [str(start_day), str(end_day)]
        return SiteReport(summary=_summary_without_checks(site, span), errors=errors)
    start = local_midnight_utc(start_day, site.timezone)
    n = int(
        (local_midnight_utc(end_day, site.timezone) - start) / pd.Timedelta(minutes=site.step_min)
    )
    forecast = None
    try:
        forecast = load_forecast(site, start, n)
    except SiteError as exc:
        errors.extend(exc.problems)
    day = start_day
    while day < end_day:
        if site.tariff_at(day) is None:
            errors.append(
                Problem(src, "tariffs", f"no tariff period covers {day}", "add or extend a period")
            )
            break
        day += timedelta(days=1)
    assets = site.asset_objects
    capacity: dict[str, dict[str, float]] = {}
    for a in assets:
        caps = {str(c): a.capacity_kw(c) * a.units() for c in Carrier if a.capacity_kw(c) > 0}
        if a.storage_capacity_kwh() > 0:
            caps["storage_kwh"] = a.storage_capacity_kwh()
        capacity[a.name] = {"type": a.type_name, **caps}  # type: ignore[dict-item]
    security: dict[str, Any] = {}
    if forecast is not None:
        for carrier in (Carrier.HEAT, Carrier.COOLING):
            col = f"demand.{carrier}_kw"
            if col not in forecast:
                continue
            peak = float(forecast[col].max())
            if carrier == Carrier.COOLING and site.security.n1_cooling_demand == "critical":
                peak *= site.security.critical_share_pu.get(carrier, 1.0)
            units = [
                a.capacity_kw(carrier)
                for a in assets
                for _ in range(a.units())
                if a.capacity_kw(carrier) > 0 and a.storage_capacity_kwh() == 0
            ]
            firm = sum(units) - (max(units) if units else 0.0)
            secure = firm >= peak
            security[str(carrier)] = {
                "peak_demand_kw": round(peak, 1),
                "capacity_without_largest_unit_kw": round(firm, 1),
                "n1_secure_at_peak": secure,
            }
            wanted = site.security.heat_n1 if carrier == Carrier.HEAT else site.security.cooling_n1
            if wanted and not secure:
                msg = (
                    f"{carrier} supply is not N-1 secure at the period's peak demand "
                    f"({peak:.0f} kW > {firm:.0f} kW without the largest unit, storage not counted)"
                )
                warnings.append(
                    Problem(src, f"security.{carrier}_n1", msg, "add capacity or storage")
                )
    for a in assets:
        if (
            a.storage_capacity_kwh() > 0
            and not any(b.asset == a.name for b in site.devices)
            and site.devices
        ):
            warnings.append(
                Problem(
                    src,
                    f"assets.{a.name}",
                    "storage has no device measuring its level",
                    "bind a device point to <name>.level_kwh",
                )
            )
    tariffs = [
        {
            "valid_from": str(t.valid_from),
            "valid_to": str(t.valid_to),
            "energy_price": t.electricity.energy_price,
            "import_adders_eur_per_mwh": round(
                t.electricity.supplier_margin_eur_per_mwh
                + t.electricity.grid_energy_charge_eur_per_mwh
                + sum(t.electricity.levies_eur_per_mwh.values()),
                2,
            ),
            "demand_charge_eur_per_kw_a": t.electricity.demand_charge_eur_per_kw_a,
            "gas_eur_per_mwh": round(
                t.gas.commodity_eur_per_mwh
                + t.gas.grid_fees_eur_per_mwh
                + t.gas.energy_tax_eur_per_mwh
                + t.gas.co2_price_eur_per_t * t.gas.co2_t_per_mwh,
                2,
            ),
        }
        for t in site.tariffs
    ]
    coverage: dict[str, list[str]] = {}
    try:
        coverage = {
            col: [s.isoformat(), e.isoformat()] for col, (s, e) in series_coverage(site).items()
        }
    except SiteError as exc:
        errors.extend(p for p in exc.problems if p not in errors)
    summary = {
        "site": site.name,
        "file": site.source,
        "timezone": site.timezone,
        "step_min": site.step_min,
        "period": [str(start_day), str(end_day)],
        "assets": capacity,
        "security": security,
        "tariffs": tariffs,
        "series_coverage": coverage,
        "devices": len(site.devices),
    }
    return SiteReport(summary=summary, errors=errors, warnings=warnings)
