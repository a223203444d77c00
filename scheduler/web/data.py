"""What the pages and the API show, composed from the store's functions (no SQL here).

Everything is computed from the store on request: the plan in force per interval, the
measured aggregates, alarms, operator actions and the audit trail. The site a plan was made
for comes from the store as well (its content is kept with every schedule version), so the
dashboard needs no site file.

The routes import from here; the code lives by page:

- :mod:`scheduler.web.plans`: the plan version and site in force, interval and date helpers
- :mod:`scheduler.web.today`: the Today page (ladder rung, setpoints, open alarms, release)
- :mod:`scheduler.web.day_plan`: the Day plan page (versions and their changes, why units run,
  the day as CSV) and the versions a reviewer may approve
- :mod:`scheduler.web.history`: the History page (one interval's record, the audit trail as CSV)
"""

from __future__ import annotations

from scheduler.web.day_plan import (
    DayView,
    IntervalWhy,
    VersionChange,
    approval_candidates,
    day_csv,
    day_plan,
    interval_why,
    version_changes,
)
from scheduler.web.history import IntervalRecord, audit_csv, interval_record
from scheduler.web.plans import (
    CARRIERS,
    STEP,
    WRITE_OK,
    carrier_columns,
    floor_interval,
    local_date,
    newest_info,
    site_for,
)
from scheduler.web.today import (
    LADDER,
    TodayView,
    active_alarms,
    ladder_rung,
    latest_writes,
    pending_release,
    today,
)

__all__ = [
    "CARRIERS",
    "LADDER",
    "STEP",
    "WRITE_OK",
    "DayView",
    "IntervalRecord",
    "IntervalWhy",
    "TodayView",
    "VersionChange",
    "active_alarms",
    "approval_candidates",
    "audit_csv",
    "carrier_columns",
    "day_csv",
    "day_plan",
    "floor_interval",
    "interval_record",
    "interval_why",
    "ladder_rung",
    "latest_writes",
    "local_date",
    "newest_info",
    "pending_release",
    "site_for",
    "today",
    "version_changes",
]
