"""A bad rating's follow-up, as pure rules: what each action and each timer does to it.

One follow-up per bad rating, one *part* per department that answers for it. A part goes:

- ``callback`` (回访核实, within the department's call-back period, default 3 working days)
  → the verdict:
  - justified → ``rectifying`` (整改, within the rectification period: 15 working days, or 5
    where the jurisdiction rules so) → ``revisit`` (回访满意度, within the call-back period)
    → ``rectified``;
  - unjustified → ``explained`` (the explanation goes to the applicant);
  - mistaken or malicious → ``appealed`` (申诉, for a supervisor within the call-back period)
    → granted: every part ``excluded`` (the rating leaves the figures, and is kept), or
    refused: ``rectifying`` as if justified.

Every period is a :class:`~workflows.case.clocks.CaseClock` with a 黄牌 before its end and a
红牌 at it; a supervisor's urge (督办) is a clock that escalates when missed. The follow-up
concludes when every part has ended, and publishes its result (公开) without names.
Pure code: no Temporal, instants passed in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from workflows.case.clocks import CaseClock
from workflows.contracts import (
    APPEALED_VERDICTS,
    FOLLOWUP_SEQ,
    FOLLOWUP_TASK_PREFIX,
    OPEN_PART_STATES,
    SYSTEM,
    Actor,
    AppealDecisionInput,
    ClockAnswer,
    ClockKind,
    ClockQuery,
    Event,
    EventType,
    FollowUpDepartment,
    FollowUpInput,
    FollowUpState,
    FollowUpUrgeInput,
    MovedDeadline,
    PartRow,
    PartState,
    RecalculateInput,
    RectifyInput,
    RevisitInput,
    Role,
    TaskKind,
    TaskRow,
    TaskState,
    Verdict,
    VerifyInput,
)
from workflows.contracts import (
    FollowUpRow as Row,
)

STEPS: dict[PartState, tuple[TaskKind, str]] = {
    PartState.callback: (TaskKind.callback, "差评回访核实 / call back and verify a bad rating"),
    PartState.rectifying: (TaskKind.rectification, "差评整改 / rectify what a bad rating found"),
    PartState.revisit: (TaskKind.revisit, "整改回访 / ask about the rectification"),
}
"""The department's task for each state that has one (an appeal is the supervisor's)."""
CLOCK_KINDS = {
    TaskKind.callback: ClockKind.callback,
    TaskKind.rectification: ClockKind.rectification,
    TaskKind.revisit: ClockKind.revisit,
}
VERDICT_NAMES = {
    Verdict.justified: "属实，已整改",
    Verdict.unjustified: "不属实，已解释说明",
    Verdict.mistaken: "误评",
    Verdict.malicious: "恶意评价",
}
MAX_URGES = 50
"""Urges per follow-up: each adds a clock and a few events to the history."""


class Refusal(Exception):  # noqa: N818 (a refusal is an answer, not a failure)
    """The action is refused; ``kind`` is conflict, forbidden, invalid or not_found."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class FollowUpData(BaseModel):
    """Everything a follow-up holds, with its pending events; dicts keep insertion order."""

    model_config = ConfigDict(extra="ignore")

    input: FollowUpInput
    row: Row
    tasks: dict[str, TaskRow] = {}
    clocks: dict[str, CaseClock] = {}
    urges: int = 0
    seq: int = 0
    pending: list[Event] = []
    clock_retry_at: dt.datetime | None = None
    clock_failures: int = 0
    calendar_revision: int = 0
    """The newest calendar revision the clocks were asked to use."""

    def emit(
        self, type: EventType, actor: Actor, now: dt.datetime, department: str, **payload: Any
    ) -> None:
        self.seq += 1
        self.pending.append(
            Event(
                case_id=self.row.case_id,
                seq=self.seq,
                type=type,
                at=now,
                actor_id=actor.id,
                actor_role=actor.role,
                department=department,
                task_key=payload.pop("task_key", None),
                payload={"followup": self.row.id, **payload},
            )
        )

    def take_pending(self) -> list[Event]:
        events, self.pending = self.pending, []
        return events

    def part(self, department: str) -> PartRow:
        found = next((p for p in self.row.parts if p.department == department), None)
        if found is None:
            raise Refusal(
                "not_found",
                f"部门 {department} 不负责此差评的回访 / department {department} has no part"
                " in this follow-up",
            )
        return found

    def department(self, code: str) -> FollowUpDepartment:
        return next(d for d in self.input.departments if d.code == code)

    def task_key(self, department: str, kind: TaskKind) -> str:
        return f"{FOLLOWUP_TASK_PREFIX}{self.row.rating_seq}:{department}:{kind.value}"

    def current_task(self, part: PartRow) -> TaskRow | None:
        step = STEPS.get(part.state)
        return None if step is None else self.tasks.get(self.task_key(part.department, step[0]))

    def current_clock(self, part: PartRow) -> CaseClock | None:
        if part.state is PartState.appealed:
            return self.clocks.get(appeal_clock(self.row.rating_seq, part.department))
        task = self.current_task(part)
        return None if task is None else self.clocks.get(task.clock_key)


