"""Alarms from what the plant did, whatever the plan said: the grid connection and the peak.

- ``plant.grid_over_limit`` (critical): a measured grid import above the connection's contracted
  capacity (``max_import_kw``), which the main protection may trip on and the network operator
  bills for. Only fresh (good) readings count.
- ``plant.new_peak`` (warning): the billing year's highest 15-minute mean import rose since the
  last cycle, so the demand charge does. Not raised by the first cycle after a start, which has
  nothing to compare with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pandas as pd

from connectors.device import Quality
from connectors.poller import QuantityValue
from energiemodell.assets.grid import Grid
from energiemodell.site import Site
from scheduler.policy import Alarm

PEAK_TOLERANCE_KW = 0.5
"""A peak rise smaller than this is noise of the aggregation, not a new peak."""


def plant_alarms(
    site: Site,
    values: Mapping[str, QuantityValue],
    *,
    at: datetime,
    peak_before_kw: float | None,
    peak_now_kw: float,
) -> list[Alarm]:
    """The plant alarms of one cycle (module notes)."""
    alarms = []
    for a in site.asset_objects:
        if not isinstance(a, Grid):
            continue
        v = values.get(f"{a.name}.import_kw")
        limit = a.params.max_import_kw
        if v is not None and v.quality is Quality.GOOD and v.value > limit:
            msg = (
                f"{a.name}: import {v.value:,.0f} kW at {v.ts.isoformat()} is above the "
                f"contracted {limit:,.0f} kW"
            )
            alarms.append(Alarm("plant.grid_over_limit", "critical", msg))
    if peak_before_kw is not None and peak_now_kw > peak_before_kw + PEAK_TOLERANCE_KW:
        rise = peak_now_kw - peak_before_kw
        msg = (
            f"the billing year's highest 15-minute import rose from {peak_before_kw:,.0f} to "
            f"{peak_now_kw:,.0f} kW"
        )
        tariff = site.tariff_at(pd.Timestamp(at).tz_convert(site.timezone).date())
        rate = 0.0 if tariff is None else tariff.electricity.demand_charge_eur_per_kw_a
        if rate > 0:
            msg += f": {rise * rate:,.0f} EUR more demand charge at {rate:g} EUR/kW/a"
        alarms.append(Alarm("plant.new_peak", "warning", msg))
    return alarms
