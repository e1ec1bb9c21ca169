"""The applicant's own view of a case: where it is, why, what is missing, and its progress.

Built from the case projection, its tasks and its events, labelled with the procedure version
the case runs. What an applicant may see is chosen here, once: decisions and their reasons,
returns with the materials asked for, deadlines and deliveries — never who in a department
handled the case, internal notes (urges, steps, incidents) or supervision findings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from api.public import Answer
from definitions.guide import GuideMaterial, guide_materials
from definitions.models import DeliveryMethod
from definitions.versioning import ProcedureSnapshot
from workflows.contracts import (
    INTAKE_TASK,
    TERMINAL_STATES,
    CaseRow,
    CaseState,
    Clock,
    ClockKind,
    ClockRow,
    Event,
    EventType,
    TaskKind,
    TaskRow,
    TaskState,
)


class Label(Answer):
    """A text in zh-CN and in English."""

    zh: str
    en: str


class DepartmentRef(Answer):
    code: str
    name: str
    name_en: str | None = None


class MaterialNeed(Answer):
    """A material the applicant is asked for, with the guide's details."""

    key: str
    name: str
    form: str | None = None
    """原件 / 复印件 / 电子件; none for a free-text request the guide does not list."""
    copies: int | None = None
    requirement: str | None = None
    items: list[str] = Field(default_factory=list)
    """Names of the items that need it."""


class Notice(Answer):
    """Why the case stopped or was turned down: what the applicant was told, by whom."""

    kind: Literal["returned", "refused", "rejected", "terminated"]
    title: Label
    at: dt.datetime
    department: DepartmentRef | None = None
    item: str | None = None
    """The item (事项) whose department decided, for a rejection."""
    reason: str | None = None
    missing: list[MaterialNeed] = Field(default_factory=list)


class ProgressEntry(Answer):
    """One step of 办件进度."""

    seq: int
    at: dt.datetime
    type: str
    """The event type it comes from (``case.accepted`` …)."""
    title: Label
    department: DepartmentRef | None = None
    detail: str | None = None


class TaskProgress(Answer):
    """One department's part of the case, without who handles it."""

    item: str
    department: DepartmentRef
    state: TaskState
    status: Label
    deadline_date: dt.date | None = None
    decided_at: dt.datetime | None = None
    reason: str | None = None
    """Given for a rejection only."""


class Deadline(Answer):
    """A deadline of the case, with how it follows from the calendar."""

    kind: ClockKind
    title: Label
    status: Clock
    due_at: dt.datetime | None = None
    due_date: dt.date | None = None
    provisional: bool = False
    """Computed on a year without an official holiday arrangement: may still move."""
    derivation: dict[str, Any] | None = None
    ended_at: dt.datetime | None = None


class ApplicantCase(Answer):
    """A case as its applicant sees it (我的办件)."""

    audience: Literal["applicant"] = "applicant"
    case_id: str
    procedure: str
    procedure_name: str
    version: int
    state: CaseState
    status: Label
    submitted_at: dt.datetime
    accepted_at: dt.datetime | None = None
    deemed_accepted: bool = False
    suspended: bool = False
    """The time limit is stopped (补正, or a step that does not count)."""
    awaiting_supplement: bool = False
    """The case waits for the materials in ``missing``; nothing moves until they arrive."""
    missing: list[MaterialNeed] = Field(default_factory=list)
    """Asked for in the last return, or 容缺 materials still owed."""
    owed_by: dt.datetime | None = None
    """容缺: the date the owed materials were promised for."""
    deadline_at: dt.datetime | None = None
    deadline_date: dt.date | None = None
    provisional: bool = False
    deadlines: list[Deadline] = Field(default_factory=list)
    why: list[Notice] = Field(default_factory=list)
    tasks: list[TaskProgress] = Field(default_factory=list)
    progress: list[ProgressEntry] = Field(default_factory=list)
    delivery_due_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    trips: int = 0
    promised_trips: int = 0
    rating: int | None = None


_STATUS: dict[CaseState, tuple[str, str]] = {
    CaseState.intake: ("待受理", "waiting for acceptance"),
    CaseState.in_progress: ("办理中", "in progress"),
    CaseState.delivering: ("已办结，待送达", "decided, results being delivered"),
    CaseState.rating: ("已送达，待评价", "delivered, waiting for your rating"),
    CaseState.completed: ("已办结", "completed"),
    CaseState.rejected: ("不予许可", "rejected"),
    CaseState.refused: ("不予受理", "not accepted"),
    CaseState.withdrawn: ("已撤回", "withdrawn"),
    CaseState.terminated: ("已终止", "terminated"),
}