def appeal_clock(rating_seq: int, department: str) -> str:
    return f"appeal:{rating_seq}:{department}"


# --------------------------------------------------------------------------- opening


def new_followup(start: FollowUpInput) -> FollowUpData:
    """The follow-up before its first event; numbered after its rating (see FOLLOWUP_SEQ)."""
    row = Row.opening(start)
    return FollowUpData(input=start, row=row, seq=FOLLOWUP_SEQ * start.rating_seq)


def open_followup(d: FollowUpData, now: dt.datetime, since: dt.datetime | None = None) -> None:
    """Every department's part starts with its call-back (回访核实), timed from ``since`` (the
    rating's instant: a worker that started the follow-up late does not lengthen the period)."""
    d.row.opened_at = now
    start = min(since, now) if since is not None else now
    for part in d.row.parts:
        dept = d.department(part.department)
        d.emit(
            EventType.followup_opened,
            SYSTEM,
            now,
            part.department,
            department_name=dept.name,
            source=d.row.source,
            score=d.row.score,
            rating_seq=d.row.rating_seq,
            callback_days=dept.callback_days,
            rectification_days=dept.rectification_days,
        )
        _open_task(d, part, TaskKind.callback, dept.callback_days, now, start)


def _open_task(
    d: FollowUpData,
    part: PartRow,
    kind: TaskKind,
    days: int,
    now: dt.datetime,
    start: dt.datetime | None = None,
) -> None:
    key = d.task_key(part.department, kind)
    name = next(n for k, n in STEPS.values() if k is kind)
    dept = d.department(part.department)
    task = TaskRow(
        id=f"{d.row.case_id}/{key}",
        case_id=d.row.case_id,
        task_key=key,
        stage_key="followup",
        item_code=d.row.procedure_code,
        item_name=name,
        department=part.department,
        kind=kind,
        state=TaskState.open,
        days=days,
        created_at=now,
        opened_at=now,
    )
    d.tasks[key] = task
    d.clocks[task.clock_key] = CaseClock(
        key=task.clock_key,
        kind=CLOCK_KINDS[kind],
        task_key=key,
        label=name,
        calendar=dept.calendar,
        start=start or now,
        days=days,
        warning=d.input.warning,
    )
    d.emit(
        EventType.task_created,
        SYSTEM,
        now,
        part.department,
        task_key=key,
        kind=kind.value,
        days=days,
    )


def _close_task(
    d: FollowUpData, part: PartRow, state: TaskState, by: str, now: dt.datetime
) -> None:
    """The part's current task is done (approved) or moot (cancelled); its clocks end."""
    task = d.current_task(part)
    if task is not None and task.state in (TaskState.open, TaskState.claimed):
        task.state = state
        task.decided_at = now
        task.assignee = task.assignee or (by if state is TaskState.approved else None)
    clock = d.current_clock(part)
    if clock is not None:
        _end_clock(d, clock, now)


