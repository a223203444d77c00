"""Hospital supply security: N-1 for heat (and cooling), the battery backup reserve.

Rules that span assets live here and ask the assets through small methods
(``capacity_kw``, ``commitment``, ``units``, ``start_time_min``, ``storage_bridge``), never
through their types. Every rule is a penalised slack, so a shortfall is reported, not hidden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyomo.environ as pyo

from energiemodell.assets.base import Carrier

if TYPE_CHECKING:
    from energiemodell.model.build import BuiltModel
    from energiemodell.model.data import HorizonData


def slack_price(m: Any, base_eur_per_mwh: float, dt_h: float, rank: int) -> Any:
    """Price (EUR per kW and step) of a security slack: its base price plus ``rank`` floors.

    The floor ``m.slack_floor`` is the horizon's largest demand charge (EUR/kW/a): a one-step
    slack of rank >= 1 then always costs more than raising the year's peak by the same kW, so
    no plan sheds load, gives up N-1 or touches the reserve to save a peak charge, and the
    ranks keep the penalty order (critical 4 > non-critical 3 > N-1 2 > reserve 1).
    """
    return base_eur_per_mwh / 1000 * dt_h + rank * m.slack_floor


def add_security(built: BuiltModel) -> None:
    """Add the N-1 and reserve rules the site asks for.

    Notes
    -----
    N-1 for carrier ``c`` (heat; cooling if ``cooling_n1``), every interval ``t`` and every
    producer ``u`` (kW)::

        sum_v contrib[v, t] - loss[u, t] + sum_s bridge[s, t] + n1_short[c, t] >= D[c, t]

    - ``contrib[v, t] = cap_v * on[v, t]`` for committed units that start slower than the
      response time; ``cap_v * avail[v, t]`` for units without commitment and for units that
      start within the response time (standby counts);
    - ``loss[u, t]`` is the contribution of one unit of ``u``: all of a single unit's
      contribution; for a group of identical units ``cap_u * any_on[u, t]`` (slow, with
      ``on/units <= any_on <= on``) or ``cap_u * [avail >= 1]`` (fast);
    - ``bridge[s, t] <= discharge_max * avail`` and ``bridge[s, t] <= (level at the start of
      t - level_min) / bridge_time_h`` for each store of carrier ``c``;
    - ``D`` is the carrier's demand series (absorption-chiller drive heat is not part of it, so
      it may be shed); for cooling the critical share unless ``n1_cooling_demand: total``.

    Battery reserve: ``level_kwh[t] + reserve_short[b, t] >= backup_reserve_kwh``.
    """
    rules = built.site.security
    m, ctx = built.model, built.ctx
    carriers = [Carrier.HEAT] if rules.heat_n1 else []
    if rules.cooling_n1:
        carriers.append(Carrier.COOLING)
    m.n1_rules = []
    for carrier in carriers:
        if carrier in built.carriers:
            _add_n1(built, carrier)
    reserve = [
        name
        for name, a in built.assets.items()
        if getattr(a.params, "backup_reserve_kwh", 0.0) > 0 and rules.battery_reserve
    ]
    if reserve:
        m.RES = pyo.Set(initialize=reserve, ordered=True)
        m.reserve_short = pyo.Var(m.RES, ctx.T, bounds=(0, None))
        m.reserve = pyo.Constraint(
            m.RES,
            ctx.T,
            rule=lambda m, r, t: (
                m.asset[r].level_kwh[t] + m.reserve_short[r, t]
                >= built.assets[r].params.backup_reserve_kwh
            ),
        )
        price = slack_price(m, built.site.penalties.reserve_shortfall_eur_per_mwh, ctx.dt_h, 1)
        built.penalty_terms["reserve_shortfall"] = price * pyo.quicksum(m.reserve_short.values())


def _add_n1(built: BuiltModel, carrier: Carrier) -> None:
    m, ctx, rules = built.model, built.ctx, built.site.security
    key = str(carrier)
    producers: list[tuple[str, float, int, Any, bool]] = []
    for name, a in built.assets.items():
        cap = a.capacity_kw(carrier)
        if cap <= 0 or a.storage_capacity_kwh() > 0:
            continue
        b = m.asset[name]
        on = a.commitment(b)
        fast = on is None or a.start_time_min() <= rules.response_time_min
        producers.append((name, cap, a.units(), on, fast))
    stores: list[tuple[str, tuple[Carrier, Any, Any, float]]] = []
    for name, a in built.assets.items():
        spec0 = a.storage_bridge(m.asset[name], 0)
        if spec0 is not None and spec0[0] == carrier:
            stores.append((name, spec0))
    blk = pyo.Block()
    setattr(m, f"n1_{key}", blk)
    blk.U = pyo.Set(initialize=[p[0] for p in producers], ordered=True)
    blk.short = pyo.Var(ctx.T, bounds=(0, None))
    blk.demand = pyo.Param(ctx.T, mutable=True, initialize=0.0, within=pyo.Reals)
    blk.fast_avail = pyo.Param(blk.U, ctx.T, mutable=True, initialize=0.0, within=pyo.Reals)

    def contrib(name: str, cap: float, on: Any, fast: bool, t: int) -> Any:
        b = m.asset[name]
        return cap * (b.avail[t] if fast else on[t])

    groups = [p for p in producers if p[2] > 1 and not p[4]]
    blk.G = pyo.Set(initialize=[p[0] for p in groups], ordered=True)
    blk.any_on = pyo.Var(blk.G, ctx.T, within=pyo.Binary)
    units = {p[0]: p[2] for p in producers}
    blk.any_lo = pyo.Constraint(
        blk.G, ctx.T, rule=lambda blk, g, t: units[g] * blk.any_on[g, t] >= m.asset[g].on[t]
    )
    blk.any_hi = pyo.Constraint(
        blk.G, ctx.T, rule=lambda blk, g, t: blk.any_on[g, t] <= m.asset[g].on[t]
    )

    def loss(name: str, cap: float, n_units: int, on: Any, fast: bool, t: int) -> Any:
        if n_units == 1:
            return contrib(name, cap, on, fast, t)
        if fast:
            return cap * blk.fast_avail[name, t]
        return cap * blk.any_on[name, t]

    blk.S = pyo.Set(initialize=[s[0] for s in stores], ordered=True)
    blk.bridge = pyo.Var(blk.S, ctx.T, bounds=(0, None))
    bridges = dict(stores)

    def bridge_power(blk: Any, s: str, t: int) -> Any:
        _, _, avail, p_max = bridges[s]
        return blk.bridge[s, t] <= p_max * avail

    def bridge_energy(blk: Any, s: str, t: int) -> Any:
        spec = built.assets[s].storage_bridge(m.asset[s], t)
        assert spec is not None  # noqa: S101  (stores were selected by having a bridge)
        return blk.bridge[s, t] * rules.bridge_time_h <= spec[1]

    blk.bridge_power = pyo.Constraint(blk.S, ctx.T, rule=bridge_power)
    blk.bridge_energy = pyo.Constraint(blk.S, ctx.T, rule=bridge_energy)
    total = [
        pyo.quicksum(contrib(n, cap, on, fast, t) for n, cap, _, on, fast in producers)
        + pyo.quicksum(blk.bridge[s, t] for s in blk.S)
        for t in ctx.T
    ]
    spec = {p[0]: p for p in producers}
    blk.cover = pyo.Constraint(
        blk.U,
        ctx.T,
        rule=lambda blk, u, t: total[t] - loss(*spec[u], t) + blk.short[t] >= blk.demand[t],
    )
    price = slack_price(m, built.site.penalties.n1_shortfall_eur_per_mwh, ctx.dt_h, 2)
    built.penalty_terms[f"n1_shortfall_{key}"] = price * pyo.quicksum(blk.short.values())
    m.n1_rules.append(key)


def update_security(built: BuiltModel, data: HorizonData) -> None:
    """Set the N-1 demand and the standby availability of fast groups."""
    m = built.model
    rules = built.site.security
    for key in m.n1_rules:
        blk = getattr(m, f"n1_{key}")
        carrier = Carrier(key)
        demand = data.demand_kw[carrier]
        if carrier == Carrier.COOLING and rules.n1_cooling_demand == "critical":
            demand = demand * data.critical_pu[carrier]
        for t in built.ctx.T:
            blk.demand[t] = max(0.0, float(demand[t]))
            for u in blk.U:
                blk.fast_avail[u, t] = 1.0 if m.asset[u].avail[t].value >= 1 else 0.0
