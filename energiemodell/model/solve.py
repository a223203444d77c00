"""The only solver code: HiGHS through Pyomo's persistent interface, outcomes not exceptions."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from energiemodell.errors import SolveError

logger = logging.getLogger(__name__)

# Everything :meth:`HighsSolver.solve` has already pushed to HiGHS before setting the start.
_NO_UPDATES = {
    "check_for_new_or_removed_constraints": False,
    "check_for_new_or_removed_vars": False,
    "check_for_new_or_removed_params": False,
    "check_for_new_objective": False,
    "update_constraints": False,
    "update_vars": False,
    "update_parameters": False,
    "update_named_expressions": False,
    "update_objective": False,
}


class SolveStatus(StrEnum):
    """How a solve ended. Only ``error`` means there is no plan at all."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"
    ERROR = "error"


@dataclass
class SolveOutcome:
    """Result of one solve: status, objective, bound, relative gap and timing."""

    status: SolveStatus
    has_solution: bool
    objective: float | None
    bound: float | None
    mip_gap: float | None
    solve_s: float
    message: str = ""


class HighsSolver:
    """A persistent HiGHS instance bound to one Pyomo model.

    The first :meth:`solve` translates the model (``set_instance``); later solves only push
    changed parameter values, so a re-plan costs the data update plus HiGHS itself.
    """

    def __init__(
        self,
        *,
        time_limit_s: float,
        mip_gap_pu: float,
        threads: int,
        seed: int,
        fixed_dispatch: bool = False,
    ) -> None:
        try:
            from pyomo.contrib.solver.solvers.highs import Highs
        except ImportError as exc:  # pragma: no cover - highspy is a dependency
            msg = f"HiGHS interface not available: {exc}"
            raise SolveError(msg) from exc
        # Fixed variables (evaluations, operator pins) become column bounds: with the default
        # (fixed variables as parameters) every fix re-translates the constraints that use them.
        opt = Highs(treat_fixed_vars_as_params=False)
        if not opt.available():
            msg = "highspy is not installed or not working"
            raise SolveError(msg)
        cfg = opt.config
        cfg.load_solutions = False
        cfg.raise_exception_on_nonoptimal_result = False
        cfg.time_limit = time_limit_s
        cfg.rel_gap = mip_gap_pu
        cfg.threads = threads
        cfg.solver_options = {"random_seed": seed, "output_flag": False}
        au = cfg.auto_updates
        # The model's structure never changes after the build: only parameter values do.
        au.check_for_new_or_removed_constraints = False
        au.check_for_new_or_removed_vars = False
        au.check_for_new_or_removed_params = False
        au.check_for_new_objective = False
        au.update_constraints = False
        au.update_vars = fixed_dispatch  # only evaluation fixes variables between solves
        au.update_named_expressions = False
        self._opt = opt
        self._model: Any = None

    @property
    def highs(self) -> Any:
        """The underlying ``highspy.Highs`` object (after the first solve)."""
        return self._opt._solver_model

    def solve(self, model: Any, *, start: list[tuple[Any, float]] | None = None) -> SolveOutcome:
        """Solve ``model``; load the best solution found into its variables."""
        from pyomo.common.tee import capture_output
        from pyomo.contrib.solver.common.results import TerminationCondition

        t0 = time.perf_counter()
        try:
            # HiGHS writes notices (zero coefficients, banner) to the process's stdout.
            with capture_output(capture_fd=True) as out:
                if self._model is not model:
                    self._opt.set_instance(model)
                    self._model = model
                else:
                    # Push the new data first: HiGHS drops a start solution on any model change,
                    # and Pyomo's solve() would otherwise push it after the start is set.
                    self._opt.update()
                if start:
                    self._set_start(start)
                res = self._opt.solve(model, auto_updates=_NO_UPDATES)
            if out.getvalue().strip():
                logger.debug("HiGHS: %s", out.getvalue().strip()[:2000])
        except Exception as exc:  # the solver crashed: the caller falls back
            logger.exception("HiGHS failed")
            return SolveOutcome(
                SolveStatus.ERROR, False, None, None, None, time.perf_counter() - t0, str(exc)
            )
        elapsed = time.perf_counter() - t0
        tc = res.termination_condition
        has = res.incumbent_objective is not None
        if tc == TerminationCondition.convergenceCriteriaSatisfied:
            status = SolveStatus.OPTIMAL
        elif tc in (TerminationCondition.maxTimeLimit, TerminationCondition.iterationLimit):
            status = SolveStatus.TIME_LIMIT
        elif tc in (
            TerminationCondition.provenInfeasible,
            TerminationCondition.infeasibleOrUnbounded,
            TerminationCondition.unbounded,
        ):
            status = SolveStatus.INFEASIBLE
        else:
            status = SolveStatus.ERROR
        if has:
            res.solution_loader.load_vars()
        obj, bound = res.incumbent_objective, res.objective_bound
        gap = None
        if obj is not None and bound is not None:
            gap = abs(obj - bound) / max(abs(obj), 1e-9) if abs(obj - bound) > 1e-9 else 0.0
        return SolveOutcome(status, has, obj, bound, gap, elapsed, str(tc))

    def update_variables(self, variables: list[Any]) -> None:
        """Push changed bounds or fixings of ``variables`` (operator pins) to the instance.

        Before the first solve there is nothing to push: ``set_instance`` reads them all.
        """
        if self._model is not None and variables:
            self._opt.update_variables(variables)

    def _set_start(self, start: list[tuple[Any, float]]) -> None:
        """Pass a (partial) start solution to HiGHS, e.g. the previous plan shifted."""
        vmap = self._opt._pyomo_var_to_solver_var_map
        idx, vals = [], []
        for var, val in start:
            j = vmap.get(id(var))
            if j is not None:
                idx.append(j)
                vals.append(val)
        if not idx:
            return
        # Sparse start: HiGHS completes the missing values itself (a partial MIP start).
        self.highs.setSolution(len(idx), np.array(idx, dtype=np.int32), np.array(vals, dtype=float))

    def lp_duals(self, rows: list[Any]) -> np.ndarray | None:
        """Row duals of the LP with every integer fixed at its current solution value.

        Solved on a copy of the HiGHS model, so the MIP instance and its state are untouched.
        """
        import highspy
        from pyomo.common.tee import capture_output

        h = self.highs
        sol = h.getSolution()
        if not sol.value_valid:
            return None
        lp = h.getLp()
        col_value = np.asarray(sol.col_value)
        integ = np.asarray(lp.integrality_)
        with capture_output(capture_fd=True):  # HiGHS prints a banner on construction
            copy = highspy.Highs()  # type: ignore[no-untyped-call]
            copy.setOptionValue("output_flag", False)
            copy.passModel(lp)
            if len(integ):
                ints = np.flatnonzero(integ != highspy.HighsVarType.kContinuous).astype(np.int32)
                if len(ints):
                    fixed = np.round(col_value[ints])
                    copy.changeColsBounds(len(ints), ints, fixed, fixed)
                    kinds = np.full(len(ints), highspy.HighsVarType.kContinuous)
                    copy.changeColsIntegrality(len(ints), ints, kinds)
            copy.run()
        if copy.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        duals = np.asarray(copy.getSolution().row_dual)
        cmap = self._opt._pyomo_con_to_solver_con_map
        return np.array([duals[cmap[r]] for r in rows])
