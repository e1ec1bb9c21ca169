"""The first edition of the case workflow (type ``CaseWorkflow``), kept for its running cases.

Frozen: cases started before the second edition (workflows.case) keep running on this code
until they end, and their recorded histories (tests/histories/v1) replay against it. New
cases start as ``CaseWorkflowV2``. Change nothing here that alters the command sequence.

One application = one case = one workflow, from intake to rating.

It interprets the procedure snapshot the case was started with: intake at one front desk
(一窗受理), stages whose tasks run in parallel and are decided by the stage's join policy,
return for supplement (补正) that suspends the legal clock, delivery of all results at once,
then the rating (好差评).

Every state change is an event with a sequence number assigned here; the record activity
appends the events and updates the ``cases``/``tasks`` projections in one transaction. Human
actions are Updates: their validators reject a wrong department or a second decision without
writing anything, and their handlers return only after the events are in the store.

Rules kept here: no wall clock (``workflow.now()``), no I/O (activities), no calendar data
(the clock activity), no unordered iteration (dicts and lists only).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from definitions.conditions import evaluate, parse_condition
    from definitions.models import JoinPolicy, ServiceItem, Stage
    from workflows import search
    from workflows.contracts import (
        CLOCK_ACTIVITY,
        DECIDED_TASK_STATES,
        LEGACY_WORKFLOW_NAME,
        OPEN_TASK_STATES,
        RECORD_ACTIVITY,
        SYSTEM,
        TERMINAL_STATES,
        AcceptInput,
        ActionResult,
        Actor,
        CaseInput,
        CaseRow,
        CaseState,
        CaseView,
        Channel,
        Clock,
        ClockAnswer,
        ClockQuery,
        ClockRequest,
        ClockResult,
        DecideInput,
        DeliverInput,
        Event,
        EventType,
        Finding,
        RateInput,
        ReassignInput,
        RecordInput,
        RecordResult,
        RefuseInput,
        ReturnInput,
        Role,
        StepInput,
        SupplementInput,
        SuspensionSpan,
        TaskInput,
        TaskRow,
        TaskState,
        UrgeInput,
        WithdrawInput,
    )

RECORD_RETRY = RetryPolicy(
    initial_interval=dt.timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=dt.timedelta(minutes=1),
)
"""The store may be down for a while: retry without limit; inserts are idempotent."""

INTAKE = "@intake"
"""``return_scope`` of a return made at intake; not a valid task key, so never a task's."""


def _conflict(message: str) -> ApplicationError:
    return ApplicationError(message, type="conflict", non_retryable=True)


def _forbidden(message: str) -> ApplicationError:
    return ApplicationError(message, type="forbidden", non_retryable=True)


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(message, type="invalid", non_retryable=True)


def _not_found(message: str) -> ApplicationError:
    return ApplicationError(message, type="not_found", non_retryable=True)


class _Urge:
    """A supervisor's urge (督办) and whether it was missed."""

    def __init__(
        self, task_key: str | None, start: dt.datetime, days: int, due_at: dt.datetime, actor: Actor
    ) -> None:
        self.task_key = task_key
        self.start = start
        self.days = days
        """Working days granted; the due instant moves when the clock is suspended."""
        self.due_at = due_at
        self.actor = actor
        self.escalated = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_key": self.task_key,
            "due_at": self.due_at.isoformat(),
            "by": self.actor.id,
            "escalated": self.escalated,
        }


