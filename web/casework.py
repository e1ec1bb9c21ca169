"""Pages of a caseworker's work on a case: the case page (form, materials, tasks, deadlines with
their derivation, timeline) and its actions (claim, release, approve, reject with a reason,
return for supplement with the complete missing list).

Each action calls the JSON API's own handler (api.routes.caseworker) with the signed-in person
as its user: the same scope checks, the same inputs, the same workflow update and idempotency;
a refusal comes back as the API's message, shown on the page.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import Client

from api.deps import get_client, get_settings_dep, get_store
from api.routes import caseworker
from api.routes.cases import CaseId, get_case
from api.routes.caseworker import TaskKey
from api.routes.supervisor import timeline
from api.schemas import CaseDetail, Deliver, IntakeDecision, Reassign, TaskDecision, Visit
from definitions.models import FormField
from store import queries
from store.db import Store
from store.users import list_users
from web.pages import VisitorDep, check_csrf, error_text, render, signed_in
from workflows.contracts import EventType, Role

router = APIRouter(include_in_schema=False)
STAFF = (Role.caseworker, Role.supervisor, Role.admin)

EVENT_WORDS: dict[str, tuple[str, str]] = {
    "case.submitted": ("提交申请", "application submitted"),
    "case.accepted": ("受理", "accepted"),
    "case.deemed_accepted": ("视为受理", "deemed accepted"),
    "case.refused": ("不予受理", "not accepted"),
    "case.returned_for_supplement": ("退回补正", "returned for supplement"),
    "case.supplemented": ("补正材料", "materials supplemented"),
    "case.clock_suspended": ("暂停计时", "clock suspended"),
    "case.clock_resumed": ("恢复计时", "clock resumed"),
    "case.tolerance_expired": ("容缺材料逾期未补", "owed materials not handed in"),
    "case.terminated": ("终止", "terminated"),
    "case.approved": ("审批通过", "approved"),
    "case.rejected": ("不予许可", "rejected"),
    "case.delivered": ("送达", "delivered"),
    "case.rated": ("评价", "rated"),
    "visit.rated": ("现场评价", "visit rated"),
    "case.completed": ("办结", "completed"),
    "case.withdrawn": ("撤回", "withdrawn"),
    "case.urged": ("督办", "urged"),
    "stage.started": ("阶段开始", "stage started"),
    "stage.completed": ("阶段完成", "stage completed"),
    "task.created": ("环节创建", "task created"),
    "task.opened": ("环节开始", "task opened"),
    "task.claimed": ("领取", "claimed"),
    "task.reassigned": ("转办", "reassigned"),
    "task.released": ("退回待领", "released"),
    "task.approved": ("环节通过", "task approved"),
    "task.rejected": ("环节不通过", "task rejected"),
    "task.cancelled": ("环节取消", "task cancelled"),
    "task.step_started": ("开始不计时环节（第四十五条）", "uncounted step started (Art. 45)"),
    "task.step_finished": ("结束不计时环节", "uncounted step finished"),
    "deadline.set": ("期限确定", "deadline set"),
    "deadline.warning": ("黄牌预警", "yellow card: deadline near"),
    "deadline.overdue": ("红牌超期", "red card: overdue"),
    "deadline.escalated": ("督办超期", "urged deadline missed"),
    "deadline.moved": ("期限调整", "deadline moved"),
    "deadline.card_withdrawn": ("撤销预警", "card withdrawn"),
    "calendar.applied": ("采用新日历", "calendar applied"),
    "trip.recorded": ("到现场", "on-site visit"),
    "supervision.finding": ("监督发现", "supervision finding"),
    "incident.opened": ("故障待处理", "incident opened"),
    "incident.resolved": ("故障已处理", "incident resolved"),
    "followup.opened": ("差评回访开始", "follow-up opened"),
    "followup.verified": ("回访核实", "rating verified"),
    "followup.explained": ("向申请人解释", "explained to the applicant"),
    "followup.appealed": ("申诉", "appealed"),
    "followup.appeal_decided": ("申诉裁决", "appeal decided"),
    "followup.rectified": ("整改完成", "rectified"),
    "followup.revisited": ("回访满意度", "revisited"),
    "followup.urged": ("回访督办", "follow-up urged"),
    "followup.concluded": ("回访办结", "follow-up concluded"),
}
"""Every event type in words for the timeline, zh-CN and English."""


class Loaded:
    """A case for its page: the staff view, the timeline, and the front desk's department."""

    def __init__(
        self,
        detail: CaseDetail,
        events: list[Any],
        desk: str | None,
        steps: dict[str, list[Any]] | None = None,
        colleagues: list[Any] | None = None,
        fields: list[FormField] | None = None,
    ) -> None:
        self.detail = detail
        self.events = events
        self.desk = desk
        self.steps = steps or {}
        """Each item's 第四十五条 steps (not counted toward the limit), by item code."""
        self.colleagues = colleagues or []
        """Active caseworkers of the signed-in caseworker's department (for a reassignment)."""
        self.fields = fields or []
        """The application form's fields, for their labels."""

    def form_rows(self, lang: str) -> list[tuple[str, str]]:
        """The application as people read it: each field's label and value in words, in the
        form's order (a value the form no longer declares keeps its key)."""
        form = self.detail.case.form
        labels = {f.key: (f.label_en or f.label) if lang == "en" else f.label for f in self.fields}
        order = [f.key for f in self.fields if f.key in form] + [k for k in form if k not in labels]
        return [(labels.get(k, k), _value(form[k], lang)) for k in order]


