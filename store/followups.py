"""Follow-ups of bad ratings in the store: opened with the rating, started, recorded, read.

A rating of 2 or 1 (差评), of the case (一事一评) or of an on-site visit (一次一评), adds a row
to ``followups`` in the same transaction as its event (:func:`open_for`, called by
:func:`store.writes.record`): no bad rating is stored without its follow-up, and a retried
write opens none twice (the row's id is the rating event's identity). The worker starts the
follow-up's workflow from that row (:func:`due_to_start`, :func:`started`), and the workflow
records its events and rows through :func:`record` from then on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.orm import Session

from definitions.models import WarningThreshold
from definitions.versioning import ProcedureSnapshot
from store import outbox
from store.db import StoreOrSession, transaction
from store.models import Base, ClockRecord, FollowUpRecord, Task
from workflows.contracts import (
    FOLLOWUP_SEQ,
    FOLLOWUP_TASK_PREFIX,
    CaseRow,
    Event,
    EventType,
    FollowUpDepartment,
    FollowUpInput,
    FollowUpRecordInput,
    FollowUpRow,
    FollowUpState,
    PartState,
    RecordResult,
    TaskKind,
    TaskState,
)

FOLLOWUPS: Table = Base.metadata.tables["followups"]
BAD_RATING = 2
"""Scores at or below it are 差评 and are followed up."""
RATING_EVENTS = frozenset({EventType.case_rated, EventType.visit_rated})
START_ATTEMPTS_BACKOFF_MAX = dt.timedelta(minutes=10)


def workflow_id(followup_id: str) -> str:
    """The follow-up workflow's id: ``followup-<case id>-<rating seq>``."""
    case_id, _, seq = followup_id.rpartition("/")
    return f"followup-{case_id}-{seq}"


def handled_by(session: Session, case_id: str) -> list[str]:
    """The departments that reviewed a case (a task of theirs was opened), in task order."""
    query = (
        select(Task.department)
        .where(
            Task.case_id == case_id,
            Task.kind == TaskKind.review.value,
            Task.state.not_in((TaskState.pending.value, TaskState.cancelled.value)),
        )
        .order_by(Task.created_at, Task.id)
    )
    return list(dict.fromkeys(session.scalars(query)))


def _departments(event: Event, snap: ProcedureSnapshot | None, handled: list[str]) -> list[str]:
    """Who answers for the rating: the visit's desk for 一次一评; for 一事一评 the departments
    that reviewed the case, or its front desk if none did (refused at intake …)."""
    desk = snap.procedure.intake.department if snap else None
    if event.type is EventType.visit_rated:
        found = event.department or desk
        return [found] if found else []
    if handled:
        return handled
    return [desk] if desk else []


def start_input(
    event: Event, case: CaseRow, snap: ProcedureSnapshot | None, handled: list[str]
) -> FollowUpInput | None:
    """What the follow-up of a rating event starts from; None if the rating is not bad (or
    counted by default: nobody gave it)."""
    p = event.payload
    score = p.get("score")
    if event.type not in RATING_EVENTS or p.get("defaulted"):
        return None
    if not isinstance(score, int) or isinstance(score, bool) or score > BAD_RATING:
        return None
    known = {d.code: d for d in snap.departments} if snap else {}
    departments = []
    for code in _departments(event, snap, handled):
        d = known.get(code)
        departments.append(
            FollowUpDepartment(
                code=code,
                name=d.name if d else code,
                calendar=(d.calendar if d and d.calendar else "national"),
                callback_days=(d.callback_days if d and d.callback_days else 3),
                rectification_days=(d.rectification_days if d and d.rectification_days else 15),
            )
        )
    if not departments:
        return None
    comment = p.get("comment")
    return FollowUpInput(
        id=f"{case.id}/{event.seq}",
        case_id=case.id,
        rating_seq=event.seq,
        source="visit" if event.type is EventType.visit_rated else "case",
        score=score,
        comment=comment if isinstance(comment, str) else None,
        rated_at=event.at,
        applicant_id=case.applicant_id,
        procedure_code=case.procedure_code,
        procedure_name=case.procedure_name,
        departments=departments,
        warning=snap.procedure.supervision.warning if snap else WarningThreshold(days_before=1),
    )


