"""Build the dispatch model once per site and horizon length; update its data every plan.

The builder never names an asset type: each asset adds its block (``m.asset[name]``), the
balances sum the assets' flows, the objective sums their costs, emissions and penalties.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo

from energiemodell.assets.base import Asset, BuildContext, Carrier
from energiemodell.errors import ModelBuildError
from energiemodell.model import security
from energiemodell.model.data import HorizonData
from energiemodell.site import Site

logger = logging.getLogger(__name__)


@dataclass
class BuiltModel:
    """A built model with the objects needed to update it and read it back."""

    site: Site
    model: Any
    ctx: BuildContext
    assets: dict[str, Asset[Any]]
    carriers: list[Carrier]
    cost_terms: dict[str, dict[str, Any]] = field(default_factory=dict)
    penalty_terms: dict[str, Any] = field(default_factory=dict)
    emission_terms: dict[str, Any] = field(default_factory=dict)


def build_model(site: Site, n: int) -> BuiltModel:
    """Build the MILP for ``site`` over ``n`` intervals (data left to :func:`update_model`).

    Notes
    -----
    For every carrier ``c`` and interval ``t`` (kW)::

        sum_a flow[a, c, t] + shed_crit[c, t] + shed_other[c, t] - surplus[c, t] == demand[c, t]
        shed_crit[c, t] <= share_c * demand[c, t],  shed_other[c, t] <= (1 - share_c) * demand[c, t]

    Objective (EUR): money cost + penalties (unserved critical >> non-critical >> N-1 >> reserve
    >> storage end shortfall; surplus like non-critical) + ``co2_weight * emissions``.
    Constants (start values of valued storage, fixed test runs) are kept out of the objective.
    """
    dt_h = site.step_min / 60
    ctx = BuildContext(n=n, dt_h=dt_h)
    m = pyo.ConcreteModel(name=site.name)
    assets = {a.name: a for a in site.asset_objects}

    def asset_rule(b: Any, name: str) -> None:
        try:
            assets[name].build(b, ctx)
        except (ValueError, TypeError, KeyError) as exc:
            msg = f"{name}: cannot build the asset: {exc}"
            raise ModelBuildError(msg) from exc

    m.ASSETS = pyo.Set(initialize=list(assets), ordered=True)
    m.asset = pyo.Block(m.ASSETS, rule=asset_rule)
    flows: dict[Carrier, list[list[Any]]] = {c: [[] for _ in ctx.T] for c in Carrier}
    for name, a in assets.items():
        b = m.asset[name]
        for t in ctx.T:
            for carrier, expr in a.flows(b, t).items():
                flows[carrier][t].append(expr)
    carriers = [c for c in Carrier if any(flows[c][t] for t in ctx.T)]
    m.C = pyo.Set(initialize=[str(c) for c in carriers], ordered=True)
    m.demand = pyo.Param(m.C, ctx.T, mutable=True, initialize=0.0, within=pyo.Reals)
    m.crit_max = pyo.Param(m.C, ctx.T, mutable=True, initialize=0.0, within=pyo.Reals)
    m.other_max = pyo.Param(m.C, ctx.T, mutable=True, initialize=0.0, within=pyo.Reals)
    m.shed_crit = pyo.Var(m.C, ctx.T, bounds=(0, None))
    m.shed_other = pyo.Var(m.C, ctx.T, bounds=(0, None))
    m.surplus = pyo.Var(m.C, ctx.T, bounds=(0, None))
    m.crit_limit = pyo.Constraint(
        m.C, ctx.T, rule=lambda m, c, t: m.shed_crit[c, t] <= m.crit_max[c, t]
    )
    m.other_limit = pyo.Constraint(
        m.C, ctx.T, rule=lambda m, c, t: m.shed_other[c, t] <= m.other_max[c, t]
    )
    m.balance = pyo.Constraint(
        m.C,
        ctx.T,
        rule=lambda m, c, t: (
            sum(flows[Carrier(c)][t]) + m.shed_crit[c, t] + m.shed_other[c, t] - m.surplus[c, t]
            == m.demand[c, t]
        ),
    )
    _link_subsidised_export(m, ctx, assets)
    _break_symmetry(m, ctx, assets)
    m.slack_floor = pyo.Param(mutable=True, initialize=0.0, within=pyo.Reals)
    built = BuiltModel(site=site, model=m, ctx=ctx, assets=assets, carriers=carriers)
    security.add_security(built)
    _add_objective(built)
    return built


def _link_subsidised_export(m: Any, ctx: BuildContext, assets: dict[str, Asset[Any]]) -> None:
    """KWKG: the power claimed as fed in never exceeds what the grid takes."""
    sub = [(n, a) for n, a in assets.items() if a.subsidised_export_kw(m.asset[n], 0) is not None]
    exp = [(n, a) for n, a in assets.items() if a.export_kw(m.asset[n], 0) is not None]
    if not sub:
        return
    m.subsidised_le_export = pyo.Constraint(
        ctx.T,
        rule=lambda m, t: (
            pyo.quicksum([a.subsidised_export_kw(m.asset[n], t) for n, a in sub])
            <= pyo.quicksum([a.export_kw(m.asset[n], t) for n, a in exp])
        ),
    )


def _symmetry_key(a: Asset[Any]) -> str:
    return str(a.params.model_dump_json(exclude={"name", "description"}))


def _break_symmetry(m: Any, ctx: BuildContext, assets: dict[str, Asset[Any]]) -> None:
    """Order the commitment of identical single units: ``on[second] <= on[first] + relax``.

    ``relax[t]`` is 1 (no ordering) while the two units differ in state or in any of their data
    (availability, held-on intervals, KWKG hours left, ...), so the ordering only removes mirror
    images, never a feasible plan.
    """
    groups: dict[str, list[str]] = {}
    for name, a in assets.items():
        if a.commitment(m.asset[name]) is not None and a.units() == 1:
            groups.setdefault(a.type_name + _symmetry_key(a), []).append(name)
    pairs = [(g[i], g[i + 1]) for g in groups.values() for i in range(len(g) - 1)]
    if not pairs:
        return
    m.SYM = pyo.Set(initialize=range(len(pairs)), ordered=True)
    m.sym_pairs = pairs
    m.sym_relax = pyo.Param(m.SYM, ctx.T, mutable=True, initialize=1.0, within=pyo.Reals)
    m.symmetry = pyo.Constraint(
        m.SYM,
        ctx.T,
        rule=lambda m, k, t: (
            m.asset[pairs[k][1]].on[t] <= m.asset[pairs[k][0]].on[t] + m.sym_relax[k, t]
        ),
    )


def _add_objective(built: BuiltModel) -> None:
    m, ctx, site = built.model, built.ctx, built.site
    pen = site.penalties
    terms: list[Any] = []
    for name, a in built.assets.items():
        b = m.asset[name]
        built.cost_terms[name] = a.costs(b, ctx)
        built.emission_terms[name] = a.emissions_t(b, ctx)
        for kind, expr in a.penalties(b, ctx).items():
            built.penalty_terms[f"{kind}.{name}"] = expr
        terms.extend(built.cost_terms[name].values())
    dt = ctx.dt_h
    crit = security.slack_price(m, pen.unserved_critical_eur_per_mwh, dt, 4)
    other = security.slack_price(m, pen.unserved_noncritical_eur_per_mwh, dt, 3)
    built.penalty_terms["unserved_critical"] = crit * pyo.quicksum(m.shed_crit.values())
    built.penalty_terms["unserved_noncritical"] = other * pyo.quicksum(m.shed_other.values())
    built.penalty_terms["surplus"] = other * pyo.quicksum(m.surplus.values())
    terms.extend(built.penalty_terms.values())
    m.co2_weight = pyo.Param(mutable=True, initialize=0.0, within=pyo.Reals)
    m.objective = pyo.Objective(
        expr=pyo.quicksum(terms) + m.co2_weight * pyo.quicksum(built.emission_terms.values()),
        sense=pyo.minimize,
    )


def update_model(built: BuiltModel, data: HorizonData) -> None:
    """Copy one plan's data into the model's mutable parameters."""
    m, ctx = built.model, built.ctx
    if data.n != ctx.n:
        msg = f"the Forecast has {data.n} intervals but the model was built for {ctx.n}"
        raise ModelBuildError(msg)
    for carrier in built.carriers:
        demand = data.demand_kw[carrier]
        share = data.critical_pu[carrier]
        for t in ctx.T:
            d = max(0.0, float(demand[t]))
            m.demand[str(carrier), t] = d
            m.crit_max[str(carrier), t] = float(share[t]) * d
            m.other_max[str(carrier), t] = (1 - float(share[t])) * d
    for carrier in Carrier:
        if carrier not in built.carriers and (data.demand_kw[carrier] > 1e-9).any():
            msg = f"there is {carrier} demand but no asset can supply {carrier}"
            raise ModelBuildError(msg)
    for name, a in built.assets.items():
        a.update(m.asset[name], ctx, data)
    m.co2_weight.set_value(data.co2_weight_eur_per_t)
    m.slack_floor.set_value(max(data.peak_charge_eur_per_kw))
    _update_symmetry(built, data)
    security.update_security(built, data)


def _update_symmetry(built: BuiltModel, data: HorizonData) -> None:
    m = built.model
    if not hasattr(m, "sym_pairs"):
        return
    for k, (first, second) in enumerate(m.sym_pairs):
        b1, b2 = m.asset[first], m.asset[second]
        same = data.state.units.get(first) == data.state.units.get(second) and _same_data(b1, b2)
        for t in built.ctx.T:
            m.sym_relax[k, t] = 0.0 if same else 1.0


def _same_data(b1: Any, b2: Any) -> bool:
    """Whether two blocks of identical units hold the same values in every mutable parameter."""
    p2 = {p.local_name: p for p in b2.component_objects(pyo.Param, descend_into=False)}
    for p1 in b1.component_objects(pyo.Param, descend_into=False):
        other = p2.get(p1.local_name)
        if other is None or p1.extract_values() != other.extract_values():
            return False
    return True
