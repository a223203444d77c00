"""Run a period window by window, carrying the PlantState from one committed block to the next.

Three strategies share one cost accounting:

- ``perfect_foresight``: plan ``window_h`` (48 h) on the real data, commit the first block
  (``commit_h``, 24 h: one local day), carry the state, move on;
- ``mpc``: as the live loop runs: every ``replan_min`` a :class:`~energiemodell.forecast.Forecaster`
  (by default the loop's :class:`~energiemodell.forecast.ProfileForecaster`) predicts the
  horizon from what is known then, the plan is made on the forecast, and its
  setpoints (CHP output and status, battery flows, flexible loads' power) meet the real
  demand, which boilers, chillers and thermal stores balance;
- ``heat_led``: the conventional rules of :mod:`energiemodell.heat_led`, the baseline.

Every committed block, whatever made its decisions, is costed by the same fixed-dispatch
evaluation (:meth:`energiemodell.model.planner.Planner.evaluate`) on the real data, at a tight
MIP gap; only committed intervals count. The state carried between blocks is: storage levels
(last committed level), each unit's status and time in that state (from its ``on`` column),
the billing year's peak import (intervals that count for the peak only; reset at local New Year),
each CHP's KWKG full-load hours (reset at New Year) and what each flexible load drew in its
open window.

Stores are valued at the window end (``end_value_eur_per_mwh``), so no window drains them; a
store without a value in the site gets :func:`default_storage_values` at
:func:`valuation_price` (for mpc the prices it knew at the start). The change of stored
value over a run is the cost category ``storage_end_value`` (positive: the stores were drawn
down), so strategies that end with different levels compare fairly.

The modules: :mod:`~energiemodell.rolling.windows` (options, block boundaries),
:mod:`~energiemodell.rolling.strategies` (what decides a block),
:mod:`~energiemodell.rolling.costing` (the one accounting of committed blocks),
:mod:`~energiemodell.rolling.carry` (the state carried), :mod:`~energiemodell.rolling.valuation`
(stored energy's end value) and :mod:`~energiemodell.rolling.run` (the run itself).
"""

from energiemodell.rolling.carry import carry_state
from energiemodell.rolling.costing import Block
from energiemodell.rolling.run import RollingResult, run_rolling
from energiemodell.rolling.strategies import (
    DEFAULT_FORECAST,
    FORECASTERS,
    HISTORY_DAYS,
    ForecastName,
    history_known_at,
    make_forecaster,
    setpoint_columns,
)
from energiemodell.rolling.valuation import default_storage_values, valuation_price, value_storage
from energiemodell.rolling.windows import (
    STRATEGIES,
    RollingOptions,
    Strategy,
    block_starts,
    count_blocks,
)

__all__ = [
    "DEFAULT_FORECAST",
    "FORECASTERS",
    "HISTORY_DAYS",
    "STRATEGIES",
    "Block",
    "ForecastName",
    "RollingOptions",
    "RollingResult",
    "Strategy",
    "block_starts",
    "carry_state",
    "count_blocks",
    "default_storage_values",
    "history_known_at",
    "make_forecaster",
    "run_rolling",
    "setpoint_columns",
    "valuation_price",
    "value_storage",
]
