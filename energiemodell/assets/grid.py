"""Connection to the public grid: import and export at tariff prices, with the peak charge."""

from __future__ import annotations

from typing import Any, Literal

import pyomo.environ as pyo
from pydantic import Field, NonNegativeFloat, PositiveFloat

from energiemodell.assets import _common as c
from energiemodell.assets.base import Asset, AssetParams, BuildContext, Carrier, register
from energiemodell.model.data import HorizonData


class GridParams(AssetParams):
    """Parameters of the grid connection (prices come from the site's tariffs)."""

    type: Literal["grid"] = "grid"
    max_import_kw: PositiveFloat = Field(description="Contracted import capacity")
    max_export_kw: NonNegativeFloat = Field(default=0.0, description="Allowed feed-in")


@register("grid")
class Grid(Asset[GridParams]):
    """Grid connection.

    Notes
    -----
    - ``import_kw[t] <= max_import * (1 - exporting[t])``, ``export_kw[t] <= max_export *
      exporting[t]`` (binary; no simultaneous import and export to harvest surcharges).
    - ``import_kw[t] <= max_import * avail[t]``, ``export_kw[t] <= max_export * avail[t]``
      (``avail`` is 0 while the connection is out of service).
    - Annual peak: the billing period is the local calendar year; for each of the (at most two)
      billing years ``k`` in the horizon, ``counts[t] * import_kw[t] <= threshold_k +
      rise_kw[k]`` for intervals of year ``k``, where ``threshold_0 = max(peak so far, floor)``
      and ``counts`` is 1 inside the §19 StromNEV windows (or always). Cost ``charge_k *
      rise_kw[k]`` (EUR/kW/a: a rise is paid for the whole year).
    - Energy: ``import * (energy + grid charge + levies) * dt - export * export_price * dt``.
    """

    params_model = GridParams

    def build(self, b: Any, ctx: BuildContext) -> None:
        p = self.params
        b.import_kw = pyo.Var(ctx.T, bounds=(0, p.max_import_kw))
        b.export_kw = pyo.Var(ctx.T, bounds=(0, p.max_export_kw))
        if p.max_export_kw > 0:
            b.exporting = pyo.Var(ctx.T, within=pyo.Binary)
            b.import_side = pyo.Constraint(
                ctx.T, rule=lambda b, t: b.import_kw[t] <= p.max_import_kw * (1 - b.exporting[t])
            )
            b.export_side = pyo.Constraint(
                ctx.T, rule=lambda b, t: b.export_kw[t] <= p.max_export_kw * b.exporting[t]
            )
        for name in ("energy", "fees", "levies", "export_price", "co2", "counts", "seg0", "seg1"):
            setattr(b, name, pyo.Param(ctx.T, mutable=True, initialize=0.0, within=pyo.Reals))
        b.avail = pyo.Param(ctx.T, mutable=True, initialize=1.0, within=pyo.Reals)
        b.available = pyo.Constraint(
            ctx.T, rule=lambda b, t: b.import_kw[t] <= p.max_import_kw * b.avail[t]
        )
        if p.max_export_kw > 0:
            b.export_available = pyo.Constraint(
                ctx.T, rule=lambda b, t: b.export_kw[t] <= p.max_export_kw * b.avail[t]
            )
        b.threshold = pyo.Param([0, 1], mutable=True, initialize=0.0, within=pyo.Reals)
        b.charge = pyo.Param([0, 1], mutable=True, initialize=0.0, within=pyo.Reals)
        b.rise_kw = pyo.Var([0, 1], bounds=(0, None))
        b.peak = pyo.Constraint(
            ctx.T,
            rule=lambda b, t: (
                b.counts[t] * b.import_kw[t]
                <= b.seg0[t] * (b.threshold[0] + b.rise_kw[0])
                + b.seg1[t] * (b.threshold[1] + b.rise_kw[1])
            ),
        )

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        c.set_series(b.energy, data.import_energy_eur_per_kwh)
        c.set_series(b.fees, data.import_fees_eur_per_kwh)
        c.set_series(b.levies, data.import_levies_eur_per_kwh)
        c.set_series(b.export_price, data.export_eur_per_kwh)
        c.set_series(b.co2, data.grid_co2_t_per_kwh)
        c.set_series(b.counts, data.peak_counts)
        c.set_series(b.seg0, 1 - data.peak_segment)
        c.set_series(b.seg1, data.peak_segment)
        c.set_series(b.avail, c.available_units(data, self.name, 1))
        for k in (0, 1):
            b.threshold[k] = float(data.peak_threshold_kw[k])
            b.charge[k] = float(data.peak_charge_eur_per_kw[k])

    def flows(self, b: Any, t: int) -> dict[Carrier, Any]:
        return {Carrier.ELECTRICITY: b.import_kw[t] - b.export_kw[t]}

    def costs(self, b: Any, ctx: BuildContext) -> dict[str, Any]:
        dt = ctx.dt_h
        return {
            c.ELECTRICITY_ENERGY: sum(dt * b.energy[t] * b.import_kw[t] for t in ctx.T),
            c.GRID_ENERGY_CHARGE: sum(dt * b.fees[t] * b.import_kw[t] for t in ctx.T),
            c.LEVIES_TAXES: sum(dt * b.levies[t] * b.import_kw[t] for t in ctx.T),
            c.EXPORT_REVENUE: -sum(dt * b.export_price[t] * b.export_kw[t] for t in ctx.T),
            c.PEAK_CHARGE: b.charge[0] * b.rise_kw[0] + b.charge[1] * b.rise_kw[1],
        }

    def emissions_t(self, b: Any, ctx: BuildContext) -> Any:
        return sum(ctx.dt_h * b.co2[t] * b.import_kw[t] for t in ctx.T)

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        return {Carrier.ELECTRICITY: {"import_kw": 1.0, "export_kw": -1.0}}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        p = self.params
        return {"import_kw": (0.0, p.max_import_kw), "export_kw": (0.0, p.max_export_kw)}

    def outputs(self, b: Any) -> dict[str, Any]:
        return {"import_kw": b.import_kw, "export_kw": b.export_kw}

    def export_kw(self, b: Any, t: int) -> Any:
        return b.export_kw[t]