def _end_clock(d: FollowUpData, clock: CaseClock, now: dt.datetime) -> None:
    clock.end(now)
    for urge in d.clocks.values():
        if urge.kind is ClockKind.urge and urge.task_key == clock.task_key:
            urge.end(now)


# --------------------------------------------------------------------------- guards


def _department_guard(d: FollowUpData, actor: Actor, department: str) -> PartRow:
    part = d.part(department)
    if actor.role is not Role.caseworker or actor.department != department:
        raise Refusal(
            "forbidden",
            "只有责任部门的工作人员可以办理此差评回访 / only a caseworker of the department"
            " answering for the rating can do this",
        )
    return part


STATE_NAMES = {
    PartState.callback: "待回访核实",
    PartState.appealed: "申诉待复核",
    PartState.rectifying: "整改中",
    PartState.revisit: "待回访满意度",
    PartState.explained: "已解释说明",
    PartState.rectified: "已整改",
    PartState.excluded: "申诉成立",
}


def _state_guard(part: PartRow, *states: PartState) -> None:
    if part.state not in states:
        raise Refusal(
            "conflict",
            f"此差评回访当前为「{STATE_NAMES[part.state]}」，不能进行此操作 / this part of the"
            f" follow-up is {part.state.value}, which does not allow this",
        )


def check_recalculate(d: FollowUpData, data: RecalculateInput) -> None:
    if data.actor.role not in (Role.system, Role.admin):
        raise Refusal(
            "forbidden", "只有系统或管理员可以重算期限 / only the system or an admin recalculates"
        )


def recalculate(d: FollowUpData, data: RecalculateInput, now: dt.datetime) -> None:
    """A new calendar revision: every running clock is computed again with it (its known
    instants stay armed until the new ones are in)."""
    d.calendar_revision = max(d.calendar_revision, data.revision)
    for clock in d.clocks.values():
        if clock.running:
            clock.recheck = True


def check_verify(d: FollowUpData, data: VerifyInput) -> None:
    part = _department_guard(d, data.actor, data.department)
    _state_guard(part, PartState.callback)
    if data.verdict is Verdict.unjustified and not (data.explanation or "").strip():
        raise Refusal(
            "invalid",
            "认定不属实时须填写向申请人的解释说明（explanation）/ an unjustified rating needs"
            " the explanation given to the applicant (explanation)",
        )


def check_rectify(d: FollowUpData, data: RectifyInput) -> None:
    part = _department_guard(d, data.actor, data.department)
    _state_guard(part, PartState.rectifying)


def check_revisit(d: FollowUpData, data: RevisitInput) -> None:
    part = _department_guard(d, data.actor, data.department)
    _state_guard(part, PartState.revisit)


def check_appeal(d: FollowUpData, data: AppealDecisionInput) -> None:
    part = d.part(data.department)
    if data.actor.role is not Role.supervisor:
        raise Refusal("forbidden", "申诉由监督人员复核 / a supervisor decides an appeal")
    _state_guard(part, PartState.appealed)


def check_urge(d: FollowUpData, data: FollowUpUrgeInput) -> None:
    part = d.part(data.department)
    if data.actor.role is not Role.supervisor:
        raise Refusal("forbidden", "督办由监督人员发起 / a supervisor urges")
    _state_guard(part, PartState.callback, PartState.rectifying, PartState.revisit)
    if d.urges >= MAX_URGES:
        raise Refusal("conflict", f"督办已达 {MAX_URGES} 次 / {MAX_URGES} urges already")


# --------------------------------------------------------------------------- actions