def _columns(row: FollowUpRow) -> dict[str, Any]:
    data = row.model_dump(mode="json")
    for key in ("rated_at", "opened_at", "concluded_at"):
        data[key] = getattr(row, key)
    return data


def open_for(
    session: Session,
    events: Sequence[Event],
    case: CaseRow,
    snap: ProcedureSnapshot | None,
    now: dt.datetime,
) -> None:
    """Open a follow-up for each bad rating among ``events`` (in the caller's transaction)."""
    from store.writes import insert_statement

    rows = []
    handled: list[str] | None = None
    for event in events:
        if event.type not in RATING_EVENTS:
            continue
        if handled is None:
            handled = handled_by(session, case.id)
        start = start_input(event, case, snap, handled)
        if start is None:
            continue
        rows.append(
            _columns(FollowUpRow.opening(start))
            | {
                "updated_at": now,
                "start": start.model_dump(mode="json"),
                "started_at": None,
                "next_attempt_at": now,
                "attempts": 0,
            }
        )
    if rows:
        stmt = insert_statement(session, FOLLOWUPS).on_conflict_do_nothing(index_elements=["id"])
        session.execute(stmt, rows)


def due_to_start(target: StoreOrSession, now: dt.datetime, limit: int = 50) -> list[FollowUpInput]:
    """Follow-ups whose workflow is still to be started, and due to be tried now."""
    query = (
        select(FollowUpRecord.id, FollowUpRecord.start)
        .where(
            FollowUpRecord.started_at.is_(None),
            FollowUpRecord.start.is_not(None),
            or_(FollowUpRecord.next_attempt_at.is_(None), FollowUpRecord.next_attempt_at <= now),
        )
        .order_by(FollowUpRecord.next_attempt_at, FollowUpRecord.id)
        .limit(limit)
    )
    with transaction(target) as session:
        rows = list(session.execute(query))
    due = []
    for followup_id, start in rows:
        try:
            due.append(FollowUpInput.model_validate(start))
        except ValueError as error:  # unreadable: kept aside, the others still start
            start_failed(target, followup_id, f"unreadable start: {str(error)[:200]}", now)
    return due


def started(target: StoreOrSession, followup_id: str, now: dt.datetime) -> None:
    """Its workflow runs (or ran): the worker will not start it again."""
    with transaction(target) as session:
        session.execute(
            update(FOLLOWUPS)
            .where(FOLLOWUPS.c.id == followup_id)
            .values(started_at=now, last_error=None)
        )


def to_resume(target: StoreOrSession, start: FollowUpInput) -> None:
    """A follow-up whose beginning was written elsewhere (a history) is to be started from its
    state (``start.resume``) by the worker."""
    with transaction(target) as session:
        session.execute(
            update(FOLLOWUPS)
            .where(FOLLOWUPS.c.id == start.id)
            .values(
                start=start.model_dump(mode="json"),
                started_at=None,
                next_attempt_at=dt.datetime.now(dt.UTC),
                attempts=0,
            )
        )


def start_failed(target: StoreOrSession, followup_id: str, error: str, now: dt.datetime) -> None:
    """Starting failed (Temporal unreachable): try again later, ever more slowly."""
    with transaction(target) as session:
        attempts = session.scalar(
            select(FollowUpRecord.attempts).where(FollowUpRecord.id == followup_id)
        )
        n = (attempts or 0) + 1
        wait = min(dt.timedelta(seconds=5 * 2 ** min(n, 10)), START_ATTEMPTS_BACKOFF_MAX)
        session.execute(
            update(FOLLOWUPS)
            .where(FOLLOWUPS.c.id == followup_id)
            .values(attempts=n, next_attempt_at=now + wait, last_error=error[:500])
        )


