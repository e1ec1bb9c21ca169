"""The rules of a case: what each action changes. Pure functions.

Every function takes the case's :class:`~workflows.case.state.CaseData`, the procedure's
:class:`~workflows.case.spec.Spec` and ``now``; it changes the state and appends events, and
never awaits. New or resumed clocks are left ``stale``: the workflow has them computed (see
workflows.case.timing, which also carries out what a due instant means). Callers run the
matching guard first (workflows.case.guards).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from definitions.conditions import evaluate, parse_condition
from definitions.guide import required_materials
from definitions.models import WarningThreshold
from workflows.case import joins
from workflows.case.clocks import (
    INTAKE_SUPPLEMENT,
    OWED,
    SUPPLEMENT,
    WARNED_KINDS,
    CaseClock,
    step_source,
)
from workflows.case.incidents import resolve
from workflows.case.spec import Spec
from workflows.case.state import CaseData, Urge
from workflows.contracts import (
    DECIDED_TASK_STATES,
    DELIVERY_TASK,
    INTAKE_TASK,
    OPEN_TASK_STATES,
    SYSTEM,
    AcceptInput,
    Actor,
    CaseInput,
    CaseRow,
    CaseState,
    Channel,
    ClockKind,
    DecideInput,
    DeliverInput,
    EventType,
    Finding,
    RateInput,
    ReassignInput,
    RefuseInput,
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


def step_clock_key(task_key: str, step_key: str, number: int) -> str:
    """Key of the ``number``-th run of a step on a task."""
    return f"step:{task_key}:{step_key}:{number}"


def step_of(clock: CaseClock) -> str:
    """The step key of a step clock."""
    return clock.key.split(":")[2]


# --------------------------------------------------------------------------- a new case


def new_case(data: CaseInput, spec: Spec, submitted_at: dt.datetime) -> CaseData:
    """The state of a case before its first event."""
    snap = data.snapshot
    return CaseData(
        case=CaseRow(
            id=data.case_id,
            procedure_code=snap.code,
            procedure_version=snap.version,
            content_hash=snap.content_hash,
            procedure_name=spec.procedure.name,
            applicant_id=data.applicant.id,
            state=CaseState.intake,
            departments=sorted({d.code for d in snap.departments}),
            form=dict(data.form),
            submitted_at=submitted_at,
            promised_trips=spec.procedure.trips,
            calendar_revision=data.calendar_revision,
        ),
        calendar_revision=data.calendar_revision,
        # Known from the start: an acceptance may be validated before the first activation
        # has run ``submit``.
        handed=list(dict.fromkeys(data.materials)),
    )


def submit(s: CaseData, spec: Spec, data: CaseInput, now: dt.datetime) -> None:
    """The application arrived: it waits in the front desk's queue, on the intake clock."""
    case = s.case
    s.emit(
        EventType.case_submitted,
        data.applicant,
        now,
        procedure=case.procedure_code,
        version=case.procedure_version,
        content_hash=case.content_hash,
        channel=data.channel.value,
        materials=list(data.materials),
        submitted_at=case.submitted_at.isoformat(),
    )
    if data.channel is Channel.window:
        trip(s, spec, "window_submission", data.applicant, now)
    intake = spec.procedure.intake
    task = _desk_task(s, spec, INTAKE_TASK, "受理", intake.acceptance_days, case.submitted_at)
    s.emit(EventType.task_opened, SYSTEM, now, task=task, kind=task.kind.value)
    _new_clock(
        s,
        spec,
        "intake",
        ClockKind.intake,
        start=case.submitted_at,
        days=intake.acceptance_days,
        department=spec.desk,
        now=now,
        task_key=INTAKE_TASK,
        label="受理 / intake",
    )


