"""Read-side queries for the API, returning the contracts' pydantic models.

Every function takes a :class:`store.db.Store` (a short read transaction of its own) or an open
session (e.g. the API request's). Results are detached pydantic models, safe to return after
the session ends. Instants come back timezone-aware in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, and_, bindparam, case, exists, func, not_, or_, select

from definitions.calendar import SHANGHAI
from definitions.versioning import ProcedureSnapshot
from store import feed
from store.models import (
    Case,
    ClockRecord,
    EventRecord,
    IncidentRecord,
    ProcedureVersion,
    Task,
    User,
)
from store.writes import StoreOrSession, transaction, version_snapshot
from workflows.contracts import (
    OPEN_TASK_STATES,
    TERMINAL_STATES,
    CaseRow,
    CaseState,
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


def cases_by_version(target: StoreOrSession, code: str) -> dict[int, tuple[int, int]]:
    """How many cases each version of a procedure has, and how many of them are still open
    (a version is retired only when its open cases are done)."""
    query = (
        select(
            Case.procedure_version,
            func.count(),
            func.count().filter(Case.state.not_in(_TERMINAL)),
        )
        .where(Case.procedure_code == code)
        .group_by(Case.procedure_version)
    )
    with transaction(target) as session:
        return {int(v): (int(n), int(o)) for v, n, o in session.execute(query)}


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


TaskKey = tuple[dt.datetime | None, dt.datetime, str]
"""Where a page of tasks ended: its last row's deadline, creation and id (keyset paging)."""

_TASK_ORDER = (Task.deadline_at.asc().nulls_last(), Task.created_at, Task.id)
"""Most urgent first: by deadline (tasks without one last), then creation, then id, so pages
are stable."""


def task_key(row: TaskRow) -> TaskKey:
    """The key a page ending with ``row`` continues after."""
    return (row.deadline_at, row.created_at, row.id)


def _after(query: Select[Task], after: TaskKey | None) -> Select[Task]:
    if after is None:
        return query
    at, created, last = after
    tail = or_(Task.created_at > created, and_(Task.created_at == created, Task.id > last))
    if at is None:
        return query.where(Task.deadline_at.is_(None), tail)
    return query.where(
        or_(
            Task.deadline_at > at,
            and_(Task.deadline_at == at, tail),
            Task.deadline_at.is_(None),
        )
    )


def _rows(target: StoreOrSession, query: Select[Task]) -> list[TaskRow]:
    with transaction(target) as session:
        return [_task(r) for r in session.scalars(query)]


def inbox(
    target: StoreOrSession,
    department: str,
    *,
    states: Iterable[TaskState | str] = (TaskState.open, TaskState.claimed),
    assignee: str | None = None,
    limit: int = 50,
    after: TaskKey | None = None,
) -> list[TaskRow]:
    """A page of a department's tasks, most urgent first (keyset: as fast deep as first).

    Args:
        department: the department code.
        states: task states to show (default: open and claimed).
        assignee: only tasks claimed by or reassigned to this caseworker.
        limit: page size (rows); after: the key of the previous page's last row
            (:func:`task_key`).
    """
    wanted = sorted(str(s) for s in states)
    query = select(Task).where(
        Task.department == department,
        # Written out, so that every plan sees the partial index of open work.
        Task.state.in_(bindparam("states", wanted, expanding=True, literal_execute=True)),
    )
    if assignee is not None:
        query = query.where(Task.assignee == assignee)
    return _rows(target, _after(query, after).order_by(*_TASK_ORDER).limit(limit))


def _open_work() -> Any:
    """``state IN ('claimed', 'open')`` with the values written out (never as parameters),
    so that the planner sees the predicate of the partial indexes of open work (ix_tasks_*)
    in every plan, a prepared one included."""
    return Task.state.in_(bindparam("open_work", _OPEN, expanding=True, literal_execute=True))


def _open_tasks(department: str | None, procedure: str | None) -> Select[Task]:
    query = select(Task).where(_open_work())
    if department is not None:
        query = query.where(Task.department == department)
    if procedure is not None:
        query = query.join(Case, Case.id == Task.case_id).where(Case.procedure_code == procedure)
    return query


