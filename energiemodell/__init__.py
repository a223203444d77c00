"""energiemodell: dispatch optimisation for hospital campuses (Pyomo MILP solved by HiGHS)."""

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