def record(
    target: StoreOrSession, data: FollowUpRecordInput, *, notify: bool = True
) -> RecordResult:
    """Append a follow-up's events and write its row, tasks and clocks, in one transaction;
    idempotent like :func:`store.writes.record` (events by (case id, seq), rows by
    ``last_seq``)."""
    from store.writes import (
        CLOCKS,
        TASKS,
        clock_rows,
        insert_events,
        task_columns,
        upsert_newer,
    )

    now = dt.datetime.now(dt.UTC)
    with transaction(target) as session:
        inserted = insert_events(session, data.events, now)
        row = _columns(data.followup) | {"updated_at": now}
        existing = session.scalar(select(FollowUpRecord.id).where(FollowUpRecord.id == row["id"]))
        if existing is None:
            row |= {"start": None, "started_at": now, "next_attempt_at": None, "attempts": 0}
        upsert_newer(session, FOLLOWUPS, [row])
        upsert_newer(session, TASKS, [task_columns(t, now) for t in data.tasks])
        upsert_newer(session, CLOCKS, clock_rows(data.events, data.clocks, now))
        if notify:
            outbox.add(session, outbox.followup_rows(data.events, data.followup, now))
    return RecordResult(inserted=inserted)


def _row(r: FollowUpRecord) -> FollowUpRow:
    return FollowUpRow.model_validate({name: getattr(r, name) for name in FollowUpRow.model_fields})


def get(target: StoreOrSession, followup_id: str) -> FollowUpRow | None:
    with transaction(target) as session:
        r = session.get(FollowUpRecord, followup_id)
        return None if r is None else _row(r)


def of_case(target: StoreOrSession, case_id: str) -> list[FollowUpRow]:
    """A case's follow-ups, in the order of their ratings."""
    query = (
        select(FollowUpRecord)
        .where(FollowUpRecord.case_id == case_id)
        .order_by(FollowUpRecord.rating_seq)
    )
    with transaction(target) as session:
        return [_row(r) for r in session.scalars(query)]


AWAITING = {
    "callback": PartState.callback,
    "appeal": PartState.appealed,
    "rectification": PartState.rectifying,
    "revisit": PartState.revisit,
}


def find(
    target: StoreOrSession,
    *,
    department: str | None = None,
    state: FollowUpState | None = None,
    awaiting: str | None = None,
    rated_from: dt.datetime | None = None,
    rated_before: dt.datetime | None = None,
    after: tuple[dt.datetime, str] | None = None,
    limit: int = 50,
) -> list[FollowUpRow]:
    """Follow-ups, newest rating first, keyset-paged by (rated_at, id).

    ``department``: those with a part of that department; ``awaiting``: those with a part (of
    that department, if given) waiting for ``callback``, ``appeal``, ``rectification`` or
    ``revisit``. Both are checked on the parts in Python, after the cheaper filters in SQL.
    """
    rows: list[FollowUpRow] = []
    cursor = after
    while len(rows) < limit:
        query = select(FollowUpRecord)
        if state is not None:
            query = query.where(FollowUpRecord.state == state.value)
        if rated_from is not None:
            query = query.where(FollowUpRecord.rated_at >= rated_from)
        if rated_before is not None:
            query = query.where(FollowUpRecord.rated_at < rated_before)
        if cursor is not None:
            query = query.where(
                or_(
                    FollowUpRecord.rated_at < cursor[0],
                    and_(FollowUpRecord.rated_at == cursor[0], FollowUpRecord.id < cursor[1]),
                )
            )
        query = query.order_by(FollowUpRecord.rated_at.desc(), FollowUpRecord.id.desc())
        with transaction(target) as session:
            batch = [_row(r) for r in session.scalars(query.limit(limit * 4))]
        if not batch:
            break
        for f in batch:
            parts = [p for p in f.parts if department is None or p.department == department]
            if not parts:
                continue
            if awaiting is not None and not any(p.state is AWAITING[awaiting] for p in parts):
                continue
            rows.append(f)
            if len(rows) == limit:
                break
        cursor = (batch[-1].rated_at, batch[-1].id)
    return rows


