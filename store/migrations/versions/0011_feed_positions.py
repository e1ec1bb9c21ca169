"""The feed's positions: gap-free, given after commit (store.feed), instead of one lock
around every write.

Existing events are numbered in id order (every one of them has committed); subscribers'
cursors, which named the id of the last event delivered, name its position from now on.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("position", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE events SET position = numbered.n FROM "
        "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM events) AS numbered "
        "WHERE events.id = numbered.id"
    )
    op.execute(
        'UPDATE subscribers SET "cursor" = coalesce('
        '(SELECT max(position) FROM events WHERE events.id <= subscribers."cursor"), 0)'
    )
    op.create_index("uq_events_position", "events", ["position"], unique=True)
    op.create_index(
        "ix_events_unsequenced",
        "events",
        ["id"],
        postgresql_where=sa.text("position IS NULL"),
        sqlite_where=sa.text("position IS NULL"),
    )


def downgrade() -> None:
    op.execute(
        'UPDATE subscribers SET "cursor" = coalesce('
        '(SELECT max(id) FROM events WHERE events.position <= subscribers."cursor"), 0)'
    )
    op.drop_index("ix_events_unsequenced", table_name="events")
    op.drop_index("uq_events_position", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("position")
