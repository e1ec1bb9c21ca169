"""Supervisors: warnings and red cards across departments, timelines, urging, the event feed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from api.actions import act, request_key
from api.deps import ClientDep, StoreDep, Supervisor
from api.routes.cases import case_for
from api.schemas import MAX_CURSOR, EventPage, Urge
from store import queries
from workflows.case import CaseWorkflow
from workflows.contracts import ActionResult, CaseRow, Event, Role, TaskRow, UrgeInput

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
) -> list[TaskRow]:
    """Open tasks with a yellow card (warning) or a red card (overdue).

    ``since``/``until`` (ISO 8601 instants) keep the tasks whose deadline falls in that period.
    """
    find = queries.overdue_tasks if severity == "overdue" else queries.warning_tasks
    return [
        t
        for t in find(store, department=department, procedure=procedure)
        if _within(t.deadline_at, since, until)
    ]


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
) -> list[CaseRow]:
    """Open cases past their committed limit."""
    return queries.overdue_cases(store, department=department, procedure=procedure)


@router.get("/cases/{case_id}/timeline")
async def timeline(
    case_id: str, user: Supervisor, store: StoreDep, client: ClientDep
) -> list[Event]:
    """Every event of the case, in order."""
    await case_for(user, store, client, case_id)
    return await run_in_threadpool(queries.timeline, store, case_id)


@router.post("/cases/{case_id}/urge")
async def urge(
    case_id: str, body: Urge, request: Request, user: Supervisor, client: ClientDep
) -> ActionResult:
    """督办: a period in working days; missing it raises an escalation event."""
    data = UrgeInput(
        actor=user.actor().model_copy(update={"role": Role.supervisor}),
        request_id=request_key(request),
        task_key=body.task_key,
        days=body.days,
        note=body.note,
    )
    return await act(client, case_id, CaseWorkflow.urge, data)


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