def verify(d: FollowUpData, data: VerifyInput, now: dt.datetime) -> None:
    """回访核实 done: the verdict decides what follows."""
    part = d.part(data.department)
    _close_task(d, part, TaskState.approved, data.actor.id, now)
    part.verdict = data.verdict
    part.verified_by = data.actor.id
    part.verified_at = now
    part.finding = data.finding
    key = d.task_key(part.department, TaskKind.callback)
    d.emit(
        EventType.followup_verified,
        data.actor,
        now,
        part.department,
        task_key=key,
        verdict=data.verdict.value,
        finding=data.finding,
    )
    if data.verdict is Verdict.justified:
        _rectify_next(d, part, now)
    elif data.verdict is Verdict.unjustified:
        part.explanation = data.explanation
        part.state = PartState.explained
        part.ended_at = now
        d.emit(
            EventType.followup_explained,
            data.actor,
            now,
            part.department,
            explanation=data.explanation,
            department_name=part.name,
        )
    else:
        assert data.verdict in APPEALED_VERDICTS
        part.state = PartState.appealed
        dept = d.department(part.department)
        key = appeal_clock(d.row.rating_seq, part.department)
        d.clocks[key] = CaseClock(
            key=key,
            kind=ClockKind.appeal,
            label="申诉复核 / appeal review",
            calendar=dept.calendar,
            start=now,
            days=dept.callback_days,
            warning=d.input.warning,
        )
        d.emit(
            EventType.followup_appealed,
            data.actor,
            now,
            part.department,
            verdict=data.verdict.value,
            grounds=data.finding,
        )
    conclude_if_done(d, now)


def _rectify_next(d: FollowUpData, part: PartRow, now: dt.datetime) -> None:
    part.state = PartState.rectifying
    dept = d.department(part.department)
    _open_task(d, part, TaskKind.rectification, dept.rectification_days, now)


def decide_appeal(d: FollowUpData, data: AppealDecisionInput, now: dt.datetime) -> None:
    """申诉复核: granted leaves the rating out of every figure (recorded, never deleted) and ends
    every part; refused sends this part to rectification."""
    part = d.part(data.department)
    clock = d.current_clock(part)
    if clock is not None:
        _end_clock(d, clock, now)
    part.appeal_granted = data.granted
    part.appeal_reason = data.reason
    part.appeal_decided_by = data.actor.id
    part.appeal_decided_at = now
    d.emit(
        EventType.followup_appeal_decided,
        data.actor,
        now,
        part.department,
        granted=data.granted,
        reason=data.reason,
        department_name=part.name,
    )
    if not data.granted:
        _rectify_next(d, part, now)
        return
    d.row.excluded = True
    for other in d.row.parts:
        if other.state in OPEN_PART_STATES:
            _close_task(d, other, TaskState.cancelled, data.actor.id, now)
            other_clock = d.current_clock(other)
            if other_clock is not None:
                _end_clock(d, other_clock, now)
        if other.state in OPEN_PART_STATES or other is part:
            other.state = PartState.excluded
            other.ended_at = now
    conclude_if_done(d, now)


def rectify(d: FollowUpData, data: RectifyInput, now: dt.datetime) -> None:
    """整改 done; on time if before the rectification period's end. The applicant is asked."""
    part = d.part(data.department)
    clock = d.current_clock(part)
    due = clock.due_at if clock is not None else None
    _close_task(d, part, TaskState.approved, data.actor.id, now)
    part.rectified_at = now
    part.measures = data.measures
    part.rectification_due_at = due
    # Unknown when its deadline could not be computed: counted as not on time.
    part.rectified_on_time = due is not None and now <= due
    d.emit(
        EventType.followup_rectified,
        data.actor,
        now,
        part.department,
        task_key=d.task_key(part.department, TaskKind.rectification),
        measures=data.measures,
        on_time=part.rectified_on_time,
        department_name=part.name,
    )
    part.state = PartState.revisit
    _open_task(d, part, TaskKind.revisit, d.department(part.department).callback_days, now)


def revisit(d: FollowUpData, data: RevisitInput, now: dt.datetime) -> None:
    """回访满意度 recorded (or the applicant could not be reached): the part is rectified."""
    part = d.part(data.department)
    _close_task(d, part, TaskState.approved, data.actor.id, now)
    part.satisfaction = data.satisfaction
    part.revisited_at = now
    part.state = PartState.rectified
    part.ended_at = now
    d.emit(
        EventType.followup_revisited,
        data.actor,
        now,
        part.department,
        task_key=d.task_key(part.department, TaskKind.revisit),
        satisfaction=data.satisfaction,
        reached=data.satisfaction is not None,
        note=data.note,
    )
    conclude_if_done(d, now)


