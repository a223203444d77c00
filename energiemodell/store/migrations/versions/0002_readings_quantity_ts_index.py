"""Index raw readings by (quantity, ts).

The plant state (newest ``*.level_kwh`` / ``*.on`` value, time in state) and per-quantity
exports look readings up by quantity and time. With only the ``ts`` index each such look-up
scans every point's readings of the window (about 60 points at a 10 s poll); with this index it
is a short range scan.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_readings_quantity_ts", "readings", ["quantity", "ts"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_readings_quantity_ts", table_name="readings")
