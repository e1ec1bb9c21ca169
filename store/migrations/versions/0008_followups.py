"""Follow-ups of bad ratings (差评回访核实与整改).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 200
CODE = 100
STATE = 32
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the table and its indexes."""
    op.create_table(
        "followups",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("rating_seq", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(STATE), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("rated_at", INSTANT, nullable=False),
        sa.Column("applicant_id", sa.String(CODE), nullable=False),
        sa.Column("procedure_code", sa.String(CODE), nullable=False),
        sa.Column("procedure_name", sa.Text(), nullable=False),
        sa.Column("departments", JSON, nullable=False),
        sa.Column("state", sa.String(STATE), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("parts", JSON, nullable=False),
        sa.Column("opened_at", INSTANT, nullable=True),
        sa.Column("concluded_at", INSTANT, nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.Column("start", JSON, nullable=True),
        sa.Column("started_at", INSTANT, nullable=True),
        sa.Column("next_attempt_at", INSTANT, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_followups_case_id", "followups", ["case_id"])
    op.create_index("ix_followups_rated_at", "followups", ["rated_at"])
    op.create_index("ix_followups_pending", "followups", ["started_at", "next_attempt_at"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("followups")
