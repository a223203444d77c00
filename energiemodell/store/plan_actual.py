"""Plan versus actual: the plan in force beside the measured means, and its decoded-row cache.

For each 15-minute interval of a local day, :func:`plan_vs_actual` picks the schedule version in
force at the interval start (from the version list alone: ids and times as integers), takes that
version's row from its binary frame (see ``codec``) and puts it beside the newest aggregated mean
of the same quantity. The rows decoded from a version are kept in memory, keyed by database, id
and ``saved_at`` (versions are never edited), so asking for a day again reads only the version
list and the aggregates. :func:`clear_decoded_versions` forgets them.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    Table,
    bindparam,
    cast,
    func,
    select,
)

from energiemodell.store import codec
from energiemodell.store.days import DEFAULT_TZ, local_day_bounds
from energiemodell.store.db import Database
from energiemodell.store.readings import aggregates_t, bucket_number, latest_revision
from energiemodell.store.tables import ScheduleRecord, UtcDateTime, table_of

logger = logging.getLogger(__name__)

#: How far back plan-versus-actual looks for the version in force at the start of a day.
MAX_PLAN_AGE = timedelta(days=7)

# the same Table object as ``schedules.schedules_t`` (one per model in the metadata); taken
# here so that ``schedules`` can re-export this module without an import cycle
schedules_t: Table = table_of(ScheduleRecord)


@dataclass(frozen=True)
class PlanVsActual:
    """One local day, interval by interval: what the plan in force said and what happened.

    Attributes
    ----------
    plan : pandas.DataFrame
        UTC interval starts x schedule columns, from the version in force at each interval.
    actual : pandas.DataFrame
        Same index, the aggregated means of the same quantities (NaN where none).
    schedule_id : pandas.Series
        The version in force at each interval (``<NA>`` where there was none).
    """

    plan: pd.DataFrame
    actual: pd.DataFrame
    schedule_id: pd.Series


def plan_vs_actual(
    *,
    db: Database,
    day: date,
    tz: str = DEFAULT_TZ,
    quantities: Sequence[str] | None = None,
) -> PlanVsActual:
    """Compare the plan in force with the measured aggregates for each 15-minute interval of a day.

    The version in force at an interval start ``t`` is the newest created at or before ``t``
    whose horizon covers ``t`` (versions older than ``MAX_PLAN_AGE`` are not considered).
    ``quantities`` restricts the columns (default: every column of the versions used).

    Decoded rows of versions are kept in memory (versions are never edited), so asking again,
    as the dashboard does, reads only the version list and the aggregates.
    """
    start, end = local_day_bounds(day, tz)
    intervals = pd.date_range(start, end, freq="15min", inclusive="left")
    ns = intervals.as_unit("ns").asi8
    with db.read() as conn:
        # times as integer microseconds: no datetime objects for a few hundred versions
        params = {"end": end, "oldest": start - MAX_PLAN_AGE, "start": start}
        versions = np.fromiter(
            chain.from_iterable(conn.execute(_versions_statement(conn.dialect.name), params)),
            dtype=np.int64,
        ).reshape(-1, 5)
        chosen = _versions_in_force(versions, ns // 1000)
        frames = _load_frames(conn, db.url, versions, chosen, ns)
        columns = list(quantities) if quantities is not None else _union_columns(frames)
        measured = _bucket_means(conn, start=start, end=end, quantities=columns, ns=ns)
    position = {c: j for j, c in enumerate(columns)}
    values = np.full((len(intervals), len(columns)), np.nan)
    mappings: dict[tuple[str, ...], tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
    for version, (ticks, names, frame_values) in frames.items():
        if names not in mappings:  # versions mostly share their columns: map them once
            pairs = [(position[c], k) for k, c in enumerate(names) if c in position]
            mappings[names] = (
                np.array([d for d, _ in pairs], dtype=np.int64),
                np.array([k for _, k in pairs], dtype=np.int64),
            )
        dst, src = mappings[names]
        rows = np.flatnonzero(chosen == version)
        found = np.minimum(np.searchsorted(ticks, ns[rows]), len(ticks) - 1)
        hit = ticks[found] == ns[rows]
        if len(dst) and hit.any():
            values[rows[hit, None], dst] = frame_values[found[hit, None], src]
    plan = pd.DataFrame(values, index=intervals, columns=columns)
    actual = pd.DataFrame(measured, index=intervals.copy(), columns=columns)
    schedule_id = pd.Series(
        pd.arrays.IntegerArray(chosen, mask=chosen < 0), index=intervals, name="schedule_id"
    )
    plan.index.name = actual.index.name = "timestamp"
    return PlanVsActual(plan=plan, actual=actual, schedule_id=schedule_id)


def _bucket_means(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    quantities: list[str],
    ns: np.ndarray[Any, np.dtype[np.int64]],
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Newest bucket means of ``quantities`` on the intervals ``ns`` (NaN where none).

    Reads only the covering index ``aggregates(quantity, bucket_start, revision, value_mean)``
    and takes the bucket as a number (seconds since the epoch / 900), not as a datetime.
    """
    out = np.full((len(ns), len(quantities)), np.nan)
    if not quantities or not len(ns):
        return out
    rows = conn.execute(
        _means_statement(conn.dialect.name), {"qs": quantities, "start": start, "end": end}
    ).all()
    if not rows:
        return out
    numbers, names, means = zip(*rows, strict=True)
    position = {q: j for j, q in enumerate(quantities)}
    at = (np.array(numbers, dtype=np.int64) * BUCKET_NS - ns[0]) // BUCKET_NS
    cols = np.array([position[q] for q in names], dtype=np.int64)
    mean = np.array([np.nan if m is None else m for m in means], dtype=np.float64)
    ok = (at >= 0) & (at < len(ns))
    ok[ok] = ns[at[ok]] == np.array(numbers, dtype=np.int64)[ok] * BUCKET_NS
    out[at[ok], cols[ok]] = mean[ok]
    return out


