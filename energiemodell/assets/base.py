"""The asset contract: parameters, registration and the hooks the model builder calls.

Each asset type lives in one module of this package. It defines a pydantic parameter model
(``type: Literal[...]`` plus typed, unit-named fields) and an :class:`Asset` subclass registered
with :func:`register`. The model builder never names an asset type: it asks every asset for its
variables (:meth:`Asset.build`), its data (:meth:`Asset.update`), its flows into the balanced
carriers (:meth:`Asset.flows`), its money costs (:meth:`Asset.costs`), emissions and penalties.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from energiemodell.model.data import HorizonData


class Carrier(StrEnum):
    """A balanced energy carrier. Gas is not balanced: it is costed by the asset that burns it."""

    ELECTRICITY = "electricity"
    HEAT = "heat"
    COOLING = "cooling"


class AssetParams(BaseModel):
    """Fields every asset has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Unique asset name (lower case)")
    type: str = Field(description="Asset type, one of the registered types")
    description: str = Field(default="", description="Free text shown in reports")


P = TypeVar("P", bound=AssetParams)

Expr = Any  # a Pyomo linear expression, variable or number


@dataclass(frozen=True)
class StorageSpec:
    """A store's static limits and dynamics, for checking a solved Schedule without the model.

    ``level[t] = level[t-1] * (1 - loss_pu_per_h * dt) + (eta_charge * charge[t]
    - discharge[t] / eta_discharge) * dt``; ``exclusive`` stores never charge and discharge
    in the same interval. ``level_default_kwh`` is the start level when none is measured.
    """

    carrier: Carrier
    level_min_kwh: float
    level_max_kwh: float
    level_default_kwh: float
    eta_charge: float
    eta_discharge: float
    loss_pu_per_h: float
    exclusive: bool


@dataclass
class BuildContext:
    """What an asset needs to build its block: the time set and the step length.

    ``n`` is the fixed number of intervals of the planner's horizon; interval 0 starts "now".
    """

    n: int
    dt_h: float
    T: range = field(init=False)

    def __post_init__(self) -> None:
        self.T = range(self.n)


class Asset(Generic[P]):
    """Base class of the asset types.

    Subclasses set ``params_model`` (through :func:`register`) and override the hooks they need.
    Quantities in :meth:`outputs` become Schedule columns ``<name>.<quantity>``.
    """

    type_name: ClassVar[str]
    params_model: ClassVar[type[AssetParams]]

    def __init__(self, params: P) -> None:
        self.params = params

    @property
    def name(self) -> str:
        """The asset's unique name."""
        return self.params.name

    def build(self, b: Any, ctx: BuildContext) -> None:
        """Add variables, mutable parameters and constraints to the asset's block ``b``."""

    def update(self, b: Any, ctx: BuildContext, data: HorizonData) -> None:
        """Set the block's mutable parameters from the horizon data (every plan)."""

    def flows(self, b: Any, t: int) -> dict[Carrier, Expr]:
        """Net supply of the asset into each balanced carrier in interval ``t`` (kW)."""
        return {}

    def costs(self, b: Any, ctx: BuildContext) -> dict[str, Expr]:
        """Money cost (EUR, revenues negative) over the horizon by category."""
        return {}

    def emissions_t(self, b: Any, ctx: BuildContext) -> Expr:
        """CO2 emitted over the horizon (t)."""
        return 0.0

    def penalties(self, b: Any, ctx: BuildContext) -> dict[str, Expr]:
        """Soft-constraint penalties (EUR-equivalent) by kind."""
        return {}

    def outputs(self, b: Any) -> dict[str, Any]:
        """Indexed variables or expressions reported in the Schedule, by quantity name."""
        return {}

    def commitment(self, b: Any) -> Any | None:
        """The on/off binary variable indexed by time, if the asset has one."""
        return None

    def balance_columns(self) -> dict[Carrier, dict[str, float]]:
        """:meth:`flows` in Schedule columns: ``flow[c, t] = sum(k * frame[name.q][t])``.

        Keys are the carriers of :meth:`flows`, values map a quantity of :meth:`outputs` to
        its sign or coefficient, so checks can rebuild every balance from a Schedule alone.
        """
        return {}

    def column_limits(self) -> dict[str, tuple[float, float]]:
        """Static bounds ``(low, high)`` of quantities of :meth:`outputs` (kW, kWh, units on)."""
        return {}

    def storage_spec(self) -> StorageSpec | None:
        """The store's limits and dynamics; ``None`` for assets that store nothing."""
        return None

    def capacity_kw(self, carrier: Carrier) -> float:
        """Maximum output into ``carrier`` (kW) when running, used by the N-1 rules."""
        return 0.0

    def start_time_min(self) -> float:
        """Minutes from a start request to full output (N-1 response)."""
        return 0.0

    def units(self) -> int:
        """Number of identical units the asset stands for (groups count units on)."""
        return 1

    def storage_capacity_kwh(self) -> float:
        """Usable storage capacity (kWh); zero for non-storage assets."""
        return 0.0

    def storage_bridge(self, b: Any, t: int) -> tuple[Carrier, Expr, Expr, float] | None:
        """For N-1: (carrier, level at the start of ``t`` in kWh, availability, discharge kW)."""
        return None

    def subsidised_export_kw(self, b: Any, t: int) -> Expr | None:
        """Power claimed as fed into the grid for a surcharge (KWKG); must not exceed export."""
        return None

    def export_kw(self, b: Any, t: int) -> Expr | None:
        """Power fed into the public grid in interval ``t`` (the grid asset)."""
        return None

    def constant_eur(self, b: Any, ctx: BuildContext) -> dict[str, float]:
        """Money terms that do not depend on decisions, kept out of the solver's objective."""
        return {}


ASSET_TYPES: dict[str, type[Asset[Any]]] = {}


def register(type_name: str) -> Callable[[type[Asset[Any]]], type[Asset[Any]]]:
    """Register an asset class under ``type_name`` (the site's ``type:`` value)."""

    def decorate(cls: type[Asset[Any]]) -> type[Asset[Any]]:
        if type_name in ASSET_TYPES:
            msg = f"asset type {type_name!r} registered twice"
            raise ValueError(msg)
        cls.type_name = type_name
        ASSET_TYPES[type_name] = cls
        return cls

    return decorate


def make_asset(params: AssetParams) -> Asset[Any]:
    """Instantiate the registered asset class for validated parameters."""
    return ASSET_TYPES[params.type](params)