_TASK_STATUS: dict[TaskState, tuple[str, str]] = {
    TaskState.pending: ("待办理", "waiting for an earlier step"),
    TaskState.open: ("办理中", "in progress"),
    TaskState.claimed: ("办理中", "in progress"),
    TaskState.approved: ("已同意", "approved"),
    TaskState.rejected: ("不予许可", "rejected"),
    TaskState.cancelled: ("无需办理", "not needed"),
}

_TITLES: dict[EventType, tuple[str, str]] = {
    EventType.case_submitted: ("已收到申请", "application received"),
    EventType.case_accepted: ("已受理", "accepted"),
    EventType.case_deemed_accepted: (
        "视为受理（窗口未在期限内作出决定）",
        "deemed accepted (the desk did not decide in time)",
    ),
    EventType.case_refused: ("不予受理", "not accepted"),
    EventType.case_returned: ("需补正材料", "returned: materials to supplement"),
    EventType.case_supplemented: ("已补交材料", "materials handed in"),
    EventType.stage_started: ("进入办理阶段", "stage started"),
    EventType.task_approved: ("部门已同意", "approved by a department"),
    EventType.task_rejected: ("部门不予许可", "rejected by a department"),
    EventType.case_approved: ("审批完成，结果待送达", "decided, results to be delivered"),
    EventType.case_rejected: ("不予许可", "rejected"),
    EventType.case_terminated: ("办件终止", "terminated"),
    EventType.case_delivered: ("结果已送达", "results delivered"),
    EventType.trip_recorded: ("到现场办理", "on-site visit recorded"),
    EventType.case_rated: ("已评价", "rated"),
    EventType.visit_rated: ("现场服务已评价（一次一评）", "on-site visit rated"),
    EventType.case_completed: ("办结", "completed"),
    EventType.case_withdrawn: ("已撤回申请", "application withdrawn"),
}
"""The events an applicant sees in their progress; every other event is internal."""

_DEADLINES: dict[ClockKind, tuple[str, str]] = {
    ClockKind.intake: ("受理期限", "acceptance due"),
    ClockKind.case: ("办结期限", "decision due"),
    ClockKind.tolerance: ("容缺材料补齐期限", "owed materials due"),
    ClockKind.delivery: ("送达期限", "delivery due"),
    ClockKind.rating: ("评价期限", "rating window ends"),
}
"""The clocks an applicant sees; task, step and urge clocks are the departments' own."""

_NOTICES: dict[EventType, Literal["returned", "refused", "rejected", "terminated"]] = {
    EventType.case_returned: "returned",
    EventType.case_refused: "refused",
    EventType.task_rejected: "rejected",
    EventType.case_terminated: "terminated",
}


def _label(pair: tuple[str, str]) -> Label:
    return Label(zh=pair[0], en=pair[1])


class _Context:
    """Names from the procedure version the case runs."""

    def __init__(self, snap: ProcedureSnapshot | None) -> None:
        self.departments = {d.code: d for d in snap.departments} if snap else {}
        self.items = {i.code: i for i in snap.items} if snap else {}
        self.materials: Mapping[str, GuideMaterial] = (
            {m.key: m for m in guide_materials(list(snap.items))} if snap else {}
        )
        self.stages = {s.key: s for s in snap.procedure.stages} if snap else {}

    def department(self, code: str | None) -> DepartmentRef | None:
        if not code:
            return None
        d = self.departments.get(code)
        return DepartmentRef(
            code=code, name=d.name if d else code, name_en=d.name_en if d else None
        )

    def item_name(self, code: str | None, fallback: str | None = None) -> str | None:
        item = self.items.get(code or "")
        return item.name if item else fallback or code

    def needs(self, keys: Sequence[str]) -> list[MaterialNeed]:
        out = []
        for key in keys:
            m = self.materials.get(key)
            if m is None:
                out.append(MaterialNeed(key=key, name=key))
            else:
                out.append(
                    MaterialNeed(
                        key=m.key,
                        name=m.name,
                        form=m.form,
                        copies=m.copies,
                        requirement=m.requirement,
                        items=list(m.items),
                    )
                )
        return out

    def names(self, keys: Any) -> str:
        return "、".join(n.name for n in self.needs(_keys(keys)))


