"""The simulated plant of a site: every asset type the site format allows.

:func:`build_plant` turns each asset into its simulated part (:mod:`connectors.sim_units`):
units (CHP, boilers, electric boilers, heat pumps, district heat, chillers, absorption
chillers), stores (thermal stores, batteries), heat dumps, PV, emergency generators and
flexible loads. The grid is the electricity balance's slack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from connectors.sim_plant import Plant
from connectors.sim_units import HeatDump, Store, TestRun, Unit
from energiemodell.errors import Problem, SiteError

if TYPE_CHECKING:
    from energiemodell.site import Site

_KINDS = {
    "chp": ("chp", "p_el_kw", "p_el_max_kw", "p_el_min_pu"),
    "boiler": ("boiler", "q_kw", "q_max_kw", "q_min_pu"),
    "electric_boiler": ("eboiler", "q_kw", "q_max_kw", None),
    "heat_pump": ("heat_pump", "q_kw", "q_max_kw", "q_min_pu"),
    "district_heat": ("district_heat", "q_kw", "q_max_kw", None),
    "compression_chiller": ("chiller", "cold_kw", "cold_max_kw", "cold_min_pu"),
    "absorption_chiller": ("absorption", "cold_kw", "cold_max_kw", "cold_min_pu"),
}
"""Asset type -> (unit kind, output quantity, per-unit capacity field, minimum-load field)."""
_PASSIVE = frozenset({"grid"})


def _unit(a: Any) -> Unit:
    p = a.params
    kind, quantity, cap_field, min_field = _KINDS[p.type]
    u_max, n = float(getattr(p, cap_field)), int(getattr(p, "units", 1))
    min_pu = float(getattr(p, min_field)) if min_field else 0.0
    ramp = getattr(p, "ramp_kw_per_min", None)
    start_min = float(getattr(p, "start_time_min", 0.0))
    if ramp is None and start_min > 0:
        ramp = u_max * n / start_min  # all units from zero to full in start_time_min
    return Unit(a.name, kind, f"{a.name}.{quantity}", u_max, n, min_pu, ramp, asset=a)


def _curve(points: list[tuple[float, float]] | None) -> tuple[list[float], list[float]] | None:
    if not points:
        return None
    pts = sorted(points)
    return [t for t, _ in pts], [v for _, v in pts]


def _store(a: Any) -> Store:
    p = a.params
    if p.type == "battery":
        lo, hi = p.soc_min_pu * p.capacity_kwh, p.soc_max_pu * p.capacity_kwh
        level = min(max(p.initial_soc_pu * p.capacity_kwh, lo), hi)
        return Store(
            a.name, "electricity", p.capacity_kwh, p.charge_max_kw, p.discharge_max_kw,
            p.loss_pu_per_h, lo, hi, level, p.eta_charge, p.eta_discharge,
        )  # fmt: skip
    lo, hi = p.level_min_pu * p.capacity_kwh, p.level_max_pu * p.capacity_kwh
    level = min(max(p.initial_level_pu * p.capacity_kwh, lo), hi)
    return Store(
        a.name, p.carrier, p.capacity_kwh, p.charge_max_kw, p.discharge_max_kw,
        p.loss_pu_per_h, lo, hi, level,
    )  # fmt: skip


def build_plant(site: Site) -> Plant:
    """The site's plant in its initial state (stores at their initial level, units off).

    Raises
    ------
    SiteError
        For an asset type registered after this module learnt the types (none today).
    """
    units: list[Unit] = []
    stores: list[Store] = []
    dumps: list[HeatDump] = []
    pv: dict[str, float] = {}
    curves: dict[str, tuple[list[float], list[float]]] = {}
    runs: list[TestRun] = []
    generators: list[str] = []
    flexible: list[Any] = []
    problems: list[Problem] = []
    for a in site.asset_objects:
        p = a.params
        if p.type in _KINDS:
            units.append(_unit(a))
            curve = _curve(getattr(p, "eer_by_temp_c", None) or getattr(p, "cop_by_temp_c", None))
            if curve is not None:
                curves[a.name] = curve
        elif p.type in ("thermal_storage", "battery"):
            stores.append(_store(a))
        elif p.type == "heat_dump":
            dumps.append(HeatDump(a.name, p.q_max_kw))
        elif p.type == "pv":
            pv[a.name] = p.p_kwp
        elif p.type == "emergency_generator":
            generators.append(a.name)
            for run in p.test_runs:
                t0 = pd.Timestamp(run.start)
                t0 = (t0.tz_localize(site.tz) if t0.tzinfo is None else t0).tz_convert("UTC")
                t1 = t0 + pd.Timedelta(hours=run.duration_h)
                runs.append(TestRun(a.name, t0, t1, run.load_pu * p.p_el_kw))
        elif p.type == "flexible_load":
            flexible.append(p)
        elif p.type not in _PASSIVE:  # a type registered after this module was written
            msg = f"the plant simulator has no model of asset type {p.type}"
            problems.append(Problem(site.source, f"assets.{a.name}.type", msg, ""))
    if problems:
        raise SiteError(problems)
    return Plant(
        units=units,
        stores=stores,
        dumps=dumps,
        pv_kwp=pv,
        curves=curves,
        generators=generators,
        test_runs=runs,
        flexible=flexible,
    )