@lru_cache(maxsize=4)
def _versions_statement(dialect: str) -> Select[Any]:
    """Versions that may be in force in ``[start, end)``: id and times in microseconds.

    Built once (with bound parameters): building a statement costs more than running it here.
    """
    s = schedules_t
    return (
        select(
            s.c.id,
            _micros(dialect, s.c.created_at),
            _micros(dialect, s.c.valid_from),
            _micros(dialect, s.c.valid_to),
            _micros(dialect, s.c.saved_at),
        )
        .where(
            s.c.created_at < bindparam("end", type_=UtcDateTime()),
            s.c.created_at >= bindparam("oldest", type_=UtcDateTime()),
            s.c.valid_to > bindparam("start", type_=UtcDateTime()),
        )
        .order_by(s.c.created_at, s.c.id)
    )


@lru_cache(maxsize=4)
def _means_statement(dialect: str) -> Select[Any]:
    """Newest means of quantities ``qs`` in ``[start, end)``, the bucket as a number."""
    a = aggregates_t.alias("a")
    return select(bucket_number(dialect, a.c.bucket_start), a.c.quantity, a.c.value_mean).where(
        a.c.quantity.in_(bindparam("qs", expanding=True)),
        a.c.bucket_start >= bindparam("start", type_=UtcDateTime()),
        a.c.bucket_start < bindparam("end", type_=UtcDateTime()),
        latest_revision(a),
    )


def _micros(dialect: str, column: ColumnElement[datetime]) -> ColumnElement[int]:
    """SQL for a timestamp column as integer microseconds since the epoch (exact)."""
    if dialect == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UtcDateTime)
        seconds = cast(func.strftime("%s", column), BigInteger)
        return seconds * 1_000_000 + cast(func.substr(column, 21, 6), BigInteger)
    return cast(func.extract("epoch", column) * 1_000_000, BigInteger)


