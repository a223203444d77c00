"""The reference campus for a simulated day: the loop against the plant simulator over Modbus TCP.

The loop runs exactly as ``energiemodell demo`` runs it (mode auto, the site's series as the
forecast), with a 2-hour horizon to keep the test short.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from energiemodell.site import Site
from energiemodell.store import writes_between
from scheduler.demo import DemoRun
from scheduler.policy import Rung


@pytest.mark.slow
@pytest.mark.solver
@pytest.mark.integration
def test_reference_campus_day_over_modbus(reference_site: Site, tmp_path):
    start = pd.Timestamp("2024-03-11T23:00Z")  # local midnight of 2024-03-12
    levels: dict[pd.Timestamp, dict[str, float]] = {}
    with DemoRun(reference_site, start, 96, tmp_path, horizon_h=2.0) as run:

        def at_interval_start(now: datetime) -> None:
            ts = pd.Timestamp(now)
            if ts == ts.floor("15min"):
                levels[ts] = {s.name: s.level_kwh for s in run.sim.plant.stores.values()}

        run.clock.subscribe(at_interval_start)  # after the simulator's own subscription
        reports = run.run()
        deps, site = run.deps, run.site
        measured = run.measured.frame()
        rows = dict(run.written_rows)
        stored_writes = writes_between(
            db=run.db, start=start - pd.Timedelta(hours=1), end=start + pd.Timedelta(days=2)
        )
    expected = [start + k * pd.Timedelta(minutes=15) for k in range(96)]
    assert [pd.Timestamp(r.interval_start) for r in reports] == expected  # none missed
    assert all(r.written for r in reports)
    assert {r.rung for r in reports} <= {Rung.FRESH, Rung.TIME_LIMITED}
    # every setpoint written is within its point's and its asset's limits, and confirmed
    assert stored_writes
    assert all(w.result in ("confirmed", "unchanged") for w in stored_writes)
    for b in deps.bindings:
        p = deps.devices[b.device].register_map.point(b.point)
        values = [w.value for w in stored_writes if w.device == b.device and w.point == b.point]
        assert values, b
        if b.switch:
            assert set(values) <= {0.0, 1.0}
            continue
        assert p.limits is not None
        assert all(p.limits.min - 1e-6 <= v <= p.limits.max + 1e-6 for v in values)
        if b.asset_limits is not None:
            assert all(b.asset_limits.min - 1e-6 <= v <= b.asset_limits.max + 1e-6 for v in values)
    # the plan's storage levels at each interval end are what the simulator's stores hold then
    worst = {}
    for at, row in rows.items():
        end = at + pd.Timedelta(minutes=15)
        if end not in levels:
            continue
        for a in site.asset_objects:
            spec = a.storage_spec()
            if spec is None:
                continue
            diff = abs(float(row[f"{a.name}.level_kwh"]) - levels[end][a.name])
            worst[a.name] = max(worst.get(a.name, 0.0), diff / a.storage_capacity_kwh())
    assert set(worst) == {"tes_heat", "tes_cold"}
    assert max(worst.values()) < 0.05, worst
    # nothing went unserved in the simulated plant
    unserved = [c for c in measured.columns if c.startswith("unserved.")]
    assert unserved
    assert float(measured[unserved].to_numpy().sum()) * 0.25 == pytest.approx(0, abs=1e-6)
