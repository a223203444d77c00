"""The plan version and the site in force, and the time helpers every view shares.

The site a plan was made for comes from the store (its content is kept with every schedule
version), so the dashboard needs no site file. Re-exported by :mod:`scheduler.web.data`.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import yaml

from energiemodell.errors import SiteError
from energiemodell.site import Site, site_from_dict
from energiemodell.store import (
    Database,
    ScheduleInfo,
    latest_schedule_info,
    schedule_versions,
    site_content,
)

logger = logging.getLogger(__name__)

STEP = timedelta(minutes=15)
WRITE_OK = ("confirmed", "unchanged", "ok")
CARRIERS = ("electricity", "heat", "cooling")


def floor_interval(ts: datetime) -> datetime:
    """Start of the 15-minute interval holding ``ts`` (UTC)."""
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % 900, UTC)


def local_date(ts: datetime, tz: str) -> date:
    """The local calendar date of ``ts``."""
    return ts.astimezone(ZoneInfo(tz)).date()


@lru_cache(maxsize=16)
def _parse_site(site_hash: str, text: str) -> Site | None:
    try:
        return site_from_dict(yaml.safe_load(text), source=f"store:{site_hash[:12]}")
    except (SiteError, yaml.YAMLError) as exc:
        logger.warning("stored site %s no longer validates: %s", site_hash[:12], exc)
        return None


def site_for(db: Database, info: ScheduleInfo | None) -> Site | None:
    """The site a schedule version was planned for (``None``: unknown or no longer valid)."""
    if info is None:
        return None
    try:
        text = site_content(db=db, site_hash=info.site_hash)
    except KeyError:
        return None
    return _parse_site(info.site_hash, text)


def newest_info(db: Database, at: datetime, tz: str) -> ScheduleInfo | None:
    """The version in force at ``at``, else the newest made in the week before."""
    info = latest_schedule_info(db=db, at=at)
    if info is not None:
        return info
    day = local_date(at, tz)
    for back in range(8):
        made = [
            v
            for v in schedule_versions(db=db, day=day - timedelta(days=back), tz=tz)
            if v.created_at <= at
        ]
        if made:
            return made[-1]
    return None


def carrier_columns(site: Site | None) -> dict[str, list[tuple[str, float]]]:
    """Carrier -> the schedule columns that feed it and their sign (+ supply, - use)."""
    out: dict[str, list[tuple[str, float]]] = {c: [] for c in CARRIERS}
    for asset in site.asset_objects if site is not None else []:
        for carrier, cols in asset.balance_columns().items():
            out[str(carrier)] += [(f"{asset.name}.{q}", float(k)) for q, k in cols.items()]
    return {c: cols for c, cols in out.items() if cols}