def _keys(value: Any) -> list[str]:
    """Material keys from an event payload (any shape an older edition wrote)."""
    return [str(k) for k in value] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _detail(e: Event, ctx: _Context, tasks: Mapping[str, TaskRow]) -> str | None:
    p = e.payload
    t = e.type
    if t is EventType.case_accepted and p.get("tolerated"):
        return f"容缺后补：{ctx.names(p.get('tolerated'))}"
    if t is EventType.case_deemed_accepted and p.get("missing"):
        return f"受理时尚缺：{ctx.names(p.get('missing'))}"
    if t is EventType.case_returned:
        parts = [f"请补交：{ctx.names(p.get('missing'))}"]
        if _text(p.get("reason")):
            parts.append(f"原因：{p['reason']}")
        return "；".join(parts)
    if t is EventType.case_supplemented:
        parts = [ctx.names(p.get("materials"))]
        if p.get("partial"):
            parts.append(f"仍缺：{ctx.names(p.get('missing'))}")
        if _text(p.get("note")):
            parts.append(f"说明：{p['note']}")
        return "；".join(x for x in parts if x) or None
    if t is EventType.stage_started:
        stage = ctx.stages.get(str(p.get("stage")))
        return stage.name if stage else _text(p.get("stage"))
    if t in (EventType.task_approved, EventType.task_rejected):
        task = tasks.get(e.task_key or "")
        name = ctx.item_name(task.item_code if task else None, task.item_name if task else None)
        reason = _text(p.get("reason")) if t is EventType.task_rejected else None
        return "；".join(x for x in (name, f"原因：{reason}" if reason else None) if x) or None
    if t in (EventType.case_refused, EventType.case_terminated, EventType.case_withdrawn):
        return _text(p.get("reason"))
    if t is EventType.case_delivered:
        method = p.get("method")
        label = DeliveryMethod(method).label if method in set(DeliveryMethod) else None
        results = "、".join(str(r) for r in p.get("results") or [])
        return "；".join(x for x in (label, results) if x) or None
    if t is EventType.case_rated and p.get("defaulted"):
        return f"{p.get('window_days')} 个工作日内未评价，视为满意 / not rated in time: counted as satisfied"
    if t in (EventType.case_rated, EventType.visit_rated):
        return f"{p.get('score')} 分" if isinstance(p.get("score"), int) else None
    return None


def _visible(e: Event) -> bool:
    return e.type in _TITLES and not (
        e.type is EventType.stage_started and not e.payload.get("stage")
    )


def _awaiting_supplement(events: Sequence[Event], state: CaseState) -> bool:
    if state in TERMINAL_STATES:
        return False
    waiting = False
    for e in events:
        if e.type is EventType.case_returned:
            waiting = True
        elif (
            e.type is EventType.case_supplemented
            and not e.payload.get("tolerance")
            and not e.payload.get("partial")
        ):
            waiting = False
        elif e.type is EventType.case_clock_resumed:
            # Supplemented, or the return became moot (its stage was decided without it).
            waiting = False
    return waiting


_OWED = ("已办结，补齐容缺材料后送达", "decided; results delivered once the owed materials arrive")


def owes_materials(case: CaseRow) -> bool:
    """Decided, but the 容缺 materials promised at acceptance have not arrived: the results
    wait for them (the applicant must act)."""
    return case.state is CaseState.delivering and bool(case.missing)


def status_of(case: CaseRow) -> Label:
    """Where the case stands, in words."""
    return _label(_OWED if owes_materials(case) else _STATUS[case.state])


class ApplicantCaseSummary(Answer):
    """A case in its applicant's list (我的办件): enough to choose one and see if they must act."""

    case_id: str
    procedure: str
    procedure_name: str
    state: CaseState
    status: Label
    submitted_at: dt.datetime
    must_act: bool
    """Materials are asked for (补正) or owed (容缺), or the case waits for a rating."""
    missing: int
    """How many materials are asked for or owed (their names: the case view)."""
    deadline_date: dt.date | None = None
    delivered_at: dt.datetime | None = None
    rating: int | None = None


def applicant_summary(case: CaseRow) -> ApplicantCaseSummary:
    waiting = (
        case.state not in TERMINAL_STATES and bool(case.missing)
    ) or case.state is CaseState.rating
    return ApplicantCaseSummary(
        case_id=case.id,
        procedure=case.procedure_code,
        procedure_name=case.procedure_name,
        state=case.state,
        status=status_of(case),
        submitted_at=case.submitted_at,
        must_act=waiting,
        missing=len(case.missing) if case.state not in TERMINAL_STATES else 0,
        deadline_date=case.deadline_date,
        delivered_at=case.delivered_at,
        rating=case.rating,
    )


