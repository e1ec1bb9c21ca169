"""Caseworkers: the department's inbox; claim, release, decide, return, reassign; intake,
visits and delivery at the front desk.

A caseworker reaches only cases their department takes part in (404 otherwise); the workflow
checks the department of each task (403, without saying whose it is) and its state (409:
already decided, claimed by a colleague) and the reasons a refusal needs (422).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from api import explain, paging
from api.actions import act
from api.deps import CalendarsDep, Caseworker, ClientDep, NowDep, SettingsDep, StoreDep, require
from api.public import ActionAnswer
from api.routes.cases import CaseId, case_to_act_on
from api.schemas import (
    Deliver,
    IntakeDecision,
    Reassign,
    TaskDecision,
    TaskView,
    Visit,
)
from store import queries
from store.users import UserInfo, get_user
from workflows.case import CaseWorkflow
from workflows.contracts import (
    AcceptInput,
    DecideInput,
    DeliverInput,
    RatingDimension,
    ReassignInput,
    RefuseInput,
    ReturnInput,
    Role,
    StepInput,
    TaskInput,
    TaskState,
    VisitInput,
    VisitRating,
)

router = APIRouter(tags=["caseworkers"])

TaskKey = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^@?[a-z][a-z0-9_]*$")]
StepKey = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


@router.get("/inbox")
def inbox(
    request: Request,
    response: Response,
    user: Caseworker,
    store: StoreDep,
    calendars: CalendarsDep,
    now: NowDep,
    state: TaskState | None = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> list[TaskView]:
    """The department's open and claimed work, nearest deadline first: each row with its
    case's procedure, stage, applicant and headline fields, the urgency in words, the
    working days left and the derivation of its deadline.

    For the front desk this includes new applications and supplements handed in at intake
    (``kind: intake``) and results waiting to be handed out (``kind: delivery``). A full page
    names the next one in ``X-Next-Cursor`` (and ``Link: rel="next"``): pass it as
    ``cursor``.
    """
    assert user.department is not None
    states = (state,) if state else (TaskState.open, TaskState.claimed)
    rows = queries.inbox(
        store,
        user.department,
        states=states,
        assignee=user.id if mine else None,
        limit=limit,
        after=paging.task_after(cursor),
    )
    if len(rows) == limit:
        paging.next_link(request, response, paging.task_cursor(queries.task_key(rows[-1])))
    return explain.tasks(store, rows, calendars, now)


@router.post("/cases/{case_id}/tasks/{task_key}/claim")
async def claim(
    case_id: CaseId,
    task_key: TaskKey,
    request: Request,
    user: Caseworker,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """Take the task; nobody else can decide it then."""
    await case_to_act_on(request, user, store, client, case_id)
    data = TaskInput(actor=user.actor(), task_key=task_key)
    return await act(request, store, client, settings, case_id, CaseWorkflow.claim, data)


@router.post("/cases/{case_id}/tasks/{task_key}/release")
async def release(
    case_id: CaseId,
    task_key: TaskKey,
    request: Request,
    user: Caseworker,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """Give a claimed task back to the department's inbox (only its holder can)."""
    await case_to_act_on(request, user, store, client, case_id)
    data = TaskInput(actor=user.actor(), task_key=task_key)
    return await act(request, store, client, settings, case_id, CaseWorkflow.release, data)


@router.post("/cases/{case_id}/tasks/{task_key}/decision")
async def decide(
    case_id: CaseId,
    task_key: TaskKey,
    body: TaskDecision,
    request: Request,
    user: Caseworker,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """Approve, reject with reasons, or return for supplement with the complete list."""
    await case_to_act_on(request, user, store, client, case_id)
    if body.decision == "return":
        if not body.missing or not body.reason:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "退回补正须列明全部所缺材料和理由 / a return needs the full missing list and a reason",
            )
        data = ReturnInput(
            actor=user.actor(), task_key=task_key, missing=body.missing, reason=body.reason
        )
        return await act(
            request, store, client, settings, case_id, CaseWorkflow.return_for_supplement, data
        )
    decision = DecideInput(
        actor=user.actor(),
        task_key=task_key,
        approve=body.decision == "approve",
        reason=body.reason,
    )
    return await act(request, store, client, settings, case_id, CaseWorkflow.decide, decision)