def urge(d: FollowUpData, data: FollowUpUrgeInput, now: dt.datetime) -> None:
    """督办 on a part's current step: finish within ``days`` working days or it escalates."""
    part = d.part(data.department)
    task = d.current_task(part)
    d.urges += 1
    key = f"urge:{FOLLOWUP_TASK_PREFIX}{d.row.rating_seq}:{d.urges}"
    dept = d.department(part.department)
    d.clocks[key] = CaseClock(
        key=key,
        kind=ClockKind.urge,
        task_key=task.task_key if task else None,
        label=data.note,
        calendar=dept.calendar,
        start=now,
        days=data.days,
    )
    d.emit(
        EventType.followup_urged,
        data.actor,
        now,
        part.department,
        task_key=task.task_key if task else None,
        days=data.days,
        note=data.note,
        clock=key,
    )


def conclude_if_done(d: FollowUpData, now: dt.datetime) -> None:
    """Every part ended: the follow-up concludes and its result is published (公开)."""
    if d.row.state is FollowUpState.concluded:
        return
    if any(p.state in OPEN_PART_STATES for p in d.row.parts):
        return
    d.row.state = FollowUpState.concluded
    d.row.concluded_at = now
    d.row.summary = summary(d.row)
    d.emit(
        EventType.followup_concluded,
        SYSTEM,
        now,
        d.row.parts[0].department,
        summary=d.row.summary,
        excluded=d.row.excluded,
        outcomes={p.department: p.state.value for p in d.row.parts},
    )


def summary(row: Row) -> str:
    """The published result: each department's verdict and measures, no names or comments."""
    if row.excluded:
        return "经申诉复核，该评价认定为误评或恶意评价，不计入统计（记录保留）"
    out = []
    for p in row.parts:
        verdict = VERDICT_NAMES.get(p.verdict, "") if p.verdict else ""
        if p.appeal_granted is False:
            verdict = "经复核维持差评"
        if p.state is PartState.rectified:
            late = "" if p.rectified_on_time else "（逾期）"
            out.append(f"{p.name}：{verdict}{late}，整改措施：{p.measures}")
        else:
            out.append(f"{p.name}：{verdict}")
    return "；".join(out)


# --------------------------------------------------------------------------- time


def stale_clocks(d: FollowUpData) -> list[CaseClock]:
    return [c for c in d.clocks.values() if (c.stale or c.recheck) and c.running and c.limited]


def queries(clocks: list[CaseClock]) -> list[ClockQuery]:
    return [c.query() for c in clocks]


def apply_answers(
    d: FollowUpData,
    clocks: list[CaseClock],
    answers: list[ClockAnswer],
    revision: int,
    now: dt.datetime,
) -> list[MovedDeadline]:
    """Take computed due instants: a new deadline is an event with its derivation, a moved one
    (a new calendar) too, with the cards its move withdrew."""
    moved: list[MovedDeadline] = []
    for clock, answer in zip(clocks, answers, strict=True):
        change = clock.apply(answer, revision, now)
        department = _department_of(d, clock)
        common: dict[str, Any] = {
            "task_key": clock.task_key,
            "clock": clock.key,
            "scope": clock.kind.value,
            "deadline_at": answer.deadline_at.isoformat(),
            "deadline_date": answer.deadline_date.isoformat(),
            "warning_at": clock.warning_at.isoformat() if clock.warning_at else None,
            "provisional": answer.provisional,
        }
        if change.first:
            d.emit(
                EventType.deadline_set,
                SYSTEM,
                now,
                department,
                **common,
                derivation=answer.derivation,
            )
        elif change.moved:
            assert change.before is not None
            d.emit(
                EventType.deadline_moved,
                SYSTEM,
                now,
                department,
                **common,
                before=change.before.isoformat(),
                reason="calendar",
                revision=revision,
                derivation=answer.derivation,
            )
            moved.append(
                MovedDeadline(
                    case_id=d.row.case_id,
                    clock=clock.key,
                    kind=clock.kind,
                    task_key=clock.task_key,
                    before=change.before,
                    after=answer.deadline_at,
                    provisional=answer.provisional,
                )
            )
        for card in change.withdrawn:
            d.emit(EventType.card_withdrawn, SYSTEM, now, department, **common, card=card)
    d.clock_retry_at = None
    d.clock_failures = 0
    if d.row.problem and d.row.problem.startswith(CLOCK_PROBLEM):
        d.row.problem = None
    return moved