def _flagged(
    query: Select[Task],
    since: dt.datetime | None,
    until: dt.datetime | None,
    limit: int | None,
    after: TaskKey | None,
) -> Select[Task]:
    if since is not None:
        query = query.where(Task.deadline_at >= since)
    if until is not None:
        query = query.where(Task.deadline_at < until)
    query = _after(query, after).order_by(*_TASK_ORDER)
    return query if limit is None else query.limit(limit)


def overdue_tasks(
    target: StoreOrSession,
    *,
    department: str | None = None,
    procedure: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
    after: TaskKey | None = None,
) -> list[TaskRow]:
    """Open or claimed tasks past their deadline (红牌), oldest deadline first; a page of
    ``limit`` after ``after`` (keyset), or all of them.

    Args:
        department: only this department's tasks.
        procedure: only tasks of cases of this procedure code.
        since, until: only tasks whose deadline falls from ``since`` to before ``until``.
    """
    query = _open_tasks(department, procedure).where(Task.overdue)
    return _rows(target, _flagged(query, since, until, limit, after))


def warning_tasks(
    target: StoreOrSession,
    *,
    department: str | None = None,
    procedure: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
    after: TaskKey | None = None,
) -> list[TaskRow]:
    """Open or claimed tasks past their warning instant but not yet overdue (黄牌, 预警);
    paged like :func:`overdue_tasks`."""
    query = _open_tasks(department, procedure).where(Task.warned, not_(Task.overdue))
    return _rows(target, _flagged(query, since, until, limit, after))


def flagged_counts(target: StoreOrSession) -> dict[str, dict[str, int]]:
    """Per department, how many open tasks carry a yellow card (``warning``) and how many a
    red one (``overdue``)."""
    query = (
        select(
            Task.department,
            func.sum(case((Task.overdue.is_(True), 1), else_=0)),
            func.sum(case((and_(Task.warned.is_(True), Task.overdue.is_(False)), 1), else_=0)),
        )
        .where(_open_work(), or_(Task.overdue, Task.warned))
        .group_by(Task.department)
    )
    with transaction(target) as session:
        return {
            department: {"warning": int(warned or 0), "overdue": int(overdue or 0)}
            for department, overdue, warned in session.execute(query)
        }


class CaseFilter(BaseModel):
    """What a supervisor looks for; every criterion given must hold."""

    model_config = ConfigDict(frozen=True)

    states: tuple[CaseState, ...] = ()
    procedure: str | None = None
    department: str | None = None
    """Cases with a task of this department (the front desk's intake and delivery count)."""
    applicant: str | None = None
    submitted_from: dt.date | None = None
    """Asia/Shanghai calendar days, both ends included."""
    submitted_to: dt.date | None = None
    due_from: dt.date | None = None
    """On the committed limit's deadline date, both ends included."""
    due_to: dt.date | None = None
    warned: bool | None = None
    overdue: bool | None = None
    escalated: bool | None = None
    text: str | None = None
    """Part of the case number, the applicant's id or a headline field (case-insensitive)."""


OPEN_CASES = tuple(s for s in CaseState if s not in TERMINAL_STATES)
"""The states of a case not yet closed."""

CaseSort = Literal["submitted", "deadline"]
"""``submitted``: newest first; ``deadline``: soonest deadline first, cases without one last."""

CaseKey = tuple[dt.datetime | None, str]
"""Where a page ended: the sort instant and the case number of its last row."""


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), SHANGHAI)


