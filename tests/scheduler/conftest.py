"""A tiny site with fake devices and a fake plant behind them, and the store, for loop tests.

The site (grid, one CHP, a boiler group, a heat store; 4-hour horizon) has three devices: the
CHP controller and the BMS gateway (shipped maps, with heartbeat and remote-enable handshakes)
and a signal box (a test map: heat-store level, grid import, a standby contact). The fake plant
follows the simulated clock: it runs what the devices were told while they are under remote
control and covers the heat demand with the boilers under local control.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from connectors.binding import _map_of
from connectors.device import FakeDevice
from connectors.registers import Role, Table, decode
from energiemodell.site import Site, load_site
from energiemodell.store import Database, open_db, upgrade
from energiemodell.timeseries import load_forecast
from scheduler.clock import SimulatedClock
from scheduler.deps import build_deps
from scheduler.loop import CycleDeps, PlanMaker
from scheduler.settings import Settings
from tests.conftest import write_site_files

START = datetime(2024, 3, 12, 5, 0, tzinfo=UTC)
"""06:00 local on the small site's day: the first interval the tests dispatch."""
LEAD = timedelta(seconds=120)

SIGNALS_MAP = {
    "model": "site_signals",
    "description": "Test signal box: heat-store level, grid import, standby contact",
    "word_order": "big",
    "points": {
        "tes_level_kwh": {"table": "input", "address": 0, "type": "float32", "unit": "kWh"},
        "grid_import_kw": {"table": "input", "address": 2, "type": "float32", "unit": "kW"},
        "standby": {"table": "discrete", "address": 0},
    },
}

ASSETS: list[dict[str, Any]] = [
    {"name": "grid", "type": "grid", "max_import_kw": 2000, "max_export_kw": 500},
    {
        "name": "chp1",
        "type": "chp",
        "p_el_max_kw": 400,
        "p_el_min_pu": 0.5,
        "eta_el": 0.4,
        "eta_th": 0.45,
        "min_up_h": 1.0,
        "min_down_h": 0.5,
        "start_cost_eur": 10,
    },
    {"name": "boilers", "type": "boiler", "units": 2, "q_max_kw": 1000, "eta": 0.95},
    {
        "name": "tes",
        "type": "thermal_storage",
        "carrier": "heat",
        "capacity_kwh": 800,
        "charge_max_kw": 400,
        "discharge_max_kw": 400,
    },
]

DEVICES: list[dict[str, Any]] = [
    {
        "name": "chp1_ctrl",
        "map": "chp_controller",
        "host": "127.0.0.1",
        "asset": "chp1",
        "points": {"p_el_kw": {"quantity": "chp1.p_el_kw"}, "running": {"quantity": "chp1.on"}},
        "setpoints": {"chp1.p_el_kw": "p_el_setpoint_kw", "chp1.on": "start_request"},
    },
    {
        "name": "gateway",
        "map": "bms_gateway",
        "host": "127.0.0.1",
        "setpoints": {"boilers.q_kw": "boiler_q_kw_set"},
    },
    {
        "name": "signals",
        "map": "signals.yaml",
        "host": "127.0.0.1",
        "points": {
            "tes_level_kwh": {"quantity": "tes.level_kwh"},
            "grid_import_kw": {"quantity": "grid.import_kw"},
            "standby": {"quantity": "site.standby"},
        },
    },
]


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not extra, f"leaked threads: {extra}"


@pytest.fixture
def tiny_site(tmp_path: Path) -> Site:
    """The tiny site with its devices, written to disk and loaded."""
    directory = tmp_path / "site"
    directory.mkdir()
    (directory / "signals.yaml").write_text(yaml.safe_dump(SIGNALS_MAP), encoding="utf-8")
    control = {"horizon_h": 4, "time_limit_s": 20, "mip_gap_pu": 0.001, "mode": "auto"}
    path = write_site_files(directory, assets=ASSETS, devices=DEVICES, control=control)
    return load_site(path)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite store in the test's directory."""
    handle = open_db(f"sqlite:///{tmp_path / 'store.sqlite'}")
    upgrade(db=handle)
    yield handle
    handle.dispose()


class PlantDevice(FakeDevice):
    """A fake device whose handshake points answer at once and that may ignore some writes."""

    mirror: dict[tuple[Table, int], tuple[Table, int]]
    ignore: set[tuple[Table, int]]

    def _write_registers(self, table: Table, address: int, words: list[int]) -> None:
        if (table, address) in self.ignore:
            self.requests.append(("write", table, address, len(words)))
            self._check(table, address, len(words))
            return  # the device acknowledges and keeps its old value
        super()._write_registers(table, address, words)
        target = self.mirror.get((table, address))
        if target is not None:
            self.set_words(target[0], target[1], words)


