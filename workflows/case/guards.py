"""Checks shared by update validators and handlers: may this person do this now?

A validator runs them before the update is accepted (a refusal writes nothing to the
history); the handler runs them again under the case's lock, since another update may have
changed the case in between. A refusal names what is wrong, and tells a caseworker of another
department no more than "forbidden": not who claimed a task, nor which department owns it.
Pure code.
"""

from __future__ import annotations

from workflows.case.clocks import SUPPLEMENT
from workflows.case.rules import missing_materials
from workflows.case.spec import Spec
from workflows.case.state import CaseData
from workflows.contracts import (
    DECIDED_TASK_STATES,
    DELIVERY_TASK,
    INTAKE_TASK,
    MATERIAL_KEY_LENGTH,
    MAX_LIST,
    OPEN_TASK_STATES,
    TERMINAL_STATES,
    AcceptInput,
    Actor,
    CaseState,
    DecideInput,
    DeliverInput,
    RateInput,
    ReassignInput,
    RecalculateInput,
    RefuseInput,
    ResolveIncidentInput,
    ReturnInput,
    Role,
    StepInput,
    SupplementInput,
    TaskInput,
    TaskKind,
    TaskRow,
    TaskState,
    UrgeInput,
    VisitInput,
    WithdrawInput,
)


class Refusal(Exception):  # noqa: N818 (a refusal is an answer, not a failure)
    """The action is refused; ``kind`` is conflict, forbidden, invalid or not_found."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _conflict(message: str) -> Refusal:
    return Refusal("conflict", message)


def _forbidden(message: str) -> Refusal:
    return Refusal("forbidden", message)


def _invalid(message: str) -> Refusal:
    return Refusal("invalid", message)


def _not_found(message: str) -> Refusal:
    return Refusal("not_found", message)


FOREIGN = "无权办理：不属于你所在部门的任务 / forbidden: not a task of your department"


# --------------------------------------------------------------------------- building blocks


def _bounded(what: str, keys: list[str]) -> None:
    """The limits the API enforces, for any other client too (nothing oversized is recorded)."""
    if len(keys) > MAX_LIST:
        raise _invalid(f"{what}至多 {MAX_LIST} 项 / at most {MAX_LIST} entries in {what}")
    if any(len(k) > MATERIAL_KEY_LENGTH for k in keys):
        raise _invalid(
            f"每项至多 {MATERIAL_KEY_LENGTH} 个字符 / each entry has at most"
            f" {MATERIAL_KEY_LENGTH} characters"
        )


def _caseworker_of(actor: Actor, department: str) -> None:
    if actor.role is not Role.caseworker:
        raise _forbidden("只有窗口或审批人员可以办理 / only caseworkers act on tasks")
    if actor.department != department:
        raise _forbidden(FOREIGN)


def _task(s: CaseData, key: str, actor: Actor) -> TaskRow:
    """The task, once the actor is known to belong to its department."""
    task = s.tasks.get(key)
    if task is None:
        raise _not_found(f"任务 “{key}” 不存在 / no task '{key}'")
    _caseworker_of(actor, task.department)
    return task


def _alive(s: CaseData) -> None:
    if s.case.state in TERMINAL_STATES:
        raise _conflict(f"办件已结束（{s.case.state.value}）/ the case is closed")


def _not_held_by_another(task: TaskRow, actor: Actor) -> None:
    if task.state is TaskState.claimed and task.assignee != actor.id:
        raise _conflict(f"任务已由 {task.assignee} 认领 / the task is claimed by {task.assignee}")


def _held_by(task: TaskRow, actor: Actor) -> None:
    if task.state in DECIDED_TASK_STATES or task.state is TaskState.cancelled:
        raise _conflict(f"任务已结束（{task.state.value}）/ the task is already {task.state.value}")
    if task.state is not TaskState.claimed:
        raise _conflict("请先认领任务 / claim the task first")
    _not_held_by_another(task, actor)


def _applicant(s: CaseData, actor: Actor, what: str) -> None:
    if actor.role is not Role.applicant or actor.id != s.case.applicant_id:
        raise _forbidden(f"只有申请人本人可以{what} / only the applicant may do this")


def _supervisor(actor: Actor) -> None:
    if actor.role is not Role.supervisor:
        raise _forbidden("只有监察人员可以办理 / only supervisors may do this")


def _at_intake(s: CaseData, spec: Spec, actor: Actor) -> None:
    _caseworker_of(actor, spec.desk)
    _alive(s)
    if s.case.state is not CaseState.intake:
        raise _conflict("办件已受理 / the case has already been accepted")
    if s.return_scope == INTAKE_TASK:
        raise _conflict("正在等待申请人补正 / waiting for the applicant's supplement")
    intake = s.tasks.get(INTAKE_TASK)
    if intake is not None:
        _not_held_by_another(intake, actor)


# --------------------------------------------------------------------------- the actions


def accept(s: CaseData, spec: Spec, data: AcceptInput) -> None:
    _at_intake(s, spec, data.actor)
    _bounded("容缺材料 tolerated", data.tolerated)
    if not data.tolerated:
        return
    if not spec.procedure.intake.tolerance:
        raise _invalid("本流程不支持容缺受理 / this procedure does not allow 容缺受理")
    allowed = spec.tolerable()
    bad = [k for k in data.tolerated if k not in allowed]
    if bad:
        raise _invalid(
            f"以下材料不可容缺：{', '.join(bad)} / not tolerable materials: {', '.join(bad)}"
        )
    if data.tolerance_days is None:
        raise _invalid("容缺受理需给出补齐期限 / tolerance needs tolerance_days")
    limit = max(min([spec.procedure.committed_limit, *(allowed[k] for k in data.tolerated)]), 1)
    if data.tolerance_days > limit:
        raise _invalid(
            f"补齐期限不得超过所属事项的承诺时限 {limit} 个工作日 / tolerance_days may not exceed"
            f" the items' committed limit of {limit} working days"
        )


def _named(spec: Spec, keys: list[str]) -> str:
    """``名称（key）、…`` for the desk, from the items' materials."""
    names = {m.key: m.name for item in spec.items.values() for m in item.materials}
    return "、".join(f"{names.get(k, k)}（{k}）" for k in keys)