def of_period(target: StoreOrSession, case_ids: Sequence[str]) -> dict[str, list[FollowUpRow]]:
    """The follow-ups of these cases, by case id (for the figures)."""
    found: dict[str, list[FollowUpRow]] = {}
    with transaction(target) as session:
        for r in session.scalars(
            select(FollowUpRecord)
            .where(FollowUpRecord.case_id.in_(list(case_ids)))
            .order_by(FollowUpRecord.case_id, FollowUpRecord.rating_seq)
        ):
            found.setdefault(r.case_id, []).append(_row(r))
    return found


def published(
    target: StoreOrSession,
    start: dt.datetime,
    end: dt.datetime,
    *,
    department: str | None = None,
    after: tuple[dt.datetime, str] | None = None,
    limit: int = 50,
) -> list[FollowUpRow]:
    """Concluded follow-ups whose result was published in [start, end), newest first, keyset
    by (concluded_at, id); those whose appeal was granted are not among them (the rating no
    longer stands)."""
    rows: list[FollowUpRow] = []
    cursor = after
    while len(rows) < limit:
        query = select(FollowUpRecord).where(
            FollowUpRecord.state == FollowUpState.concluded.value,
            FollowUpRecord.excluded.is_(False),
            FollowUpRecord.concluded_at >= start,
            FollowUpRecord.concluded_at < end,
        )
        if cursor is not None:
            query = query.where(
                or_(
                    FollowUpRecord.concluded_at < cursor[0],
                    and_(FollowUpRecord.concluded_at == cursor[0], FollowUpRecord.id < cursor[1]),
                )
            )
        query = query.order_by(FollowUpRecord.concluded_at.desc(), FollowUpRecord.id.desc())
        with transaction(target) as session:
            batch = [_row(r) for r in session.scalars(query.limit(limit * 2))]
        if not batch:
            break
        for f in batch:
            if department is None or department in f.departments:
                rows.append(f)
                if len(rows) == limit:
                    break
        last = batch[-1]
        assert last.concluded_at is not None
        cursor = (last.concluded_at, last.id)
    return rows


FOLLOWUP_CLOCKS = ("callback", "rectification", "revisit", "appeal")


def to_recalculate(target: StoreOrSession, first: dt.date, last: dt.date) -> list[str]:
    """Open follow-ups of the cases with a follow-up clock a change of the calendar between
    those dates may move (as store.queries.cases_to_recalculate for cases' clocks); asking one
    that nothing moves is harmless."""
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
    query = (
        select(FollowUpRecord.id)
        .join(ClockRecord, ClockRecord.case_id == FollowUpRecord.case_id)
        .where(
            FollowUpRecord.state == FollowUpState.open.value,
            FollowUpRecord.started_at.is_not(None),
            or_(
                ClockRecord.kind.in_(FOLLOWUP_CLOCKS),
                ClockRecord.key.like(f"urge:{FOLLOWUP_TASK_PREFIX}%"),
            ),
            ClockRecord.status != "ended",
            ClockRecord.start < end,
            ClockRecord.provisional.is_(True)
            | ClockRecord.due_date.is_(None)
            | (ClockRecord.due_date >= first),
        )
        .distinct()
        .order_by(FollowUpRecord.id)
    )
    with transaction(target) as session:
        return list(session.scalars(query))


def first_seq(rating_seq: int) -> int:
    """The number of a follow-up's first event (see FOLLOWUP_SEQ)."""
    return FOLLOWUP_SEQ * rating_seq + 1
