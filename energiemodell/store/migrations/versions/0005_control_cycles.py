"""Control cycles: each cycle's duration, rung and solve time (``/metrics``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "control_cycles",
        sa.Column("id", _ID, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("rung", sa.String(length=16), nullable=False),
        sa.Column("solve_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_cycles")),
    )
    with op.batch_alter_table("control_cycles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_control_cycles_started_at"), ["started_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("control_cycles")