def materials_complete(s: CaseData, spec: Spec, data: AcceptInput) -> None:
    """An application is accepted with every required material in, or with the missing ones
    tolerated (容缺); otherwise the desk returns it with the complete list (or refuses it)."""
    _bounded("窗口收取材料 received", data.received)
    known = {m.key for item in spec.items.values() for m in item.materials}
    unknown = [k for k in data.received if k not in known]
    if unknown:
        raise _invalid(
            f"本流程没有这些材料：{', '.join(unknown)} / not materials of this procedure:"
            f" {', '.join(unknown)}"
        )
    absent = [k for k in missing_materials(s, spec, data.received) if k not in data.tolerated]
    if absent:
        raise _invalid(
            f"必要材料未收齐：{_named(spec, absent)}，请列入容缺或退回补正 / required materials not handed in:"
            f" {', '.join(absent)}; tolerate them (容缺) or return the application"
        )


def refuse(s: CaseData, spec: Spec, data: RefuseInput) -> None:
    _at_intake(s, spec, data.actor)


def return_for_supplement(s: CaseData, spec: Spec, data: ReturnInput) -> None:
    _bounded("所缺材料 missing", data.missing)
    if data.task_key is None:
        _at_intake(s, spec, data.actor)
        return
    task = _task(s, data.task_key, data.actor)
    _alive(s)
    if task.kind is not TaskKind.review:
        raise _invalid("受理环节请使用受理接口退回 / use the intake action to return at intake")
    _held_by(task, data.actor)
    if SUPPLEMENT in s.active:
        raise _conflict("办件已在等待补正 / the case is already waiting for a supplement")