def _filtered(f: CaseFilter) -> Select[Any]:
    query = select(Case)
    if f.states:
        # Written out, so that every plan sees when they are open states only (the partial
        # index of open cases by deadline).
        states = sorted(s.value for s in f.states)
        query = query.where(
            Case.state.in_(bindparam("states", states, expanding=True, literal_execute=True))
        )
    if f.procedure is not None:
        query = query.where(Case.procedure_code == f.procedure)
    if f.department is not None:
        query = query.where(
            exists().where(Task.case_id == Case.id, Task.department == f.department)
        )
    if f.applicant is not None:
        query = query.where(Case.applicant_id == f.applicant)
    if f.submitted_from is not None:
        query = query.where(Case.submitted_at >= _start_of(f.submitted_from))
    if f.submitted_to is not None:
        query = query.where(Case.submitted_at < _start_of(f.submitted_to + dt.timedelta(days=1)))
    if f.due_from is not None:
        query = query.where(Case.deadline_date >= f.due_from)
    if f.due_to is not None:
        query = query.where(Case.deadline_date <= f.due_to)
    for column, wanted in (
        (Case.warned, f.warned),
        (Case.overdue, f.overdue),
        (Case.escalated, f.escalated),
    ):
        if wanted is not None:
            query = query.where(column if wanted else not_(column))
    if f.text:
        query = query.where(Case.search.contains(f.text.casefold(), autoescape=True))
    return query


def find_cases(
    target: StoreOrSession,
    f: CaseFilter,
    *,
    sort: CaseSort = "submitted",
    after: CaseKey | None = None,
    limit: int = 50,
) -> tuple[list[tuple[CaseRow, dict[str, str]]], CaseKey | None]:
    """A page of cases with their headline, and the key to ask for the next page (None at
    the end). Keyset paging: a page is as fast on the last page as on the first. By
    submission the order never changes, so cases written meanwhile neither repeat nor go
    missing; by deadline a case whose deadline moved between two pages (a supplement, a new
    calendar) can appear twice or not at all."""
    query = _filtered(f)
    if sort == "submitted":
        if after is not None:
            at, last = after
            query = query.where(
                or_(Case.submitted_at < at, and_(Case.submitted_at == at, Case.id < last))
            )
        query = query.order_by(Case.submitted_at.desc(), Case.id.desc())
    else:
        if after is not None:
            at, last = after
            if at is None:
                query = query.where(Case.deadline_at.is_(None), Case.id > last)
            else:
                query = query.where(
                    or_(
                        Case.deadline_at > at,
                        and_(Case.deadline_at == at, Case.id > last),
                        Case.deadline_at.is_(None),
                    )
                )
        query = query.order_by(Case.deadline_at.asc().nulls_last(), Case.id.asc())
    with transaction(target) as session:
        rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    page = [(_case(r), dict(r.headline or {})) for r in rows]
    if not more or not rows:
        return page, None
    end = rows[-1]
    return page, (end.submitted_at if sort == "submitted" else end.deadline_at, end.id)


def count_cases(target: StoreOrSession, f: CaseFilter) -> dict[str, int]:
    """How many cases match, by state (states with none are left out)."""
    inner = _filtered(f).with_only_columns(Case.state).subquery()
    query = select(inner.c.state, func.count()).group_by(inner.c.state)
    with transaction(target) as session:
        return {state: n for state, n in session.execute(query)}


class TaskContext(BaseModel):
    """What an inbox row shows of its case."""

    procedure: str
    procedure_name: str
    applicant: str
    applicant_name: str | None = None
    headline: dict[str, str]
    stage_names: dict[str, str]
    """Stage key → name, from the procedure version the case runs."""
    warned: bool = False
    overdue: bool = False
    escalated: bool = False
    """The case's own cards (its committed limit), which its tasks' rows also show."""
    urge_due_at: dt.datetime | None = None
    """A supervisor's urge on the whole case (督办): every task of it is urged."""
    waiting_for_applicant: bool = False
    """The case's clock stands still until the applicant hands in what was asked for."""
    owed_before_delivery: bool = False
    """Decided, but the results wait for 容缺 materials the applicant still owes."""


