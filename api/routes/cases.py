"""Applicants: submit once, follow, supplement, withdraw, rate. Everyone: read a case in scope."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import Field
from temporalio.client import WorkflowHandle, WorkflowQueryFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.actions import act, client_key, fail, fingerprint, same_request, unavailable
from api.applicant import (
    ApplicantCase,
    ApplicantCaseSummary,
    applicant_case,
    applicant_summary,
    materials_held,
)
from api.deps import Applicant, ClientDep, CurrentUser, SettingsDep, StoreDep
from api.errors import ApiError
from api.public import (
    ActionAnswer,
    CasePublic,
    ClockPublic,
    NotificationPublic,
    NotificationStatus,
    TaskPublic,
)
from api.schemas import (
    MAX_OFFSET,
    CaseDetail,
    Rating,
    SubmitCase,
    Submitted,
    Supplement,
    Withdraw,
    control,
)
from definitions.forms import FormError, validate_form
from store import outbox, queries
from store.calendars import latest_revision
from store.db import Store
from store.users import UserInfo
from workflows.case import CaseWorkflow
from workflows.client import rpc_outcome, start_case
from workflows.contracts import (
    CaseRow,
    ClockRow,
    RateInput,
    RatingDimension,
    Role,
    SupplementInput,
    TaskRow,
    WithdrawInput,
)

router = APIRouter(tags=["cases"])

CaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
"""A case number as the API issues them (``OT-…``); anything else is 422, never a lookup."""


def case_number(applicant: str, key: str | None) -> str:
    """A case number; the same applicant and idempotency key always give the same one.

    80 bits: among a hundred million cases a collision has a chance of about 10⁻⁸, and the
    submission checks the number is not someone else's case anyway.
    """
    if key is None:
        return f"OT-{uuid.uuid4().hex[:20].upper()}"
    digest = hashlib.sha256(f"{applicant}\n{key}".encode()).hexdigest()
    return f"OT-{digest[:20].upper()}"


@router.post("/cases", status_code=status.HTTP_201_CREATED)
async def submit(
    body: SubmitCase,
    request: Request,
    user: Applicant,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> Submitted:
    """Submit an application; a retry with the same ``Idempotency-Key`` returns the same case."""
    snap = await run_in_threadpool(queries.get_procedure, store, body.procedure, body.version)
    if snap is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"流程未发布 / no published procedure {body.procedure}"
        )
    try:
        form = validate_form(snap.procedure.form, body.form)
    except FormError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {**e, "loc": ["body", "form", *(str(p)[:100] for p in e["loc"])]}
                for e in exc.errors[:50]
            ],
        ) from None
    controls = _controls(form)
    if controls:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, controls[:50])
    known = {m.key: m for i in snap.items for m in i.materials}
    unknown = [
        {"loc": ["body", "materials", i], "msg": f"unknown material key '{k}'", "type": "value"}
        for i, k in enumerate(body.materials)
        if k not in known
    ]
    if unknown:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, unknown)
    key = client_key(request) if request.headers.get("idempotency-key") else None
    case_id = case_number(user.id, key)
    if key is not None:
        await same_request(store, f"submit\n{case_id}", fingerprint("submit", body))
    existing = await run_in_threadpool(queries.get_case, store, case_id)
    if existing is not None and existing.applicant_id != user.id:
        raise ApiError(
            status.HTTP_409_CONFLICT,
            "idempotency_key_taken",
            "请换一个 Idempotency-Key 重新提交 / submit again with another Idempotency-Key",
        )
    if existing is not None and (existing.procedure_code != snap.code or existing.form != form):
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "idempotency_key_reused",
            "该 Idempotency-Key 已用于另一份申请 / this Idempotency-Key was used for another"
            " application",
        )
    # A finished case with this number (e.g. withdrawn) is the same submission: same answer.
    revision = await run_in_threadpool(latest_revision, store)
    try:
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await start_case(
                client,
                snap,
                case_id=case_id,
                applicant=user.actor(),
                form=form,
                materials=list(dict.fromkeys(body.materials)),
                task_queue=settings.task_queue,
                submitted_at=request.state.received_at,
                calendar_revision=revision,
            )
    except RPCError as exc:
        fail(rpc_outcome(exc), case_id)
    handed = set(body.materials)
    missing = [k for k in snap.required_keys(form) if k not in handed]
    return Submitted(
        case_id=case_id, procedure=snap.code, version=snap.version, missing_materials=missing
    )


def _controls(form: dict[str, Any]) -> list[dict[str, Any]]:
    """Control characters in the form's texts (tabs and line breaks are text: a text area)."""
    found: list[dict[str, Any]] = []
    stack: list[tuple[Any, list[str | int]]] = [(form, [])]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, str):
            problem = control(value, lines=True)
            if problem is not None:
                where = ["body", "form", *(p if isinstance(p, int) else p[:100] for p in loc)]
                found.append({"loc": where, "msg": problem, "type": "value_error"})
        elif isinstance(value, dict):
            stack.extend((v, [*loc, k]) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, [*loc, i]) for i, v in enumerate(value))
    return sorted(found, key=lambda e: [str(p) for p in e["loc"]])


