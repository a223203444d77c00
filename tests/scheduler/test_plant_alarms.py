"""Plant alarms of the loop: grid import above the connection's limit, a new annual peak."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from scheduler.loop import drive
from scheduler.plant_alarms import plant_alarms

pytestmark = pytest.mark.solver


def codes(report) -> list[str]:
    return [a.code for a in report.alarms]


def test_import_above_the_contracted_capacity_is_a_critical_alarm(rig):
    r = rig()
    (first,) = drive(r.deps, r.clock, intervals=1)
    assert "plant.grid_over_limit" not in codes(first)
    r.devices["signals"].set_value("grid_import_kw", 2500.0)  # the tiny site's limit: 2000 kW
    (second,) = drive(r.deps, r.clock, intervals=1)
    (alarm,) = [a for a in second.alarms if a.code == "plant.grid_over_limit"]
    assert alarm.severity == "critical"
    assert "grid: import 2,500 kW" in alarm.message
    assert "above the contracted 2,000 kW" in alarm.message


def test_a_rise_of_the_years_peak_is_raised_once(rig):
    r = rig()
    reports = drive(r.deps, r.clock, intervals=4)
    raised = [(k, a) for k, x in enumerate(reports) for a in x.alarms if a.code == "plant.new_peak"]
    # the first cycle has nothing to compare with; once the first bucket of readings is
    # aggregated the year's peak rises from nothing, once; the tiny site has no demand charge
    (k, alarm), *more = raised
    assert k > 0
    assert more == []
    assert alarm.severity == "warning"
    assert alarm.message == "the billing year's highest 15-minute import rose from 0 to 60 kW"


def test_the_peak_alarm_prices_the_rise_with_the_tariffs_demand_charge(reference_site):
    at = datetime(2024, 3, 12, 9, 58, tzinfo=UTC)
    rate = reference_site.tariff_at(date(2024, 3, 12)).electricity.demand_charge_eur_per_kw_a
    (alarm,) = plant_alarms(reference_site, {}, at=at, peak_before_kw=3000.0, peak_now_kw=3100.0)
    assert alarm.message.endswith(
        f": {100 * rate:,.0f} EUR more demand charge at {rate:g} EUR/kW/a"
    )
    assert plant_alarms(reference_site, {}, at=at, peak_before_kw=3000.0, peak_now_kw=3000.4) == []
    assert plant_alarms(reference_site, {}, at=at, peak_before_kw=None, peak_now_kw=3100.0) == []