CLOCK_PROBLEM = "期限暂时无法计算"


def clock_failed(d: FollowUpData, now: dt.datetime, why: str = "") -> None:
    """A computation failed: tried again after 1 minute, doubling up to once a day, and shown
    to supervisors meanwhile."""
    d.row.problem = (
        f"{CLOCK_PROBLEM}，将自动重试 / a deadline cannot be computed now and will be tried"
        f" again: {why}"
    )[:500]
    d.clock_failures += 1
    wait = min(dt.timedelta(minutes=2 ** (d.clock_failures - 1)), dt.timedelta(days=1))
    d.clock_retry_at = now + wait


def _department_of(d: FollowUpData, clock: CaseClock) -> str:
    if clock.task_key and clock.task_key in d.tasks:
        return d.tasks[clock.task_key].department
    if clock.key.startswith("appeal:"):
        return clock.key.rsplit(":", 1)[1]
    return d.row.parts[0].department


def next_instant(d: FollowUpData) -> dt.datetime | None:
    instants = [at for c in d.clocks.values() for at, _ in c.armed()]
    if d.clock_retry_at is not None:
        instants.append(d.clock_retry_at)
    return min(instants, default=None)


def fire_due(d: FollowUpData, now: dt.datetime) -> bool:
    """Raise the cards whose instants have come; True if a clock must be computed again."""
    for clock in d.clocks.values():
        for at, what in clock.armed():
            if at > now:
                continue
            department = _department_of(d, clock)
            common: dict[str, Any] = {
                "task_key": clock.task_key,
                "clock": clock.key,
                "scope": clock.kind.value,
                "deadline_at": clock.due_at.isoformat() if clock.due_at else None,
            }
            if what == "warning":
                clock.warned = True
                d.emit(EventType.deadline_warning, SYSTEM, now, department, **common)
            elif clock.kind is ClockKind.urge:
                clock.overdue = True
                d.emit(EventType.deadline_escalated, SYSTEM, now, department, **common)
            else:
                clock.overdue = True
                d.emit(EventType.deadline_overdue, SYSTEM, now, department, **common)
    if d.clock_retry_at is not None and d.clock_retry_at <= now:
        d.clock_retry_at = None
        return True
    return False


def project(d: FollowUpData) -> None:
    """Copy what the clocks know onto the tasks and parts."""
    for task in d.tasks.values():
        clock = d.clocks.get(task.clock_key)
        if clock is None:
            continue
        task.deadline_at, task.deadline_date = clock.due_at, clock.due_date
        task.warning_at, task.warned, task.overdue = clock.warning_at, clock.warned, clock.overdue
        task.provisional = clock.provisional
        task.clock = clock.status
        urges = [
            c for c in d.clocks.values() if c.kind is ClockKind.urge and c.task_key == task.task_key
        ]
        task.urge_due_at = next((c.due_at for c in reversed(urges) if not c.ended), None)
        task.escalated = any(c.overdue for c in urges)
    for part in d.row.parts:
        clock = d.current_clock(part)
        if clock is None:
            part.due_at = None
            continue
        # The cards of the step under way (an earlier step's lateness is in its own events).
        part.due_at = clock.due_at
        part.warned, part.overdue = clock.warned, clock.overdue
        current = d.current_task(part)
        part.escalated = part.escalated or bool(current and current.escalated)
