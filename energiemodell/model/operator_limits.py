"""Operator overrides in the model: pinned values and storage targets from the PlantState.

The model's structure never changes: a pin sets both bounds of the asset's own variable
for the pinned intervals (``chp1.p_el_kw`` holds ``asset[chp1].p_el_kw[t]``), a storage
target raises the lower bound of the store's ``level_kwh`` at the interval that ends at the
target time. Everything held by the previous plan is released first, so the persistent
solver only receives new variable bounds
(:meth:`energiemodell.model.solve.HighsSolver.update_variables`).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import pyomo.environ as pyo

from energiemodell.errors import ModelBuildError
from energiemodell.model.build import BuiltModel
from energiemodell.model.data import HorizonData

logger = logging.getLogger(__name__)


class OperatorLimits:
    """Holds a built model's variables at the PlantState's pins and storage targets.

    Notes
    -----
    For a pin of column ``a.q`` with value ``v`` covering interval ``t``: ``v <= a.q[t] <= v``
    (clipped into the variable's static bounds). For a target ``L`` kWh of store ``s`` by ``T``:
    ``level_kwh[s, t*] >= min(L, level_max)`` with ``t*`` the last interval that ends at or
    before ``T``; targets beyond the horizon wait for a later plan.
    """

    def __init__(self, built: BuiltModel) -> None:
        self.built = built
        self._held: dict[int, tuple[Any, Any, Any]] = {}  # id(var) -> (var, static lb, ub)

    def apply(self, data: HorizonData) -> list[Any]:
        """Release last plan's holds, apply this plan's; return every variable touched."""
        touched: list[Any] = []
        for var, lb, ub in self._held.values():
            var.setlb(lb)
            var.setub(ub)
            touched.append(var)
        self._held = {}
        for column, pins in data.state.pins.items():
            var = self._variable(column)
            for t, ts in enumerate(data.index):
                held = [p for p in pins if p.covers(ts.to_pydatetime())]
                if held:
                    value = _clip(var[t], held[-1].value)
                    self._hold(var[t], value, value, touched)
        step = pd.Timedelta(hours=data.dt_h)
        ends = data.index + step
        for name, targets in data.state.storage_targets.items():
            level = self._variable(f"{name}.level_kwh")
            for target in targets:
                by = pd.Timestamp(target.by)
                before = [t for t, end in enumerate(ends) if end <= by]
                if not before or ends[-1] < by:
                    continue  # beyond this horizon (or already past): a later plan holds it
                v = level[before[-1]]
                self._hold(v, _clip(v, max(target.level_kwh, float(v.lb or 0.0))), v.ub, touched)
        # distinct, in a stable order: the solver interface pushes each bound once
        return list({id(v): v for v in touched}.values())

    def _hold(self, var: Any, lb: float, ub: Any, touched: list[Any]) -> None:
        self._held.setdefault(id(var), (var, var.lb, var.ub))
        var.setlb(lb)
        var.setub(ub)
        touched.append(var)

    def _variable(self, column: str) -> Any:
        name, _, quantity = column.partition(".")
        asset = self.built.assets.get(name)
        var = None
        if asset is not None:
            var = asset.outputs(self.built.model.asset[name]).get(quantity)
        if not isinstance(var, pyo.Var):
            msg = f"{column}: not a decision of the model, cannot be pinned or targeted"
            raise ModelBuildError(msg)
        return var


def _clip(var: Any, value: float) -> float:
    """``value`` inside the variable's static bounds (integers rounded)."""
    if var.is_integer() or var.is_binary():
        value = float(round(value))
    if var.ub is not None:
        value = min(value, float(var.ub))
    if var.lb is not None:
        value = max(value, float(var.lb))
    return value
