"""Supervisors: warnings and red cards across departments, timelines, urging, incidents, the
event feed."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from api import explain
from api.actions import act
from api.deps import CalendarsDep, ClientDep, NowDep, SettingsDep, Staff, StoreDep, Supervisor
from api.public import ActionAnswer, EventPublic, FeedEvent, IncidentPublic
from api.routes.cases import CaseId, case_for, case_to_act_on
from api.schemas import MAX_CURSOR, Attention, CasePage, EventPage, Resolve, TaskView, Urge
from store import queries
from store.queries import CaseFilter, CaseKey, CaseSort
from workflows.case import CaseWorkflow
from workflows.contracts import (
    CaseState,
    Event,
    ResolveIncidentInput,
    Role,
    UrgeInput,
)

router = APIRouter(tags=["supervisors"])


@router.get("/supervision/tasks")
def flagged_tasks(
    user: Supervisor,
    store: StoreDep,
    calendars: CalendarsDep,
    now: NowDep,
    severity: Literal["warning", "overdue"] = "overdue",
    department: str | None = None,
    procedure: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[TaskView]:
    """Open tasks with a yellow card (warning) or a red card (overdue), each with the
    working-day derivation of its deadline.

    ``since``/``until`` (ISO 8601 instants) keep the tasks whose deadline falls in that period.
    """
    find = queries.overdue_tasks if severity == "overdue" else queries.warning_tasks
    rows = [
        t
        for t in find(store, department=department, procedure=procedure)
        if _within(t.deadline_at, since, until)
    ]
    return explain.tasks(store, rows, calendars, now)


def _within(
    instant: dt.datetime | None, since: dt.datetime | None, until: dt.datetime | None
) -> bool:
    if instant is None:
        return since is None and until is None
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "时间须带时区，如 2025-10-01T00:00:00+08:00 / give instants with a time zone",
            )
    return (since is None or instant >= since) and (until is None or instant < until)


def _cursor(sort: CaseSort, key: CaseKey) -> str:
    at, case_id = key
    raw = json.dumps([sort, at.isoformat() if at else None, case_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after(sort: CaseSort, cursor: str) -> CaseKey:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, at, case_id = json.loads(raw)
        if kind != sort or not isinstance(case_id, str):
            raise ValueError
        instant = dt.datetime.fromisoformat(at) if at is not None else None
        if instant is not None and instant.tzinfo is None:
            raise ValueError
    except (ValueError, TypeError, json.JSONDecodeError):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["query", "cursor"],
                    "msg": "不是本列表（同一排序）给出的 next / not a `next` this list gave"
                    " with the same sort",
                    "type": "value_error",
                }
            ],
        ) from None
    return instant, case_id


Code = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Day = Annotated[dt.date | None, Query(description="Asia/Shanghai calendar day")]


@router.get("/supervision/cases")
def find_cases(
    user: Supervisor,
    store: StoreDep,
    state: Annotated[list[CaseState] | None, Query(max_length=len(CaseState))] = None,
    procedure: Code = None,
    department: Code = None,
    applicant: Code = None,
    submitted_from: Day = None,
    submitted_to: Day = None,
    due_from: Day = None,
    due_to: Day = None,
    warned: bool | None = None,
    overdue: bool | None = None,
    escalated: bool | None = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    ] = None,
    sort: CaseSort = "submitted",
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    """Find any case: by state, procedure, department, applicant, submission or deadline
    period (days in Asia/Shanghai, both ends included), cards, and free text over the case
    number, the applicant and the headline fields of the form.

    Pages follow ``next`` (keyset paging: stable while cases change). The first page also
    counts the matching cases by state. ``overdue=true`` with a state list of the open
    states is the list of cases past their committed limit.
    """
    found = CaseFilter(
        states=tuple(state or ()),
        procedure=procedure,
        department=department,
        applicant=applicant,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
        due_from=due_from,
        due_to=due_to,
        warned=warned,
        overdue=overdue,
        escalated=escalated,
        text=q,
    )
    after = _after(sort, cursor) if cursor is not None else None
    page, end = queries.find_cases(store, found, sort=sort, after=after, limit=limit)
    rows = explain.cases(store, [c for c, _ in page])
    items = [r.model_copy(update={"headline": h}) for r, (_, h) in zip(rows, page, strict=True)]
    return CasePage(
        items=items,
        next=_cursor(sort, end) if end is not None else None,
        counts=queries.count_cases(store, found) if cursor is None else None,
    )


@router.get("/supervision/incidents")
def incidents(
    user: Supervisor,
    store: StoreDep,
    resolved: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[Attention]:
    """Cases needing attention: errors retrying could not fix (a write the store refused,
    deadlines that could not be computed, a store outage), oldest first. The cases stay
    workable meanwhile; ``resolved=true`` lists the resolved ones too."""
    return [
        Attention(
            incident=IncidentPublic.of(i), procedure_code=c.procedure_code, state=c.state.value
        )
        for i, c in queries.incidents(store, resolved=resolved, limit=limit)
    ]


@router.post("/cases/{case_id}/incidents/{number}/resolve")
async def resolve(
    case_id: CaseId,
    number: Annotated[int, Path(ge=1, le=10_000)],
    body: Resolve,
    request: Request,
    user: Supervisor,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """Close an incident after looking into it, with a note."""
    await case_to_act_on(request, user, store, client, case_id)
    data = ResolveIncidentInput(
        actor=user.actor().model_copy(update={"role": Role.supervisor}),
        number=number,
        note=body.note,
    )
    return await act(request, store, client, settings, case_id, CaseWorkflow.resolve_incident, data)


@router.get("/cases/{case_id}/timeline")
async def timeline(
    case_id: CaseId, user: Staff, store: StoreDep, client: ClientDep
) -> list[EventPublic]:
    """Every event of the case, in order; each deadline event carries its derivation.

    Caseworkers read the timeline of a case their department handles; who acted in another
    department is left out (as for its tasks)."""
    await case_for(user, store, client, case_id)
    events = await run_in_threadpool(queries.timeline, store, case_id)
    if user.role is Role.caseworker:
        events = [e if e.department == user.department else _anonymous(e) for e in events]
    return [EventPublic.of(e) for e in events]


_PEOPLE = ("assignee", "previous", "urged_by", "by", "resolved_by", "recorded_by")
"""Payload fields that name a person."""


def _anonymous(event: Event) -> Event:
    if event.actor_role is not Role.caseworker and not any(k in event.payload for k in _PEOPLE):
        return event
    return event.model_copy(
        update={
            "actor_id": "" if event.actor_role is Role.caseworker else event.actor_id,
            "payload": {k: v for k, v in event.payload.items() if k not in _PEOPLE},
        }
    )


@router.post("/cases/{case_id}/urge")
async def urge(
    case_id: CaseId,
    body: Urge,
    request: Request,
    user: Supervisor,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """督办: a period in working days; missing it raises an escalation event."""
    await case_to_act_on(request, user, store, client, case_id)
    data = UrgeInput(
        actor=user.actor().model_copy(update={"role": Role.supervisor}),
        task_key=body.task_key,
        days=body.days,
        note=body.note,
    )
    return await act(request, store, client, settings, case_id, CaseWorkflow.urge, data)


@router.get("/events")
def events(
    user: Supervisor,
    store: StoreDep,
    after: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    """The supervision feed for external systems: pass ``next`` as ``after`` to continue."""
    rows, cursor = queries.events_after(store, after, limit)
    return EventPage(events=[FeedEvent.of(e, id=i) for i, e in rows], next=cursor)
