"""Indexes for the lists people page through by keyset over a city's store: a department's
open work (inbox, desk queue) and the red and yellow card lists, each in its list's order and
over open tasks only, so that a page is an index range whatever the size of the store.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_WORK = "state IN ('claimed', 'open')"


def _partial(name: str, columns: list[str], where: str) -> None:
    op.create_index(
        name,
        "tasks",
        columns,
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )


def upgrade() -> None:
    _partial("ix_tasks_open", ["department", "deadline_at", "created_at", "id"], OPEN_WORK)
    _partial("ix_tasks_overdue", ["deadline_at", "created_at", "id"], f"{OPEN_WORK} AND overdue")
    _partial(
        "ix_tasks_warned",
        ["deadline_at", "created_at", "id"],
        f"{OPEN_WORK} AND warned AND NOT overdue",
    )


def downgrade() -> None:
    for name in ("ix_tasks_warned", "ix_tasks_overdue", "ix_tasks_open"):
        op.drop_index(name, table_name="tasks")