@router.get("/cases")
def my_cases(
    user: Applicant,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[ApplicantCaseSummary]:
    """The applicant's own cases, newest first, each with where it stands in words and
    whether they must act (details: ``GET /cases/{id}``)."""
    rows = queries.applicant_cases(store, user.id, limit=limit, offset=offset)
    return [applicant_summary(c) for c in rows]


@dataclass(frozen=True)
class Loaded:
    """A case as the engine holds it, before it is shaped into an answer for someone."""

    case: CaseRow
    tasks: list[TaskRow]
    clocks: list[ClockRow]

    def staff(self) -> CaseDetail:
        return CaseDetail(
            case=CasePublic.of(self.case),
            tasks=[TaskPublic.of(t) for t in self.tasks],
            clocks=[ClockPublic.of(c) for c in self.clocks],
        )


async def load_case(store: Store, client: ClientDep, case_id: str) -> Loaded:
    """From the store; from the workflow if its first write is still on its way."""
    row = await run_in_threadpool(queries.get_case, store, case_id)
    if row is not None:
        tasks = await run_in_threadpool(queries.case_tasks, store, case_id)
        clocks = await run_in_threadpool(queries.case_clocks, store, case_id)
        return Loaded(row, tasks, clocks)
    handle: WorkflowHandle[CaseWorkflow, CaseRow] = client.get_workflow_handle_for(
        CaseWorkflow.run, case_id
    )
    try:
        view = await handle.query(CaseWorkflow.view)
    except RPCError as exc:
        fail(rpc_outcome(exc), case_id)
    except WorkflowQueryFailedError:
        raise unavailable("办件暂时无法读取 / the case cannot be read now") from None
    return Loaded(view.case, view.tasks, view.clocks)


def redact(user: UserInfo, loaded: Loaded) -> Loaded:
    """A caseworker sees other departments' tasks of the case, not who handles them."""
    if user.role is not Role.caseworker:
        return loaded
    tasks = [
        t if t.department == user.department else t.model_copy(update={"assignee": None})
        for t in loaded.tasks
    ]
    return replace(loaded, tasks=tasks)


def in_scope(user: UserInfo, loaded: Loaded) -> bool:
    """Applicants see their own cases; caseworkers those their department touches."""
    if user.role in (Role.supervisor, Role.admin):
        return True
    if user.role is Role.applicant:
        return loaded.case.applicant_id == user.id
    return user.department in loaded.case.departments


async def case_for(user: UserInfo, store: Store, client: ClientDep, case_id: str) -> Loaded:
    """The case if the user may see it; 404 otherwise (never reveal another's case)."""
    loaded = await load_case(store, client, case_id)
    if not in_scope(user, loaded):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"办件不存在 / no case {case_id}")
    return redact(user, loaded)


async def case_to_act_on(
    request: Request, user: UserInfo, store: Store, client: ClientDep, case_id: str
) -> Loaded:
    """The case an action names, once the request's key is known to be usable: a key that
    is not is 422 before anything is looked up (the engine may be asked)."""
    client_key(request)
    return await case_for(user, store, client, case_id)


@router.get("/cases/{case_id}")
async def get_case(
    case_id: CaseId, user: CurrentUser, store: StoreDep, client: ClientDep
) -> Annotated[CaseDetail | ApplicantCase, Field(discriminator="audience")]:
    """The case. Its applicant sees where it is, why it stopped or was turned down, what is
    missing (with the guide's details) and its progress (办件进度), never who handles it;
    staff see the case, its tasks and every deadline with its derivation."""
    loaded = await case_for(user, store, client, case_id)
    case = loaded.case
    events = await run_in_threadpool(queries.timeline, store, case_id)
    snap = await run_in_threadpool(
        queries.get_procedure, store, case.procedure_code, case.procedure_version
    )
    if user.role is not Role.applicant:
        detail = loaded.staff()
        detail.materials = materials_held(case, events, snap)
        return detail
    return applicant_case(case, loaded.tasks, loaded.clocks, events, snap)


@router.get("/cases/{case_id}/notifications")
async def notifications(
    case_id: CaseId, user: CurrentUser, store: StoreDep, client: ClientDep
) -> list[NotificationPublic] | list[NotificationStatus]:
    """What the applicant was told about the case (accepted, returned with the list, decided,
    delivered …), oldest first, with when each was sent; staff also see each one's delivery
    (state, attempts, last error)."""
    await case_for(user, store, client, case_id)
    rows = await run_in_threadpool(outbox.of_case, store, case_id)
    if user.role is Role.applicant:
        return [NotificationPublic.of(r) for r in rows]
    return [NotificationStatus.of(r) for r in rows]


@router.post("/cases/{case_id}/supplement")
async def supplement(
    case_id: CaseId,
    body: Supplement,
    request: Request,
    user: Applicant,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """Hand in what was asked for (补正) or the 容缺 materials, at once or in parts."""
    await case_to_act_on(request, user, store, client, case_id)
    data = SupplementInput(actor=user.actor(), materials=body.materials, note=body.note)
    return await act(request, store, client, settings, case_id, CaseWorkflow.supplement, data)


@router.post("/cases/{case_id}/withdraw")
async def withdraw(
    case_id: CaseId,
    body: Withdraw,
    request: Request,
    user: Applicant,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """Withdraw the application before a decision."""
    await case_to_act_on(request, user, store, client, case_id)
    data = WithdrawInput(actor=user.actor(), reason=body.reason)
    return await act(request, store, client, settings, case_id, CaseWorkflow.withdraw, data)


@router.post("/cases/{case_id}/rating")
async def rate(
    case_id: CaseId,
    body: Rating,
    request: Request,
    user: Applicant,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> ActionAnswer:
    """Rate the service (好差评, 一事一评) once the results are delivered: a score, a comment
    and optional dimension scores. A score of 2 or 1 is a bad rating (差评)."""
    await case_to_act_on(request, user, store, client, case_id)
    data = RateInput(
        actor=user.actor(),
        score=body.score,
        comment=body.comment,
        dimensions={RatingDimension(k): v for k, v in body.dimensions.items()},
    )
    return await act(request, store, client, settings, case_id, CaseWorkflow.rate, data)
