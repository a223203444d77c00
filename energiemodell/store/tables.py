"""The store's tables (sqlmodel): append-only history of everything the engine knows and did.

Nothing is updated in place. A correction is a new row (an aggregate with a higher
``revision``), an acknowledgement is a row of its own, and a schedule is never overwritten:
every version is a row. The only deletion is the logged purge of raw readings older than the
retention window, after their 15-minute aggregates exist (see ``readings.purge_readings``).

Timestamps are timezone-aware UTC in Python. PostgreSQL stores ``timestamptz``; SQLite has no
time zone type, so :class:`UtcDateTime` stores naive UTC text and re-attaches UTC on reading.
The schema itself is created and changed only by the migrations in ``migrations/versions``;
a test checks that they and these models agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

# Constraint names stable across databases, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

#: Predicates of the partial indexes on good readings of ``*.on`` by state (revision 0006).
#: Queries that are to use them repeat them word for word (SQLite matches the text).
UNIT_ON_WHERE = "quantity LIKE '%.on' AND quality = 'good' AND value >= 0.5"
UNIT_OFF_WHERE = "quantity LIKE '%.on' AND quality = 'good' AND value < 0.5"

#: 64-bit ids on PostgreSQL; SQLite only auto-increments an ``INTEGER PRIMARY KEY``.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database.

    Naive datetimes are refused: a timestamp without a zone is a bug at the edge, not UTC by
    convention.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Check the zone, convert to UTC (naive UTC for SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            msg = f"naive datetime {value.isoformat()} given to the store: use timezone-aware UTC"
            raise ValueError(msg)
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach (SQLite) or convert to (PostgreSQL) UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """Return the SQLAlchemy ``Table`` of a table model (typed, for Core statements)."""
    return SQLModel.metadata.tables[str(model.__tablename__)]


class SiteVersionRecord(SQLModel, table=True):
    """A site's YAML content, stored once per content hash and referred to by schedules."""

    __tablename__: ClassVar[str] = "site_versions"

    site_hash: str = Field(primary_key=True, max_length=64, description="SHA-256 of the content")
    content_yaml: str = Field(sa_type=Text, description="The site YAML the schedule was made for")
    first_seen: datetime = Field(sa_type=UtcDateTime, description="First schedule with it (UTC)")