def task_context(target: StoreOrSession, case_ids: Iterable[str]) -> dict[str, TaskContext]:
    """The context of each of those cases for inbox rows, in two queries."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    query = (
        select(
            Case.id,
            Case.procedure_code,
            Case.procedure_version,
            Case.content_hash,
            Case.procedure_name,
            Case.applicant_id,
            Case.headline,
            User.name,
            Case.warned,
            Case.overdue,
            Case.escalated,
            Case.urge_due_at,
            Case.clock,
            Case.missing,
            Case.state,
        )
        .outerjoin(User, User.id == Case.applicant_id)
        .where(Case.id.in_(ids))
    )
    out = {}
    with transaction(target) as session:
        for row in list(session.execute(query)):
            case_id, code, version, content_hash, name, applicant, headline, person = row[:8]
            warned, overdue, escalated, urge_due_at, clock, missing, state = row[8:]
            snap = version_snapshot(session, code, version, content_hash)
            stages = {s.key: s.name for s in snap.procedure.stages} if snap else {}
            if snap is not None:
                stages["@intake"] = "受理 / intake"
                stages["@delivery"] = "送达 / delivery"
            out[case_id] = TaskContext(
                procedure=code,
                procedure_name=name,
                applicant=applicant,
                applicant_name=person,
                headline=dict(headline or {}),
                stage_names=stages,
                warned=warned,
                overdue=overdue,
                escalated=escalated,
                urge_due_at=urge_due_at,
                waiting_for_applicant=clock == "suspended" and bool(missing),
                owed_before_delivery=state == "delivering" and bool(missing),
            )
    return out


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


def _moved(revision: int) -> Any:
    return and_(
        EventRecord.type == EventType.deadline_moved.value,
        EventRecord.payload["revision"].as_integer() == revision,
        EventRecord.payload["reason"].as_string() == "calendar",
    )


def moved_by_revision(
    target: StoreOrSession, revision: int, limit: int | None = None
) -> list[Event]:
    """The ``deadline.moved`` events a calendar revision caused, by case and sequence (not the
    moves of resumed clocks that happened to be computed with it); the first ``limit``."""
    query = (
        select(EventRecord).where(_moved(revision)).order_by(EventRecord.case_id, EventRecord.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    with transaction(target) as session:
        return [_event(r) for r in session.scalars(query)]


def moved_counts(target: StoreOrSession, revision: int) -> tuple[int, int]:
    """How many deadlines a calendar revision moved, and in how many cases."""
    query = select(func.count(), func.count(func.distinct(EventRecord.case_id))).where(
        _moved(revision)
    )
    with transaction(target) as session:
        moved, cases = session.execute(query).one()
    return int(moved), int(cases)


# --------------------------------------------------------------------------- events


def timeline(target: StoreOrSession, case_id: str) -> list[Event]:
    """Every event of a case, in sequence order."""
    query = select(EventRecord).where(EventRecord.case_id == case_id).order_by(EventRecord.seq)
    with transaction(target) as session:
        return [_event(r) for r in session.scalars(query)]


def events_after(
    target: StoreOrSession, cursor: int = 0, limit: int = 100
) -> tuple[list[tuple[int, Event]], int]:
    """A page of the global supervision feed, in the order events committed.

    Every event committed before the call is in the feed (the pending ones are sequenced
    first, :mod:`store.feed`), and positions only grow: a cursor never passes an event that
    is yet to appear.

    Args:
        cursor: the position of the last event already seen (0: from the start).
        limit: at most this many events.

    Returns:
        ``(rows, next_cursor)``: each row is ``(position, event)``; pass ``next_cursor`` back
        to get the next page. It equals ``cursor`` when nothing newer exists yet.
    """
    feed.sequence(target)
    query = (
        select(EventRecord)
        .where(EventRecord.position > cursor)
        .order_by(EventRecord.position)
        .limit(limit)
    )
    with transaction(target) as session:
        rows = [(int(r.position or 0), _event(r)) for r in session.scalars(query)]
    return rows, rows[-1][0] if rows else cursor


def count_events(target: StoreOrSession, case_id: str) -> int:
    """How many events a case has recorded."""
    query = select(func.count()).select_from(EventRecord).where(EventRecord.case_id == case_id)
    with transaction(target) as session:
        return session.scalar(query) or 0


__all__ = [
    "OPEN_CASES",
    "CaseFilter",
    "ProcedureInfo",
    "case_clocks",
    "case_tasks",
    "cases_to_recalculate",
    "count_cases",
    "count_events",
    "derivations",
    "events_after",
    "find_cases",
    "flagged_counts",
    "get_case",
    "get_procedure",
    "inbox",
    "incidents",
    "known_departments",
    "list_procedures",
    "moved_by_revision",
    "overdue_tasks",
    "task_context",
    "task_key",
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
