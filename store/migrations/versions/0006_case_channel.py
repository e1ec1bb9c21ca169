"""Each case's channel (online, window, post …), read by the figures (share applied online).

The channel is in the case's ``case.submitted`` event; the writer copies it when the case row
is first written, and this migration fills it for the cases already stored.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE = 32
BATCH = 1000


def upgrade() -> None:
    """Add the column and fill it from the submission events."""
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("channel", sa.String(STATE), nullable=True))
    bind = op.get_bind()
    cases = sa.table("cases", sa.column("id", sa.String), sa.column("channel", sa.String))
    fill = (
        cases.update()
        .where(cases.c.id == sa.bindparam("case_id"))
        .values(channel=sa.bindparam("new_channel"))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, case_id, payload FROM events WHERE type = 'case.submitted'"
                " AND id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        values = []
        for _, case_id, payload in rows:
            data = json.loads(payload) if isinstance(payload, str) else payload or {}
            channel = data.get("channel")
            if isinstance(channel, str) and len(channel) <= STATE:
                values.append({"case_id": case_id, "new_channel": channel})
        if values:
            bind.execute(fill, values)
        last = rows[-1][0]


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("channel")
