"""What stored energy is worth at a window's end, so that no window drains the stores."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from energiemodell.assets.battery import Battery
from energiemodell.assets.boiler import Boiler
from energiemodell.assets.compression_chiller import CompressionChiller
from energiemodell.assets.thermal_storage import ThermalStorage
from energiemodell.errors import SiteError
from energiemodell.forecast_prices import DAY_AHEAD_COLUMN
from energiemodell.rolling.strategies import history_known_at
from energiemodell.site import Site, site_from_dict


def valuation_price(
    site: Site, actual: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, *, known_only: bool
) -> float:
    """The mean day-ahead price (EUR/MWh) that prices stored electricity and cold.

    Perfect foresight and the heat-led baseline take the run's own prices (``start`` to
    ``end``); mpc (``known_only``) only what it knew at ``start``: the history before it and
    the prices published by then (:func:`~energiemodell.rolling.strategies.history_known_at`),
    so no price from the future reaches its decisions through the store values either.
    """
    if DAY_AHEAD_COLUMN not in actual.columns:
        return 0.0
    step = pd.Timedelta(minutes=site.step_min)
    if known_only:
        prices = history_known_at(site, actual, start)[DAY_AHEAD_COLUMN].dropna()
    else:
        prices = actual.loc[start : end - step, DAY_AHEAD_COLUMN]
    return float(prices.mean()) if len(prices) else 0.0


def default_storage_values(site: Site, mean_day_ahead_eur_per_mwh: float) -> dict[str, float]:
    """What a kWh in each store is worth by default (EUR/MWh).

    Heat: fuel cost of the best boiler (gas commodity, fees, tax, CO2 price) divided by its
    efficiency. Electricity (batteries): the import price at ``mean_day_ahead_eur_per_mwh``
    (:func:`valuation_price`; or the fixed price) plus grid charge and levies. Cold: that
    electricity price divided by the best compression chiller's nominal EER. Tariffs of the
    first tariff period.
    """
    tp = min(site.tariffs, key=lambda t: t.valid_from)
    g, e = tp.gas, tp.electricity
    gas = (
        g.commodity_eur_per_mwh
        + g.grid_fees_eur_per_mwh
        + g.energy_tax_eur_per_mwh
        + g.co2_price_eur_per_t * g.co2_t_per_mwh
    )
    energy = (
        mean_day_ahead_eur_per_mwh + e.supplier_margin_eur_per_mwh
        if e.energy_price == "day_ahead"
        else float(e.fixed_price_eur_per_mwh or 0.0)
    )
    el = energy + e.grid_energy_charge_eur_per_mwh + sum(e.levies_eur_per_mwh.values())
    objs = site.asset_objects
    etas = [a.params.eta for a in objs if isinstance(a, Boiler)]
    heat = gas / max(etas) if etas else el
    eers = [a.params.eer for a in objs if isinstance(a, CompressionChiller)]
    cold = el / max(eers) if eers else el
    out: dict[str, float] = {}
    for a in objs:
        if isinstance(a, ThermalStorage):
            out[a.name] = heat if a.params.carrier == "heat" else cold
        elif isinstance(a, Battery):
            out[a.name] = el
    return out


def value_storage(
    site: Site, defaults: Mapping[str, float], overrides: Mapping[str, float]
) -> tuple[Site, dict[str, float]]:
    """The site with every store's end content valued; returns the site and the values used."""
    data = site.model_dump()
    used: dict[str, float] = {}
    for entry in data["assets"]:
        name = entry["name"]
        if name not in defaults and name not in overrides:
            continue
        if name in overrides:
            entry["end_value_eur_per_mwh"] = float(overrides[name])
        elif entry.get("end_value_eur_per_mwh") is None:
            entry["end_value_eur_per_mwh"] = round(float(defaults[name]), 4)
        used[name] = float(entry["end_value_eur_per_mwh"])
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        msg = f"storage values given for {', '.join(unknown)}, which are not stores of the site"
        raise SiteError.one(site.source, "storage_value_eur_per_mwh", msg)
    valued = site_from_dict(data, source=site.source, base_dir=site.base_dir)
    return valued, used
