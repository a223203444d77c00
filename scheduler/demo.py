"""The demo: the control loop in simulated time against the plant simulator over Modbus TCP.

:class:`DemoRun` starts the reference campus's plant simulator (:mod:`connectors.simulator`)
behind a Modbus TCP server on a free local port (:mod:`connectors.modbus_server`), points the
site's devices at it, and runs the production loop (:func:`scheduler.loop.drive`, mode auto)
with a :class:`~scheduler.clock.SimulatedClock` that the simulator follows. The heartbeats run
on their own threads in wall time, because the simulator's watchdog counts wall seconds.

Costs use the planner's own accounting (:meth:`energiemodell.model.planner.Planner.evaluate`) on
the site's series, which are what the simulator plays back: the loop's CHP dispatch (what it
wrote) with boilers, chillers and stores balancing the actual demand, the way
``energiemodell.rolling`` costs its mpc strategy; the heat-led rules over the period; and the
offline perfect-foresight optimum, one plan over the whole period on the actual series.
Peak, CHP hours and unserved energy of the loop are what the simulator measured.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from connectors.binding import build_devices
from connectors.modbus_server import ModbusSimServer
from connectors.overrides import apply_device_overrides, simulator_overrides, site_devices_or_file
from connectors.simulator import PlantSimulator, StepRecord
from energiemodell.assets.chp import Chp
from energiemodell.forecast import PersistenceForecaster
from energiemodell.heat_led import heat_led_dispatch
from energiemodell.model.planner import Planner
from energiemodell.model.schedule import Schedule
from energiemodell.site import Site, site_from_dict
from energiemodell.state import PlantState, UnitState
from energiemodell.store import Database, open_db, upgrade
from energiemodell.timeseries import load_forecast
from scheduler.clock import SimulatedClock
from scheduler.deps import build_deps
from scheduler.dispatch import release
from scheduler.forecasting import ForecastSource, HistoryForecast, SeriesForecast
from scheduler.loop import CycleDeps, CycleReport, drive
from scheduler.settings import Settings

logger = logging.getLogger(__name__)

DEMO_FORECASTS: dict[str, str] = {
    "series": "the site's own series",
    "profile": "ProfileForecaster",
    "persistence": "PersistenceForecaster",
}
"""The demo's forecast choices: the site's series (a perfect forecast), or a forecaster by name."""
DEMO_HORIZON_H = 8.0
"""The demo plans 8 h ahead (the site plans 48 h) so that a simulated day runs in minutes."""
DEMO_MIP_GAP_PU = 0.01
"""The demo's plans stop at a 1 % MIP gap (the site's is 0.5 %), for the same reason."""
DEMO_TIME_LIMIT_S = 10.0


def demo_site(site: Site) -> Site:
    """The site as the demo runs it: mode auto, the demo's gap and time limit."""
    data = site.model_dump(mode="json")
    data["control"].update(mode="auto", mip_gap_pu=DEMO_MIP_GAP_PU, time_limit_s=DEMO_TIME_LIMIT_S)
    return site_from_dict(data, source=site.source, base_dir=site.base_dir)


@dataclass
class Measured:
    """The simulator's flows, energy-weighted into one mean row per site interval."""

    step_min: int
    sums: dict[pd.Timestamp, dict[str, float]] = field(default_factory=dict)
    seconds: dict[pd.Timestamp, float] = field(default_factory=dict)

    def add(self, records: list[StepRecord]) -> None:
        """Add physics steps (each lies within one interval)."""
        for rec in records:
            if rec.dt_s <= 0:
                continue
            key = pd.Timestamp(rec.ts).floor(f"{self.step_min}min")
            acc = self.sums.setdefault(key, {})
            for k, v in rec.flows.items():
                acc[k] = acc.get(k, 0.0) + v * rec.dt_s
            self.seconds[key] = self.seconds.get(key, 0.0) + rec.dt_s

    def frame(self) -> pd.DataFrame:
        """Interval means (kW; levels as time averages)."""
        rows = {k: {q: v / self.seconds[k] for q, v in acc.items()} for k, acc in self.sums.items()}
        return pd.DataFrame.from_dict(rows, orient="index").sort_index()


