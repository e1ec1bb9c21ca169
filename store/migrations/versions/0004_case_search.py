"""The headline of each case (the form fields that name it) and its search text.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BATCH = 1000


def upgrade() -> None:
    """Add the columns and fill them for the cases already stored."""
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("headline", JSON, nullable=True))
        batch.add_column(sa.Column("search", sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_cases_submitted_at", "cases", ["submitted_at", "id"])
    op.create_index("ix_cases_applicant_id", "cases", ["applicant_id"])
    _backfill()


def _backfill() -> None:
    # Computed as the store's writer does (store.writes.search_columns), from each case's
    # procedure version, with the code installed when the migration runs.
    from pydantic import ValidationError

    from definitions.versioning import ProcedureSnapshot
    from store.writes import search_columns

    bind = op.get_bind()
    forms: dict[tuple[str, int], Any] = {}
    for code, version, body in bind.execute(sa.text("SELECT code, version, body FROM procedures")):
        data = json.loads(body) if isinstance(body, str) else body
        try:
            forms[(code, version)] = ProcedureSnapshot.model_validate(data).procedure.form
        except ValidationError:
            forms[(code, version)] = None  # unreadable today: number and applicant only
    cases = sa.table(
        "cases",
        sa.column("id", sa.String),
        sa.column("headline", JSON),
        sa.column("search", sa.Text),
    )
    fill = (
        cases.update()
        .where(cases.c.id == sa.bindparam("case_id"))
        .values(headline=sa.bindparam("new_headline"), search=sa.bindparam("new_search"))
    )
    last = ""
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, procedure_code, procedure_version, applicant_id, form FROM cases"
                " WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        values = []
        for case_id, code, version, applicant, form in rows:
            filled = json.loads(form) if isinstance(form, str) else form or {}
            headline, search = search_columns(
                forms.get((code, version)), case_id, applicant, filled
            )
            values.append({"case_id": case_id, "new_headline": headline, "new_search": search})
        bind.execute(fill, values)
        last = rows[-1][0]


def downgrade() -> None:
    """Drop the columns."""
    op.drop_index("ix_cases_applicant_id", table_name="cases")
    op.drop_index("ix_cases_submitted_at", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("search")
        batch.drop_column("headline")