def _desk_task(
    s: CaseData, spec: Spec, key: str, label: str, days: int, opened: dt.datetime
) -> TaskRow:
    kind = TaskKind.intake if key == INTAKE_TASK else TaskKind.delivery
    task = TaskRow(
        id=f"{s.case.id}/{key}",
        case_id=s.case.id,
        task_key=key,
        stage_key=key,
        item_code=s.case.procedure_code,
        item_name=f"{label}：{spec.procedure.name}",
        department=spec.desk,
        kind=kind,
        state=TaskState.open,
        days=days,
        created_at=opened,
        opened_at=opened,
    )
    s.tasks[key] = task
    return task


def _new_clock(
    s: CaseData,
    spec: Spec,
    key: str,
    kind: ClockKind,
    *,
    start: dt.datetime,
    days: int,
    department: str | None,
    now: dt.datetime,
    task_key: str | None = None,
    label: str | None = None,
) -> CaseClock:
    """A clock, already stopped by every suspension in force that applies to it."""
    warning: WarningThreshold | None = spec.warning if kind in WARNED_KINDS else None
    clock = CaseClock(
        key=key,
        kind=kind,
        task_key=task_key,
        label=label,
        calendar=spec.calendar_of(department),
        start=start,
        days=days,
        warning=warning,
    )
    for source in s.active:
        clock.suspend(source, now)
    s.clocks[key] = clock
    return clock


# --------------------------------------------------------------------------- intake


def accept(s: CaseData, spec: Spec, data: AcceptInput, now: dt.datetime) -> None:
    """受理, optionally 容缺: the case clock starts and the first stage opens."""
    s.handed = list(dict.fromkeys([*s.handed, *data.received]))
    accept_application(s, spec, data.actor, now, now, list(data.tolerated), data.tolerance_days)


def missing_materials(s: CaseData, spec: Spec, received: list[str] | None = None) -> list[str]:
    """Keys of the required materials of the items this application needs that have not
    been handed in (nor ``received`` at the window now): recorded at acceptance (容缺, or a
    deemed acceptance that could not wait)."""
    handed = {*s.handed, *(received or [])}
    return [
        m.key
        for m in required_materials(spec.procedure, spec.items, s.case.form)
        if m.key not in handed
    ]


def accept_application(
    s: CaseData,
    spec: Spec,
    actor: Actor,
    now: dt.datetime,
    accepted_at: dt.datetime,
    tolerated: list[str],
    tolerance_days: int | None,
    deemed: bool = False,
) -> None:
    case = s.case
    case.state = CaseState.in_progress
    case.accepted_at = accepted_at
    case.deemed_accepted = deemed
    intake = s.tasks[INTAKE_TASK]
    intake.state = TaskState.approved
    intake.decided_at = now
    intake.reason = "视为受理 / deemed accepted" if deemed else None
    _end_task(s, intake, now)
    s.emit(
        EventType.case_deemed_accepted if deemed else EventType.case_accepted,
        actor,
        now,
        accepted_at=accepted_at.isoformat(),
        tolerated=tolerated,
        missing=missing_materials(s, spec),
    )
    _new_clock(
        s,
        spec,
        "case",
        ClockKind.case,
        start=accepted_at,
        days=spec.procedure.committed_limit,
        department=spec.desk,
        now=now,
        label="承诺时限 / committed limit",
    )
    if tolerated and tolerance_days:
        s.owed = list(tolerated)
        s.tolerance_days = tolerance_days
        case.missing = list(tolerated)
        _new_clock(
            s,
            spec,
            "tolerance",
            ClockKind.tolerance,
            start=accepted_at,
            days=tolerance_days,
            department=spec.desk,
            now=now,
            label="容缺补齐 / tolerated materials due",
        )
    _enter_stage(s, spec, spec.procedure.start_stage, now)


def refuse(s: CaseData, spec: Spec, data: RefuseInput, now: dt.datetime) -> None:
    """不予受理, with the reason the applicant is told."""
    intake = s.tasks[INTAKE_TASK]
    intake.state = TaskState.rejected
    intake.decided_at = now
    intake.reason = data.reason
    close(s, spec, CaseState.refused, EventType.case_refused, data.actor, now, reason=data.reason)


