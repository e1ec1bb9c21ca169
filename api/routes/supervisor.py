"""Supervisors: warnings and red cards across departments, timelines, urging, incidents, the
event feed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from api import explain
from api.actions import act
from api.deps import ClientDep, SettingsDep, Staff, StoreDep, Supervisor
from api.routes.cases import CaseId, case_for
from api.schemas import MAX_CURSOR, Attention, CaseSummary, EventPage, Resolve, TaskView, Urge
from store import queries
from workflows.case import CaseWorkflow
from workflows.contracts import (
    ActionResult,
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
    return explain.tasks(store, rows)


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


@router.get("/supervision/cases")
def overdue_cases(
    user: Supervisor, store: StoreDep, department: str | None = None, procedure: str | None = None
) -> list[CaseSummary]:
    """Open cases past their committed limit, each with the derivation of its deadline."""
    return explain.cases(
        store, queries.overdue_cases(store, department=department, procedure=procedure)
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
        Attention(incident=i, procedure_code=c.procedure_code, state=c.state.value)
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
) -> ActionResult:
    """Close an incident after looking into it, with a note."""
    await case_for(user, store, client, case_id)
    data = ResolveIncidentInput(
        actor=user.actor().model_copy(update={"role": Role.supervisor}),
        number=number,
        note=body.note,
    )
    return await act(request, store, client, settings, case_id, CaseWorkflow.resolve_incident, data)


@router.get("/cases/{case_id}/timeline")
async def timeline(case_id: CaseId, user: Staff, store: StoreDep, client: ClientDep) -> list[Event]:
    """Every event of the case, in order; each deadline event carries its derivation.

    Caseworkers read the timeline of a case their department handles; who acted in another
    department is left out (as for its tasks)."""
    await case_for(user, store, client, case_id)
    events = await run_in_threadpool(queries.timeline, store, case_id)
    if user.role is not Role.caseworker:
        return events
    return [e if e.department == user.department else _anonymous(e) for e in events]


_PEOPLE = ("assignee", "previous", "urged_by", "by", "resolved_by")
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
) -> ActionResult:
    """督办: a period in working days; missing it raises an escalation event."""
    await case_for(user, store, client, case_id)
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
    return EventPage(events=[{"id": i, **e.model_dump(mode="json")} for i, e in rows], next=cursor)
