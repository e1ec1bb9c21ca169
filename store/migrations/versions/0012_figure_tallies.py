"""The figures' projection: each case's measure, each month's tally per group, and how far
the projection has read the feed (evaluation.rollups).

Cases stored before it are measured by the projector as it reads the feed from the start.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("measure", JSON, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("stale", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_facts"),
    )
    op.create_index("ix_case_facts_month", "case_facts", ["month"])
    op.create_index(
        "ix_case_facts_stale",
        "case_facts",
        ["case_id"],
        postgresql_where=sa.text("stale"),
        sqlite_where=sa.text("stale"),
    )
    op.create_table(
        "figure_tallies",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("tally", JSON, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", "month", name="pk_figure_tallies"),
    )
    op.create_index("ix_figure_tallies_kind_month", "figure_tallies", ["kind", "month"])
    op.create_table(
        "projections",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_projections"),
    )


def downgrade() -> None:
    op.drop_table("projections")
    op.drop_index("ix_figure_tallies_kind_month", table_name="figure_tallies")
    op.drop_table("figure_tallies")
    op.drop_index("ix_case_facts_stale", table_name="case_facts")
    op.drop_index("ix_case_facts_month", table_name="case_facts")
    op.drop_table("case_facts")
