"""Clocks, incidents, published calendar years, request keys; desk tasks and step columns.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID, CODE, STATE = 200, 100, 32
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the tables and columns of the second edition of the case engine."""
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(STATE), nullable=False, server_default="review")
        )
        batch.add_column(sa.Column("provisional", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("step", sa.String(CODE), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("incidents", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("calendar_revision", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "clocks",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("key", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(STATE), nullable=False),
        sa.Column("task_key", sa.String(CODE), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("status", sa.String(STATE), nullable=False),
        sa.Column("calendar", sa.String(CODE), nullable=False),
        sa.Column("start", INSTANT, nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("spans", JSON, nullable=False),
        sa.Column("due_at", INSTANT, nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("warning_at", INSTANT, nullable=True),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("derivation", JSON, nullable=True),
        sa.Column("calendar_revision", sa.Integer(), nullable=False),
        sa.Column("ended_at", INSTANT, nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_clocks_case_id_cases", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_clocks"),
    )
    op.create_index("ix_clocks_case_id", "clocks", ["case_id"])
    op.create_index("ix_clocks_status_due_date", "clocks", ["status", "due_date"])
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(STATE), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("opened_at", INSTANT, nullable=False),
        sa.Column("resolved_at", INSTANT, nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(CODE), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_incidents_case_id_cases", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_case_id", "incidents", ["case_id"])
    op.create_index("ix_incidents_resolved_at", "incidents", ["resolved_at"])
    op.create_table(
        "calendar_years",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("calendar", sa.String(CODE), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("content_hash", sa.String(CODE), nullable=False),
        sa.Column("published_at", INSTANT, nullable=False),
        sa.Column("published_by", sa.String(CODE), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_years"),
    )
    op.create_index("ix_calendar_years_calendar_year", "calendar_years", ["calendar", "year"])
    op.create_table(
        "request_keys",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_request_keys"),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("request_keys")
    op.drop_index("ix_calendar_years_calendar_year", table_name="calendar_years")
    op.drop_table("calendar_years")
    op.drop_index("ix_incidents_resolved_at", table_name="incidents")
    op.drop_index("ix_incidents_case_id", table_name="incidents")
    op.drop_table("incidents")
    op.drop_index("ix_clocks_status_due_date", table_name="clocks")
    op.drop_index("ix_clocks_case_id", table_name="clocks")
    op.drop_table("clocks")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("calendar_revision")
        batch.drop_column("incidents")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("step")
        batch.drop_column("provisional")
        batch.drop_column("kind")
