"""Caseworkers: the department's inbox; claim, decide, return, reassign; intake and delivery.

The workflow checks the department and the task's state; a refusal answers 409 (already
decided, claimed by someone else), 403 (another department) or 422 (a rejection without reasons).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from api.actions import act, request_key
from api.deps import Caseworker, ClientDep, StoreDep
from api.schemas import MAX_OFFSET, Deliver, IntakeDecision, Reassign, TaskDecision
from store import queries
from store.users import get_user
from workflows.case import CaseWorkflow
from workflows.contracts import (
    AcceptInput,
    ActionResult,
    DecideInput,
    DeliverInput,
    ReassignInput,
    RefuseInput,
    ReturnInput,
    Role,
    StepInput,
    TaskInput,
    TaskRow,
    TaskState,
)

router = APIRouter(tags=["caseworkers"])


@router.get("/inbox")
def inbox(
    user: Caseworker,
    store: StoreDep,
    state: TaskState | None = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[TaskRow]:
    """Open and claimed tasks of the caseworker's department, nearest deadline first."""
    assert user.department is not None
    states = (state,) if state else (TaskState.open, TaskState.claimed)
    return queries.inbox(
        store,
        user.department,
        states=states,
        assignee=user.id if mine else None,
        limit=limit,
        offset=offset,
    )


@router.post("/cases/{case_id}/tasks/{task_key}/claim")
async def claim(
    case_id: str, task_key: str, request: Request, user: Caseworker, client: ClientDep
) -> ActionResult:
    """Take the task; nobody else can decide it then."""
    data = TaskInput(actor=user.actor(), request_id=request_key(request), task_key=task_key)
    return await act(client, case_id, CaseWorkflow.claim, data)


@router.post("/cases/{case_id}/tasks/{task_key}/decision")
async def decide(
    case_id: str,
    task_key: str,
    body: TaskDecision,
    request: Request,
    user: Caseworker,
    client: ClientDep,
) -> ActionResult:
    """Approve, reject with reasons, or return for supplement with the complete list."""
    rid = request_key(request)
    if body.decision == "return":
        if not body.missing or not body.reason:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "退回补正须列明全部所缺材料和理由 / a return needs the full missing list and a reason",
            )
        data = ReturnInput(
            actor=user.actor(),
            request_id=rid,
            task_key=task_key,
            missing=body.missing,
            reason=body.reason,
        )
        return await act(client, case_id, CaseWorkflow.return_for_supplement, data)
    decision = DecideInput(
        actor=user.actor(),
        request_id=rid,
        task_key=task_key,
        approve=body.decision == "approve",
        reason=body.reason,
    )
    return await act(client, case_id, CaseWorkflow.decide, decision)


@router.post("/cases/{case_id}/tasks/{task_key}/reassign")
async def reassign(
    case_id: str,
    task_key: str,
    body: Reassign,
    request: Request,
    user: Caseworker,
    store: StoreDep,
    client: ClientDep,
) -> ActionResult:
    """Hand the task to a colleague of the same department."""
    tasks = await run_in_threadpool(queries.case_tasks, store, case_id)
    task = next((t for t in tasks if t.task_key == task_key), None)
    if task is not None and task.department != user.department:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"该任务属于 {task.department} / the task belongs to {task.department}",
        )
    other = await run_in_threadpool(get_user, store, body.assignee)
    if other is None or other.role is not Role.caseworker or other.department != user.department:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{body.assignee} 不是本部门的办理人员 / {body.assignee} is not a caseworker of"
            f" {user.department}",
        )
    data = ReassignInput(
        actor=user.actor(), request_id=request_key(request), task_key=task_key, assignee=other.id
    )
    return await act(client, case_id, CaseWorkflow.reassign, data)


@router.post("/cases/{case_id}/tasks/{task_key}/steps/{step_key}/{action}")
async def step(
    case_id: str,
    task_key: str,
    step_key: str,
    action: str,
    request: Request,
    user: Caseworker,
    client: ClientDep,
) -> ActionResult:
    """Start or finish a step that does not count toward the limit (expert review …)."""
    if action not in ("start", "finish"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "action is start or finish")
    data = StepInput(
        actor=user.actor(), request_id=request_key(request), task_key=task_key, step_key=step_key
    )
    update = CaseWorkflow.start_step if action == "start" else CaseWorkflow.finish_step
    return await act(client, case_id, update, data)


@router.post("/cases/{case_id}/intake")
async def intake(
    case_id: str, body: IntakeDecision, request: Request, user: Caseworker, client: ClientDep
) -> ActionResult:
    """The front desk accepts (optionally 容缺), refuses with a reason, or returns."""
    rid = request_key(request)
    actor = user.actor()
    if body.decision == "accept":
        accept = AcceptInput(
            actor=actor,
            request_id=rid,
            tolerated=body.tolerated,
            tolerance_days=body.tolerance_days,
        )
        return await act(client, case_id, CaseWorkflow.accept, accept)
    if not body.reason:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "须说明理由 / a reason is required"
        )
    if body.decision == "refuse":
        refuse = RefuseInput(actor=actor, request_id=rid, reason=body.reason)
        return await act(client, case_id, CaseWorkflow.refuse, refuse)
    if not body.missing:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "须一次性列明全部所缺材料 / list everything missing",
        )
    ret = ReturnInput(actor=actor, request_id=rid, missing=body.missing, reason=body.reason)
    return await act(client, case_id, CaseWorkflow.return_for_supplement, ret)


@router.post("/cases/{case_id}/delivery")
async def deliver(
    case_id: str, body: Deliver, request: Request, user: Caseworker, client: ClientDep
) -> ActionResult:
    """Hand out all results at once (送达)."""
    data = DeliverInput(actor=user.actor(), request_id=request_key(request), method=body.method)
    return await act(client, case_id, CaseWorkflow.deliver, data)