class MaterialHeld(MaterialNeed):
    """A material the case needs, and whether the desk has it."""

    handed_in: bool
    asked: bool = False
    """Asked for in a return (补正) or owed (容缺) now."""


def materials_held(
    case: CaseRow, events: Sequence[Event], snap: ProcedureSnapshot | None
) -> list[MaterialHeld]:
    """Every material the form requires, with the guide's details and whether it is in: what
    the desk checks before it accepts, returns or tolerates."""
    if snap is None:
        return []
    required = snap.required_keys(case.form)
    handed: set[str] = set()
    accepted_missing: set[str] | None = None
    for e in events:
        if e.type in (EventType.case_submitted, EventType.case_supplemented):
            handed |= set(_keys(e.payload.get("materials")))
        elif e.type in (EventType.case_accepted, EventType.case_deemed_accepted):
            accepted_missing = set(_keys(e.payload.get("missing")))
    if accepted_missing is not None:
        # On acceptance the desk had everything required but what it recorded as missing
        # (materials handed over at the window included).
        handed |= set(required) - accepted_missing
    asked = set(case.missing)
    ctx = _Context(snap)
    return [
        MaterialHeld(
            **need.model_dump(),
            handed_in=need.key in handed and need.key not in asked,
            asked=need.key in asked,
        )
        for need in ctx.needs(required)
    ]


def applicant_case(
    case: CaseRow,
    tasks: Sequence[TaskRow],
    clocks: Sequence[ClockRow],
    events: Sequence[Event],
    snap: ProcedureSnapshot | None,
) -> ApplicantCase:
    """The applicant's view; ``snap`` is the procedure version the case runs."""
    ctx = _Context(snap)
    by_key = {t.task_key: t for t in tasks}
    progress: list[ProgressEntry] = []
    why: list[Notice] = []
    for e in events:
        if not _visible(e):
            continue
        department = ctx.department(e.department) if e.actor_role.value != "applicant" else None
        progress.append(
            ProgressEntry(
                seq=e.seq,
                at=e.at,
                type=e.type.value,
                title=_label(_TITLES[e.type]),
                department=department,
                detail=_detail(e, ctx, by_key),
            )
        )
        kind = _NOTICES.get(e.type)
        if kind is not None:
            task = by_key.get(e.task_key or "")
            why.append(
                Notice(
                    kind=kind,
                    title=_label(_TITLES[e.type]),
                    at=e.at,
                    department=department,
                    item=ctx.item_name(task.item_code, task.item_name)
                    if task and task.kind is TaskKind.review
                    else None,
                    reason=_text(e.payload.get("reason")),
                    missing=ctx.needs(_keys(e.payload.get("missing") or e.payload.get("owed"))),
                )
            )
    return ApplicantCase(
        case_id=case.id,
        procedure=case.procedure_code,
        procedure_name=case.procedure_name,
        version=case.procedure_version,
        state=case.state,
        status=status_of(case),
        submitted_at=case.submitted_at,
        accepted_at=case.accepted_at,
        deemed_accepted=case.deemed_accepted,
        suspended=case.clock is Clock.suspended,
        awaiting_supplement=_awaiting_supplement(events, case.state) or owes_materials(case),
        missing=ctx.needs(case.missing),
        owed_by=case.tolerance_due_at,
        deadline_at=case.deadline_at,
        deadline_date=case.deadline_date,
        provisional=case.provisional,
        deadlines=[
            Deadline(
                kind=c.kind,
                title=_label(_DEADLINES[c.kind]),
                status=c.status,
                due_at=c.due_at,
                due_date=c.due_date,
                provisional=c.provisional,
                derivation=c.derivation,
                ended_at=c.ended_at,
            )
            for c in clocks
            if c.kind in _DEADLINES
        ],
        why=why,
        tasks=[
            TaskProgress(
                item=ctx.item_name(t.item_code, t.item_name) or t.item_name,
                department=ctx.department(t.department)
                or DepartmentRef(code=t.department, name=t.department),
                state=t.state,
                status=_label(_TASK_STATUS[t.state]),
                deadline_date=t.deadline_date,
                decided_at=t.decided_at,
                reason=t.reason if t.state is TaskState.rejected else None,
            )
            for t in tasks
            if t.kind is TaskKind.review and t.task_key != INTAKE_TASK
        ],
        progress=progress,
        delivery_due_at=case.delivery_due_at,
        delivered_at=case.delivered_at,
        trips=case.trips,
        promised_trips=case.promised_trips,
        rating=case.rating,
    )