def plant_devices(site: Site) -> dict[str, PlantDevice]:
    """Fake devices for the tiny site's bindings (remote-enable mirrored into the local state)."""
    out = {}
    for b in site.devices:
        dev = PlantDevice(
            name=b.name,
            rmap=_map_of(site, b),
            quantities={p: pb.quantity for p, pb in b.points.items()},
            stale_after_s=3600.0,
        )
        dev.ignore = set()
        dev.mirror = {
            (Table.COIL, 1): (Table.DISCRETE, 3),  # chp_controller: remote_enable -> remote_active
            (Table.HOLDING, 1): (Table.INPUT, 0),  # bms_gateway: remote_enable -> local_state
        }
        out[b.name] = dev
    return out


@dataclass
class FakePlant:
    """The tiny site's plant behind its fake devices, following the simulated clock."""

    site: Site
    devices: dict[str, PlantDevice]
    clock: SimulatedClock
    level_kwh: float = 400.0
    t: datetime = field(init=False)
    demand: pd.DataFrame = field(init=False)
    heat_kwh: float = 0.0

    def __post_init__(self) -> None:
        self.t = self.clock.now()
        day = pd.Timestamp("2024-03-11T23:00Z")
        self.demand = load_forecast(self.site, day, 96)
        self.publish()
        self.clock.subscribe(self.move)

    def _value(self, name: str, point: str) -> float:
        """What the device's registers hold (the plant's side: no request, no fault)."""
        dev = self.devices[name]
        p = dev.rmap.point(point)
        regs = dev.registers[p.table]
        words = [regs.get(a, 0) for a in range(p.address, p.address + p.count)]
        if p.table.is_bits:
            return float(bool(words[0]))
        return float(decode(dev.rmap, point, words) or 0.0)

    def _remote(self, name: str) -> bool:
        dev = self.devices[name]
        state = dev.rmap.with_role(Role.LOCAL_STATE)
        return state is not None and self._value(name, state) == 1.0

    def move(self, now: datetime) -> None:
        """Run the plant from its last time to ``now`` with what the devices hold."""
        while self.t < now:
            step_end = min(
                now, pd.Timestamp(self.t).floor("15min").to_pydatetime() + timedelta(minutes=15)
            )
            dt_h = (step_end - self.t).total_seconds() / 3600
            row = self.demand.loc[pd.Timestamp(self.t).floor("15min")]
            heat = float(row["demand.heat_kw"])
            chp_on = self._remote("chp1_ctrl") and self._value("chp1_ctrl", "start_request") > 0
            p_chp = self._value("chp1_ctrl", "p_el_setpoint_kw") if chp_on else 0.0
            q_chp = p_chp * 0.45 / 0.4
            if self._remote("gateway"):
                q_boiler = self._value("gateway", "boiler_q_kw_set")
            else:
                q_boiler = max(0.0, heat - q_chp)
            self.level_kwh = min(max(self.level_kwh + (q_chp + q_boiler - heat) * dt_h, 0.0), 800.0)
            self.heat_kwh += heat * dt_h
            self.t = step_end
            self.p_chp, self.grid_kw = p_chp, max(0.0, float(row["demand.electricity_kw"]) - p_chp)
            self.publish()

    def publish(self) -> None:
        """Put the plant's measurements into the device registers."""
        chp = self.devices["chp1_ctrl"]
        p = getattr(self, "p_chp", 0.0)
        chp.set_value("p_el_kw", p)
        chp.set_value("running", p > 0)
        sig = self.devices["signals"]
        sig.set_value("tes_level_kwh", self.level_kwh)
        sig.set_value("grid_import_kw", getattr(self, "grid_kw", 0.0))


def settings(**overrides: Any) -> Settings:
    """Loop settings for the tests (short confirmation timeout, 10-minute stale limit)."""
    values: dict[str, Any] = {"stale_limit_s": 600.0, "confirm_timeout_s": 0.5}
    values.update(overrides)
    return Settings(**values)


@dataclass
class Rig:
    """A tiny site, its fake plant and the loop's dependencies."""

    site: Site
    db: Database
    clock: SimulatedClock
    devices: dict[str, PlantDevice]
    plant: FakePlant
    deps: CycleDeps

    def rebuild(self, *, planner: PlanMaker | None = None, **overrides: Any) -> CycleDeps:
        """New deps on the same site, devices and store (a restart of the service)."""
        self.deps = build_deps(
            self.site,
            db=self.db,
            clock=self.clock,
            devices=self.devices,
            settings=settings(**overrides),
            planner=planner,
        )
        return self.deps


@pytest.fixture
def rig(tiny_site: Site, db: Database) -> Callable[..., Rig]:
    """``rig(planner=None, **settings)``: build the tiny site's loop at 05:58 UTC."""

    def make(*, planner: PlanMaker | None = None, **overrides: Any) -> Rig:
        clock = SimulatedClock(START - LEAD)
        devices = plant_devices(tiny_site)
        plant = FakePlant(tiny_site, devices, clock)
        deps = build_deps(
            tiny_site,
            db=db,
            clock=clock,
            devices=devices,
            settings=settings(**overrides),
            planner=planner,
        )
        return Rig(tiny_site, db, clock, devices, plant, deps)

    return make