def _value(value: Any, lang: str) -> str:
    """A form value in words: yes/no, whole numbers without ".0" (as typed: no separators,
    a year stays 2026), lists joined."""
    if isinstance(value, bool):
        return ("是", "否")[not value] if lang == "zh" else ("yes", "no")[not value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, list):
        return "、".join(_value(v, lang) for v in value)
    return "—" if value is None else str(value)[:500]


async def _load(user: Any, store: Store, client: Client, case_id: str) -> Loaded:
    detail = await get_case(case_id, user, store, client)
    assert isinstance(detail, CaseDetail)  # staff get the staff view
    events = await timeline(case_id, user, store, client)
    c = detail.case
    snap = await run_in_threadpool(
        queries.get_procedure, store, c.procedure_code, c.procedure_version
    )
    steps = {i.code: [s for s in i.steps if not s.counted] for i in snap.items} if snap else {}
    colleagues = []
    if user.role is Role.caseworker:
        everyone = await run_in_threadpool(list_users, store)
        colleagues = [
            u
            for u in everyone
            if u.role is Role.caseworker
            and u.department == user.department
            and not u.disabled
            and u.id != user.id
        ]
    return Loaded(
        detail,
        events,
        snap.procedure.intake.department if snap else None,
        steps,
        colleagues,
        list(snap.procedure.form.fields) if snap else [],
    )


@router.get("/work/cases/{case_id}", response_class=HTMLResponse)
async def case_page(
    case_id: CaseId,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    client: Annotated[Client, Depends(get_client)],
) -> HTMLResponse:
    """A case as staff see it, with what the signed-in caseworker may do on it now."""
    signed = signed_in(who, *STAFF)
    loaded = await _load(signed.user, store, client, case_id[:200])
    return _page(request, who, loaded, None)