def plant_state_of(sim: PlantSimulator) -> PlantState:
    """The simulated plant's state now, as a PlantState (for the comparisons' start)."""
    units = {
        u.name: UnitState(on=u.on, time_in_state_h=u.time_in_state_h, p_kw=u.output_kw)
        for u in sim.plant.units.values()
        if u.units == 1
    }
    return PlantState(
        storage_kwh={s.name: s.level_kwh for s in sim.plant.stores.values()}, units=units
    )


class IntervalCost:
    """The cost of each dispatched interval, by the planner's accounting (for the progress).

    A one-interval fixed-dispatch evaluation, on the actual series, of the setpoints the loop
    wrote (every bound Schedule column: CHP output, boiler and chiller output, permissives);
    the stores and the grid balance the actual demand. The peak import so far is carried. An
    interval whose setpoints the model cannot take as they are (a unit below its minimum
    load) is costed with the CHP setpoints alone and counted in :attr:`approximated`.
    """

    def __init__(self, site: Site, columns: list[str]) -> None:
        self.site = site
        self.planner = Planner(site, 1, fixed_dispatch=True)
        self.columns = columns
        self.chp_columns = [
            f"{a.name}.{q}"
            for a in site.asset_objects
            if isinstance(a, Chp)
            for q in ("p_el_kw", "on")
        ]
        self.total_eur = 0.0
        self.co2_t = 0.0
        self.peak_kw = 0.0
        self.approximated = 0
        self.failed = 0

    def add(self, at: datetime, row: pd.Series, state: PlantState) -> float:
        """Cost the interval starting at ``at`` with ``row``'s setpoints; return the total."""
        actual = load_forecast(self.site, pd.Timestamp(at), 1)
        st = state.model_copy(update={"peak_import_kw": self.peak_kw})
        sched = None
        for i, columns in enumerate((self.columns, self.chp_columns)):
            decisions = pd.DataFrame(
                {c: [float(row[c])] for c in columns if c in row.index}, index=actual.index
            )
            sched = self.planner.evaluate(actual, st, decisions)
            if sched.origin != "none":
                self.approximated += i
                break
        if sched is None or sched.origin == "none":
            self.failed += 1
            return self.total_eur
        self.total_eur += sched.cost_eur
        self.co2_t += sched.co2_t
        self.peak_kw = max(self.peak_kw, sched.kpis.get("peak_import_kw", 0.0))
        return self.total_eur


