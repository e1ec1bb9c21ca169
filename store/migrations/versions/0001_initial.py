"""The initial schema: procedures, cases, tasks and the events feed.

Written by hand to match ``store/models.py`` at this revision (the tests compare them). Types
are spelled out here rather than imported from the models, so that later model changes never
alter what this revision creates.

Revision ID: 0001
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID, CODE, STATE = 200, 100, 32


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _instant() -> sa.DateTime:
    """UTC instant: ``timestamptz`` on PostgreSQL, naive UTC text on SQLite."""
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the four tables with their keys and indexes."""
    op.create_table(
        "procedures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(CODE), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(CODE), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("body", _json(), nullable=False),
        sa.Column("published_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_procedures"),
        sa.UniqueConstraint("code", "version", name="uq_procedures_code_version"),
    )

    op.create_table(
        "cases",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("procedure_code", sa.String(CODE), nullable=False),
        sa.Column("procedure_version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(CODE), nullable=False),
        sa.Column("procedure_name", sa.Text(), nullable=False),
        sa.Column("applicant_id", sa.String(CODE), nullable=False),
        sa.Column("state", sa.String(STATE), nullable=False),
        sa.Column("stage_key", sa.String(CODE), nullable=True),
        sa.Column("departments", _json(), nullable=False),
        sa.Column("form", _json(), nullable=False),
        sa.Column("submitted_at", _instant(), nullable=False),
        sa.Column("accepted_at", _instant(), nullable=True),
        sa.Column("deemed_accepted", sa.Boolean(), nullable=False),
        sa.Column("intake_due_at", _instant(), nullable=True),
        sa.Column("clock", sa.String(STATE), nullable=False),
        sa.Column("suspended_since", _instant(), nullable=True),
        sa.Column("missing", _json(), nullable=False),
        sa.Column("tolerance_due_at", _instant(), nullable=True),
        sa.Column("deadline_at", _instant(), nullable=True),
        sa.Column("deadline_date", sa.Date(), nullable=True),
        sa.Column("warning_at", _instant(), nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("urge_due_at", _instant(), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("promised_trips", sa.Integer(), nullable=False),
        sa.Column("decided_at", _instant(), nullable=True),
        sa.Column("delivery_due_at", _instant(), nullable=True),
        sa.Column("delivered_at", _instant(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("closed_at", _instant(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
    )
    op.create_index("ix_cases_state", "cases", ["state"])
    op.create_index("ix_cases_procedure_code", "cases", ["procedure_code"])
    op.create_index("ix_cases_deadline_at", "cases", ["deadline_at"])

    op.create_table(
        "tasks",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("task_key", sa.String(CODE), nullable=False),
        sa.Column("stage_key", sa.String(CODE), nullable=False),
        sa.Column("item_code", sa.String(CODE), nullable=False),
        sa.Column("item_name", sa.Text(), nullable=False),
        sa.Column("department", sa.String(CODE), nullable=False),
        sa.Column("state", sa.String(STATE), nullable=False),
        sa.Column("assignee", sa.String(CODE), nullable=True),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("opened_at", _instant(), nullable=True),
        sa.Column("claimed_at", _instant(), nullable=True),
        sa.Column("decided_at", _instant(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("clock", sa.String(STATE), nullable=False),
        sa.Column("deadline_at", _instant(), nullable=True),
        sa.Column("deadline_date", sa.Date(), nullable=True),
        sa.Column("warning_at", _instant(), nullable=True),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("urge_due_at", _instant(), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_tasks_case_id_cases", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_tasks_inbox", "tasks", ["department", "state", "deadline_at"])
    op.create_index("ix_tasks_case_id", "tasks", ["case_id"])

    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(CODE), nullable=False),
        sa.Column("at", _instant(), nullable=False),
        sa.Column("actor_id", sa.String(CODE), nullable=False),
        sa.Column("actor_role", sa.String(STATE), nullable=False),
        sa.Column("department", sa.String(CODE), nullable=True),
        sa.Column("task_key", sa.String(CODE), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("recorded_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("case_id", "seq", name="uq_events_case_id_seq"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_events_type", "events", ["type"])


def downgrade() -> None:
    """Drop everything this revision created (the data with it)."""
    op.drop_index("ix_events_type", table_name="events")
    op.drop_index("ix_events_at", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_tasks_case_id", table_name="tasks")
    op.drop_index("ix_tasks_inbox", table_name="tasks")
    op.drop_table("tasks")
    op.drop_index("ix_cases_deadline_at", table_name="cases")
    op.drop_index("ix_cases_procedure_code", table_name="cases")
    op.drop_index("ix_cases_state", table_name="cases")
    op.drop_table("cases")
    op.drop_table("procedures")