class ReadingRecord(SQLModel, table=True):
    """A raw value read from a device point (kept for the retention window)."""

    __tablename__: ClassVar[str] = "readings"
    # Ids only grow (AUTOINCREMENT on SQLite: never reused after a purge): aggregates record
    # the newest reading id they include, so a later id is a late reading. Index 2: rev. 0002;
    # the partial indexes of units' states (time in state): rev. 0006.
    __table_args__ = (
        Index(None, "ts"),
        Index(None, "quantity", "ts"),
        Index(
            "ix_readings_unit_on",
            "quantity",
            "ts",
            sqlite_where=text(UNIT_ON_WHERE),
            postgresql_where=text(UNIT_ON_WHERE),
        ),
        Index(
            "ix_readings_unit_off",
            "quantity",
            "ts",
            sqlite_where=text(UNIT_OFF_WHERE),
            postgresql_where=text(UNIT_OFF_WHERE),
        ),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    ts: datetime = Field(sa_type=UtcDateTime, description="When the value was read (UTC)")
    device: str = Field(max_length=64)
    point: str = Field(max_length=64, description="Register map point name")
    quantity: str | None = Field(default=None, max_length=96, description="Site quantity")
    value: float | None = Field(default=None, description="In the unit of the quantity")
    quality: str = Field(max_length=8, description="good, stale or bad")


class AggregateRecord(SQLModel, table=True):
    """Statistics of one site quantity over one 15-minute bucket (good values only).

    Inserted once when the bucket closes (``revision`` 0). Readings that arrive later for a
    closed bucket produce a correction row with the next revision; the newest revision wins.
    """

    __tablename__: ClassVar[str] = "aggregates"
    __table_args__ = (
        UniqueConstraint("quantity", "bucket_start", "revision"),
        Index(None, "bucket_start"),
        # revision 0003: year scans of one quantity read the index only
        Index(None, "quantity", "bucket_start", "revision", "value_mean"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    bucket_start: datetime = Field(sa_type=UtcDateTime, description="Interval start (UTC)")
    quantity: str = Field(max_length=96)
    value_mean: float | None = Field(default=None, description="Mean of the good values")
    value_min: float | None = Field(default=None)
    value_max: float | None = Field(default=None)
    n_good: int = Field(description="Number of good values")
    n_total: int = Field(description="Number of values of any quality")
    revision: int = Field(default=0, description="0 when the bucket closed, then corrections")
    max_reading_id: int = Field(sa_type=BigInteger, description="Newest raw reading included")
    created_at: datetime = Field(sa_type=UtcDateTime)


class ForecastRecord(SQLModel, table=True):
    """A forecast as it was issued (the frame is stored in binary, see ``codec``)."""

    __tablename__: ClassVar[str] = "forecasts"
    __table_args__ = (Index(None, "issued_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    issued_at: datetime = Field(sa_type=UtcDateTime)
    source: str = Field(max_length=64, description="Forecaster name")
    valid_from: datetime = Field(sa_type=UtcDateTime, description="First interval start")
    valid_to: datetime = Field(sa_type=UtcDateTime, description="End of the last interval")
    frame_columns: list[str] = Field(sa_type=JSON)
    frame_index: bytes = Field(sa_type=LargeBinary, description="zlib int64 ns since epoch")
    frame_values: bytes = Field(sa_type=LargeBinary, description="zlib float64, row-major")


class ScheduleRecord(SQLModel, table=True):
    """One schedule version, exactly as planned, with what it was planned from."""

    __tablename__: ClassVar[str] = "schedules"
    # rev. 0006: plan-versus-actual picks the versions in force from the index alone
    __table_args__ = (
        Index(None, "created_at"),
        Index(None, "created_at", "valid_to", "valid_from", "saved_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    created_at: datetime = Field(sa_type=UtcDateTime, description="When it was planned")
    saved_at: datetime = Field(sa_type=UtcDateTime)
    site_hash: str = Field(foreign_key="site_versions.site_hash", max_length=64)
    valid_from: datetime = Field(sa_type=UtcDateTime, description="First interval start")
    valid_to: datetime = Field(sa_type=UtcDateTime, description="End of the last interval")
    status: str = Field(max_length=16, description="optimal, time_limit, infeasible, error")
    origin: str = Field(max_length=16, description="optimal, time_limited, fallback, heat_led")
    mip_gap: float | None = Field(default=None)
    total_cost_eur: float = Field(description="Sum of the money cost breakdown")
    costs_eur: dict[str, float] = Field(sa_type=JSON, description="Category -> EUR")
    inputs_summary: dict[str, Any] = Field(sa_type=JSON)
    alarms: list[str] = Field(sa_type=JSON)
    content: bytes = Field(sa_type=LargeBinary, description="zlib JSON of Schedule.to_dict()")
    frame_columns: list[str] = Field(sa_type=JSON)
    frame_index: bytes = Field(sa_type=LargeBinary)
    frame_values: bytes = Field(sa_type=LargeBinary)


class SetpointWriteRecord(SQLModel, table=True):
    """A setpoint written to a device point, with why and what came back."""

    __tablename__: ClassVar[str] = "setpoint_writes"
    __table_args__ = (Index(None, "ts"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    ts: datetime = Field(sa_type=UtcDateTime, description="When it was written")
    device: str = Field(max_length=64)
    point: str = Field(max_length=64)
    value: float
    reason: str = Field(sa_type=Text, description="schedule, override, heartbeat, release, ...")
    result: str = Field(max_length=32, description="ok, rejected, failed, read_back_differs, ...")
    read_back: float | None = Field(default=None)
    schedule_id: int | None = Field(default=None, foreign_key="schedules.id", sa_type=BigInteger)


class OperatorActionRecord(SQLModel, table=True):
    """An operator's approval, override (with a validity window) or release."""

    __tablename__: ClassVar[str] = "operator_actions"
    __table_args__ = (Index(None, "ts"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    ts: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(max_length=64, description="Who")
    action: str = Field(max_length=16, description="approve, reject, override, release, note")
    reason: str = Field(sa_type=Text, description="Why")
    schedule_id: int | None = Field(default=None, foreign_key="schedules.id", sa_type=BigInteger)
    target: str | None = Field(default=None, max_length=96, description="e.g. chp1.p_el_kw")
    value: float | None = Field(default=None)
    valid_from: datetime | None = Field(default=None, sa_type=UtcDateTime)
    valid_to: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AlarmRecord(SQLModel, table=True):
    """An alarm raised by the engine or the control loop."""

    __tablename__: ClassVar[str] = "alarms"
    __table_args__ = (Index(None, "ts"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    ts: datetime = Field(sa_type=UtcDateTime)
    source: str = Field(max_length=64, description="Module or device that raised it")
    code: str = Field(max_length=64)
    severity: str = Field(max_length=16, description="info, warning, critical")
    message: str = Field(sa_type=Text)
    schedule_id: int | None = Field(default=None, foreign_key="schedules.id", sa_type=BigInteger)


class AlarmAckRecord(SQLModel, table=True):
    """An acknowledgement of an alarm (a row of its own: alarms are never edited)."""

    __tablename__: ClassVar[str] = "alarm_acks"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    alarm_id: int = Field(foreign_key="alarms.id", sa_type=BigInteger, index=True)
    ts: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(max_length=64)
    note: str = Field(default="", sa_type=Text)


class ScenarioRunRecord(SQLModel, table=True):
    """A scenario run: what was run, its KPIs and where the report is."""

    __tablename__: ClassVar[str] = "scenario_runs"
    __table_args__ = (Index(None, "started_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    name: str = Field(max_length=128)
    started_at: datetime = Field(sa_type=UtcDateTime)
    finished_at: datetime = Field(sa_type=UtcDateTime)
    status: str = Field(max_length=16, description="done, failed")
    spec: dict[str, Any] = Field(sa_type=JSON, description="The scenario as run")
    kpis: dict[str, float] = Field(sa_type=JSON)
    report_location: str | None = Field(default=None, sa_type=Text)


class UserRecord(SQLModel, table=True):
    """A dashboard user as of ``ts``: the newest row per name wins (revision 0004).

    Creating a user, changing the password or the role and disabling (role ``disabled``) each
    append a row, so who could do what, and who changed it, stays on record.
    """

    __tablename__: ClassVar[str] = "users"
    __table_args__ = (Index(None, "name", "ts"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    ts: datetime = Field(sa_type=UtcDateTime)
    name: str = Field(max_length=64)
    role: str = Field(max_length=16, description="viewer, operator, admin or disabled")
    password_hash: str = Field(sa_type=Text, description="Argon2 hash (pwdlib)")
    changed_by: str = Field(max_length=64, description="Who made this change")


class ApiTokenRecord(SQLModel, table=True):
    """An API token of a user; only its SHA-256 is kept (revision 0004)."""

    __tablename__: ClassVar[str] = "api_tokens"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    created_at: datetime = Field(sa_type=UtcDateTime)
    user_name: str = Field(max_length=64)
    label: str = Field(max_length=128)
    token_hash: str = Field(max_length=64, unique=True, description="SHA-256 hex of the token")
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_by: str = Field(max_length=64)


class ApiTokenRevocationRecord(SQLModel, table=True):
    """A token's revocation (a row of its own, revision 0004)."""

    __tablename__: ClassVar[str] = "api_token_revocations"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    token_id: int = Field(foreign_key="api_tokens.id", sa_type=BigInteger, index=True)
    ts: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(max_length=64)


class MaintenanceRecord(SQLModel, table=True):
    """A maintenance job run (purge of raw readings), for the audit trail."""

    __tablename__: ClassVar[str] = "maintenance_log"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    ts: datetime = Field(sa_type=UtcDateTime)
    job: str = Field(max_length=32)
    rows_affected: int
    details: dict[str, Any] = Field(sa_type=JSON)


class CycleRecord(SQLModel, table=True):
    """One control cycle: when it ran, how long, which rung, the solve time (revision 0005)."""

    __tablename__: ClassVar[str] = "control_cycles"
    __table_args__ = (Index(None, "started_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    started_at: datetime = Field(sa_type=UtcDateTime, description="The cycle's start (UTC)")
    finished_at: datetime = Field(sa_type=UtcDateTime)
    interval_start: datetime = Field(sa_type=UtcDateTime, description="The interval it served")
    duration_s: float = Field(description="finished_at - started_at on the loop's clock")
    rung: str = Field(max_length=16, description="fresh, time_limited, last_valid, ...")
    solve_s: float = Field(description="Solver time of the cycle's plan (0 without a solve)")


metadata: MetaData = SQLModel.metadata
