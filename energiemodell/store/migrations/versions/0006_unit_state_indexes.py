"""Partial indexes for the time in state of units: readings of ``*.on`` by state.

The plant state needs, for each unit, the newest good reading of the other state (the last
switch) at or before a time. With only ``readings(quantity, ts)`` that walked back through every
reading since the switch: weeks of polls for a boiler off all summer. Two partial indexes, one
per state, hold only the good ``*.on`` readings (a sixth of the readings of the reference
campus), so the last switch is one index seek. The store's queries repeat the predicates word
for word (SQLite uses a partial index only then).

Also a covering index ``schedules(created_at, valid_to, valid_from, saved_at, id)``:
plan-versus-actual picks the versions in force from the index without reading the schedule rows
(``saved_at`` keys its in-memory copies of decoded versions).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen copies of energiemodell.store.tables.UNIT_ON_WHERE / UNIT_OFF_WHERE
_ON = "quantity LIKE '%.on' AND quality = 'good' AND value >= 0.5"
_OFF = "quantity LIKE '%.on' AND quality = 'good' AND value < 0.5"


def upgrade() -> None:
    for name, where in (("ix_readings_unit_on", _ON), ("ix_readings_unit_off", _OFF)):
        op.create_index(
            name,
            "readings",
            ["quantity", "ts"],
            unique=False,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )
    op.create_index(
        "ix_schedules_created_at_valid_to_valid_from_saved_at_id",
        "schedules",
        ["created_at", "valid_to", "valid_from", "saved_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_schedules_created_at_valid_to_valid_from_saved_at_id", table_name="schedules")
    op.drop_index("ix_readings_unit_off", table_name="readings")
    op.drop_index("ix_readings_unit_on", table_name="readings")