@workflow.defn(name=LEGACY_WORKFLOW_NAME)
class CaseWorkflowV1:
    @workflow.init
    def __init__(self, input: CaseInput) -> None:
        self.input = input
        snap = input.snapshot
        self.proc = snap.procedure
        self.items: dict[str, ServiceItem] = {i.code: i for i in snap.items}
        self.stages: dict[str, Stage] = {s.key: s for s in self.proc.stages}
        self.case = CaseRow(
            id=input.case_id,
            procedure_code=snap.code,
            procedure_version=snap.version,
            content_hash=snap.content_hash,
            procedure_name=self.proc.name,
            applicant_id=input.applicant.id,
            state=CaseState.intake,
            departments=sorted({d.code for d in snap.departments}),
            form=dict(input.form),
            submitted_at=input.submitted_at or workflow.now(),
            promised_trips=self.proc.trips,
        )
        self.tasks: dict[str, TaskRow] = {}
        self.stage_tasks: list[str] = []
        self.step_spans: dict[str, list[SuspensionSpan]] = {}
        self.active_step: dict[str, str] = {}
        self.case_spans: list[SuspensionSpan] = []
        self.return_scope: str | None = None
        self.intake_start = self.case.submitted_at
        self.owed: list[str] = []
        self.tolerance_days: int | None = None
        self.calendars = {d.code: d.calendar or input.calendar for d in snap.departments}
        """Each department's calendar (a regional one, or the case's default)."""
        self.urges: list[_Urge] = []
        self.rating_due_at: dt.datetime | None = None
        self.delivery_overdue = False
        self.seq = 0
        self.pending: list[Event] = []
        self.dirty: list[str] = []
        self.lock = asyncio.Lock()
        self.started = False
        self.wake = False
        self.trips_finding = False
        self.sa_state: tuple[str, dt.datetime | None] | None = None

    # ================================================================= the main loop

    @workflow.run
    async def run(self, input: CaseInput) -> CaseRow:
        async with self.lock:
            self._emit(
                EventType.case_submitted,
                input.applicant,
                procedure=self.case.procedure_code,
                version=self.case.procedure_version,
                content_hash=self.case.content_hash,
                channel=input.channel.value,
                materials=list(input.materials),
            )
            if input.channel is Channel.window:
                self._trip("window_submission", input.applicant)
            await self._set_intake_due()
            await self._flush()
            self.started = True
        while self.case.state not in TERMINAL_STATES:
            timer = self._next_timer()
            self.wake = False
            if timer is None:
                await workflow.wait_condition(lambda: self.wake)
                continue
            delay = max(timer[0] - workflow.now(), dt.timedelta(0))
            try:
                await workflow.wait_condition(lambda: self.wake, timeout=delay)
            except TimeoutError:
                async with self.lock:
                    await self._fire_due_timers()
                    await self._flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.case

    def _timers(self) -> list[tuple[dt.datetime, str, Callable[[], Any]]]:
        """Every armed timer: (instant, id, what to do). Suspended clocks arm nothing."""
        out: list[tuple[dt.datetime, str, Callable[[], Any]]] = []
        case = self.case
        if case.state is CaseState.intake and self.return_scope is None and case.intake_due_at:
            out.append((case.intake_due_at, "intake", self._deem_accepted))
        # Suspended by a return for supplement, or by a 第四十五条 step: the case's own timers
        # wait, and are re-armed with moved instants when the clock runs again.
        running = case.clock is Clock.running
        case_running = running and not self.active_step
        deciding = case.state in (CaseState.in_progress, CaseState.delivering)
        if self.owed and case.tolerance_due_at and deciding and case_running:
            out.append((case.tolerance_due_at, "tolerance", self._tolerance_expired))
        if case.state is CaseState.in_progress and running:
            if case.warning_at and not case.warned and case_running:
                out.append((case.warning_at, "case.warning", self._case_warning))
            if case.deadline_at and not case.overdue and case_running:
                out.append((case.deadline_at, "case.overdue", self._case_overdue))
            for task in self.tasks.values():
                if task.state not in OPEN_TASK_STATES or task.clock is not Clock.running:
                    continue
                if task.warning_at and not task.warned:
                    out.append((task.warning_at, f"{task.task_key}.warning", self._warn(task)))
                if task.deadline_at and not task.overdue:
                    out.append((task.deadline_at, f"{task.task_key}.overdue", self._late(task)))
        for i, urge in enumerate(self.urges):
            if urge.escalated or not self._urge_pending(urge) or not running:
                continue
            target = self.tasks.get(urge.task_key) if urge.task_key else None
            if target is None and not case_running:
                continue
            if target is not None and target.clock is not Clock.running:
                continue
            out.append((urge.due_at, f"urge.{i}", self._escalate(urge)))
        if (
            case.state is CaseState.delivering
            and case.delivery_due_at
            and not self.delivery_overdue
        ):
            out.append((case.delivery_due_at, "delivery", self._delivery_overdue))
        if case.state is CaseState.rating and self.rating_due_at:
            out.append((self.rating_due_at, "rating", self._rating_closed))
        return out

    def _next_timer(self) -> tuple[dt.datetime, str] | None:
        timers = self._timers()
        if not timers:
            return None
        at, key, _ = min(timers, key=lambda t: (t[0], t[1]))
        return at, key

    async def _fire_due_timers(self) -> None:
        # Firing one timer can disarm or re-arm others, so re-collect after each.
        while self.case.state not in TERMINAL_STATES:
            now = workflow.now()
            due = sorted((t for t in self._timers() if t[0] <= now), key=lambda t: (t[0], t[1]))
            if not due:
                return
            result = due[0][2]()
            if asyncio.iscoroutine(result):
                await result

    # ================================================================= events and store

    def _emit(
        self,
        type: EventType,
        actor: Actor,
        *,
        task: TaskRow | None = None,
        department: str | None = None,
        **payload: Any,
    ) -> None:
        self.seq += 1
        self.pending.append(
            Event(
                case_id=self.case.id,
                seq=self.seq,
                type=type,
                at=workflow.now(),
                actor_id=actor.id,
                actor_role=actor.role,
                department=department or (task.department if task else actor.department),
                task_key=task.task_key if task else None,
                payload=payload,
            )
        )
        self.case.last_seq = self.seq
        if task is not None:
            task.last_seq = self.seq
            if task.task_key not in self.dirty:
                self.dirty.append(task.task_key)

    async def _flush(self) -> None:
        """Write pending events and projections; returns once they are in the store."""
        if not self.pending:
            return
        data = RecordInput(
            events=self.pending,
            case=self.case.model_copy(deep=True),
            tasks=[self.tasks[k].model_copy() for k in self.dirty],
        )
        self.pending = []
        self.dirty = []
        self._upsert_search_attributes()
        # A regular activity, not a local one: its input is in the history before it runs, so
        # a workflow task re-run after a crash can never give an event number to different
        # content. Retries go on for as long as the store is down; inserts are idempotent.
        await workflow.execute_activity(
            RECORD_ACTIVITY,
            data,
            result_type=RecordResult,
            start_to_close_timeout=dt.timedelta(seconds=30),
            retry_policy=RECORD_RETRY,
        )

    def _upsert_search_attributes(self) -> None:
        if not self.input.search_attributes:
            return
        state = (self.case.state.value, self.case.deadline_at)
        if state == self.sa_state:
            return
        updates: list[SearchAttributeUpdate[Any]] = [
            search.STATE.value_set(self.case.state.value),
            search.DEADLINE.value_set(self.case.deadline_at)
            if self.case.deadline_at
            else search.DEADLINE.value_unset(),
        ]
        if self.sa_state is None:
            updates += [
                search.PROCEDURE.value_set(self.case.procedure_code),
                search.DEPARTMENTS.value_set(self.case.departments),
            ]
        workflow.upsert_search_attributes(updates)
        self.sa_state = state

    async def _clock(self, queries: list[ClockQuery]) -> list[ClockAnswer]:
        result: ClockResult = await workflow.execute_local_activity(
            CLOCK_ACTIVITY,
            ClockRequest(calendar=self.input.calendar, queries=queries),
            result_type=ClockResult,
            start_to_close_timeout=dt.timedelta(seconds=10),
        )
        return result.answers

    def _result(self, task: TaskRow | None = None) -> ActionResult:
        return ActionResult(
            case_id=self.case.id,
            state=self.case.state,
            last_seq=self.seq,
            task=task.model_copy() if task else None,
        )

    def _trip(self, reason: str, actor: Actor) -> None:
        self.case.trips += 1
        self._emit(EventType.trip_recorded, actor, reason=reason, trips=self.case.trips)
        if self.case.trips > self.proc.trips and not self.trips_finding:
            self.trips_finding = True
            self._emit(
                EventType.finding,
                SYSTEM,
                finding=Finding.trips_exceeded.value,
                trips=self.case.trips,
                promised=self.proc.trips,
            )

    # ================================================================= deadlines

    def _case_spans(self) -> list[SuspensionSpan]:
        """What the case's own limit does not count: returns, and finished 第四十五条 steps."""
        steps = [s for spans in self.step_spans.values() for s in spans if s.end is not None]
        return [*self.case_spans, *steps]

    def _case_query(self, start: dt.datetime | None = None, days: int | None = None) -> ClockQuery:
        assert self.case.accepted_at is not None
        return ClockQuery(
            start=start or self.case.accepted_at,
            days=self.proc.committed_limit if days is None else days,
            suspensions=self._case_spans(),
            warning=self.proc.supervision.warning if days is None else None,
            calendar=self.calendars.get(self.proc.intake.department),
        )

    def _task_query(self, task: TaskRow) -> ClockQuery:
        assert task.opened_at is not None
        spans = [s for s in self.case_spans if s.end is None or s.end > task.opened_at]
        return ClockQuery(
            start=task.opened_at,
            days=task.days,
            suspensions=spans + self.step_spans.get(task.task_key, []),
            warning=self.proc.supervision.warning,
            calendar=self.calendars.get(task.department),
        )

    async def _refresh_deadlines(self, tasks: list[TaskRow], with_case: bool) -> None:
        """Recompute deadlines after acceptance, a new task, or a resumed clock."""
        queries = [self._task_query(t) for t in tasks]
        urges: list[_Urge] = []
        tolerance = False
        if with_case:
            queries.append(self._case_query())
            # Commitments measured on the case's clock move with it: 容缺 and urge periods.
            if self.owed and self.tolerance_days:
                tolerance = True
                queries.append(self._case_query(days=self.tolerance_days))
            for urge in self.urges:
                if not urge.escalated and self._urge_pending(urge):
                    urges.append(urge)
                    task = self.tasks.get(urge.task_key) if urge.task_key else None
                    query = self._case_query(start=urge.start, days=urge.days)
                    if task is not None:
                        query.suspensions += self.step_spans.get(task.task_key, [])
                    queries.append(query)
        if not queries:
            return
        answers = await self._clock(queries)
        extra = answers[len(tasks) + 1 :] if with_case else []
        if tolerance:
            self.case.tolerance_due_at = extra.pop(0).deadline_at
        for urge, ans in zip(urges, extra, strict=True):
            urge.due_at = ans.deadline_at
            task = self.tasks.get(urge.task_key) if urge.task_key else None
            if task is not None:
                task.urge_due_at = ans.deadline_at
            else:
                self.case.urge_due_at = ans.deadline_at
        for task, ans in zip(tasks, answers, strict=False):
            task.deadline_at, task.deadline_date = ans.deadline_at, ans.deadline_date
            task.warning_at = ans.warning_at
            self._emit(
                EventType.deadline_set,
                SYSTEM,
                task=task,
                scope="task",
                deadline_at=ans.deadline_at.isoformat(),
                deadline_date=ans.deadline_date.isoformat(),
                warning_at=ans.warning_at.isoformat() if ans.warning_at else None,
                provisional=ans.provisional,
            )
        if with_case:
            ans = answers[len(tasks)]
            self.case.deadline_at, self.case.deadline_date = ans.deadline_at, ans.deadline_date
            self.case.warning_at = ans.warning_at
            self.case.provisional = ans.provisional
            self._emit(
                EventType.deadline_set,
                SYSTEM,
                scope="case",
                deadline_at=ans.deadline_at.isoformat(),
                deadline_date=ans.deadline_date.isoformat(),
                warning_at=ans.warning_at.isoformat() if ans.warning_at else None,
                provisional=ans.provisional,
            )

    async def _set_intake_due(self) -> None:
        days = self.proc.intake.acceptance_days
        calendar = self.calendars.get(self.proc.intake.department)
        [ans] = await self._clock(
            [ClockQuery(start=self.intake_start, days=days, calendar=calendar)]
        )
        self.case.intake_due_at = ans.deadline_at
        self.case.provisional = self.case.provisional or ans.provisional

    async def _due(self, days: int, department: str | None = None) -> dt.datetime:
        calendar = self.calendars.get(department or self.proc.intake.department)
        [ans] = await self._clock([ClockQuery(start=workflow.now(), days=days, calendar=calendar)])
        return ans.deadline_at

    # ================================================================= timers firing

    async def _deem_accepted(self) -> None:
        self._emit(
            EventType.finding,
            SYSTEM,
            finding=Finding.deemed_acceptance.value,
            intake_due_at=self.case.intake_due_at.isoformat() if self.case.intake_due_at else None,
        )
        await self._accept(SYSTEM, self.intake_start, deemed=True, tolerated=[], tolerance=None)

    def _tolerance_expired(self) -> None:
        self._emit(EventType.case_tolerance_expired, SYSTEM, owed=list(self.owed))
        self._close(
            CaseState.terminated,
            EventType.case_terminated,
            SYSTEM,
            reason="容缺材料未在承诺期限内补齐 / tolerated materials not supplied in time",
            owed=list(self.owed),
        )

    def _case_warning(self) -> None:
        self.case.warned = True
        self._emit(
            EventType.deadline_warning,
            SYSTEM,
            scope="case",
            deadline_at=self.case.deadline_at.isoformat() if self.case.deadline_at else None,
        )

    def _case_overdue(self) -> None:
        self.case.overdue = True
        self._emit(
            EventType.deadline_overdue,
            SYSTEM,
            scope="case",
            deadline_at=self.case.deadline_at.isoformat() if self.case.deadline_at else None,
        )

    def _warn(self, task: TaskRow) -> Callable[[], None]:
        def fire() -> None:
            task.warned = True
            self._emit(
                EventType.deadline_warning,
                SYSTEM,
                task=task,
                scope="task",
                deadline_at=task.deadline_at.isoformat() if task.deadline_at else None,
            )

        return fire

    def _late(self, task: TaskRow) -> Callable[[], None]:
        def fire() -> None:
            task.overdue = True
            self._emit(
                EventType.deadline_overdue,
                SYSTEM,
                task=task,
                scope="task",
                deadline_at=task.deadline_at.isoformat() if task.deadline_at else None,
            )

        return fire

    def _urge_pending(self, urge: _Urge) -> bool:
        if urge.task_key is None:
            return self.case.state in (CaseState.intake, CaseState.in_progress)
        task = self.tasks.get(urge.task_key)
        return task is not None and task.state in OPEN_TASK_STATES

    def _escalate(self, urge: _Urge) -> Callable[[], None]:
        def fire() -> None:
            urge.escalated = True
            task = self.tasks.get(urge.task_key) if urge.task_key else None
            if task is not None:
                task.escalated = True
            else:
                self.case.escalated = True
            self._emit(
                EventType.deadline_escalated,
                SYSTEM,
                task=task,
                scope="task" if task else "case",
                urged_by=urge.actor.id,
                urge_due_at=urge.due_at.isoformat(),
            )

        return fire

    def _delivery_overdue(self) -> None:
        self.delivery_overdue = True
        self._emit(
            EventType.deadline_overdue,
            SYSTEM,
            scope="delivery",
            deadline_at=self.case.delivery_due_at.isoformat()
            if self.case.delivery_due_at
            else None,
        )

    def _rating_closed(self) -> None:
        self._close(CaseState.completed, EventType.case_completed, SYSTEM, rated=False)

    # ================================================================= state changes

    def _close(self, state: CaseState, event: EventType, actor: Actor, **payload: Any) -> None:
        """End the case: cancel open tasks, close any suspension, emit the final event."""
        now = workflow.now()
        for task in self.tasks.values():
            if task.state in OPEN_TASK_STATES or task.state is TaskState.pending:
                task.state = TaskState.cancelled
                self._emit(EventType.task_cancelled, SYSTEM, task=task, reason=state.value)
        self._end_suspension(state.value)
        self.case.state = state
        self.case.closed_at = now
        self._emit(event, actor, **payload)
        self.wake = True

    def _end_suspension(self, reason: str) -> bool:
        """A pending supplement is moot (the case was decided or closed); True if one was."""
        if self.return_scope is None:
            return False
        for span in self.case_spans:
            if span.end is None:
                span.end = workflow.now()
        self.return_scope = None
        self.case.missing = list(self.owed)
        self.case.clock = Clock.running
        self.case.suspended_since = None
        self._emit(EventType.case_clock_resumed, SYSTEM, reason=reason)
        return True

    async def _accept(
        self,
        actor: Actor,
        accepted_at: dt.datetime,
        *,
        deemed: bool,
        tolerated: list[str],
        tolerance: int | None,
    ) -> None:
        case = self.case
        case.state = CaseState.in_progress
        case.accepted_at = accepted_at
        case.deemed_accepted = deemed
        self._emit(
            EventType.case_deemed_accepted if deemed else EventType.case_accepted,
            actor,
            accepted_at=accepted_at.isoformat(),
            tolerated=tolerated,
        )
        if tolerated and tolerance:
            self.owed = list(tolerated)
            self.tolerance_days = tolerance
            case.missing = list(tolerated)
            case.tolerance_due_at = (await self._clock([self._case_query(days=tolerance)]))[
                0
            ].deadline_at
        # The case deadline is computed together with the first tasks' (one clock call).
        await self._enter_stage(self.proc.start_stage)
        if self.case.deadline_at is None and self.case.state is CaseState.in_progress:
            await self._refresh_deadlines([], with_case=True)

    async def _enter_stage(self, key: str) -> None:
        stage = self.stages[key]
        self.case.stage_key = key
        self._emit(EventType.stage_started, SYSTEM, stage=key, join=stage.join.value)
        self.stage_tasks = []
        form = self.case.form
        now = workflow.now()
        for t in stage.tasks:
            if t.when and not evaluate(parse_condition(t.when), form):
                continue
            item = self.items[t.item]
            task = TaskRow(
                id=f"{self.case.id}/{t.key}",
                case_id=self.case.id,
                task_key=t.key,
                stage_key=key,
                item_code=item.code,
                item_name=item.name,
                department=t.department or item.department,
                state=TaskState.pending,
                days=t.days if t.days is not None else item.committed_limit,
                created_at=now,
            )
            self.tasks[t.key] = task
            self.stage_tasks.append(t.key)
            self._emit(EventType.task_created, SYSTEM, task=task, item=item.code, days=task.days)
        to_open = self.stage_tasks[:1] if stage.join is JoinPolicy.sequential else self.stage_tasks
        if not to_open:
            await self._complete_stage()
            return
        await self._open([self.tasks[k] for k in to_open])

    async def _open(self, tasks: list[TaskRow]) -> None:
        now = workflow.now()
        for task in tasks:
            task.state = TaskState.open
            task.opened_at = now
            self._emit(EventType.task_opened, SYSTEM, task=task)
        if self.case.clock is Clock.running:  # else computed when the applicant supplements
            first = self.case.deadline_at is None and self.case.accepted_at is not None
            await self._refresh_deadlines(tasks, with_case=first)
        self.wake = True

    async def _evaluate_stage(self) -> None:
        stage = self.stages[self.case.stage_key or ""]
        tasks = [self.tasks[k] for k in self.stage_tasks]
        rejected = [t for t in tasks if t.state is TaskState.rejected]
        approved = [t for t in tasks if t.state is TaskState.approved]
        if stage.join is JoinPolicy.any:
            if approved:
                await self._complete_stage()
            elif len(rejected) == len(tasks):
                self._reject()
            return
        if rejected:
            self._reject()
            return
        if stage.join is JoinPolicy.sequential:
            waiting = [t for t in tasks if t.state is TaskState.pending]
            if waiting and all(
                t.state is not TaskState.open and t.state is not TaskState.claimed for t in tasks
            ):
                await self._open(waiting[:1])
                return
        if len(approved) == len(tasks):
            await self._complete_stage()

    async def _complete_stage(self) -> None:
        key = self.case.stage_key or ""
        for k in self.stage_tasks:
            task = self.tasks[k]
            if task.state in OPEN_TASK_STATES or task.state is TaskState.pending:
                task.state = TaskState.cancelled
                self._emit(EventType.task_cancelled, SYSTEM, task=task, reason="stage_decided")
        # The task that asked for a supplement is no longer needed (或签 decided by another
        # department): nothing is owed for it, the clock runs again.
        if self.return_scope in self.stage_tasks and self._end_suspension("return_withdrawn"):
            await self._refresh_deadlines([], with_case=True)
        self._emit(EventType.stage_completed, SYSTEM, stage=key)
        for transition in self.stages[key].next:
            if transition.when is None or evaluate(
                parse_condition(transition.when), self.case.form
            ):
                await self._enter_stage(transition.to)
                return
        await self._approve_case()

    async def _approve_case(self) -> None:
        case = self.case
        self._end_suspension("decided")
        case.state = CaseState.delivering
        case.stage_key = None
        case.decided_at = workflow.now()
        case.delivery_due_at = await self._due(self.proc.delivery.days)
        self._emit(
            EventType.case_approved,
            SYSTEM,
            decisions=self._decisions(),
            delivery_due_at=case.delivery_due_at.isoformat(),
        )
        self.wake = True

    def _reject(self) -> None:
        self.case.decided_at = workflow.now()
        self._close(
            CaseState.rejected, EventType.case_rejected, SYSTEM, decisions=self._decisions()
        )

    def _decisions(self) -> list[dict[str, Any]]:
        """Every department's decision so far, with its reasons (for the applicant)."""
        return [
            {
                "task": t.task_key,
                "department": t.department,
                "item": t.item_code,
                "decision": t.state.value,
                "reason": t.reason,
            }
            for t in self.tasks.values()
            if t.state in DECIDED_TASK_STATES
        ]

    def _suspend(self, actor: Actor, scope: str, missing: list[str], reason: str) -> None:
        now = workflow.now()
        case = self.case
        case.returns += 1
        case.missing = list(missing)
        case.clock = Clock.suspended
        case.suspended_since = now
        self.return_scope = scope
        if scope != INTAKE:
            self.case_spans.append(SuspensionSpan(start=now))
        task = self.tasks.get(scope)
        self._emit(
            EventType.case_returned,
            actor,
            task=task,
            missing=list(missing),
            reason=reason,
            returns=case.returns,
        )
        self._emit(EventType.case_clock_suspended, SYSTEM, reason="supplement")
        if case.returns > 1:
            self._emit(
                EventType.finding,
                SYSTEM,
                finding=Finding.repeated_return.value,
                returns=case.returns,
            )
        self.wake = True

    # ================================================================= checks (validators)

    def _task(self, key: str) -> TaskRow:
        task = self.tasks.get(key)
        if task is None:
            raise _not_found(f"任务 “{key}” 不存在 / no task '{key}' in case {self.case.id}")
        return task

    def _caseworker_of(self, actor: Actor, department: str) -> None:
        if actor.role is not Role.caseworker:
            raise _forbidden("只有窗口或审批人员可以办理 / only caseworkers act on tasks")
        if actor.department != department:
            raise _forbidden(
                f"该任务属于 {department}，你属于 {actor.department} / the task belongs to"
                f" {department}, you belong to {actor.department}"
            )

    def _alive(self) -> None:
        if self.case.state in TERMINAL_STATES:
            raise _conflict(f"办件已结束（{self.case.state.value}）/ the case is closed")

    def _in_intake(self, actor: Actor) -> None:
        self._alive()
        self._caseworker_of(actor, self.proc.intake.department)
        if self.case.state is not CaseState.intake:
            raise _conflict("办件已受理 / the case has already been accepted")
        if self.return_scope == INTAKE:
            raise _conflict("正在等待申请人补正 / waiting for the applicant's supplement")

    def _check_accept(self, data: AcceptInput) -> None:
        self._in_intake(data.actor)
        if data.tolerated:
            if not self.proc.intake.tolerance:
                raise _invalid("本流程不支持容缺受理 / this procedure does not allow 容缺受理")
            allowed = {m.key for i in self.items.values() for m in i.materials if m.tolerance}
            bad = [k for k in data.tolerated if k not in allowed]
            if bad:
                raise _invalid(
                    f"以下材料不可容缺：{', '.join(bad)} / not tolerable materials: {', '.join(bad)}"
                )
            if data.tolerance_days is None:
                raise _invalid("容缺受理需给出补齐期限 / tolerance needs tolerance_days")
            limit = min(
                [self.proc.committed_limit]
                + [
                    i.committed_limit
                    for i in self.items.values()
                    if any(m.key in data.tolerated for m in i.materials)
                ]
            )
            if data.tolerance_days > max(limit, 1):
                raise _invalid(
                    f"补齐期限不得超过所属事项的承诺时限 {max(limit, 1)} 个工作日 / tolerance_days"
                    f" may not exceed the items' committed limit of {max(limit, 1)} working days"
                )

    def _check_refuse(self, data: RefuseInput) -> None:
        self._in_intake(data.actor)

    def _check_return(self, data: ReturnInput) -> None:
        self._alive()
        if data.task_key is None:
            self._in_intake(data.actor)
            return
        task = self._task(data.task_key)
        self._caseworker_of(data.actor, task.department)
        self._claimed_by(task, data.actor)
        if self.case.clock is Clock.suspended:
            raise _conflict("办件已在等待补正 / the case is already waiting for a supplement")

    def _claimed_by(self, task: TaskRow, actor: Actor) -> None:
        if task.state in DECIDED_TASK_STATES or task.state is TaskState.cancelled:
            raise _conflict(
                f"任务已结束（{task.state.value}）/ the task is already {task.state.value}"
            )
        if task.state is not TaskState.claimed:
            raise _conflict("请先认领任务 / claim the task first")
        if task.assignee != actor.id:
            raise _conflict(
                f"任务已由 {task.assignee} 认领 / the task is claimed by {task.assignee}"
            )

    def _check_supplement(self, data: SupplementInput) -> None:
        self._alive()
        if data.actor.role is not Role.applicant or data.actor.id != self.case.applicant_id:
            raise _forbidden("只有申请人本人可以补正 / only the applicant supplements")
        if self.return_scope is not None:
            missing = [k for k in self.case.missing if k not in data.materials]
            if missing:
                raise _invalid(
                    f"仍缺少：{', '.join(missing)} / still missing: {', '.join(missing)}"
                )
        elif self.owed:
            extra = [k for k in data.materials if k not in self.owed]
            if extra:
                raise _invalid(
                    f"未要求补交：{', '.join(extra)} / not asked for: {', '.join(extra)}"
                )
        else:
            raise _conflict("当前无需补正 / nothing to supplement now")

    def _check_claim(self, data: TaskInput) -> None:
        self._alive()
        task = self._task(data.task_key)
        self._caseworker_of(data.actor, task.department)
        if task.state is TaskState.claimed:
            raise _conflict(
                f"任务已由 {task.assignee} 认领 / the task is claimed by {task.assignee}"
            )
        if task.state is not TaskState.open:
            raise _conflict(f"任务不可认领（{task.state.value}）/ the task is {task.state.value}")

    def _check_decide(self, data: DecideInput) -> None:
        self._alive()
        task = self._task(data.task_key)
        self._caseworker_of(data.actor, task.department)
        self._claimed_by(task, data.actor)
        if self.return_scope == task.task_key:
            raise _conflict("等待申请人补正中 / waiting for the applicant's supplement")
        if task.task_key in self.active_step:
            raise _conflict(
                f"不计时环节 “{self.active_step[task.task_key]}” 尚未结束 / finish the"
                " not-counted step first"
            )
        if not data.approve and not (data.reason and data.reason.strip()):
            raise _invalid("不予批准必须说明理由 / a rejection needs its reasons")

    def _check_reassign(self, data: ReassignInput) -> None:
        self._alive()
        task = self._task(data.task_key)
        self._caseworker_of(data.actor, task.department)
        if task.state not in OPEN_TASK_STATES:
            raise _conflict(f"任务不可转办（{task.state.value}）/ the task is {task.state.value}")
        if task.assignee == data.assignee:
            raise _conflict(f"任务已由 {data.assignee} 办理 / already assigned to {data.assignee}")

    def _step(self, data: StepInput) -> TaskRow:
        self._alive()
        task = self._task(data.task_key)
        self._caseworker_of(data.actor, task.department)
        self._claimed_by(task, data.actor)
        step = next((s for s in self.items[task.item_code].steps if s.key == data.step_key), None)
        if step is None or step.counted:
            raise _invalid(
                f"“{data.step_key}” 不是该事项的不计时环节 / '{data.step_key}' is not a"
                " not-counted step of the item"
            )
        return task

    def _check_start_step(self, data: StepInput) -> None:
        task = self._step(data)
        if task.task_key in self.active_step:
            raise _conflict("已有进行中的不计时环节 / a not-counted step is already running")

    def _check_finish_step(self, data: StepInput) -> None:
        task = self._step(data)
        if self.active_step.get(task.task_key) != data.step_key:
            raise _conflict(
                f"环节 “{data.step_key}” 未开始 / step '{data.step_key}' is not running"
            )

    def _check_urge(self, data: UrgeInput) -> None:
        self._alive()
        if data.actor.role is not Role.supervisor:
            raise _forbidden("只有监察人员可以督办 / only supervisors urge")
        if data.task_key is not None:
            task = self._task(data.task_key)
            if task.state not in OPEN_TASK_STATES:
                raise _conflict(f"任务已结束（{task.state.value}）/ the task is {task.state.value}")
        elif self.case.state not in (CaseState.intake, CaseState.in_progress):
            raise _conflict("办件已作出决定 / the case is already decided")

    def _check_withdraw(self, data: WithdrawInput) -> None:
        self._alive()
        if data.actor.role is not Role.applicant or data.actor.id != self.case.applicant_id:
            raise _forbidden("只有申请人本人可以撤回 / only the applicant withdraws")
        if self.case.state not in (CaseState.intake, CaseState.in_progress):
            raise _conflict(
                "办件已作出决定，不能撤回 / the case is decided and cannot be withdrawn"
            )

    def _check_deliver(self, data: DeliverInput) -> None:
        self._alive()
        self._caseworker_of(data.actor, self.proc.intake.department)
        if self.case.state is not CaseState.delivering:
            raise _conflict(f"办件不在待送达状态（{self.case.state.value}）/ nothing to deliver")
        if self.owed:
            raise _conflict(
                f"容缺材料尚未补齐：{', '.join(self.owed)} / tolerated materials still owed:"
                f" {', '.join(self.owed)}"
            )

    def _check_rate(self, data: RateInput) -> None:
        self._alive()
        if data.actor.role is not Role.applicant or data.actor.id != self.case.applicant_id:
            raise _forbidden("只有申请人本人可以评价 / only the applicant rates")
        if self.case.state is not CaseState.rating:
            raise _conflict("送达后方可评价 / rating opens after delivery")

    # ================================================================= updates

    async def _acting(self) -> None:
        """Wait for the case to be recorded, then take the lock (released by the caller)."""
        await workflow.wait_condition(lambda: self.started)
        await self.lock.acquire()

    @workflow.update
    async def accept(self, data: AcceptInput) -> ActionResult:
        """受理 at the front desk, optionally 容缺."""
        await self._acting()
        try:
            self._check_accept(data)
            await self._accept(
                data.actor,
                workflow.now(),
                deemed=False,
                tolerated=list(data.tolerated),
                tolerance=data.tolerance_days,
            )
            await self._flush()
            return self._result()
        finally:
            self.lock.release()

    @accept.validator
    def _validate_accept(self, data: AcceptInput) -> None:
        self._check_accept(data)

    @workflow.update
    async def refuse(self, data: RefuseInput) -> ActionResult:
        """不予受理, with the reason."""
        await self._acting()
        try:
            self._check_refuse(data)
            self._close(CaseState.refused, EventType.case_refused, data.actor, reason=data.reason)
            await self._flush()
            return self._result()
        finally:
            self.lock.release()

    @refuse.validator
    def _validate_refuse(self, data: RefuseInput) -> None:
        self._check_refuse(data)

    @workflow.update
    async def return_for_supplement(self, data: ReturnInput) -> ActionResult:
        """补正: list everything missing at once; the case clock stops until supplemented."""
        await self._acting()
        try:
            self._check_return(data)
            self._suspend(data.actor, data.task_key or INTAKE, data.missing, data.reason)
            await self._flush()
            return self._result(self.tasks.get(data.task_key or ""))
        finally:
            self.lock.release()

    @return_for_supplement.validator
    def _validate_return(self, data: ReturnInput) -> None:
        self._check_return(data)

    @workflow.update
    async def supplement(self, data: SupplementInput) -> ActionResult:
        """The applicant hands in what was asked for; the clock resumes."""
        await self._acting()
        try:
            self._check_supplement(data)
            now = workflow.now()
            case = self.case
            if data.on_site:
                self._trip("on_site_supplement", data.actor)
            if self.return_scope is not None:
                scope = self.return_scope
                self.return_scope = None
                # 容缺 materials handed in with the supplement are no longer owed either.
                self.owed = [k for k in self.owed if k not in data.materials]
                case.missing = list(self.owed)
                if not self.owed:
                    case.tolerance_due_at = None
                case.clock = Clock.running
                case.suspended_since = None
                self._emit(EventType.case_supplemented, data.actor, materials=data.materials)
                self._emit(EventType.case_clock_resumed, SYSTEM)
                if scope == INTAKE:
                    # 第三十二条: acceptance dates from the day of the last supplement.
                    self.intake_start = now
                    await self._set_intake_due()
                else:
                    self.case_spans[-1].end = now
                    open_tasks = [
                        t
                        for t in self.tasks.values()
                        if t.state in OPEN_TASK_STATES and t.task_key not in self.active_step
                    ]
                    await self._refresh_deadlines(open_tasks, with_case=True)
            else:
                self.owed = [k for k in self.owed if k not in data.materials]
                case.missing = list(self.owed)
                if not self.owed:
                    case.tolerance_due_at = None
                self._emit(
                    EventType.case_supplemented,
                    data.actor,
                    materials=data.materials,
                    tolerance=True,
                    owed=list(self.owed),
                )
            self.wake = True
            await self._flush()
            return self._result()
        finally:
            self.lock.release()

    @supplement.validator
    def _validate_supplement(self, data: SupplementInput) -> None:
        self._check_supplement(data)

    @workflow.update
    async def claim(self, data: TaskInput) -> ActionResult:
        """Take a task from the department's inbox; nobody else can decide it then."""
        await self._acting()
        try:
            self._check_claim(data)
            task = self.tasks[data.task_key]
            task.state = TaskState.claimed
            task.assignee = data.actor.id
            task.claimed_at = workflow.now()
            self._emit(EventType.task_claimed, data.actor, task=task)
            await self._flush()
            return self._result(task)
        finally:
            self.lock.release()

    @claim.validator
    def _validate_claim(self, data: TaskInput) -> None:
        self._check_claim(data)

    @workflow.update
    async def decide(self, data: DecideInput) -> ActionResult:
        """Approve or reject a claimed task; the stage and the case move on at once."""
        await self._acting()
        try:
            self._check_decide(data)
            task = self.tasks[data.task_key]
            task.state = TaskState.approved if data.approve else TaskState.rejected
            task.decided_at = workflow.now()
            task.reason = data.reason
            self._emit(
                EventType.task_approved if data.approve else EventType.task_rejected,
                data.actor,
                task=task,
                reason=data.reason,
                request_id=data.request_id,
            )
            await self._evaluate_stage()
            self.wake = True
            await self._flush()
            return self._result(task)
        finally:
            self.lock.release()

    @decide.validator
    def _validate_decide(self, data: DecideInput) -> None:
        self._check_decide(data)

    @workflow.update
    async def reassign(self, data: ReassignInput) -> ActionResult:
        """Hand a task to another caseworker of the same department."""
        await self._acting()
        try:
            self._check_reassign(data)
            task = self.tasks[data.task_key]
            previous = task.assignee
            task.assignee = data.assignee
            task.state = TaskState.claimed
            task.claimed_at = workflow.now()
            self._emit(
                EventType.task_reassigned,
                data.actor,
                task=task,
                previous=previous,
                assignee=data.assignee,
            )
            await self._flush()
            return self._result(task)
        finally:
            self.lock.release()

    @reassign.validator
    def _validate_reassign(self, data: ReassignInput) -> None:
        self._check_reassign(data)

    @workflow.update
    async def start_step(self, data: StepInput) -> ActionResult:
        """Start a 第四十五条 step (expert review, hearing …): the task's clock stops."""
        await self._acting()
        try:
            self._check_start_step(data)
            task = self.tasks[data.task_key]
            self.active_step[task.task_key] = data.step_key
            self.step_spans.setdefault(task.task_key, []).append(
                SuspensionSpan(start=workflow.now())
            )
            task.clock = Clock.suspended
            self._emit(EventType.task_step_started, data.actor, task=task, step=data.step_key)
            self.wake = True
            await self._flush()
            return self._result(task)
        finally:
            self.lock.release()

    @start_step.validator
    def _validate_start_step(self, data: StepInput) -> None:
        self._check_start_step(data)

    @workflow.update
    async def finish_step(self, data: StepInput) -> ActionResult:
        """Finish the step: the task's clock resumes and its deadline moves."""
        await self._acting()
        try:
            self._check_finish_step(data)
            task = self.tasks[data.task_key]
            del self.active_step[task.task_key]
            self.step_spans[task.task_key][-1].end = workflow.now()
            task.clock = Clock.running
            self._emit(EventType.task_step_finished, data.actor, task=task, step=data.step_key)
            if self.case.clock is Clock.running:
                # The step's days are not counted for the case either (第四十五条).
                await self._refresh_deadlines([task], with_case=not self.active_step)
            self.wake = True
            await self._flush()
            return self._result(task)
        finally:
            self.lock.release()

    @finish_step.validator
    def _validate_finish_step(self, data: StepInput) -> None:
        self._check_finish_step(data)

    @workflow.update
    async def urge(self, data: UrgeInput) -> ActionResult:
        """督办: finish within ``days`` working days, or an escalation event fires."""
        await self._acting()
        try:
            self._check_urge(data)
            target = self.tasks.get(data.task_key) if data.task_key else None
            due = await self._due(data.days, target.department if target else None)
            urge = _Urge(data.task_key, workflow.now(), data.days, due, data.actor)
            self.urges.append(urge)
            task = self.tasks.get(data.task_key) if data.task_key else None
            if task is not None:
                task.urge_due_at = due
            else:
                self.case.urge_due_at = due
            self._emit(
                EventType.case_urged,
                data.actor,
                task=task,
                days=data.days,
                due_at=due.isoformat(),
                note=data.note,
            )
            self.wake = True
            await self._flush()
            return self._result(task)
        finally:
            self.lock.release()

    @urge.validator
    def _validate_urge(self, data: UrgeInput) -> None:
        self._check_urge(data)

    @workflow.update
    async def withdraw(self, data: WithdrawInput) -> ActionResult:
        """The applicant withdraws before a decision."""
        await self._acting()
        try:
            self._check_withdraw(data)
            self._close(
                CaseState.withdrawn, EventType.case_withdrawn, data.actor, reason=data.reason
            )
            await self._flush()
            return self._result()
        finally:
            self.lock.release()

    @withdraw.validator
    def _validate_withdraw(self, data: WithdrawInput) -> None:
        self._check_withdraw(data)

    @workflow.update
    async def deliver(self, data: DeliverInput) -> ActionResult:
        """All results handed out at once (送达); the rating window opens."""
        await self._acting()
        try:
            self._check_deliver(data)
            method = data.method or self.proc.delivery.method.value
            if method == "window":
                self._trip("window_pickup", self.input.applicant)
            case = self.case
            case.state = CaseState.rating
            case.delivered_at = workflow.now()
            self.rating_due_at = await self._due(self.input.rating_window_days)
            self._emit(
                EventType.case_delivered,
                data.actor,
                method=method,
                results=[i.result.name for i in self.items.values()],
                rating_due_at=self.rating_due_at.isoformat(),
            )
            self.wake = True
            await self._flush()
            return self._result()
        finally:
            self.lock.release()

    @deliver.validator
    def _validate_deliver(self, data: DeliverInput) -> None:
        self._check_deliver(data)

    @workflow.update
    async def rate(self, data: RateInput) -> ActionResult:
        """好差评 (1–5); the case completes. A score of 2 or less is a bad rating."""
        await self._acting()
        try:
            self._check_rate(data)
            self.case.rating = data.score
            self.case.rating_comment = data.comment
            self._emit(
                EventType.case_rated,
                data.actor,
                score=data.score,
                comment=data.comment,
                bad=data.score <= 2,
            )
            self._close(CaseState.completed, EventType.case_completed, SYSTEM, rated=True)
            await self._flush()
            return self._result()
        finally:
            self.lock.release()

    @rate.validator
    def _validate_rate(self, data: RateInput) -> None:
        self._check_rate(data)

    # ================================================================= queries

    @workflow.query
    def view(self) -> CaseView:
        """The case, its tasks and urges, as the workflow holds them now."""
        return CaseView(
            case=self.case,
            tasks=list(self.tasks.values()),
            events=self.seq,
            urges=[u.as_dict() for u in self.urges],
        )
