"""The plant at the start of the interval being planned, from this poll and the store.

Sources, in order of trust:

- storage levels (``<asset>.level_kwh``, or estimated from the store's layer temperatures
  ``<asset>.t_*_c`` with :func:`connectors.estimates.storage_level_kwh` and the tank's empty
  and full temperatures from the settings) and unit status (``<asset>.on``, units on for groups)
  from this poll's good or stale readings;
- where a quantity is not measured (or its reading is bad): the plan that was dispatched for
  the interval that is ending (its level and status), noted with the schedule's inputs;
- time in state from the store's raw readings (since when a unit has been on or off), else from
  what the loop itself saw since it started;
- what each steered flexible load drew in its open window (:func:`scheduler.store_view.
  flexible_drawn`: measured, else the plan in force);
- peak import so far in the billing year and each CHP's KWKG hours from the store's aggregates.
  The KWKG hours count the CHP's whole output (``<chp>.p_el_kw``): conservative, since only
  power fed into the grid counts towards the cap.

The estimate also says which bound measurements are stale beyond the limit and whether a
standby signal is set; the policy turns both into a release to local control.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from connectors.estimates import storage_level_kwh
from connectors.poller import QuantityValue
from energiemodell.assets.emergency_generator import EmergencyGenerator
from energiemodell.site import Site
from energiemodell.state import PlantState, UnitState
from energiemodell.store import StoredState

LEVEL = "level_kwh"
_TEMP = re.compile(r"^[a-z][a-z0-9_]*\.t_[a-z0-9_]+_c$")
ON = "on"


@dataclass(frozen=True)
class Estimate:
    """The state estimate of one cycle.

    Attributes
    ----------
    state
        The PlantState handed to the planner.
    stale
        Bound quantities without a reading younger than the stale limit (``name: age``).
    standby
        Standby signals that are set (grid outage, emergency generators running).
    notes
        What was not measured and where the value came from instead.
    """

    state: PlantState
    stale: list[str] = field(default_factory=list)
    standby: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class UnitMemory:
    """What the loop itself saw of each unit: on or off, and since when."""

    seen: dict[str, tuple[bool, datetime]] = field(default_factory=dict)

    def update(self, name: str, on: bool, at: datetime) -> datetime:
        """Record that ``name`` is ``on`` at ``at``; return since when it has been so."""
        prev = self.seen.get(name)
        if prev is None or prev[0] != on:
            self.seen[name] = (on, at)
        return self.seen[name][1]


def bound_quantities(site: Site) -> list[str]:
    """Every site quantity a device point of the site measures."""
    return sorted({pb.quantity for d in site.devices for pb in d.points.values()})


def estimate_state(
    site: Site,
    values: Mapping[str, QuantityValue],
    *,
    at: datetime,
    stored: StoredState | None,
    previous_row: pd.Series | None,
    memory: UnitMemory,
    stale_limit_s: float,
    standby_quantities: Sequence[str],
    tank_temps_c: Mapping[str, tuple[float, float]],
    flexible_kwh: Mapping[str, float] | None = None,
) -> Estimate:
    """Estimate the PlantState at ``at`` (the start of the interval being planned)."""
    notes: list[str] = []
    stale = []
    for q in bound_quantities(site):
        v = values.get(q)
        if v is None:
            stale.append(f"{q}: no usable reading")
        elif (age := (at - v.ts).total_seconds()) > stale_limit_s:
            stale.append(f"{q}: {age:.0f} s old")
    levels: dict[str, float] = {}
    units: dict[str, UnitState] = {}
    for a in site.asset_objects:
        spec = a.storage_spec()
        if spec is not None:
            level = _level(a.name, spec.carrier, a.storage_capacity_kwh(), values, tank_temps_c)
            if level is None:
                level = _value(values, f"{a.name}.{LEVEL}", previous_row, notes)
            if level is not None:
                levels[a.name] = level
        on_col = f"{a.name}.{ON}"
        if on_col not in values and (previous_row is None or on_col not in previous_row.index):
            continue
        on_value = _value(values, on_col, previous_row, notes)
        if on_value is None:
            continue
        on = on_value >= 0.5
        seen_before = a.name in memory.seen
        since = memory.update(a.name, on, at)
        if stored is not None and stored.units_on.get(a.name) == on:
            stored_since = stored.on_since.get(a.name)
            if stored_since is not None:
                since = min(since, stored_since)
        if since < at:
            in_state_h = (at - since) / timedelta(hours=1)
        else:  # first sight without history: free to switch; a change seen now: just switched
            in_state_h = 0.0 if seen_before else 1000.0
        p_kw = _plain(values, f"{a.name}.p_el_kw")
        units[a.name] = UnitState(
            on=on,
            time_in_state_h=in_state_h,
            p_kw=None if p_kw is None else max(p_kw, 0.0),
            units_on=round(on_value) if a.units() > 1 else None,
        )
    state = PlantState(
        storage_kwh=levels,
        units=units,
        peak_import_kw=0.0 if stored is None else max(stored.peak_import_kw, 0.0),
        kwkg_hours_used={} if stored is None else dict(stored.kwkg_hours_used),
        flexible_kwh=dict(flexible_kwh or {}),
    )
    return Estimate(
        state=state,
        stale=stale,
        standby=standby_signals(site, values, at=at, quantities=standby_quantities),
        notes=notes,
    )


def standby_signals(
    site: Site, values: Mapping[str, QuantityValue], *, at: datetime, quantities: Sequence[str]
) -> list[str]:
    """Standby signals that are set: configured quantities non-zero, generators running.

    An emergency generator running outside its planned test runs means the grid is gone or the
    site is on emergency power: the optimiser stands down.
    """
    out = [f"{q} = {values[q].value:g}" for q in quantities if q in values and values[q].value]
    for a in site.asset_objects:
        if not isinstance(a, EmergencyGenerator):
            continue
        running = _plain(values, f"{a.name}.{ON}")
        if running is None or running < 0.5:
            continue
        local = pd.Timestamp(at).tz_convert(site.timezone).tz_localize(None)
        testing = any(
            pd.Timestamp(r.start).tz_localize(None)
            <= local
            < pd.Timestamp(r.start).tz_localize(None) + pd.Timedelta(hours=r.duration_h)
            for r in a.params.test_runs
        )
        if not testing:
            out.append(f"{a.name} running outside its test runs")
    return out


def _level(
    name: str,
    carrier: str,
    capacity_kwh: float,
    values: Mapping[str, QuantityValue],
    tank_temps_c: Mapping[str, tuple[float, float]],
) -> float | None:
    """A store's level: measured directly, else estimated from its layer temperatures."""
    direct = _plain(values, f"{name}.{LEVEL}")
    if direct is not None:
        return direct
    temps = [
        v.value for q, v in sorted(values.items()) if _TEMP.match(q) and q.startswith(f"{name}.")
    ]
    if not temps or str(carrier) not in tank_temps_c:
        return None
    t_empty, t_full = tank_temps_c[str(carrier)]
    return storage_level_kwh(temps, capacity_kwh=capacity_kwh, t_empty_c=t_empty, t_full_c=t_full)


def _plain(values: Mapping[str, QuantityValue], quantity: str) -> float | None:
    v = values.get(quantity)
    return None if v is None or not math.isfinite(v.value) else v.value


def _value(
    values: Mapping[str, QuantityValue],
    quantity: str,
    previous_row: pd.Series | None,
    notes: list[str],
) -> float | None:
    """The measured value, else the dispatched plan's (noted), else ``None`` (defaults)."""
    measured = _plain(values, quantity)
    if measured is not None:
        return measured
    if previous_row is not None and quantity in previous_row.index:
        planned = float(previous_row[quantity])
        if math.isfinite(planned):
            notes.append(f"{quantity} not measured: the dispatched plan's {planned:g} is used")
            return planned
    return None
