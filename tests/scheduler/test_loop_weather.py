"""The loop plans on imported weather: the forecast it stores with each plan uses it, flagged.

The tiny site (no weather series of its own) runs the real planner, forecaster and SQLite store
in simulated time; weather is imported with the CLI into the same store between cycles.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from energiemodell.store import forecasts_issued
from scheduler.cli_import import import_app
from scheduler.loop import drive
from scheduler.policy import Rung
from tests.scheduler.conftest import LEAD, START

pytestmark = pytest.mark.solver

STEP = timedelta(minutes=15)


def test_the_loops_forecast_uses_imported_weather_and_flags_the_rest(rig, db, tmp_path: Path):
    r = rig()
    (first,) = drive(r.deps, r.clock, intervals=1)
    assert first.rung is Rung.FRESH
    (stored,) = forecasts_issued(db=db, start=START - LEAD, end=START + STEP)
    assert (stored.frame["weather.is_fallback"] == 1.0).all()  # nothing imported yet
    assert "weather.temp_c" not in stored.frame.columns  # and the site has no weather series

    # two hours of hourly weather (no --site: the forecaster puts it on the 15-minute step)
    t0 = START + STEP
    lines = ["timestamp,temp_c,ghi_w_m2"] + [
        f"{(t0 + timedelta(hours=k)).isoformat()},{temp},0" for k, temp in enumerate((-10, -6))
    ]
    f = tmp_path / "weather.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    url = db.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(import_app, ["weather", str(f), "--db", url])
    assert result.exit_code == 0, result.output

    (second,) = drive(r.deps, r.clock, intervals=1)
    assert second.interval_start == t0
    assert second.rung is Rung.FRESH
    (stored,) = forecasts_issued(db=db, start=START, end=START + 2 * STEP)
    frame = stored.frame
    covered = frame.index < t0 + timedelta(hours=2)
    assert covered.sum() == 8
    assert (frame["weather.is_fallback"][covered] == 0.0).all()
    assert (frame["weather.is_fallback"][~covered] == 1.0).all()
    # temperatures interpolated between the hourly values, the last one held to its hour's end
    np.testing.assert_allclose(frame["weather.temp_c"][covered], [-10, -9, -8, -7, -6, -6, -6, -6])
