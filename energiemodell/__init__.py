"""energiemodell: dispatch optimisation for hospital campuses (Pyomo MILP solved by HiGHS).

The public names are imported lazily, so ``import energiemodell.store`` (the CLI's ``db``
commands, the dashboard) does not pay for importing Pyomo.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from energiemodell.model.planner import Planner, optimise
    from energiemodell.model.schedule import Schedule
    from energiemodell.site import Site, load_site
    from energiemodell.state import PlantState
    from energiemodell.timeseries import Forecast, load_forecast

__all__ = [
    "Forecast",
    "Planner",
    "PlantState",
    "Schedule",
    "Site",
    "load_forecast",
    "load_site",
    "optimise",
]
__version__ = "0.1.0"

_HOME = {
    "Forecast": "energiemodell.timeseries",
    "PlantState": "energiemodell.state",
    "Planner": "energiemodell.model.planner",
    "Schedule": "energiemodell.model.schedule",
    "Site": "energiemodell.site",
    "load_forecast": "energiemodell.timeseries",
    "load_site": "energiemodell.site",
    "optimise": "energiemodell.model.planner",
}


def __getattr__(name: str) -> typing.Any:
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    msg = f"module 'energiemodell' has no attribute {name!r}"
    raise AttributeError(msg)
