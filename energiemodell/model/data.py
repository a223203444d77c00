"""Per-interval numbers for one plan, derived once from the site, the Forecast and the state.

Assets read these numpy arrays in :meth:`Asset.update`; nothing in a model rule touches pandas.
Tariffs are resolved per interval by local date, so a horizon across a tariff change (New Year)
is priced correctly. All prices here are EUR/kWh (the model's unit); files say EUR/MWh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energiemodell.assets.base import Carrier
from energiemodell.errors import SiteError
from energiemodell.state import PlantState

if TYPE_CHECKING:
    from energiemodell.site import Site, TariffPeriod

MWH = 1000.0


@dataclass
class HorizonData:
    """Everything that changes from plan to plan, as arrays over the horizon."""

    index: pd.DatetimeIndex
    local: pd.DatetimeIndex
    dt_h: float
    state: PlantState
    demand_kw: dict[Carrier, np.ndarray]
    critical_pu: dict[Carrier, np.ndarray]
    day_ahead_eur_per_mwh: np.ndarray
    import_energy_eur_per_kwh: np.ndarray
    import_fees_eur_per_kwh: np.ndarray
    import_levies_eur_per_kwh: np.ndarray
    export_eur_per_kwh: np.ndarray
    grid_co2_t_per_kwh: np.ndarray
    gas_commodity_eur_per_kwh: np.ndarray
    gas_fees_taxes_eur_per_kwh: np.ndarray
    gas_co2_price_eur_per_kwh: np.ndarray
    gas_co2_t_per_kwh: np.ndarray
    demand_charge_eur_per_kw: np.ndarray
    peak_counts: np.ndarray
    peak_segment: np.ndarray
    peak_threshold_kw: list[float]
    peak_charge_eur_per_kw: list[float]
    temp_c: np.ndarray
    pv_kw_per_kwp: np.ndarray
    co2_weight_eur_per_t: float
    alarms: list[str] = field(default_factory=list)
    evaluating: bool = False
    """A given dispatch is costed (:meth:`Planner.evaluate`), not planned."""

    @property
    def n(self) -> int:
        """Number of intervals."""
        return len(self.index)


def _in_windows(site: Site, local: pd.DatetimeIndex, tariffs: list[TariffPeriod]) -> np.ndarray:
    """1 where an interval counts for the annual peak (all, or inside the high-load windows)."""
    out = np.ones(len(local))
    hol = _holidays(site, {d.year for d in local})
    for i, (ts, tp) in enumerate(zip(local, tariffs, strict=True)):
        windows = tp.electricity.high_load_windows
        if windows is None:
            continue
        t = ts.time()
        inside = False
        for w in windows:
            if ts.month not in w.months:
                continue
            if w.working_days_only and (ts.weekday() >= 5 or ts.date() in hol):
                continue
            if w.start <= t < w.end:
                inside = True
        out[i] = 1.0 if inside else 0.0
    return out


def _holidays(site: Site, years: set[int]) -> set[object]:
    import holidays

    loc = site.location
    country = loc.country if loc else "DE"
    subdiv = loc.subdivision if loc else None
    return set(holidays.country_holidays(country, subdiv=subdiv, years=sorted(years)).keys())


def horizon_data(site: Site, forecast: pd.DataFrame, state: PlantState) -> HorizonData:
    """Derive the per-interval arrays of one plan."""
    index = pd.DatetimeIndex(forecast.index)
    local = index.tz_convert(site.timezone)
    n = len(index)
    tariffs: list[TariffPeriod] = []
    for day in local.date:
        tp = site.tariff_at(day)
        if tp is None:
            msg = f"no tariff period covers {day}"
            raise SiteError.one(site.source, "tariffs", msg, "add a period with valid_from/to")
        tariffs.append(tp)

    def col(name: str, default: float | None = None) -> np.ndarray:
        """A Forecast column; NaN default marks "absent" for the assets that need it."""
        if name in forecast.columns:
            arr = forecast[name].to_numpy(dtype=float)
            if not np.isfinite(arr).all():
                bad = index[~np.isfinite(arr)][0]
                msg = f"Forecast column {name} has a missing value at {bad.isoformat()}"
                raise SiteError.one(site.source, "series", msg)
            return arr
        if default is None:
            msg = f"the Forecast has no column {name}"
            raise SiteError.one(site.source, "series", msg, "add it to a series file's columns")
        return np.full(n, default)

    demand = {c: col(f"demand.{c}_kw", 0.0) for c in Carrier}
    need_day_ahead = any(
        t.electricity.energy_price == "day_ahead" or t.electricity.export_price == "day_ahead"
        for t in tariffs
    )
    day_ahead = col("price.day_ahead_eur_per_mwh", None if need_day_ahead else 0.0)
    el = [t.electricity for t in tariffs]
    gas = [t.gas for t in tariffs]
    energy = np.array(
        [
            (da + e.supplier_margin_eur_per_mwh)
            if e.energy_price == "day_ahead"
            else float(e.fixed_price_eur_per_mwh or 0.0)
            for da, e in zip(day_ahead, el, strict=True)
        ]
    )
    export = np.array(
        [
            da
            if e.export_price == "day_ahead"
            else e.export_fixed_eur_per_mwh
            if e.export_price == "fixed"
            else 0.0
            for da, e in zip(day_ahead, el, strict=True)
        ]
    )
    # Billing years inside the horizon: segment 0 continues the state's year, 1 is the next.
    years = np.array([ts.year for ts in local])
    segment = (years != years[0]).astype(int)
    floor = [el[0].peak_floor_kw, el[-1].peak_floor_kw]
    thresholds = [max(state.peak_import_kw, floor[0]), floor[1]]
    charge = [el[0].demand_charge_eur_per_kw_a, el[-1].demand_charge_eur_per_kw_a]
    return HorizonData(
        index=index,
        local=local,
        dt_h=site.step_min / 60.0,
        state=state,
        demand_kw=demand,
        critical_pu={
            c: np.clip(
                col(f"demand.{c}_critical_pu", site.security.critical_share_pu.get(c, 1.0)), 0, 1
            )
            for c in Carrier
        },
        day_ahead_eur_per_mwh=day_ahead,
        import_energy_eur_per_kwh=energy / MWH,
        import_fees_eur_per_kwh=np.array([e.grid_energy_charge_eur_per_mwh for e in el]) / MWH,
        import_levies_eur_per_kwh=np.array([sum(e.levies_eur_per_mwh.values()) for e in el]) / MWH,
        export_eur_per_kwh=export / MWH,
        grid_co2_t_per_kwh=np.array([e.co2_t_per_mwh for e in el]) / MWH,
        gas_commodity_eur_per_kwh=np.array([g.commodity_eur_per_mwh for g in gas]) / MWH,
        gas_fees_taxes_eur_per_kwh=np.array(
            [g.grid_fees_eur_per_mwh + g.energy_tax_eur_per_mwh for g in gas]
        )
        / MWH,
        gas_co2_price_eur_per_kwh=np.array([g.co2_price_eur_per_t * g.co2_t_per_mwh for g in gas])
        / MWH,
        gas_co2_t_per_kwh=np.array([g.co2_t_per_mwh for g in gas]) / MWH,
        demand_charge_eur_per_kw=np.array([e.demand_charge_eur_per_kw_a for e in el]),
        peak_counts=_in_windows(site, local, tariffs),
        peak_segment=segment,
        peak_threshold_kw=thresholds,
        peak_charge_eur_per_kw=charge,
        temp_c=col("weather.temp_c", float("nan")),
        pv_kw_per_kwp=col("pv.kw_per_kwp", float("nan")),
        co2_weight_eur_per_t=site.control.co2_weight_eur_per_t,
    )
