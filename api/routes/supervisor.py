"""Supervisors: warnings and red cards across departments, timelines, urging, incidents, the
event feed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from activities.clock import Calendars
from api import explain, paging
from api.actions import act
from api.deps import CalendarsDep, ClientDep, NowDep, SettingsDep, Staff, StoreDep, Supervisor
from api.public import ActionAnswer, EventPublic, FeedEvent, IncidentPublic
from api.routes.cases import CaseId, case_for, case_to_act_on
from api.schemas import MAX_CURSOR, Attention, CasePage, EventPage, Resolve, TaskView, Urge
from evaluation import rollups
from store import queries
from store.db import Store
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


Code = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
Day = Annotated[dt.date | None, Query(description="Asia/Shanghai calendar day")]


@router.get("/supervision/tasks")
def flagged_tasks(
    request: Request,
    response: Response,
    user: Supervisor,
    store: StoreDep,
    calendars: CalendarsDep,
    now: NowDep,
    severity: Literal["warning", "overdue"] = "overdue",
    department: Code = None,
    procedure: Code = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> list[TaskView]:
    """Open tasks with a yellow card (warning) or a red card (overdue), oldest deadline first,
    each with the working-day derivation of its deadline.

    ``since``/``until`` (ISO 8601 instants) keep the tasks whose deadline falls in that period.
    A full page names the next one in ``X-Next-Cursor`` (and ``Link: rel="next"``): pass it
    as ``cursor``.
    """
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "时间须带时区，如 2025-10-01T00:00:00+08:00 / give instants with a time zone",
            )
    find = queries.overdue_tasks if severity == "overdue" else queries.warning_tasks
    rows = find(
        store,
        department=department,
        procedure=procedure,
        since=since,
        until=until,
        limit=limit,
        after=paging.task_after(cursor),
    )
    if len(rows) == limit:
        paging.next_link(request, response, paging.task_cursor(queries.task_key(rows[-1])))
    return explain.tasks(store, rows, calendars, now)


def _cursor(sort: CaseSort, key: CaseKey) -> str:
    at, case_id = key
    return paging.encode(sort, [at.isoformat() if at else None, case_id])


def _after(sort: CaseSort, cursor: str) -> CaseKey:
    at, case_id = paging.decode(sort, cursor, 2)
    if case_id is None:
        raise paging.refused()
    return paging.instant(at), case_id


@router.get("/supervision/cases")
def find_cases(
    user: Supervisor,
    store: StoreDep,
    calendars: CalendarsDep,
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
    counts the matching cases by state (with no criterion but states and a procedure, from
    the figures' tallies: as the workers have taken in the feed, seconds behind at most). ``overdue=true`` with a state list of the open
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
        counts=_counts(store, calendars, found) if cursor is None else None,
    )


def _counts(store: Store, calendars: Calendars, found: CaseFilter) -> dict[str, int]:
    """The matching cases by state. Counting a city's cases afresh costs a scan of them all:
    where only states and a procedure are asked for, the figures' tallies answer (kept as the
    cases change); any other criterion narrows the cases enough to count them."""
    criteria = found.model_dump(exclude={"states", "procedure"}, exclude_defaults=True)
    if criteria:
        return queries.count_cases(store, found)
    rollups.catch_up(store, calendars.current().get, budget=COUNT_CATCH_UP_SECONDS)
    counts = rollups.state_counts(store, found.procedure)
    wanted = {s.value for s in found.states}
    return {state: n for state, n in counts.items() if not wanted or state in wanted}


COUNT_CATCH_UP_SECONDS = 1.0
"""How long a count waits for the figures' projection to take in what the feed holds (the
workers keep it within seconds of the feed; a count never waits for a long backlog)."""


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