# --------------------------------------------------------------------------- stages and tasks


def _enter_stage(s: CaseData, spec: Spec, key: str, now: dt.datetime) -> None:
    stage = spec.stages[key]
    s.case.stage_key = key
    s.emit(EventType.stage_started, SYSTEM, now, stage=key, join=stage.join.value)
    s.stage_tasks = []
    for t in stage.tasks:
        if t.when and not evaluate(parse_condition(t.when), s.case.form):
            continue
        item = spec.items[t.item]
        task = TaskRow(
            id=f"{s.case.id}/{t.key}",
            case_id=s.case.id,
            task_key=t.key,
            stage_key=key,
            item_code=item.code,
            item_name=item.name,
            department=t.department or item.department,
            state=TaskState.pending,
            days=t.days if t.days is not None else item.committed_limit,
            created_at=now,
        )
        s.tasks[t.key] = task
        s.stage_tasks.append(t.key)
        s.emit(EventType.task_created, SYSTEM, now, task=task, item=item.code, days=task.days)
    first = joins.first_to_open(stage.join, len(s.stage_tasks))
    if not first:
        _complete_stage(s, spec, now)
        return
    for i in first:
        _open(s, spec, s.tasks[s.stage_tasks[i]], now)


def _open(s: CaseData, spec: Spec, task: TaskRow, now: dt.datetime) -> None:
    """Into the department's inbox: its share of the time starts now."""
    task.state = TaskState.open
    task.opened_at = now
    s.emit(EventType.task_opened, SYSTEM, now, task=task)
    _new_clock(
        s,
        spec,
        f"task:{task.task_key}",
        ClockKind.task,
        start=now,
        days=task.days,
        department=task.department,
        now=now,
        task_key=task.task_key,
        label=task.item_name,
    )


def _end_task(s: CaseData, task: TaskRow, now: dt.datetime) -> None:
    """A task ended: its clocks end, and a step it was running stops holding other clocks."""
    step = s.active_step(task.task_key)
    if step is not None:
        step.end(now)
        _stop_source(s, step_source(task.task_key), now)
    for clock in s.clocks.values():
        if clock.task_key == task.task_key and not clock.ended:
            clock.end(now)
    task.step = None


def claim(s: CaseData, spec: Spec, data: TaskInput, now: dt.datetime) -> None:
    task = s.tasks[data.task_key]
    task.state = TaskState.claimed
    task.assignee = data.actor.id
    task.claimed_at = now
    s.emit(EventType.task_claimed, data.actor, now, task=task)


def release(s: CaseData, spec: Spec, data: TaskInput, now: dt.datetime) -> None:
    """Back to the department's inbox, unclaimed."""
    task = s.tasks[data.task_key]
    task.state = TaskState.open
    task.assignee = None
    task.claimed_at = None
    s.emit(EventType.task_released, data.actor, now, task=task)


def reassign(s: CaseData, spec: Spec, data: ReassignInput, now: dt.datetime) -> None:
    task = s.tasks[data.task_key]
    previous = task.assignee
    task.assignee = data.assignee
    task.state = TaskState.claimed
    task.claimed_at = now
    s.emit(
        EventType.task_reassigned,
        data.actor,
        now,
        task=task,
        department=task.department,
        previous=previous,
        assignee=data.assignee,
    )


def decide(s: CaseData, spec: Spec, data: DecideInput, now: dt.datetime) -> None:
    """Approve or reject a claimed task; the stage and the case move on at once."""
    task = s.tasks[data.task_key]
    task.state = TaskState.approved if data.approve else TaskState.rejected
    task.decided_at = now
    task.reason = data.reason
    s.emit(
        EventType.task_approved if data.approve else EventType.task_rejected,
        data.actor,
        now,
        task=task,
        reason=data.reason,
        request_id=data.request_id,
    )
    _end_task(s, task, now)
    _evaluate_stage(s, spec, now)