@dataclass
class DemoRun:
    """A simulator, its Modbus server and the control loop wired to it (use as a context)."""

    site: Site
    start: pd.Timestamp
    intervals: int
    out_dir: Path
    horizon_h: float = DEMO_HORIZON_H
    serve_modbus: bool = True
    forecast: str = "series"
    sim: PlantSimulator = field(init=False)
    server: ModbusSimServer | None = field(default=None, init=False)
    db: Database = field(init=False)
    deps: CycleDeps = field(init=False)
    clock: SimulatedClock = field(init=False)
    measured: Measured = field(init=False)
    start_state: PlantState = field(init=False)
    reports: list[CycleReport] = field(default_factory=list, init=False)
    written_rows: dict[pd.Timestamp, pd.Series] = field(default_factory=dict, init=False)

    def __enter__(self) -> DemoRun:
        site = site_devices_or_file(demo_site(self.site))
        lead = timedelta(seconds=site.control.lead_time_s)
        begin = self.start - lead
        self.sim = PlantSimulator(site, start=begin)
        self.start_state = plant_state_of(self.sim)
        self.clock = SimulatedClock(begin.to_pydatetime())
        self.measured = Measured(site.step_min)
        self.clock.subscribe(lambda now: self.measured.add(self.sim.advance_to(now)))
        if self.serve_modbus:
            units = {i: d.name for i, d in enumerate(site.devices, start=1)}
            self.server = ModbusSimServer(self.sim, {0: units}).start()
            port = self.server.ports[0]
            site = apply_device_overrides(
                site, simulator_overrides(site, host="127.0.0.1", port=port)
            )
            devices: dict[str, Any] = dict(build_devices(site))
        else:
            devices = {d.name: self.sim.device(d.name) for d in site.devices}
        self.site = site
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.db = open_db(f"sqlite:///{self.out_dir / 'store.sqlite'}")
        upgrade(db=self.db)
        settings = Settings(mode="auto", horizon_h=self.horizon_h, heartbeat_s=2.0)
        forecaster: ForecastSource = SeriesForecast(site)
        if self.forecast == "profile":
            forecaster = HistoryForecast(site, self.db)
        elif self.forecast == "persistence":
            forecaster = HistoryForecast(site, self.db, PersistenceForecaster(), "persistence")
        self.deps = build_deps(
            site,
            db=self.db,
            clock=self.clock,
            devices=devices,
            settings=settings,
            forecaster=forecaster,
        )
        for hb in self.deps.heartbeats.values():
            hb.start()
        return self

    def run(self, after: Callable[[CycleReport], None] | None = None) -> list[CycleReport]:
        """Drive the loop over the demo's intervals."""

        def record(report: CycleReport) -> None:
            if report.written and self.deps.runtime.last_row is not None:
                self.written_rows[pd.Timestamp(report.interval_start)] = self.deps.runtime.last_row
            self.reports.append(report)
            if after is not None:
                after(report)

        drive(self.deps, self.clock, intervals=self.intervals, after=record)
        return self.reports

    def __exit__(self, *exc: object) -> None:
        deps = getattr(self, "deps", None)
        if deps is not None:
            for hb in deps.heartbeats.values():
                hb.stop()
            release(deps.writers, reason="demo finished: back to local control")
            for dev in deps.devices.values():
                dev.close()
        if self.server is not None:
            self.server.stop()
        db = getattr(self, "db", None)
        if db is not None:
            db.dispose()


def evaluate_period(
    site: Site, start: pd.Timestamp, n: int, state: PlantState
) -> dict[str, Schedule]:
    """Heat-led rules and the offline perfect-foresight optimum over the period, same accounting."""
    actual = load_forecast(site, start, n)
    rules, _ = heat_led_dispatch(site, actual, state)
    heat_led = Planner(site, n, fixed_dispatch=True).evaluate(actual, state, rules)
    optimum = Planner(site, n).plan(actual, state, marginal_prices=False)
    return {"heat_led": heat_led, "perfect_foresight": optimum}


def loop_kpis(run: DemoRun, cost_eur: float) -> dict[str, float]:
    """What the simulator measured under the loop, with the loop's cost."""
    m = run.measured.frame()
    n = run.intervals
    period = m.loc[run.start : run.start + pd.Timedelta(minutes=run.site.step_min * (n - 1))]
    dt_h = run.site.step_min / 60
    out = {"cost_eur": cost_eur}
    out["peak_import_kw"] = float(period.get("grid.import_kw", pd.Series([0.0])).max())
    out["unserved_kwh"] = float(
        sum(period[c].sum() for c in period.columns if c.startswith("unserved.")) * dt_h
    )
    for a in run.site.asset_objects:
        if isinstance(a, Chp) and f"{a.name}.p_el_kw" in period:
            on = period[f"{a.name}.p_el_kw"] > 1e-6
            out[f"run_hours.{a.name}"] = float(on.sum() * dt_h)
    return out


def schedule_kpis(s: Schedule) -> dict[str, float]:
    """The comparison's numbers of an evaluated or planned Schedule."""
    out = {
        "cost_eur": s.cost_eur,
        "co2_t": s.co2_t,
        "peak_import_kw": s.kpis.get("peak_import_kw", math.nan),
        "unserved_kwh": s.unserved_kwh,
    }
    out.update({k: v for k, v in s.kpis.items() if k.startswith("run_hours.chp")})
    return out
