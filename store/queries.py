"""Read-side queries for the API, returning the contracts' pydantic models.

Every function takes a :class:`store.db.Store` (a short read transaction of its own) or an open
session (e.g. the API request's). Results are detached pydantic models, safe to return after
the session ends. Instants come back timezone-aware in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, exists, func, select

from definitions.versioning import ProcedureSnapshot
from store.models import Case, ClockRecord, EventRecord, IncidentRecord, ProcedureVersion, Task
from store.writes import StoreOrSession, transaction
from workflows.contracts import (
    OPEN_TASK_STATES,
    TERMINAL_STATES,
    CaseRow,
    Clock,
    ClockRow,
    Event,
    EventType,
    IncidentRow,
    TaskRow,
    TaskState,
)

_OPEN = sorted(s.value for s in OPEN_TASK_STATES)
_TERMINAL = sorted(s.value for s in TERMINAL_STATES)


class ProcedureInfo(BaseModel):
    """A published procedure version without its body (for listings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    version: int
    name: str
    content_hash: str
    published_at: dt.datetime
    """When it was published (UTC)."""


# --------------------------------------------------------------------------- conversions


def _case(row: Case) -> CaseRow:
    return CaseRow.model_validate({f: getattr(row, f) for f in CaseRow.model_fields})


def _task(row: Task) -> TaskRow:
    return TaskRow.model_validate({f: getattr(row, f) for f in TaskRow.model_fields})


def _event(row: EventRecord) -> Event:
    return Event.model_validate({f: getattr(row, f) for f in Event.model_fields})


def _clock(row: ClockRecord) -> ClockRow:
    return ClockRow.model_validate({f: getattr(row, f) for f in ClockRow.model_fields})


def _incident(row: IncidentRecord) -> IncidentRow:
    return IncidentRow.model_validate({f: getattr(row, f) for f in IncidentRow.model_fields})


# --------------------------------------------------------------------------- procedures


def get_procedure(
    target: StoreOrSession, code: str, version: int | None = None
) -> ProcedureSnapshot | None:
    """A published procedure snapshot: the given version, or the latest one when None."""
    query = select(ProcedureVersion.body).where(ProcedureVersion.code == code)
    if version is not None:
        query = query.where(ProcedureVersion.version == version)
    query = query.order_by(ProcedureVersion.version.desc()).limit(1)
    with transaction(target) as session:
        body = session.scalar(query)
    return None if body is None else ProcedureSnapshot.model_validate(body)


def known_departments(target: StoreOrSession) -> set[str]:
    """Codes of the departments that published procedures involve (the catalog's)."""
    with transaction(target) as session:
        bodies = session.scalars(select(ProcedureVersion.body))
        return {
            str(d.get("code"))
            for body in bodies
            for d in (body.get("departments") or [])
            if isinstance(d, dict)
        }


def list_procedures(target: StoreOrSession) -> list[ProcedureInfo]:
    """Every published procedure version, by code then version."""
    query = select(
        ProcedureVersion.code,
        ProcedureVersion.version,
        ProcedureVersion.name,
        ProcedureVersion.content_hash,
        ProcedureVersion.published_at,
    ).order_by(ProcedureVersion.code, ProcedureVersion.version)
    with transaction(target) as session:
        return [
            ProcedureInfo.model_validate(r, from_attributes=True) for r in session.execute(query)
        ]


# --------------------------------------------------------------------------- cases and tasks


def get_case(target: StoreOrSession, case_id: str) -> CaseRow | None:
    """The case projection, or None if no event of the case was recorded."""
    with transaction(target) as session:
        row = session.get(Case, case_id)
        return None if row is None else _case(row)


def case_tasks(target: StoreOrSession, case_id: str) -> list[TaskRow]:
    """Every task of a case, in creation order."""
    query = select(Task).where(Task.case_id == case_id).order_by(Task.created_at, Task.id)
    with transaction(target) as session:
        return [_task(r) for r in session.scalars(query)]


def inbox(
    target: StoreOrSession,
    department: str,
    *,
    states: Iterable[TaskState | str] = (TaskState.open, TaskState.claimed),
    assignee: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[TaskRow]:
    """A department's tasks, most urgent first.

    Ordered by deadline (tasks without one last), then creation, then id, so pages are stable.

    Args:
        department: the department code.
        states: task states to show (default: open and claimed).
        assignee: only tasks claimed by or reassigned to this caseworker.
        limit: page size (rows); offset: rows to skip.
    """
    query = select(Task).where(
        Task.department == department, Task.state.in_([str(s) for s in states])
    )
    if assignee is not None:
        query = query.where(Task.assignee == assignee)
    query = (
        query.order_by(Task.deadline_at.asc().nulls_last(), Task.created_at, Task.id)
        .limit(limit)
        .offset(offset)
    )
    with transaction(target) as session:
        return [_task(r) for r in session.scalars(query)]


def _open_tasks(department: str | None, procedure: str | None) -> Select[Task]:
    query = select(Task).where(Task.state.in_(_OPEN))
    if department is not None:
        query = query.where(Task.department == department)
    if procedure is not None:
        query = query.join(Case, Case.id == Task.case_id).where(Case.procedure_code == procedure)
    return query.order_by(Task.deadline_at.asc().nulls_last(), Task.id)


def overdue_tasks(
    target: StoreOrSession, *, department: str | None = None, procedure: str | None = None
) -> list[TaskRow]:
    """Open or claimed tasks past their deadline, oldest deadline first.

    Args:
        department: only this department's tasks.
        procedure: only tasks of cases of this procedure code.
    """
    query = _open_tasks(department, procedure).where(Task.overdue.is_(True))
    with transaction(target) as session:
        return [_task(r) for r in session.scalars(query)]


def warning_tasks(
    target: StoreOrSession, *, department: str | None = None, procedure: str | None = None
) -> list[TaskRow]:
    """Open or claimed tasks past their warning instant but not yet overdue (预警)."""
    query = _open_tasks(department, procedure).where(Task.warned.is_(True), Task.overdue.is_(False))
    with transaction(target) as session:
        return [_task(r) for r in session.scalars(query)]


def overdue_cases(
    target: StoreOrSession, *, department: str | None = None, procedure: str | None = None
) -> list[CaseRow]:
    """Cases not yet closed that are past their deadline, oldest deadline first.

    Args:
        department: only cases with a task of this department.
        procedure: only cases of this procedure code.
    """
    query = select(Case).where(Case.overdue.is_(True), Case.state.not_in(_TERMINAL))
    if procedure is not None:
        query = query.where(Case.procedure_code == procedure)
    if department is not None:
        query = query.where(exists().where(Task.case_id == Case.id, Task.department == department))
    query = query.order_by(Case.deadline_at.asc().nulls_last(), Case.id)
    with transaction(target) as session:
        return [_case(r) for r in session.scalars(query)]


def case_clocks(target: StoreOrSession, case_id: str) -> list[ClockRow]:
    """Every clock of a case (running, suspended and ended), in the order they started."""
    query = (
        select(ClockRecord)
        .where(ClockRecord.case_id == case_id)
        .order_by(ClockRecord.start, ClockRecord.id)
    )
    with transaction(target) as session:
        return [_clock(r) for r in session.scalars(query)]


def derivations(target: StoreOrSession, clock_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The derivation of each of those clocks (``<case id>/<clock key>``) that has one."""
    ids = sorted(set(clock_ids))
    if not ids:
        return {}
    query = select(ClockRecord.id, ClockRecord.derivation).where(ClockRecord.id.in_(ids))
    with transaction(target) as session:
        return {i: d for i, d in session.execute(query) if d is not None}


def incidents(
    target: StoreOrSession,
    *,
    resolved: bool = False,
    case_id: str | None = None,
    limit: int = 100,
) -> list[tuple[IncidentRow, CaseRow]]:
    """Incidents with their cases, oldest first: open ones, or resolved ones too."""
    query = select(IncidentRecord, Case).join(Case, Case.id == IncidentRecord.case_id)
    if not resolved:
        query = query.where(IncidentRecord.resolved_at.is_(None))
    if case_id is not None:
        query = query.where(IncidentRecord.case_id == case_id)
    query = query.order_by(IncidentRecord.opened_at, IncidentRecord.id).limit(limit)
    with transaction(target) as session:
        return [(_incident(i), _case(c)) for i, c in session.execute(query)]


def cases_to_recalculate(target: StoreOrSession, first: dt.date, last: dt.date) -> list[str]:
    """Open cases with a clock a change of the calendar between those dates may move.

    A clock that has not ended, that started before ``last``, and that is suspended (its due
    instant will be computed again when it runs), provisional, not computed yet, or due on or
    after ``first``.
    """
    query = (
        select(ClockRecord.case_id)
        .join(Case, Case.id == ClockRecord.case_id)
        .where(
            Case.state.not_in(_TERMINAL),
            ClockRecord.status != Clock.ended.value,
            ClockRecord.start < dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC),
            (ClockRecord.status == Clock.suspended.value)
            | ClockRecord.provisional.is_(True)
            | ClockRecord.due_date.is_(None)
            | (ClockRecord.due_date >= first),
        )
        .distinct()
        .order_by(ClockRecord.case_id)
    )
    with transaction(target) as session:
        return list(session.scalars(query))


def moved_by_revision(target: StoreOrSession, revision: int) -> list[Event]:
    """The ``deadline.moved`` events a calendar revision caused, by case and sequence (not the
    moves of resumed clocks that happened to be computed with it)."""
    query = (
        select(EventRecord)
        .where(
            EventRecord.type == EventType.deadline_moved.value,
            EventRecord.payload["revision"].as_integer() == revision,
            EventRecord.payload["reason"].as_string() == "calendar",
        )
        .order_by(EventRecord.case_id, EventRecord.seq)
    )
    with transaction(target) as session:
        return [_event(r) for r in session.scalars(query)]


# --------------------------------------------------------------------------- events


def timeline(target: StoreOrSession, case_id: str) -> list[Event]:
    """Every event of a case, in sequence order."""
    query = select(EventRecord).where(EventRecord.case_id == case_id).order_by(EventRecord.seq)
    with transaction(target) as session:
        return [_event(r) for r in session.scalars(query)]


def events_after(
    target: StoreOrSession, cursor: int = 0, limit: int = 100
) -> tuple[list[tuple[int, Event]], int]:
    """A page of the global supervision feed, in insertion order.

    Args:
        cursor: the id of the last event already seen (0: from the start).
        limit: at most this many events.

    Returns:
        ``(rows, next_cursor)``: each row is ``(event id, event)``; pass ``next_cursor`` back
        to get the next page. It equals ``cursor`` when nothing newer exists yet.
    """
    query = select(EventRecord).where(EventRecord.id > cursor).order_by(EventRecord.id).limit(limit)
    with transaction(target) as session:
        rows = [(r.id, _event(r)) for r in session.scalars(query)]
    return rows, rows[-1][0] if rows else cursor


def count_events(target: StoreOrSession, case_id: str) -> int:
    """How many events a case has recorded."""
    query = select(func.count()).select_from(EventRecord).where(EventRecord.case_id == case_id)
    with transaction(target) as session:
        return session.scalar(query) or 0


__all__ = [
    "ProcedureInfo",
    "case_clocks",
    "case_tasks",
    "cases_to_recalculate",
    "count_events",
    "derivations",
    "events_after",
    "get_case",
    "get_procedure",
    "inbox",
    "incidents",
    "list_procedures",
    "moved_by_revision",
    "overdue_cases",
    "overdue_tasks",
    "timeline",
    "warning_tasks",
]


def applicant_cases(
    target: StoreOrSession, applicant_id: str, *, limit: int = 50, offset: int = 0
) -> list[CaseRow]:
    """An applicant's cases, newest first."""
    with transaction(target) as session:
        rows = session.scalars(
            select(Case)
            .where(Case.applicant_id == applicant_id)
            .order_by(Case.submitted_at.desc(), Case.id)
            .limit(limit)
            .offset(offset)
        )
        return [_case(r) for r in rows]