def supplement(s: CaseData, spec: Spec, data: SupplementInput, in_parts: bool = True) -> None:
    """``in_parts=False``: the rule before supplements could come in parts (every material
    asked for at once), which histories recorded before it replay with."""
    _applicant(s, data.actor, "补正")
    _alive(s)
    _bounded("补正材料 materials", data.materials)
    if s.return_scope is not None and not in_parts:
        missing = [k for k in s.case.missing if k not in data.materials]
        if missing:
            raise _invalid(f"仍缺少：{', '.join(missing)} / still missing: {', '.join(missing)}")
    elif s.return_scope is not None:
        if s.case.missing and not any(k in s.case.missing for k in data.materials):
            raise _invalid(
                f"未交来所要求的材料：{', '.join(s.case.missing)} / none of the materials asked"
                f" for: {', '.join(s.case.missing)}"
            )
    elif s.owed:
        extra = [k for k in data.materials if k not in s.owed]
        if extra:
            raise _invalid(f"未要求补交：{', '.join(extra)} / not asked for: {', '.join(extra)}")
    else:
        raise _conflict("当前无需补正 / nothing to supplement now")


def return_lists_everything(s: CaseData, spec: Spec, data: ReturnInput) -> None:
    """一次性告知: a return at intake names every required material not yet handed in, so
    the applicant comes back once; a department's return may ask for anything it needs."""
    if data.task_key is not None:
        return
    absent = [k for k in missing_materials(s, spec) if k not in data.missing]
    if absent:
        raise _invalid(
            f"须一次性告知所缺全部材料，还缺：{_named(spec, absent)} / a return must name everything missing"
            f" at once (一次性告知); also missing: {', '.join(absent)}"
        )


def claim(s: CaseData, spec: Spec, data: TaskInput) -> None:
    task = _task(s, data.task_key, data.actor)
    _alive(s)
    if task.state is TaskState.claimed:
        raise _conflict(f"任务已由 {task.assignee} 认领 / the task is claimed by {task.assignee}")
    if task.state is not TaskState.open:
        raise _conflict(f"任务不可认领（{task.state.value}）/ the task is {task.state.value}")


def release(s: CaseData, spec: Spec, data: TaskInput) -> None:
    task = _task(s, data.task_key, data.actor)
    _alive(s)
    _held_by(task, data.actor)


def decide(s: CaseData, spec: Spec, data: DecideInput) -> None:
    task = _task(s, data.task_key, data.actor)
    _alive(s)
    if task.kind is not TaskKind.review:
        raise _invalid(
            "受理与送达请使用相应接口 / intake and delivery have their own actions, not a decision"
        )
    _held_by(task, data.actor)
    if s.return_scope == task.task_key:
        raise _conflict("等待申请人补正中 / waiting for the applicant's supplement")
    step = s.active_step(task.task_key)
    if step is not None:
        raise _conflict(f"不计时环节 “{step.label}” 尚未结束 / finish the not-counted step first")
    if not data.approve and not (data.reason and data.reason.strip()):
        raise _invalid("不予批准必须说明理由 / a rejection needs its reasons")


def reassign(s: CaseData, spec: Spec, data: ReassignInput) -> None:
    actor = data.actor
    if actor.role is Role.supervisor:
        task = s.tasks.get(data.task_key)
        if task is None:
            raise _not_found(f"任务 “{data.task_key}” 不存在 / no task '{data.task_key}'")
    else:
        task = _task(s, data.task_key, actor)
    _alive(s)
    if task.state not in OPEN_TASK_STATES:
        raise _conflict(f"任务不可转办（{task.state.value}）/ the task is {task.state.value}")
    held = task.state is TaskState.claimed and task.assignee != actor.id
    if actor.role is not Role.supervisor and held:
        raise _conflict(
            f"任务已由 {task.assignee} 认领：须由其释放或由监察人员转办 / claimed by"
            f" {task.assignee}: they release it, or a supervisor reassigns it"
        )
    if data.assignee_department != task.department:
        raise _invalid(
            f"{data.assignee} 不是该部门的办理人员 / {data.assignee} is not a caseworker of the"
            " task's department"
        )
    if task.assignee == data.assignee:
        raise _conflict(f"任务已由 {data.assignee} 办理 / already assigned to {data.assignee}")


