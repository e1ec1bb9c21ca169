"""The case finder's open cases by deadline (supervisors' "open, overdue, by deadline"): a
partial index over cases not yet ended, in deadline order, so the list reads a page of it
instead of every open case sorted.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_CASES = "state IN ('delivering', 'in_progress', 'intake', 'rating')"


def upgrade() -> None:
    op.create_index(
        "ix_cases_open_by_deadline",
        "cases",
        ["deadline_at", "id"],
        postgresql_where=sa.text(OPEN_CASES),
        sqlite_where=sa.text(OPEN_CASES),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_open_by_deadline", table_name="cases")