def _evaluate_stage(s: CaseData, spec: Spec, now: dt.datetime) -> None:
    stage = s.case.stage_key or ""
    states = [s.tasks[k].state for k in s.stage_tasks]
    outcome = joins.decide(spec.join(stage), states)
    if outcome.next is joins.Next.complete:
        _complete_stage(s, spec, now)
    elif outcome.next is joins.Next.reject:
        s.case.decided_at = now
        close(
            s,
            spec,
            CaseState.rejected,
            EventType.case_rejected,
            SYSTEM,
            now,
            decisions=_decisions(s),
        )
    elif outcome.next is joins.Next.open:
        assert outcome.index is not None
        _open(s, spec, s.tasks[s.stage_tasks[outcome.index]], now)


def _complete_stage(s: CaseData, spec: Spec, now: dt.datetime) -> None:
    key = s.case.stage_key or ""
    for k in s.stage_tasks:
        task = s.tasks[k]
        if task.state in OPEN_TASK_STATES or task.state is TaskState.pending:
            task.state = TaskState.cancelled
            s.emit(EventType.task_cancelled, SYSTEM, now, task=task, reason="stage_decided")
            _end_task(s, task, now)
    # The task that asked for a supplement is no longer needed (或签 decided by another
    # department): nothing is owed for it, the clocks run again.
    if s.return_scope in s.stage_tasks:
        _end_supplement(s, "return_withdrawn", now)
    s.emit(EventType.stage_completed, SYSTEM, now, stage=key)
    for transition in spec.stages[key].next:
        if transition.when is None or evaluate(parse_condition(transition.when), s.case.form):
            _enter_stage(s, spec, transition.to, now)
            return
    _approve_case(s, spec, now)


def _approve_case(s: CaseData, spec: Spec, now: dt.datetime) -> None:
    case = s.case
    _end_supplement(s, "decided", now)
    case.state = CaseState.delivering
    case.stage_key = None
    case.decided_at = now
    for clock in s.clocks.values():
        if clock.kind in (ClockKind.case, ClockKind.urge) and not clock.ended:
            clock.end(now)
    s.emit(EventType.case_approved, SYSTEM, now, decisions=_decisions(s))
    if s.owed:
        # Results are not handed out before the 容缺 materials arrive: delivery waits.
        _start_source(s, OWED, now)
    delivery = spec.procedure.delivery
    task = _desk_task(s, spec, DELIVERY_TASK, "送达", delivery.days, now)
    s.emit(EventType.task_opened, SYSTEM, now, task=task, kind=task.kind.value)
    _new_clock(
        s,
        spec,
        "delivery",
        ClockKind.delivery,
        start=now,
        days=delivery.days,
        department=spec.desk,
        now=now,
        task_key=DELIVERY_TASK,
        label="送达 / delivery",
    )


def _decisions(s: CaseData) -> list[dict[str, Any]]:
    """Every department's decision so far, with its reasons (for the applicant)."""
    return [
        {
            "task": t.task_key,
            "department": t.department,
            "item": t.item_code,
            "decision": t.state.value,
            "reason": t.reason,
        }
        for t in s.tasks.values()
        if t.kind is TaskKind.review and t.state in DECIDED_TASK_STATES
    ]


# --------------------------------------------------------------------------- suspension


def _start_source(s: CaseData, source: str, now: dt.datetime) -> None:
    s.active[source] = now
    for clock in s.clocks.values():
        clock.suspend(source, now)


def _stop_source(s: CaseData, source: str, now: dt.datetime) -> None:
    s.active.pop(source, None)
    for clock in s.clocks.values():
        clock.resume(source, now)