def _step(s: CaseData, spec: Spec, data: StepInput) -> TaskRow:
    task = _task(s, data.task_key, data.actor)
    _alive(s)
    _held_by(task, data.actor)
    step = spec.step(task.item_code, data.step_key) if task.kind is TaskKind.review else None
    if step is None or step.counted:
        raise _invalid(
            f"“{data.step_key}” 不是该事项的不计时环节 / '{data.step_key}' is not a"
            " not-counted step of the item"
        )
    return task


def start_step(s: CaseData, spec: Spec, data: StepInput) -> None:
    task = _step(s, spec, data)
    if s.active_step(task.task_key) is not None:
        raise _conflict("已有进行中的不计时环节 / a not-counted step is already running")
    step = spec.step(task.item_code, data.step_key)
    assert step is not None
    if data.step_key in s.finished_steps.get(task.task_key, []) and not step.repeatable:
        raise _conflict(
            f"环节 “{step.name}” 已结束，不可重新开始 / step '{data.step_key}' has finished and"
            " cannot start again"
        )


def finish_step(s: CaseData, spec: Spec, data: StepInput) -> None:
    task = _step(s, spec, data)
    running = s.active_step(task.task_key)
    if running is None or running.key.split(":")[2] != data.step_key:
        raise _conflict(f"环节 “{data.step_key}” 未开始 / step '{data.step_key}' is not running")


def urge(s: CaseData, spec: Spec, data: UrgeInput) -> None:
    _supervisor(data.actor)
    _alive(s)
    if data.task_key is not None:
        task = s.tasks.get(data.task_key)
        if task is None:
            raise _not_found(f"任务 “{data.task_key}” 不存在 / no task '{data.task_key}'")
        if task.state not in OPEN_TASK_STATES:
            raise _conflict(f"任务已结束（{task.state.value}）/ the task is {task.state.value}")
    elif s.case.state not in (CaseState.intake, CaseState.in_progress):
        raise _conflict("办件已作出决定 / the case is already decided")


def withdraw(s: CaseData, spec: Spec, data: WithdrawInput) -> None:
    _applicant(s, data.actor, "撤回")
    _alive(s)
    if s.case.state not in (CaseState.intake, CaseState.in_progress):
        raise _conflict("办件已作出决定，不能撤回 / the case is decided and cannot be withdrawn")


def deliver(s: CaseData, spec: Spec, data: DeliverInput) -> None:
    _caseworker_of(data.actor, spec.desk)
    _alive(s)
    if s.case.state is not CaseState.delivering:
        raise _conflict(f"办件不在待送达状态（{s.case.state.value}）/ nothing to deliver")
    task = s.tasks.get(DELIVERY_TASK)
    if task is not None:
        _not_held_by_another(task, data.actor)
    if s.owed:
        raise _conflict(
            f"容缺材料尚未补齐：{_named(spec, list(s.owed))}，补齐后方可送达 / tolerated"
            f" materials still owed: {', '.join(s.owed)}; results are delivered once they arrive"
        )


def rate(s: CaseData, spec: Spec, data: RateInput) -> None:
    _applicant(s, data.actor, "评价")
    _alive(s)
    if s.case.state is not CaseState.rating:
        raise _conflict("送达后方可评价 / rating opens after delivery")


def visit(s: CaseData, spec: Spec, data: VisitInput) -> None:
    _caseworker_of(data.actor, spec.desk)
    _alive(s)


def resolve_incident(s: CaseData, spec: Spec, data: ResolveIncidentInput) -> None:
    _supervisor(data.actor)
    _alive(s)
    incident = next((i for i in s.incidents if i.number == data.number), None)
    if incident is None:
        raise _not_found(f"事件 {data.number} 不存在 / no incident {data.number}")
    if incident.resolved_at is not None:
        raise _conflict(f"事件 {data.number} 已处理 / incident {data.number} is resolved")


def recalculate(s: CaseData, spec: Spec, data: RecalculateInput) -> None:
    if data.actor.role not in (Role.system, Role.admin):
        raise _forbidden("只有系统或管理员可以重算期限 / only the system or an admin recalculates")
    _alive(s)