@router.post("/cases/{case_id}/tasks/{task_key}/reassign")
async def reassign(
    case_id: CaseId,
    task_key: TaskKey,
    body: Reassign,
    request: Request,
    user: Annotated[UserInfo, Depends(require(Role.caseworker, Role.supervisor, Role.admin))],
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """Hand the task to an active caseworker of its department.

    A caseworker hands over a task that is unclaimed or their own; a task a colleague holds
    needs that colleague to release it, or a supervisor.
    """
    loaded = await case_to_act_on(request, user, store, client, case_id)
    task = next((t for t in loaded.tasks if t.task_key == task_key), None)
    department = task.department if task is not None else user.department
    other = await run_in_threadpool(get_user, store, body.assignee)
    if (
        other is None
        or other.disabled
        or other.role is not Role.caseworker
        or other.department != department
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["body", "assignee"],
                    "msg": f"{body.assignee} 不是该部门在岗的办理人员 / {body.assignee} is not an"
                    " active caseworker of the task's department",
                    "type": "value_error",
                }
            ],
        )
    actor = user.actor()
    if user.role is Role.admin:
        actor = actor.model_copy(update={"role": Role.supervisor})
    data = ReassignInput(
        actor=actor,
        task_key=task_key,
        assignee=other.id,
        assignee_department=other.department,
    )
    return await act(request, store, client, settings, case_id, CaseWorkflow.reassign, data)


@router.post("/cases/{case_id}/tasks/{task_key}/steps/{step_key}/{action}")
async def step(
    case_id: CaseId,
    task_key: TaskKey,
    step_key: StepKey,
    action: str,
    request: Request,
    user: Caseworker,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """Start or finish a step that does not count toward the limit (expert review …)."""
    if action not in ("start", "finish"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "action is start or finish")
    await case_to_act_on(request, user, store, client, case_id)
    data = StepInput(actor=user.actor(), task_key=task_key, step_key=step_key)
    update = CaseWorkflow.start_step if action == "start" else CaseWorkflow.finish_step
    return await act(request, store, client, settings, case_id, update, data)


@router.post("/cases/{case_id}/intake")
async def intake(
    case_id: CaseId,
    body: IntakeDecision,
    request: Request,
    user: Caseworker,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """The front desk accepts (optionally 容缺), refuses with a reason, or returns."""
    await case_to_act_on(request, user, store, client, case_id)
    actor = user.actor()
    if body.decision == "accept":
        accept = AcceptInput(
            actor=actor,
            tolerated=body.tolerated,
            tolerance_days=body.tolerance_days,
            received=body.received,
        )
        return await act(request, store, client, settings, case_id, CaseWorkflow.accept, accept)
    if not body.reason:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "须说明理由 / a reason is required"
        )
    if body.decision == "refuse":
        refuse = RefuseInput(actor=actor, reason=body.reason)
        return await act(request, store, client, settings, case_id, CaseWorkflow.refuse, refuse)
    if not body.missing:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "须一次性列明全部所缺材料 / list everything missing",
        )
    ret = ReturnInput(actor=actor, missing=body.missing, reason=body.reason)
    return await act(
        request, store, client, settings, case_id, CaseWorkflow.return_for_supplement, ret
    )


@router.post("/cases/{case_id}/visits")
async def visit(
    case_id: CaseId,
    body: Visit,
    request: Request,
    user: Caseworker,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """The front desk records that the applicant came in person (到办事现场: a trip), with
    the applicant's rating of the visit from the desk's device when given (一次一评)."""
    await case_to_act_on(request, user, store, client, case_id)
    rating = (
        VisitRating(
            score=body.rating.score,
            comment=body.rating.comment,
            dimensions={RatingDimension(k): v for k, v in body.rating.dimensions.items()},
        )
        if body.rating is not None
        else None
    )
    data = VisitInput(actor=user.actor(), reason=body.reason, note=body.note, rating=rating)
    return await act(request, store, client, settings, case_id, CaseWorkflow.record_visit, data)


@router.post("/cases/{case_id}/delivery")
async def deliver(
    case_id: CaseId,
    body: Deliver,
    request: Request,
    user: Caseworker,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """Hand out all results at once (送达)."""
    await case_to_act_on(request, user, store, client, case_id)
    data = DeliverInput(actor=user.actor(), method=body.method)
    return await act(request, store, client, settings, case_id, CaseWorkflow.deliver, data)