def return_for_supplement(s: CaseData, spec: Spec, data: ReturnInput, now: dt.datetime) -> None:
    """补正: everything missing at once; the clocks stop until the applicant supplements."""
    case = s.case
    case.returns += 1
    case.missing = list(dict.fromkeys(data.missing))
    at_intake = data.task_key is None
    s.return_scope = INTAKE_TASK if at_intake else data.task_key
    _start_source(s, INTAKE_SUPPLEMENT if at_intake else SUPPLEMENT, now)
    task = s.tasks.get(s.return_scope or "")
    s.emit(
        EventType.case_returned,
        data.actor,
        now,
        task=task,
        missing=list(case.missing),
        reason=data.reason,
        returns=case.returns,
    )
    s.emit(EventType.case_clock_suspended, SYSTEM, now, reason="supplement")
    if case.returns > 1:
        s.emit(
            EventType.finding,
            SYSTEM,
            now,
            finding=Finding.repeated_return.value,
            returns=case.returns,
        )


def _end_supplement(s: CaseData, reason: str, now: dt.datetime) -> bool:
    """A pending supplement is moot (the case was decided or closed); True if one was."""
    if s.return_scope is None:
        return False
    scope, s.return_scope = s.return_scope, None
    _stop_source(s, INTAKE_SUPPLEMENT if scope == INTAKE_TASK else SUPPLEMENT, now)
    s.case.missing = list(s.owed)
    s.emit(EventType.case_clock_resumed, SYSTEM, now, reason=reason)
    return True


def supplement(s: CaseData, spec: Spec, data: SupplementInput, now: dt.datetime) -> None:
    """The applicant hands in what was asked for (or 容缺 materials), at once or in parts: the
    clocks resume when everything asked for has arrived."""
    case = s.case
    handed = list(dict.fromkeys(data.materials))
    s.handed = list(dict.fromkeys([*s.handed, *handed]))
    _settle_owed(s, handed, now)
    note: dict[str, Any] = {"note": data.note} if data.note else {}
    if s.return_scope is None:
        s.emit(
            EventType.case_supplemented,
            data.actor,
            now,
            materials=handed,
            tolerance=True,
            owed=list(s.owed),
            **note,
        )
        return
    still = [k for k in case.missing if k not in handed]  # what earlier parts left
    if still:
        case.missing = still
        s.emit(
            EventType.case_supplemented,
            data.actor,
            now,
            materials=handed,
            partial=True,
            missing=list(still),
            **note,
        )
        return
    scope, s.return_scope = s.return_scope, None
    case.missing = list(s.owed)
    s.emit(EventType.case_supplemented, data.actor, now, materials=handed, **note)
    if scope == INTAKE_TASK:
        _stop_source(s, INTAKE_SUPPLEMENT, now)
        # 第三十二条: acceptance dates from the day of the last supplement. The application is
        # back in the front desk's queue with a new intake period.
        intake = s.clocks["intake"]
        for card in intake.restart(now):
            s.emit(
                EventType.card_withdrawn,
                SYSTEM,
                now,
                task=s.tasks[INTAKE_TASK],
                clock=intake.key,
                scope=intake.kind.value,
                card=card,
                reason="restarted",
            )
        s.tasks[INTAKE_TASK].opened_at = now
    else:
        _stop_source(s, SUPPLEMENT, now)
    s.emit(EventType.case_clock_resumed, SYSTEM, now)


def _settle_owed(s: CaseData, handed: list[str], now: dt.datetime) -> None:
    s.owed = [k for k in s.owed if k not in handed]
    s.case.missing = list(s.owed) if s.return_scope is None else s.case.missing
    if not s.owed:
        _end_clock(s, "tolerance", now)
        _stop_source(s, OWED, now)


# --------------------------------------------------------------------------- steps (第四十五条)


