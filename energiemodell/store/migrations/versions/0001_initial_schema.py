"""Initial schema: every store table (frozen: later changes are new revisions).

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26 05:02:23.361899
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "aggregates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quantity", sa.String(length=96), nullable=False),
        sa.Column("value_mean", sa.Float(), nullable=True),
        sa.Column("value_min", sa.Float(), nullable=True),
        sa.Column("value_max", sa.Float(), nullable=True),
        sa.Column("n_good", sa.Integer(), nullable=False),
        sa.Column("n_total", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("max_reading_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aggregates")),
        sa.UniqueConstraint(
            "quantity",
            "bucket_start",
            "revision",
            name=op.f("uq_aggregates_quantity_bucket_start_revision"),
        ),
    )
    with op.batch_alter_table("aggregates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_aggregates_bucket_start"), ["bucket_start"], unique=False
        )

    op.create_table(
        "forecasts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("frame_columns", sa.JSON(), nullable=False),
        sa.Column("frame_index", sa.LargeBinary(), nullable=False),
        sa.Column("frame_values", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecasts")),
    )
    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forecasts_issued_at"), ["issued_at"], unique=False)

    op.create_table(
        "maintenance_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("rows_affected", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_log")),
    )
    op.create_table(
        "readings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("point", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.String(length=96), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("quality", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readings")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("readings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_readings_ts"), ["ts"], unique=False)

    op.create_table(
        "scenario_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("kpis", sa.JSON(), nullable=False),
        sa.Column("report_location", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_runs")),
    )
    with op.batch_alter_table("scenario_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scenario_runs_started_at"), ["started_at"], unique=False
        )

    op.create_table(
        "site_versions",
        sa.Column("site_hash", sa.String(length=64), nullable=False),
        sa.Column("content_yaml", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_hash", name=op.f("pk_site_versions")),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("site_hash", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("mip_gap", sa.Float(), nullable=True),
        sa.Column("total_cost_eur", sa.Float(), nullable=False),
        sa.Column("costs_eur", sa.JSON(), nullable=False),
        sa.Column("inputs_summary", sa.JSON(), nullable=False),
        sa.Column("alarms", sa.JSON(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("frame_columns", sa.JSON(), nullable=False),
        sa.Column("frame_index", sa.LargeBinary(), nullable=False),
        sa.Column("frame_values", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_hash"],
            ["site_versions.site_hash"],
            name=op.f("fk_schedules_site_hash_site_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedules_created_at"), ["created_at"], unique=False)

    op.create_table(
        "alarms",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("schedule_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedules.id"], name=op.f("fk_alarms_schedule_id_schedules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarms_ts"), ["ts"], unique=False)

    op.create_table(
        "operator_actions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("schedule_id", sa.BigInteger(), nullable=True),
        sa.Column("target", sa.String(length=96), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_operator_actions_schedule_id_schedules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_actions")),
    )
    with op.batch_alter_table("operator_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operator_actions_ts"), ["ts"], unique=False)

    op.create_table(
        "setpoint_writes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("point", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.Column("read_back", sa.Float(), nullable=True),
        sa.Column("schedule_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedules.id"], name=op.f("fk_setpoint_writes_schedule_id_schedules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setpoint_writes")),
    )
    with op.batch_alter_table("setpoint_writes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_setpoint_writes_ts"), ["ts"], unique=False)

    op.create_table(
        "alarm_acks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alarm_id", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_alarm_acks_alarm_id_alarms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_acks")),
    )
    with op.batch_alter_table("alarm_acks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_acks_alarm_id"), ["alarm_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alarm_acks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_acks_alarm_id"))

    op.drop_table("alarm_acks")
    with op.batch_alter_table("setpoint_writes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_setpoint_writes_ts"))

    op.drop_table("setpoint_writes")
    with op.batch_alter_table("operator_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_actions_ts"))

    op.drop_table("operator_actions")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarms_ts"))

    op.drop_table("alarms")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedules_created_at"))

    op.drop_table("schedules")
    op.drop_table("site_versions")
    with op.batch_alter_table("scenario_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scenario_runs_started_at"))

    op.drop_table("scenario_runs")
    with op.batch_alter_table("readings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_readings_ts"))

    op.drop_table("readings")
    op.drop_table("maintenance_log")
    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forecasts_issued_at"))

    op.drop_table("forecasts")
    with op.batch_alter_table("aggregates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aggregates_bucket_start"))

    op.drop_table("aggregates")