def _page(
    request: Request,
    who: Any,
    loaded: Loaded,
    error: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    user = who.signed.user
    detail = loaded.detail
    mine = [
        t
        for t in detail.tasks
        if user.role is Role.caseworker
        and t.department == user.department
        and t.kind.value == "review"
        and t.state.value in ("open", "claimed")
    ]
    desk = [
        t
        for t in detail.tasks
        if user.role is Role.caseworker
        and t.department == user.department
        and t.kind.value in ("intake", "delivery")
        and t.state.value in ("open", "claimed")
    ]
    return render(
        request,
        who,
        "case.html",
        status_code=status_code,
        detail=detail,
        events=loaded.events,
        mine=mine,
        desk=desk,
        at_desk=user.role is Role.caseworker and user.department == loaded.desk,
        steps=loaded.steps,
        finished_steps={
            (e.task_key, e.payload.get("step"))
            for e in loaded.events
            if e.type is EventType.task_step_finished
        },
        colleagues=loaded.colleagues,
        form_rows=loaded.form_rows(who.lang),
        error=error,
        event_words={k: v[0 if who.lang == "zh" else 1] for k, v in EVENT_WORDS.items()},
    )


@router.post("/work/cases/{case_id}/tasks/{task_key}/{action}")
async def act_on_task(
    case_id: CaseId,
    task_key: TaskKey,
    action: Literal["claim", "release", "decide", "reassign", "step"],
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    client: Annotated[Client, Depends(get_client)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    decision: Annotated[str | None, Form(max_length=10)] = None,
    reason: Annotated[str | None, Form(max_length=2000)] = None,
    missing: Annotated[list[str] | None, Form(max_length=200)] = None,
    assignee: Annotated[str | None, Form(max_length=100)] = None,
    step_key: Annotated[str | None, Form(max_length=64)] = None,
    step_action: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Claim, release, decide or hand over a task of the caseworker's department, or start or
    finish a step that does not count toward the limit, as the API does."""
    signed = check_csrf(request, who, csrf)
    if signed.user.role is not Role.caseworker:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "只有办理人员可以办理 / caseworkers only")
    settings = get_settings_dep(request)
    user = signed.user
    case_id, task_key = case_id[:200], task_key[:64]
    try:
        if action == "claim":
            await caseworker.claim(case_id, task_key, request, user, store, client, settings)
        elif action == "release":
            await caseworker.release(case_id, task_key, request, user, store, client, settings)
        elif action == "reassign":
            body_r = Reassign.model_validate_json(json.dumps({"assignee": assignee or ""}))
            await caseworker.reassign(
                case_id, task_key, body_r, request, user, store, client, settings
            )
        elif action == "step":
            await caseworker.step(
                case_id,
                task_key,
                (step_key or "")[:64],
                step_action or "",
                request,
                user,
                store,
                client,
                settings,
            )
        else:
            body = TaskDecision.model_validate(
                {
                    "decision": decision or "",
                    "reason": (reason or "").strip() or None,
                    "missing": [m for m in (missing or []) if m],
                }
            )
            await caseworker.decide(case_id, task_key, body, request, user, store, client, settings)
    except (HTTPException, ValidationError) as error:
        code = error.status_code if isinstance(error, HTTPException) else 422
        if code >= 500:
            raise
        loaded = await _load(user, store, client, case_id)
        return _page(request, who, loaded, error_text(error), status_code=code)
    done = RedirectResponse(f"/work/cases/{case_id}", status.HTTP_303_SEE_OTHER)
    if action == "decide" and decision in ("approve", "reject", "return"):
        done = RedirectResponse("/work/inbox", status.HTTP_303_SEE_OTHER)
    return done


async def _desk_action(
    request: Request,
    who: Any,
    store: Store,
    client: Client,
    case_id: str,
    csrf: str | None,
    run: Any,
) -> Response:
    """A front-desk action through the API's own handler; a refusal shown on the case page."""
    signed = check_csrf(request, who, csrf)
    if signed.user.role is not Role.caseworker:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "只有窗口人员可以办理 / the desk only")
    settings = get_settings_dep(request)
    case_id = case_id[:200]
    try:
        await run(signed.user, settings)
    except (HTTPException, ValidationError) as error:
        code = error.status_code if isinstance(error, HTTPException) else 422
        if code >= 500:
            raise
        loaded = await _load(signed.user, store, client, case_id)
        return _page(request, who, loaded, error_text(error), status_code=code)
    return RedirectResponse(f"/work/cases/{case_id}", status.HTTP_303_SEE_OTHER)


def _keys(values: list[str] | None) -> list[str]:
    return [v for v in (values or []) if v]


def _number(text: str | None) -> int | str | None:
    """A whole number typed in a form; anything else as typed, for the API's check to name."""
    if not text:
        return None
    return int(text) if text.isdecimal() else text


@router.post("/work/cases/{case_id}/intake")
async def intake(
    case_id: CaseId,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    client: Annotated[Client, Depends(get_client)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    decision: Annotated[str | None, Form(max_length=10)] = None,
    reason: Annotated[str | None, Form(max_length=2000)] = None,
    missing: Annotated[list[str] | None, Form(max_length=200)] = None,
    tolerated: Annotated[list[str] | None, Form(max_length=200)] = None,
    received: Annotated[list[str] | None, Form(max_length=200)] = None,
    tolerance_days: Annotated[str | None, Form(max_length=3)] = None,
) -> Response:
    """受理 (with 容缺 and what the applicant brought), 不予受理 with a reason, or a return with
    the complete missing list — the API's intake."""

    async def run(user: Any, settings: Any) -> None:
        body = IntakeDecision.model_validate(
            {
                "decision": decision or "",
                "reason": (reason or "").strip() or None,
                "missing": _keys(missing),
                "tolerated": _keys(tolerated),
                "received": _keys(received),
                "tolerance_days": _number(tolerance_days),
            }
        )
        await caseworker.intake(case_id, body, request, user, store, client, settings)

    return await _desk_action(request, who, store, client, case_id, csrf, run)


@router.post("/work/cases/{case_id}/delivery")
async def delivery(
    case_id: CaseId,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    client: Annotated[Client, Depends(get_client)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    method: Annotated[str | None, Form(max_length=12)] = None,
) -> Response:
    """送达: every result handed out at once."""

    async def run(user: Any, settings: Any) -> None:
        body = Deliver.model_validate({"method": method or None})
        await caseworker.deliver(case_id, body, request, user, store, client, settings)

    return await _desk_action(request, who, store, client, case_id, csrf, run)


@router.post("/work/cases/{case_id}/visit")
async def visit(
    case_id: CaseId,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    client: Annotated[Client, Depends(get_client)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    reason: Annotated[str | None, Form(max_length=30)] = None,
    note: Annotated[str | None, Form(max_length=2000)] = None,
    score: Annotated[str | None, Form(max_length=1)] = None,
) -> Response:
    """The applicant came in person (a trip), with their rating of the visit if they gave one
    (一次一评)."""

    async def run(user: Any, settings: Any) -> None:
        rating = {"score": _number(score)} if score else None
        body = Visit.model_validate(
            {"reason": reason or "", "note": (note or "").strip() or None, "rating": rating}
        )
        await caseworker.visit(case_id, body, request, user, store, client, settings)

    return await _desk_action(request, who, store, client, case_id, csrf, run)
