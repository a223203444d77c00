"""Local calendar days: the store's default time zone and a day's bounds in UTC.

Schedule versions by day, plan-versus-actual and the billing year (``state``) are counted in
local time; the store keeps UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Europe/Berlin"


def local_day_bounds(day: date, tz: str = DEFAULT_TZ) -> tuple[datetime, datetime]:
    """UTC start and end of a local calendar day (23 or 25 hours on DST change days)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, datetime.min.time(), zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)