def start_step(s: CaseData, spec: Spec, data: StepInput, now: dt.datetime) -> None:
    """A not-counted step starts: the task (and the case) wait; the step has its own limit."""
    task = s.tasks[data.task_key]
    step = spec.step(task.item_code, data.step_key)
    assert step is not None
    runs = sum(
        1
        for c in s.clocks.values()
        if c.kind is ClockKind.step and c.task_key == task.task_key and step_of(c) == step.key
    )
    _start_source(s, step_source(task.task_key), now)
    clock = _new_clock(
        s,
        spec,
        step_clock_key(task.task_key, step.key, runs + 1),
        ClockKind.step,
        start=now,
        days=step.days,
        department=task.department,
        now=now,
        task_key=task.task_key,
        label=step.name,
    )
    # A step published before its days were required has no period to be late against.
    clock.limited = step.days > 0
    task.step = step.key
    s.emit(EventType.task_step_started, data.actor, now, task=task, step=step.key, days=step.days)


def finish_step(s: CaseData, spec: Spec, data: StepInput, now: dt.datetime) -> None:
    """The step is over: its clock ends, the task's and the case's clocks run again."""
    task = s.tasks[data.task_key]
    clock = s.active_step(task.task_key)
    assert clock is not None
    clock.end(now)
    s.finished_steps.setdefault(task.task_key, []).append(data.step_key)
    _stop_source(s, step_source(task.task_key), now)
    task.step = None
    s.emit(
        EventType.task_step_finished,
        data.actor,
        now,
        task=task,
        step=data.step_key,
        overdue=clock.overdue,
    )


# --------------------------------------------------------------------------- supervision


def urge(s: CaseData, spec: Spec, data: UrgeInput, now: dt.datetime) -> None:
    """督办: finish within ``days`` working days, or the urge escalates."""
    task = s.tasks.get(data.task_key) if data.task_key else None
    record = Urge(
        number=len(s.urges) + 1,
        task_key=data.task_key,
        by=data.actor.id,
        days=data.days,
        note=data.note,
        at=now,
    )
    s.urges.append(record)
    _new_clock(
        s,
        spec,
        record.clock,
        ClockKind.urge,
        start=now,
        days=data.days,
        department=task.department if task else spec.desk,
        now=now,
        task_key=data.task_key,
        label=data.note,
    )
    s.emit(
        EventType.case_urged,
        data.actor,
        now,
        task=task,
        number=record.number,
        days=data.days,
        note=data.note,
    )


def trip(s: CaseData, spec: Spec, reason: str, actor: Actor, now: dt.datetime) -> None:
    """An on-site visit of the applicant (到办事现场), checked against the promise."""
    case = s.case
    case.trips += 1
    s.emit(EventType.trip_recorded, actor, now, reason=reason, trips=case.trips)
    if case.trips > spec.procedure.trips and not s.trips_finding:
        s.trips_finding = True
        s.emit(
            EventType.finding,
            SYSTEM,
            now,
            finding=Finding.trips_exceeded.value,
            trips=case.trips,
            promised=spec.procedure.trips,
        )


def visit(s: CaseData, spec: Spec, data: VisitInput, now: dt.datetime) -> None:
    """The front desk records that the applicant came to the office, and the applicant's
    rating of that visit when they gave one (一次一评, from the desk's device)."""
    trip(s, spec, data.reason, data.actor, now)
    rating = data.rating
    if rating is not None:
        extra: dict[str, Any] = {}
        if rating.dimensions:
            extra["dimensions"] = {k.value: v for k, v in sorted(rating.dimensions.items())}
        applicant = Actor(id=s.case.applicant_id, role=Role.applicant)
        s.emit(
            EventType.visit_rated,
            applicant,
            now,
            score=rating.score,
            comment=rating.comment,
            bad=rating.score <= BAD_RATING,
            reason=data.reason,
            recorded_by=data.actor.id,
            **extra,
        )


# --------------------------------------------------------------------------- the end


def withdraw(s: CaseData, spec: Spec, data: WithdrawInput, now: dt.datetime) -> None:
    close(
        s, spec, CaseState.withdrawn, EventType.case_withdrawn, data.actor, now, reason=data.reason
    )


