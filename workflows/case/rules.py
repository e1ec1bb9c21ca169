"""The rules of a case: what each action and each due instant changes. Pure functions.

Every function takes the case's :class:`~workflows.case.state.CaseData`, the procedure's
:class:`~workflows.case.spec.Spec` and ``now``; it changes the state and appends events, and
never awaits. New or resumed clocks are left ``stale``: the workflow asks the clock activity
for them (:func:`clock_request`) and hands the answers back (:func:`apply_answers`). Callers
run the matching guard first (workflows.case.guards).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from definitions.conditions import evaluate, parse_condition
from definitions.models import WarningThreshold
from workflows.case import joins
from workflows.case.clocks import (
    INTAKE_SUPPLEMENT,
    SUPPLEMENT,
    WARNED_KINDS,
    CaseClock,
    step_source,
)
from workflows.case.spec import Spec
from workflows.case.state import CaseData, Urge
from workflows.contracts import (
    DECIDED_TASK_STATES,
    DELIVERY_TASK,
    INTAKE_TASK,
    OPEN_TASK_STATES,
    SYSTEM,
    TERMINAL_STATES,
    AcceptInput,
    Actor,
    CaseInput,
    CaseRow,
    CaseState,
    Channel,
    Clock,
    ClockKind,
    ClockRequest,
    ClockResult,
    DecideInput,
    DeliverInput,
    EventType,
    Finding,
    IncidentKind,
    IncidentRow,
    MovedDeadline,
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

CLOCK_RETRY_FIRST = dt.timedelta(minutes=1)
CLOCK_RETRY_MAX = dt.timedelta(days=1)
"""A failed clock computation is tried again after 1 minute, doubling up to once a day."""
MESSAGE_LENGTH = 500


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
    _accept(s, spec, data.actor, now, now, list(data.tolerated), data.tolerance_days)


def _accept(
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
    _end_clock(s, "intake", now)
    s.emit(
        EventType.case_deemed_accepted if deemed else EventType.case_accepted,
        actor,
        now,
        accepted_at=accepted_at.isoformat(),
        tolerated=tolerated,
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
    """The applicant hands in what was asked for (or 容缺 materials); clocks resume."""
    case = s.case
    handed = list(dict.fromkeys(data.materials))
    _settle_owed(s, handed, now)
    if s.return_scope is None:
        s.emit(
            EventType.case_supplemented,
            data.actor,
            now,
            materials=handed,
            tolerance=True,
            owed=list(s.owed),
        )
        return
    scope, s.return_scope = s.return_scope, None
    case.missing = list(s.owed)
    s.emit(EventType.case_supplemented, data.actor, now, materials=handed)
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
    _new_clock(
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
    """The front desk records that the applicant came to the office."""
    trip(s, spec, data.reason, data.actor, now)


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
    _end_clock(s, "delivery", now)
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


def rate(s: CaseData, spec: Spec, data: RateInput, now: dt.datetime) -> None:
    """好差评 (1–5); the case completes. A score of 2 or less is a bad rating."""
    s.case.rating = data.score
    s.case.rating_comment = data.comment
    s.emit(
        EventType.case_rated,
        data.actor,
        now,
        score=data.score,
        comment=data.comment,
        bad=data.score <= 2,
    )
    close(s, spec, CaseState.completed, EventType.case_completed, SYSTEM, now, rated=True)


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


def _end_clock(s: CaseData, key: str, now: dt.datetime) -> None:
    clock = s.clocks.get(key)
    if clock is not None:
        clock.end(now)


# --------------------------------------------------------------------------- incidents


def open_incident(s: CaseData, kind: IncidentKind, message: str, now: dt.datetime) -> IncidentRow:
    """A visible incident (one open incident per kind); the case stays workable."""
    for incident in s.incidents:
        if incident.kind is kind and incident.resolved_at is None:
            return incident
    incident = IncidentRow(
        id=f"{s.case.id}/{len(s.incidents) + 1}",
        case_id=s.case.id,
        number=len(s.incidents) + 1,
        kind=kind,
        message=message[:MESSAGE_LENGTH],
        opened_at=now,
    )
    s.incidents.append(incident)
    s.emit(
        EventType.incident_opened,
        SYSTEM,
        now,
        number=incident.number,
        kind=kind.value,
        message=incident.message,
    )
    s.case.incidents = len(s.open_incidents())
    return incident


def resolve(
    s: CaseData, incident: IncidentRow, actor: Actor, resolution: str, now: dt.datetime
) -> None:
    incident.resolved_at = now
    incident.resolution = resolution[:MESSAGE_LENGTH]
    incident.resolved_by = actor.id
    s.emit(
        EventType.incident_resolved,
        actor,
        now,
        number=incident.number,
        kind=incident.kind.value,
        resolution=incident.resolution,
    )
    s.case.incidents = len(s.open_incidents())


def resolve_kind(s: CaseData, kind: IncidentKind, resolution: str, now: dt.datetime) -> None:
    """Close the open incident of that kind, if any (the cause went away by itself)."""
    for incident in s.open_incidents():
        if incident.kind is kind:
            resolve(s, incident, SYSTEM, resolution, now)


def resolve_incident(s: CaseData, spec: Spec, data: ResolveIncidentInput, now: dt.datetime) -> None:
    """A supervisor closes an incident after looking into it."""
    incident = next(i for i in s.incidents if i.number == data.number)
    resolve(s, incident, data.actor, data.note or "已处理 / handled", now)


# --------------------------------------------------------------------------- clocks and time


def stale_clocks(s: CaseData) -> list[CaseClock]:
    """Running clocks whose due instant must be computed (new, resumed, new calendar)."""
    return [c for c in s.clocks.values() if c.stale and c.running]


def clock_request(s: CaseData, spec: Spec, clocks: list[CaseClock]) -> ClockRequest:
    return ClockRequest(
        calendar=spec.default_calendar,
        queries=[c.query() for c in clocks],
        min_revision=s.calendar_revision,
    )


def apply_answers(
    s: CaseData,
    spec: Spec,
    clocks: list[CaseClock],
    result: ClockResult,
    now: dt.datetime,
    reason: str,
) -> list[MovedDeadline]:
    """Take computed due instants: events for new and moved deadlines and withdrawn cards."""
    moved: list[MovedDeadline] = []
    for clock, answer in zip(clocks, result.answers, strict=True):
        change = clock.apply(answer, result.revision, now)
        where = _where(s, spec, clock)
        common: dict[str, Any] = {
            "clock": clock.key,
            "scope": clock.kind.value,
            "deadline_at": answer.deadline_at.isoformat(),
            "deadline_date": answer.deadline_date.isoformat(),
            "warning_at": clock.warning_at.isoformat() if clock.warning_at else None,
            "provisional": answer.provisional,
        }
        if change.first:
            s.emit(
                EventType.deadline_set,
                SYSTEM,
                now,
                **where,
                **common,
                derivation=answer.derivation,
            )
        elif change.moved:
            assert change.before is not None
            s.emit(
                EventType.deadline_moved,
                SYSTEM,
                now,
                **where,
                **common,
                before=change.before.isoformat(),
                reason=reason,
                revision=result.revision,
                derivation=answer.derivation,
            )
            moved.append(
                MovedDeadline(
                    case_id=s.case.id,
                    clock=clock.key,
                    kind=clock.kind,
                    task_key=clock.task_key,
                    before=change.before,
                    after=answer.deadline_at,
                    provisional=answer.provisional,
                )
            )
        for card in change.withdrawn:
            s.emit(EventType.card_withdrawn, SYSTEM, now, **where, **common, card=card)
    s.case.calendar_revision = max(s.case.calendar_revision, result.revision)
    s.clock_failures = 0
    s.clock_retry_at = None
    resolve_kind(s, IncidentKind.clock_failed, "期限已重新计算 / deadlines computed", now)
    return moved


def clock_failed(s: CaseData, clocks: list[CaseClock], message: str, now: dt.datetime) -> None:
    """The clock activity failed: an incident; the clocks wait, and are tried again later."""
    s.clock_failures += 1
    wait = min(CLOCK_RETRY_FIRST * 2 ** (s.clock_failures - 1), CLOCK_RETRY_MAX)
    s.clock_retry_at = now + wait
    keys = ", ".join(c.key for c in clocks)
    open_incident(s, IncidentKind.clock_failed, f"期限无法计算 ({keys}): {message}", now)


def recalculate(s: CaseData, spec: Spec, data: RecalculateInput, now: dt.datetime) -> None:
    """A new calendar revision: every running clock is computed again with it."""
    s.calendar_revision = max(s.calendar_revision, data.revision)
    for clock in s.clocks.values():
        if clock.running:
            clock.stale = True


def applied_calendar(s: CaseData, revision: int, moved: int, now: dt.datetime) -> None:
    s.emit(EventType.calendar_applied, SYSTEM, now, revision=revision, moved=moved)


def _where(s: CaseData, spec: Spec, clock: CaseClock) -> dict[str, Any]:
    task = s.tasks.get(clock.task_key) if clock.task_key else None
    if task is not None:
        return {"task": task}
    return {"department": spec.desk}


def timers(s: CaseData) -> list[tuple[dt.datetime, str, str]]:
    """Every armed timer: (instant, clock key, ``warning`` | ``due`` | ``retry``)."""
    out = [(at, key, what) for key, c in s.clocks.items() for at, what in c.armed()]
    if s.clock_retry_at is not None:
        out.append((s.clock_retry_at, "", "retry"))
    return out


def next_instant(s: CaseData) -> dt.datetime | None:
    """When the earliest armed timer fires."""
    if s.case.state in TERMINAL_STATES:
        return None
    return min((t[0] for t in timers(s)), default=None)


def fire_due(s: CaseData, spec: Spec, now: dt.datetime) -> bool:
    """Fire the earliest timer due at ``now``; False when none is due."""
    if s.case.state in TERMINAL_STATES:
        return False
    due = sorted(t for t in timers(s) if t[0] <= now)
    if not due:
        return False
    _, key, what = due[0]
    if what == "retry":
        s.clock_retry_at = None
        return True
    clock = s.clocks[key]
    where = _where(s, spec, clock)
    if what == "warning":
        clock.warned = True
        s.emit(
            EventType.deadline_warning,
            SYSTEM,
            now,
            **where,
            clock=key,
            scope=clock.kind.value,
            deadline_at=_iso(clock.due_at),
            provisional=clock.provisional,
        )
        return True
    clock.overdue = True
    if clock.kind is ClockKind.intake:
        s.emit(
            EventType.finding,
            SYSTEM,
            now,
            department=spec.desk,
            finding=Finding.deemed_acceptance.value,
            intake_due_at=_iso(clock.due_at),
        )
        # 第三十二条: accepted from the day the materials (or the last supplement) arrived.
        _accept(s, spec, SYSTEM, now, clock.start, [], None, deemed=True)
    elif clock.kind is ClockKind.tolerance:
        s.emit(EventType.case_tolerance_expired, SYSTEM, now, owed=list(s.owed))
        close(
            s,
            spec,
            CaseState.terminated,
            EventType.case_terminated,
            SYSTEM,
            now,
            reason="容缺材料未在承诺期限内补齐 / tolerated materials not supplied in time",
            owed=list(s.owed),
            provisional=clock.provisional,
        )
    elif clock.kind is ClockKind.rating:
        close(s, spec, CaseState.completed, EventType.case_completed, SYSTEM, now, rated=False)
    elif clock.kind is ClockKind.urge:
        urged = next(u for u in s.urges if u.clock == key)
        s.emit(
            EventType.deadline_escalated,
            SYSTEM,
            now,
            **where,
            clock=key,
            scope="task" if urged.task_key else "case",
            urged_by=urged.by,
            urge_due_at=_iso(clock.due_at),
            provisional=clock.provisional,
        )
    else:
        s.emit(
            EventType.deadline_overdue,
            SYSTEM,
            now,
            **where,
            clock=key,
            scope=clock.kind.value,
            deadline_at=_iso(clock.due_at),
            provisional=clock.provisional,
        )
    return True


def _iso(instant: dt.datetime | None) -> str | None:
    return instant.isoformat() if instant else None


# --------------------------------------------------------------------------- projections


def project(s: CaseData) -> None:
    """Copy what the clocks know onto the case and task rows the inboxes read."""
    case = s.case
    clocks = s.clocks
    intake = clocks.get("intake")
    case.intake_due_at = intake.due_at if intake else None
    main = clocks.get("case")
    if main is not None:
        case.deadline_at, case.deadline_date = main.due_at, main.due_date
        case.warning_at, case.warned, case.overdue = main.warning_at, main.warned, main.overdue
    tolerance = clocks.get("tolerance")
    case.tolerance_due_at = tolerance.due_at if tolerance and not tolerance.ended else None
    delivery = clocks.get("delivery")
    case.delivery_due_at = delivery.due_at if delivery else None
    case.provisional = any(c.provisional for c in clocks.values() if not c.ended)
    case_urges = [c for c in clocks.values() if c.kind is ClockKind.urge and c.task_key is None]
    case.urge_due_at = case_urges[-1].due_at if case_urges else None
    case.escalated = any(c.overdue for c in case_urges)
    waiting = s.active.get(SUPPLEMENT) or s.active.get(INTAKE_SUPPLEMENT)
    case.clock = Clock.suspended if waiting else Clock.running
    case.suspended_since = waiting
    case.incidents = len(s.open_incidents())
    for task in s.tasks.values():
        own = clocks.get(_task_clock(task))
        if own is not None:
            task.deadline_at, task.deadline_date = own.due_at, own.due_date
            task.warning_at, task.warned, task.overdue = own.warning_at, own.warned, own.overdue
            task.provisional = own.provisional
            task.clock = own.status
        urges = [
            c for c in clocks.values() if c.kind is ClockKind.urge and c.task_key == task.task_key
        ]
        task.urge_due_at = urges[-1].due_at if urges else None
        task.escalated = any(c.overdue for c in urges)


def _task_clock(task: TaskRow) -> str:
    if task.kind is TaskKind.intake:
        return "intake"
    if task.kind is TaskKind.delivery:
        return "delivery"
    return f"task:{task.task_key}"