def _versions_in_force(
    versions: np.ndarray[Any, np.dtype[np.int64]], at_us: np.ndarray[Any, np.dtype[np.int64]]
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """For each time, the id of the newest version created by then that covers it, else -1.

    ``versions``: rows of (id, created_at, valid_from, valid_to, ...) in microseconds, sorted
    by creation (then id).
    """
    if not len(versions):
        return np.full(len(at_us), -1, dtype=np.int64)
    t = at_us[:, None]
    usable = (versions[:, 1] <= t) & (versions[:, 2] <= t) & (t < versions[:, 3])
    newest = len(versions) - 1 - np.argmax(usable[:, ::-1], axis=1)
    return np.where(usable.any(axis=1), versions[newest, 0], -1)


#: (index in ns since the epoch, column names, values): a version's first rows
_Frame = tuple[
    np.ndarray[Any, np.dtype[np.int64]],
    tuple[str, ...],
    np.ndarray[Any, np.dtype[np.float64]],
]

#: Leading bytes of each compressed blob fetched first, for the rows needed (a version is
#: normally in force for its first interval only): the zlib header and block tables, then up to
#: 128 columns of 8 bytes a row, as they compress at worst. More columns: the whole blob.
_PREFIX_INDEX = 256
_PREFIX_VALUES = 1024
_PREFIX_ROW = 128 * 8 + 64
_NS_PER_TICK = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
BUCKET_NS = 900 * 1_000_000_000

#: Decoded rows of schedule versions, by (database, id, saved_at): versions are never edited,
#: and ``saved_at`` tells a version from another with a reused id (a restored database).
_CACHE: OrderedDict[tuple[str, int, int], _Frame] = OrderedDict()
_CACHE_SIZE = 2048  # three weeks of versions at 96 a day; the rows used, a few kB each
_CACHE_LOCK = threading.Lock()


def clear_decoded_versions() -> None:
    """Forget the decoded rows of versions kept by :func:`plan_vs_actual` (benchmarks, tests)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _cached(key: tuple[str, int, int]) -> _Frame | None:
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
        return hit


def _remember(key: tuple[str, int, int], frame: _Frame) -> None:
    with _CACHE_LOCK:
        _CACHE[key] = frame
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)


def _load_frames(
    conn: Connection,
    url: str,
    versions: np.ndarray[Any, np.dtype[np.int64]],
    chosen: np.ndarray[Any, np.dtype[np.int64]],
    ns: np.ndarray[Any, np.dtype[np.int64]],
) -> dict[int, _Frame]:
    """For each version in force somewhere in ``chosen``, its rows up to the last one needed.

    From the cache where it has them; else the leading parts of the blobs, cut in the
    database (assuming a regular 15-minute index from ``valid_from`` to pick how many rows);
    else, where the prefix is too short or the index irregular, the whole blobs.
    """
    info = {int(v[0]): (int(v[2]), int(v[4])) for v in versions}  # id: (valid_from, saved_at)
    wanted: dict[int, np.ndarray[Any, np.dtype[np.int64]]] = {}
    for sid in np.unique(chosen[chosen >= 0]).tolist():
        wanted[sid] = ns[chosen == sid]
    out: dict[int, _Frame] = {}
    n_rows: dict[int, int] = {}
    for sid, times in wanted.items():
        valid_from_us, saved_at_us = info[sid]
        hit = _cached((url, sid, saved_at_us))
        if hit is not None and _has(hit[0], times):
            out[sid] = hit
            continue
        n_rows[sid] = 1 + int((times.max() - valid_from_us * 1000) // BUCKET_NS)
    if not n_rows:
        return out
    s = schedules_t
    full: list[int] = []
    groups: dict[int, list[int]] = {}  # versions by rows needed, rounded up to a power of two
    for sid, n in n_rows.items():
        groups.setdefault(1 << (n - 1).bit_length(), []).append(sid)
    rows = [
        row
        for n, ids in sorted(groups.items())
        for row in conn.execute(
            select(
                s.c.id,
                s.c.frame_columns,
                func.substr(s.c.frame_index, 1, _PREFIX_INDEX + 8 * n),
                func.substr(s.c.frame_values, 1, _PREFIX_VALUES + _PREFIX_ROW * n),
            ).where(s.c.id.in_(ids))
        )
    ]
    for sid, cols, index_prefix, values_prefix in rows:
        decoded = codec.decode_rows_prefix(
            bytes(index_prefix), bytes(values_prefix), len(cols), n_rows[sid]
        )
        if decoded is None:
            full.append(sid)
            continue
        unit, ticks, values = decoded
        frame = (ticks * _NS_PER_TICK[unit], tuple(cols), values)
        if not _has(frame[0], wanted[sid]):
            full.append(sid)
            continue
        out[sid] = frame
        _remember((url, sid, info[sid][1]), frame)
    if full:
        for sid, cols, index_blob, values_blob in conn.execute(
            select(s.c.id, s.c.frame_columns, s.c.frame_index, s.c.frame_values).where(
                s.c.id.in_(full)
            )
        ):
            unit, ticks = codec.decode_ticks(index_blob)
            values = codec.decode_values(values_blob, len(cols)).reshape(len(ticks), len(cols))
            ns_ticks = ticks * _NS_PER_TICK[unit]
            # keep (and cache) the rows up to the last one needed, not the whole horizon
            n = int(np.searchsorted(ns_ticks, wanted[sid].max(), side="right"))
            frame = (ns_ticks[:n].copy(), tuple(cols), values[:n].copy())
            out[sid] = frame
            _remember((url, sid, info[sid][1]), frame)
    return out


def _has(
    ticks: np.ndarray[Any, np.dtype[np.int64]], times: np.ndarray[Any, np.dtype[np.int64]]
) -> bool:
    """Whether the sorted ``ticks`` hold every one of ``times``."""
    at = np.searchsorted(ticks, times)
    return bool((at < len(ticks)).all() and (ticks[np.minimum(at, len(ticks) - 1)] == times).all())


def _union_columns(frames: dict[int, _Frame]) -> list[str]:
    seen: dict[str, None] = {}
    for sid in sorted(frames):  # oldest version first, cached or not
        seen.update(dict.fromkeys(frames[sid][1]))
    return list(seen)