def deliver(s: CaseData, spec: Spec, data: DeliverInput, now: dt.datetime) -> None:
    """All results handed out at once (送达); the rating window opens."""
    method = data.method or spec.procedure.delivery.method.value
    applicant = Actor(id=s.case.applicant_id, role=Role.applicant)
    if method == "window":
        trip(s, spec, "window_pickup", applicant, now)
    case = s.case
    case.state = CaseState.rating
    case.delivered_at = now
    task = s.tasks[DELIVERY_TASK]
    task.state = TaskState.approved
    task.decided_at = now
    _end_task(s, task, now)
    approved = [t.item_code for t in s.tasks.values() if t.state is TaskState.approved]
    s.emit(
        EventType.case_delivered,
        data.actor,
        now,
        method=method,
        results=[i.result.name for code, i in spec.items.items() if code in approved],
    )
    _new_clock(
        s,
        spec,
        "rating",
        ClockKind.rating,
        start=now,
        days=spec.rating_window_days,
        department=spec.desk,
        now=now,
        label="评价 / rating window",
    )


BAD_RATING = 2
"""Scores at or below it are 差评."""
DEFAULT_SCORE = 4
"""满意: what an unrated case counts as where the jurisdiction says so."""


def rate(s: CaseData, spec: Spec, data: RateInput, now: dt.datetime) -> None:
    """好差评 (1–5), 一事一评; the case completes. A score of 2 or less is a bad rating."""
    s.case.rating = data.score
    s.case.rating_comment = data.comment
    extra: dict[str, Any] = {}
    if data.dimensions:
        extra["dimensions"] = {k.value: v for k, v in sorted(data.dimensions.items())}
    s.emit(
        EventType.case_rated,
        data.actor,
        now,
        score=data.score,
        comment=data.comment,
        bad=data.score <= BAD_RATING,
        **extra,
    )
    close(s, spec, CaseState.completed, EventType.case_completed, SYSTEM, now, rated=True)


def rating_window_ended(s: CaseData, spec: Spec, now: dt.datetime) -> None:
    """The applicant did not rate in time: the case completes unrated, or — where the front
    desk's jurisdiction counts silence as 满意 — rated 4, marked defaulted."""
    if not spec.rating_defaults:
        close(s, spec, CaseState.completed, EventType.case_completed, SYSTEM, now, rated=False)
        return
    s.case.rating = DEFAULT_SCORE
    s.emit(
        EventType.case_rated,
        SYSTEM,
        now,
        score=DEFAULT_SCORE,
        comment=None,
        bad=False,
        defaulted=True,
        window_days=spec.rating_window_days,
    )
    close(
        s,
        spec,
        CaseState.completed,
        EventType.case_completed,
        SYSTEM,
        now,
        rated=True,
        defaulted=True,
    )


def close(
    s: CaseData,
    spec: Spec,
    state: CaseState,
    event: EventType,
    actor: Actor,
    now: dt.datetime,
    **payload: Any,
) -> None:
    """End the case: cancel open tasks, end every clock and suspension, emit the last event."""
    for task in s.tasks.values():
        if task.state in OPEN_TASK_STATES or task.state is TaskState.pending:
            task.state = TaskState.cancelled
            s.emit(EventType.task_cancelled, SYSTEM, now, task=task, reason=state.value)
            _end_task(s, task, now)
    _end_supplement(s, state.value, now)
    for clock in s.clocks.values():
        clock.end(now)
    s.active.clear()
    s.case.state = state
    s.case.closed_at = now
    s.emit(event, actor, now, **payload)
    # Nobody can act on a closed case: its incidents close with it (they stay listed).
    for incident in s.open_incidents():
        resolve(s, incident, SYSTEM, "办件已结束 / the case ended", now)


def _end_clock(s: CaseData, key: str, now: dt.datetime) -> None:
    clock = s.clocks.get(key)
    if clock is not None:
        clock.end(now)
