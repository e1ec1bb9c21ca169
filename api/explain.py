"""Rows as lists show them: each deadline with its working-day derivation (from ``clocks``)."""

from __future__ import annotations

from api.schemas import CaseSummary, TaskView
from store import queries
from store.db import Store
from workflows.contracts import CaseRow, TaskRow


def tasks(store: Store, rows: list[TaskRow]) -> list[TaskView]:
    """Tasks with the derivation of their deadline, so a red card can be read and contested."""
    found = queries.derivations(store, (f"{t.case_id}/{t.clock_key}" for t in rows))
    return [
        TaskView.model_validate(
            {**t.model_dump(), "derivation": found.get(f"{t.case_id}/{t.clock_key}")}
        )
        for t in rows
    ]


def cases(store: Store, rows: list[CaseRow]) -> list[CaseSummary]:
    """Cases with the derivation of their committed limit's deadline."""
    found = queries.derivations(store, (f"{c.id}/case" for c in rows))
    return [
        CaseSummary.model_validate({**c.model_dump(), "derivation": found.get(f"{c.id}/case")})
        for c in rows
    ]
