"""What the store knows about the plant at a time: levels, units on/off, peak, KWKG hours.

The billing period of the peak charge and the KWKG hour cap is the calendar year in the
site's time zone (Europe/Berlin by default). Both are computed from closed 15-minute
aggregates (newest revision), so the peak "so far" is the highest 15-minute mean import of
the buckets that ended by ``at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Executable,
    Select,
    bindparam,
    case,
    func,
    literal,
    select,
    text,
    union_all,
)

from energiemodell.store.db import Database
from energiemodell.store.readings import BUCKET, aggregates_t, latest_revision, readings_t
from energiemodell.store.schedules import DEFAULT_TZ
from energiemodell.store.tables import UNIT_OFF_WHERE, UNIT_ON_WHERE, UtcDateTime

LEVEL_SUFFIX = ".level_kwh"
ON_SUFFIX = ".on"
#: A ``*.on`` value at or above this is "on" (so are the partial indexes of revision 0006).
ON_THRESHOLD = 0.5
#: A raw value older than this is not "the state now"; then the newest aggregate is used.
DEFAULT_MAX_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class StoredState:
    """The pieces of the plant state the store knows at ``at`` (mapped to PlantState by the caller).

    Attributes
    ----------
    at : datetime
        The time asked about (UTC).
    levels_kwh : dict
        Asset name -> newest ``<asset>.level_kwh`` value (storage level).
    units_on : dict
        Asset name -> whether ``<asset>.on`` was last seen non-zero.
    on_since : dict
        Asset name -> since when the unit has been in that state: the first raw reading after
        the last different one, or, with no change on record, the first raw reading at all (a
        lower bound: raw readings go back one retention window). ``None`` if no raw reading.
    peak_import_kw : float
        Highest 15-minute mean import in the billing period so far.
    kwkg_hours_used : dict
        Asset name -> full-load hours used this calendar year (see :func:`kwkg_hours_used`).
    """

    at: datetime
    levels_kwh: dict[str, float] = field(default_factory=dict)
    units_on: dict[str, bool] = field(default_factory=dict)
    on_since: dict[str, datetime | None] = field(default_factory=dict)
    peak_import_kw: float = 0.0
    kwkg_hours_used: dict[str, float] = field(default_factory=dict)


def year_start(at: datetime, tz: str = DEFAULT_TZ) -> datetime:
    """UTC start of the local calendar year holding ``at`` (the billing period)."""
    local = at.astimezone(ZoneInfo(tz))
    return datetime(local.year, 1, 1, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def peak_import_so_far(
    *, db: Database, at: datetime, quantity: str = "grid.import_kw", tz: str = DEFAULT_TZ
) -> float:
    """Highest 15-minute mean of ``quantity`` in the billing period up to ``at`` (0 if none)."""
    with db.read() as conn:
        return _peak(conn, at=at, quantity=quantity, tz=tz)


def _peak(conn: Connection, *, at: datetime, quantity: str, tz: str) -> float:
    a = aggregates_t
    lo, hi = year_start(at, tz), at - BUCKET
    period = (a.c.quantity == quantity, a.c.bucket_start >= lo, a.c.bucket_start <= hi)
    # one scan of the covering index; corrections (rare) are then dealt with on their own
    top, revised = conn.execute(
        select(func.max(a.c.value_mean), func.max(a.c.revision)).where(*period)
    ).one()
    if not revised:
        return float(top) if top is not None else 0.0
    corrected = _corrected(conn, quantities=[quantity], lo=lo, hi=hi)
    buckets = [b for _, b in corrected]
    if len(buckets) > _MAX_CORRECTED:  # a history of many corrections: the plain anti-join
        newest = aggregates_t.alias("a")
        top = conn.execute(
            select(func.max(newest.c.value_mean)).where(
                newest.c.quantity == quantity,
                newest.c.bucket_start >= lo,
                newest.c.bucket_start <= hi,
                latest_revision(newest),
            )
        ).scalar()
        return float(top) if top is not None else 0.0
    rest = conn.execute(
        select(func.max(a.c.value_mean)).where(
            *period, a.c.revision == 0, a.c.bucket_start.not_in(buckets)
        )
    ).scalar()
    values = [v for _, v in corrected.values() if v is not None]
    values += [] if rest is None else [rest]
    return float(max(values)) if values else 0.0


#: More corrected buckets than this in a period: compute without listing them.
_MAX_CORRECTED = 2000


def _corrected(
    conn: Connection, *, quantities: list[str], lo: datetime, hi: datetime
) -> dict[tuple[str, datetime], tuple[float | None, float | None]]:
    """Buckets of ``[lo, hi]`` with correction rows: (first mean, newest mean) of each."""
    a = aggregates_t
    newest: dict[tuple[str, datetime], tuple[int, float | None]] = {}
    for q, bucket, revision, mean in conn.execute(
        select(a.c.quantity, a.c.bucket_start, a.c.revision, a.c.value_mean).where(
            a.c.quantity.in_(quantities),
            a.c.bucket_start >= lo,
            a.c.bucket_start <= hi,
            a.c.revision > 0,
        )
    ):
        if (q, bucket) not in newest or revision > newest[q, bucket][0]:
            newest[q, bucket] = (revision, mean)
    if not newest or len(newest) > _MAX_CORRECTED:
        return {k: (None, v) for k, (_, v) in newest.items()}
    first: dict[tuple[str, datetime], float | None] = {}
    for q, bucket, mean in conn.execute(
        select(a.c.quantity, a.c.bucket_start, a.c.value_mean).where(
            a.c.quantity.in_(quantities),
            a.c.bucket_start.in_(sorted({b for _, b in newest})),
            a.c.revision == 0,
        )
    ):
        first[q, bucket] = mean
    return {k: (first.get(k), v) for k, (_, v) in newest.items()}


def kwkg_hours_used(
    *, db: Database, at: datetime, rated_kw: Mapping[str, float], tz: str = DEFAULT_TZ
) -> dict[str, float]:
    """Full-load hours used this calendar year, per asset.

    Parameters
    ----------
    rated_kw
        Quantity -> rated power (kW), e.g. ``{"chp1.p_el_kw": 1200.0}``: the quantity whose
        energy counts towards the KWKG cap (total or fed-in CHP output, as the contract says).

    Notes
    -----
    hours[asset] = sum over closed buckets of value_mean_kw * 0.25 h / rated_kw
    """
    with db.read() as conn:
        return _kwkg(conn, at=at, rated_kw=rated_kw, tz=tz)


def _kwkg(
    conn: Connection, *, at: datetime, rated_kw: Mapping[str, float], tz: str
) -> dict[str, float]:
    if not rated_kw:
        return {}
    a = aggregates_t
    lo, hi = year_start(at, tz), at - BUCKET
    quantities = list(rated_kw)
    sums: dict[str, float] = {}
    revised: list[str] = []
    for q, total, revision in conn.execute(
        select(
            a.c.quantity,
            func.sum(case((a.c.revision == 0, a.c.value_mean))),
            func.max(a.c.revision),
        )
        .where(a.c.quantity.in_(quantities), a.c.bucket_start >= lo, a.c.bucket_start <= hi)
        .group_by(a.c.quantity)
    ):
        sums[q] = float(total or 0.0)
        if revision:
            revised.append(q)
    if revised:
        corrected = _corrected(conn, quantities=revised, lo=lo, hi=hi)
        if len(corrected) > _MAX_CORRECTED:  # many corrections: the plain anti-join
            newest = aggregates_t.alias("a")
            sums |= {
                q: float(v or 0.0)
                for q, v in conn.execute(
                    select(newest.c.quantity, func.sum(newest.c.value_mean))
                    .where(
                        newest.c.quantity.in_(revised),
                        newest.c.bucket_start >= lo,
                        newest.c.bucket_start <= hi,
                        latest_revision(newest),
                    )
                    .group_by(newest.c.quantity)
                )
            }
        else:  # the newest mean of each corrected bucket instead of its first
            for (q, _), (was, now) in corrected.items():
                sums[q] += (now or 0.0) - (was or 0.0)
    dt_h = BUCKET / timedelta(hours=1)
    return {q.split(".", 1)[0]: sums.get(q, 0.0) * dt_h / rated for q, rated in rated_kw.items()}


def _quantities(conn: Connection) -> list[str]:
    """Every quantity with raw readings: a skip scan of ``readings(quantity, ts)``.

    One index seek per distinct quantity (about 60), instead of reading a window of polls.
    """
    rows = conn.exec_driver_sql(
        f"WITH RECURSIVE q(name) AS ("  # noqa: S608 - the table name is the store's own
        f" SELECT min(quantity) FROM {readings_t.name}"
        f" UNION ALL SELECT (SELECT min(quantity) FROM {readings_t.name} WHERE quantity > q.name)"
        f" FROM q WHERE q.name IS NOT NULL"
        f") SELECT name FROM q WHERE name IS NOT NULL"
    )
    return [str(name) for (name,) in rows]


def _union(parts: list[Select[Any]]) -> Executable:
    """One statement for one-row look-ups (``ORDER BY ... LIMIT 1`` each)."""
    return parts[0] if len(parts) == 1 else union_all(*(p.subquery().select() for p in parts))


@lru_cache(maxsize=32)
def _newest_statement(n: int) -> Executable:
    """Newest good value of each of ``n`` quantities (``q0``...) in ``(lo, at]``: one statement.

    Built once per ``n`` with bound parameters: building the statement costs more than
    running it.
    """
    r = readings_t
    return _union(
        [
            select(r.c.quantity, r.c.value)
            .where(
                r.c.quantity == bindparam(f"q{k}"),
                r.c.ts <= bindparam("at", type_=UtcDateTime()),
                r.c.ts > bindparam("lo", type_=UtcDateTime()),
                r.c.quality == "good",
                r.c.value.is_not(None),
            )
            .order_by(r.c.ts.desc(), r.c.id.desc())
            .limit(1)
            for k in range(n)
        ]
    )


def _latest_values(
    conn: Connection, *, quantities: list[str], at: datetime, suffix: str, max_age: timedelta
) -> dict[str, float]:
    """Newest good raw value per quantity ending in ``suffix``, else the newest aggregate."""
    mine = [q for q in quantities if q.endswith(suffix)]
    raw: dict[str, float] = {}
    if mine:
        params: dict[str, Any] = {f"q{k}": q for k, q in enumerate(mine)}
        rows = conn.execute(_newest_statement(len(mine)), params | {"at": at, "lo": at - max_age})
        raw = {q: float(v) for q, v in rows}
    a = aggregates_t.alias("a")
    aggregated: dict[str, float] = {}
    for q, v in conn.execute(
        select(a.c.quantity, a.c.value_mean)
        .where(
            a.c.bucket_start <= at - BUCKET,
            a.c.bucket_start > at - max_age - BUCKET,
            a.c.quantity.like(f"%{suffix}"),
            a.c.value_mean.is_not(None),
            latest_revision(a),
        )
        .order_by(a.c.bucket_start)
    ):
        aggregated[q] = float(v)  # ascending: the newest bucket wins
    return aggregated | raw


#: The predicates of the partial indexes ``ix_readings_unit_on`` / ``_off``, word for word.
_IN_STATE = {True: text(UNIT_ON_WHERE), False: text(UNIT_OFF_WHERE)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=64)
def _since_statement(states: tuple[bool, ...]) -> Executable:
    """Time in state of units ``q0``... that are on/off as ``states``: one statement.

    The last good reading of the other state is one seek in that state's partial index; the
    first good reading after it one seek in ``readings(quantity, ts)``.
    """
    r = readings_t
    at = bindparam("at", type_=UtcDateTime())
    parts = []
    for k, on in enumerate(states):
        switched = (
            select(r.c.ts)
            .where(r.c.quantity == bindparam(f"q{k}"), r.c.ts <= at, _IN_STATE[not on])
            .order_by(r.c.ts.desc())
            .limit(1)
            .scalar_subquery()
        )
        parts.append(
            select(r.c.quantity, r.c.ts)
            .where(
                r.c.quantity == bindparam(f"q{k}"),
                r.c.ts <= at,
                r.c.quality == "good",
                r.c.ts > func.coalesce(switched, literal(_EPOCH, UtcDateTime())),
            )
            .order_by(r.c.ts)
            .limit(1)
        )
    return _union(parts)


def _on_since(conn: Connection, *, at: datetime, units_on: Mapping[str, bool]) -> dict[str, Any]:
    """Since when each ``*.on`` quantity has been in its state (see :class:`StoredState`).

    Independent of how long the unit has been in its state (two index seeks per unit).
    """
    since: dict[str, Any] = dict.fromkeys(units_on)
    if units_on:
        params: dict[str, Any] = {f"q{k}": q for k, q in enumerate(units_on)}
        statement = _since_statement(tuple(units_on.values()))
        since.update({q: ts for q, ts in conn.execute(statement, params | {"at": at})})
    return since


def plant_state(
    *,
    db: Database,
    at: datetime,
    rated_kw: Mapping[str, float] | None = None,
    import_quantity: str = "grid.import_kw",
    tz: str = DEFAULT_TZ,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> StoredState:
    """Return the plant state as stored at ``at``, read in one consistent snapshot.

    Storage levels come from ``*.level_kwh`` and unit states from ``*.on`` quantities: the newest
    good raw reading no older than ``max_age``, else the newest aggregate mean in that window.
    """
    with db.read() as conn:
        quantities = _quantities(conn)
        values = dict(
            levels=_latest_values(
                conn, quantities=quantities, at=at, suffix=LEVEL_SUFFIX, max_age=max_age
            ),
            ons=_latest_values(
                conn, quantities=quantities, at=at, suffix=ON_SUFFIX, max_age=max_age
            ),
        )
        states = {q: v >= ON_THRESHOLD for q, v in values["ons"].items()}
        since = _on_since(conn, at=at, units_on=states)
        return StoredState(
            at=at,
            levels_kwh={q.removesuffix(LEVEL_SUFFIX): v for q, v in values["levels"].items()},
            units_on={q.removesuffix(ON_SUFFIX): on for q, on in states.items()},
            on_since={q.removesuffix(ON_SUFFIX): ts for q, ts in since.items()},
            peak_import_kw=_peak(conn, at=at, quantity=import_quantity, tz=tz),
            kwkg_hours_used=_kwkg(conn, at=at, rated_kw=rated_kw or {}, tz=tz),
        )
