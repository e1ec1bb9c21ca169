"""CaseWorkflowV2: one application = one case = one workflow, from intake to rating.

The class only orchestrates: it holds the state (:class:`~workflows.case.state.CaseData`),
runs each action's guard and rule (pure code in this package), asks the clock activity for the
clocks the rule left stale, and lets a writer send the events to the store.

- **Actions** are Updates. The validator runs the guard (a refusal writes nothing); the handler
  runs it again under the lock, applies the rule, computes deadlines, releases the lock and
  answers once its events are in the store.
- **Writes** go through one writer coroutine, in order, batching whatever accumulated. No lock
  is held while writing, so a store outage delays answers (the API answers 503 and the client
  retries with the same key) without blocking the case. A write the store refuses for its
  content is written again cleaned, and an incident says so; an outage that outlasts the
  activity's retries becomes an incident too, and the writer keeps trying on a durable timer.
- **Clocks** are computed by a local activity; a computation that fails opens an incident and
  is tried again later, while the case stays workable.
- **Timers**: one durable timer at the earliest instant any clock wants; it is only replaced
  when that instant changes.

No wall clock (``workflow.now()``), no I/O (activities), no calendar data (the clock
activity), no unordered iteration (dicts and lists only).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from workflows import search
    from workflows.case import guards, incidents, rules, timing
    from workflows.case.clocks import CaseClock
    from workflows.case.guards import Refusal
    from workflows.case.spec import Spec
    from workflows.case.state import CaseData
    from workflows.contracts import (
        CALENDAR_ERROR,
        CLOCK_ACTIVITY,
        RECORD_ACTIVITY,
        STORE_REJECTED,
        TERMINAL_STATES,
        WORKFLOW_NAME,
        AcceptInput,
        ActionResult,
        CaseInput,
        CaseRow,
        CaseView,
        ClockResult,
        DecideInput,
        DeliverInput,
        IncidentKind,
        IncidentRow,
        MovedDeadline,
        RateInput,
        ReassignInput,
        RecalculateInput,
        RecordInput,
        RecordResult,
        RefuseInput,
        ResolveIncidentInput,
        ReturnInput,
        StepInput,
        SupplementInput,
        TaskInput,
        TaskRow,
        UrgeInput,
        VisitInput,
        WithdrawInput,
    )

RECORD_RETRY = RetryPolicy(
    initial_interval=dt.timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=dt.timedelta(seconds=30),
    maximum_attempts=7,
    non_retryable_error_types=[STORE_REJECTED],
)
"""A store write is tried 7 times over about a minute (1, 2, 4 … 30 s apart), which a database
failover or restart fits in; past that the writer opens an incident and goes on trying on a
durable timer (OUTAGE_PAUSE). A refusal for the content is never retried as is."""
OUTAGE_PAUSE = dt.timedelta(seconds=30)
OUTAGE_PAUSE_MAX = dt.timedelta(minutes=10)
REJECTED_PAUSE_MAX = dt.timedelta(hours=6)
"""A write refused even cleaned is a bug to fix: tried again rarely, so that the history
does not grow by hundreds of events a day meanwhile."""
CLOCK_RETRY = RetryPolicy(
    initial_interval=dt.timedelta(milliseconds=200),
    maximum_attempts=3,
    non_retryable_error_types=[CALENDAR_ERROR],
)

In = TypeVar("In", bound=BaseModel)
Guard = Callable[[CaseData, Spec, Any], None]
Rule = Callable[[CaseData, Spec, Any, dt.datetime], None]


def _cause(err: ActivityError | ApplicationError | ActivityTimeout) -> str:
    cause = err.cause if isinstance(err, ActivityError) else err
    return str(cause or err)[: incidents.MESSAGE_LENGTH]


def _same(a: BaseModel, b: BaseModel | None) -> bool:
    """Equal but for ``last_seq`` (which the writer sets)."""
    if b is None:
        return False
    theirs = b.__dict__
    return all(k == "last_seq" or theirs.get(k) == v for k, v in a.__dict__.items())


def _copy(row: BaseModel) -> BaseModel:
    """A copy later changes of the row cannot reach: rows hold scalars, and lists and dicts
    that the rules replace rather than change, but for a clock's spans."""
    if isinstance(row, CaseClock):
        return row.model_copy(update={"spans": [s.model_copy() for s in row.spans]})
    return row.model_copy()


MATERIALS_CHECKED = "materials-checked-at-acceptance"
"""Patch: acceptance refuses an application with required materials missing and not tolerated
(histories recorded before replay without the check)."""


SUPPLEMENTS_IN_PARTS = "supplements-in-parts"
"""Patch: a supplement may bring a part of what was asked for (histories recorded before
replay with the rule that everything comes at once)."""


RETURNS_COMPLETE = "intake-returns-list-everything"
"""Patch: a return at intake must name every required material not handed in (一次性告知)."""


@workflow.defn(name=WORKFLOW_NAME)
class CaseWorkflow:
    @workflow.init
    def __init__(self, input: CaseInput) -> None:
        self.spec = Spec(input.snapshot, input.calendar, input.rating_window_days)
        # ``workflow_start_time`` is when the execution started; ``start_time`` would be when
        # a worker first ran it, which a backlog delays. The application arrived when the API
        # received it, and never after the execution started.
        started = workflow.info().workflow_start_time
        if started.tzinfo is None:
            started = started.replace(tzinfo=dt.UTC)
        arrived = min(input.submitted_at, started) if input.submitted_at else started
        self.s = rules.new_case(input, self.spec, arrived)
        self.search_attributes = input.search_attributes
        self.lock = asyncio.Lock()
        self.ready = False
        self.wake = False
        self.closing = False
        self.recorded = 0
        self.written: dict[str, BaseModel] = {}
        """Copies of the rows as last written, to send only what changed."""
        self.sa_state: tuple[str, dt.datetime | None] | None = None
        self.sanitize = False
        """Set once the store refused a write of this case for its content."""
        self.timer: asyncio.Task[None] | None = None
        """The one durable timer, set for the earliest instant any clock wants."""

    # ================================================================= the main loop

    @workflow.run
    async def run(self, input: CaseInput) -> CaseRow:
        writer = asyncio.create_task(self._writer())
        async with self.lock:
            rules.submit(self.s, self.spec, input, workflow.now())
            await self._settle("computed")
            self.ready = True
        await self._timers()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.closing = True
        await writer
        return self.s.case

    async def _timers(self) -> None:
        """Fire every clock's timers at their instants until the case ends."""
        armed: dt.datetime | None = None
        while self.s.case.state not in TERMINAL_STATES:
            at = timing.next_instant(self.s)
            if at is not None and at <= workflow.now():
                async with self.lock:
                    await self._fire()
                continue
            if at != armed:
                if self.timer is not None:
                    self.timer.cancel()
                self.timer = None if at is None else asyncio.create_task(self._sleep(at))
                armed = at
            self.wake = False
            await workflow.wait_condition(self._woken)
            if self.timer is not None and self.timer.done():
                self.timer, armed = None, None
                async with self.lock:
                    await self._fire()
        if self.timer is not None:
            self.timer.cancel()

    def _woken(self) -> bool:
        return self.wake or (self.timer is not None and self.timer.done())

    async def _sleep(self, until: dt.datetime) -> None:
        await workflow.sleep(until - workflow.now())

    async def _fire(self) -> None:
        while timing.fire_due(self.s, self.spec, workflow.now()):
            await self._settle("computed")

    # ================================================================= clocks

    async def _settle(self, reason: str) -> list[MovedDeadline]:
        """Compute every stale running clock; a failure is an incident, never a freeze."""
        moved: list[MovedDeadline] = []
        stale = timing.stale_clocks(self.s)
        if stale:
            try:
                result: ClockResult = await workflow.execute_local_activity(
                    CLOCK_ACTIVITY,
                    timing.clock_request(self.s, self.spec, stale),
                    result_type=ClockResult,
                    start_to_close_timeout=dt.timedelta(seconds=10),
                    retry_policy=CLOCK_RETRY,
                )
            except (ActivityError, ApplicationError, ActivityTimeout) as err:
                # A local activity's failure may arrive unwrapped (ApplicationError).
                workflow.logger.error(
                    "clock computation failed for case %s: %s", self.s.case.id, _cause(err)
                )
                timing.clock_failed(self.s, stale, _cause(err), workflow.now())
            else:
                moved = timing.apply_answers(
                    self.s, self.spec, stale, result, workflow.now(), reason
                )
        else:
            timing.nothing_to_compute(self.s, workflow.now())
        timing.project(self.s)
        self.wake = True
        return moved

    # ================================================================= the store

    async def _writer(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self.s.pending) or self.closing)
            if not self.s.pending:
                return
            await self._write()

    async def _whole_batch(
        self, failed: RecordInput | None
    ) -> tuple[RecordInput, dict[str, BaseModel]]:
        """A batch of whole actions: taken under the lock, in turn with the actions waiting."""
        async with self.lock:
            return self._batch(failed)

    async def _write(self) -> None:
        batch, copies = await self._whole_batch(None)
        sanitize = self.sanitize
        pause = OUTAGE_PAUSE
        while True:
            try:
                await workflow.execute_activity(
                    RECORD_ACTIVITY,
                    batch.model_copy(update={"sanitize": sanitize}),
                    result_type=RecordResult,
                    start_to_close_timeout=dt.timedelta(seconds=30),
                    retry_policy=RECORD_RETRY,
                )
                break
            except ActivityError as err:
                now = workflow.now()
                cause = err.cause
                rejected = isinstance(cause, ApplicationError) and cause.type == STORE_REJECTED
                workflow.logger.error(
                    "store write failed for case %s: %s", self.s.case.id, _cause(err)
                )
                if rejected and not sanitize:
                    # The case's own data holds what the store refused (a NUL in the form):
                    # every later write of this case goes cleaned too.
                    sanitize = self.sanitize = True
                    incidents.open_incident(self.s, IncidentKind.store_rejected, _cause(err), now)
                else:
                    # Refused even cleaned (a bug, or a schema behind the code), or the store
                    # is down: keep the incident open and try again later, ever more slowly.
                    kind = (
                        IncidentKind.store_rejected if rejected else IncidentKind.store_unavailable
                    )
                    incidents.open_incident(self.s, kind, _cause(err), now)
                    await workflow.sleep(pause)
                    pause = min(pause * 2, REJECTED_PAUSE_MAX if rejected else OUTAGE_PAUSE_MAX)
                batch, copies = await self._whole_batch(batch)
        self.written.update(copies)
        self.recorded = batch.events[-1].seq
        if any(i.kind is IncidentKind.store_unavailable for i in self.s.open_incidents()):
            async with self.lock:
                incidents.resolve_kind(
                    self.s,
                    IncidentKind.store_unavailable,
                    "存储已恢复，记录已写入 / the store answers again; everything was written",
                    workflow.now(),
                )
                timing.project(self.s)

    def _batch(self, failed: RecordInput | None) -> tuple[RecordInput, dict[str, BaseModel]]:
        """Pending events (after a failed batch's), with the rows changed since the last write."""
        s = self.s
        events = [*(failed.events if failed else []), *s.take_pending()]
        seq = events[-1].seq
        copies: dict[str, BaseModel] = {}

        def changed(key: str, row: BaseModel) -> BaseModel | None:
            """A copy of the row if it changed since the last write (then its new baseline)."""
            if _same(row, self.written.get(key)):
                return None
            if isinstance(row, TaskRow | IncidentRow):
                row.last_seq = seq
            copies[key] = copy = _copy(row)
            return copy

        s.case.last_seq = seq
        tasks = [c for t in s.tasks.values() if (c := changed(f"task:{t.task_key}", t))]
        clocks = []
        for clock in s.clocks.values():
            if changed(f"clock:{clock.key}", clock):
                row = clock.row(s.case.id, derivation=False)
                row.last_seq = seq
                clocks.append(row)
        opened = [c for i in s.incidents if (c := changed(f"incident:{i.number}", i))]
        self._upsert_search_attributes()
        return (
            RecordInput(
                events=events,
                case=s.case.model_copy(),
                tasks=[t for t in tasks if isinstance(t, TaskRow)],
                clocks=clocks,
                incidents=[i for i in opened if isinstance(i, IncidentRow)],
            ),
            copies,
        )

    def _upsert_search_attributes(self) -> None:
        if not self.search_attributes:
            return
        case = self.s.case
        state = (case.state.value, case.deadline_at)
        if state == self.sa_state:
            return
        updates: list[SearchAttributeUpdate[Any]] = [
            search.STATE.value_set(case.state.value),
            search.DEADLINE.value_set(case.deadline_at)
            if case.deadline_at
            else search.DEADLINE.value_unset(),
        ]
        if self.sa_state is None:
            updates += [
                search.PROCEDURE.value_set(case.procedure_code),
                search.DEPARTMENTS.value_set(case.departments),
            ]
        workflow.upsert_search_attributes(updates)
        self.sa_state = state

    # ================================================================= acting

    def _check(self, guard: Guard, data: BaseModel) -> None:
        try:
            guard(self.s, self.spec, data)
        except Refusal as refusal:
            raise ApplicationError(refusal.message, type=refusal.kind, non_retryable=True) from None

    async def _act(
        self, guard: Guard, rule: Rule, data: BaseModel, task_key: str | None = None
    ) -> ActionResult:
        """Check again under the lock, apply, compute deadlines; answer once recorded."""
        await workflow.wait_condition(lambda: self.ready)
        async with self.lock:
            self._check(guard, data)
            rule(self.s, self.spec, data, workflow.now())
            moved = await self._settle("resumed")
            result = self._result(task_key, moved)
        await workflow.wait_condition(lambda: self.recorded >= result.last_seq)
        return result

    def _result(self, task_key: str | None, moved: list[MovedDeadline]) -> ActionResult:
        task = self.s.tasks.get(task_key) if task_key else None
        return ActionResult(
            case_id=self.s.case.id,
            state=self.s.case.state,
            last_seq=self.s.seq,
            task=task.model_copy() if task else None,
            moved=moved,
        )

    @workflow.update
    async def accept(self, data: AcceptInput) -> ActionResult:
        """受理 at the front desk, optionally 容缺; required materials must be in or tolerated."""
        return await self._act(self._accept_checks, rules.accept, data)

    @staticmethod
    def _accept_checks(s: CaseData, spec: Spec, data: AcceptInput) -> None:
        guards.accept(s, spec, data)
        if workflow.patched(MATERIALS_CHECKED):
            guards.materials_complete(s, spec, data)

    @accept.validator
    def _validate_accept(self, data: AcceptInput) -> None:
        self._check(guards.accept, data)
        self._check(guards.materials_complete, data)

    @workflow.update
    async def refuse(self, data: RefuseInput) -> ActionResult:
        """不予受理, with the reason."""
        return await self._act(guards.refuse, rules.refuse, data)

    @refuse.validator
    def _validate_refuse(self, data: RefuseInput) -> None:
        self._check(guards.refuse, data)

    @workflow.update
    async def return_for_supplement(self, data: ReturnInput) -> ActionResult:
        """补正: list everything missing at once; the clocks stop until supplemented."""
        return await self._act(
            self._return_checks, rules.return_for_supplement, data, data.task_key
        )

    @staticmethod
    def _return_checks(s: CaseData, spec: Spec, data: ReturnInput) -> None:
        guards.return_for_supplement(s, spec, data)
        if data.task_key is None and workflow.patched(RETURNS_COMPLETE):
            guards.return_lists_everything(s, spec, data)

    @return_for_supplement.validator
    def _validate_return(self, data: ReturnInput) -> None:
        self._check(guards.return_for_supplement, data)
        self._check(guards.return_lists_everything, data)

    @workflow.update
    async def supplement(self, data: SupplementInput) -> ActionResult:
        """The applicant hands in what was asked for, at once or in parts; the clocks resume
        when everything has arrived."""
        return await self._act(self._supplement_checks, rules.supplement, data)

    @staticmethod
    def _supplement_checks(s: CaseData, spec: Spec, data: SupplementInput) -> None:
        guards.supplement(s, spec, data, in_parts=workflow.patched(SUPPLEMENTS_IN_PARTS))

    @supplement.validator
    def _validate_supplement(self, data: SupplementInput) -> None:
        self._check(guards.supplement, data)

    @workflow.update
    async def claim(self, data: TaskInput) -> ActionResult:
        """Take a task from the department's inbox; nobody else can decide it then."""
        return await self._act(guards.claim, rules.claim, data, data.task_key)

    @claim.validator
    def _validate_claim(self, data: TaskInput) -> None:
        self._check(guards.claim, data)

    @workflow.update
    async def release(self, data: TaskInput) -> ActionResult:
        """Give a claimed task back to the department's inbox."""
        return await self._act(guards.release, rules.release, data, data.task_key)

    @release.validator
    def _validate_release(self, data: TaskInput) -> None:
        self._check(guards.release, data)

    @workflow.update
    async def decide(self, data: DecideInput) -> ActionResult:
        """Approve or reject a claimed task; the stage and the case move on at once."""
        return await self._act(guards.decide, rules.decide, data, data.task_key)

    @decide.validator
    def _validate_decide(self, data: DecideInput) -> None:
        self._check(guards.decide, data)

    @workflow.update
    async def reassign(self, data: ReassignInput) -> ActionResult:
        """Hand a task to another caseworker of its department (the holder, or a supervisor)."""
        return await self._act(guards.reassign, rules.reassign, data, data.task_key)

    @reassign.validator
    def _validate_reassign(self, data: ReassignInput) -> None:
        self._check(guards.reassign, data)

    @workflow.update
    async def start_step(self, data: StepInput) -> ActionResult:
        """Start a 第四十五条 step (expert review, hearing …): the task's clock stops."""
        return await self._act(guards.start_step, rules.start_step, data, data.task_key)

    @start_step.validator
    def _validate_start_step(self, data: StepInput) -> None:
        self._check(guards.start_step, data)

    @workflow.update
    async def finish_step(self, data: StepInput) -> ActionResult:
        """Finish the step: the task's and the case's clocks resume, their deadlines move."""
        return await self._act(guards.finish_step, rules.finish_step, data, data.task_key)

    @finish_step.validator
    def _validate_finish_step(self, data: StepInput) -> None:
        self._check(guards.finish_step, data)

    @workflow.update
    async def urge(self, data: UrgeInput) -> ActionResult:
        """督办: finish within ``days`` working days, or an escalation event fires."""
        return await self._act(guards.urge, rules.urge, data, data.task_key)

    @urge.validator
    def _validate_urge(self, data: UrgeInput) -> None:
        self._check(guards.urge, data)

    @workflow.update
    async def withdraw(self, data: WithdrawInput) -> ActionResult:
        """The applicant withdraws before a decision."""
        return await self._act(guards.withdraw, rules.withdraw, data)

    @withdraw.validator
    def _validate_withdraw(self, data: WithdrawInput) -> None:
        self._check(guards.withdraw, data)

    @workflow.update
    async def deliver(self, data: DeliverInput) -> ActionResult:
        """All results handed out at once (送达); the rating window opens."""
        return await self._act(guards.deliver, rules.deliver, data)

    @deliver.validator
    def _validate_deliver(self, data: DeliverInput) -> None:
        self._check(guards.deliver, data)

    @workflow.update
    async def rate(self, data: RateInput) -> ActionResult:
        """好差评 (1–5); the case completes."""
        return await self._act(guards.rate, rules.rate, data)

    @rate.validator
    def _validate_rate(self, data: RateInput) -> None:
        self._check(guards.rate, data)

    @workflow.update
    async def record_visit(self, data: VisitInput) -> ActionResult:
        """The front desk records an on-site visit of the applicant (a trip)."""
        return await self._act(guards.visit, rules.visit, data)

    @record_visit.validator
    def _validate_visit(self, data: VisitInput) -> None:
        self._check(guards.visit, data)

    @workflow.update
    async def resolve_incident(self, data: ResolveIncidentInput) -> ActionResult:
        """A supervisor closes an incident after looking into it."""
        return await self._act(guards.resolve_incident, incidents.resolve_incident, data)

    @resolve_incident.validator
    def _validate_resolve(self, data: ResolveIncidentInput) -> None:
        self._check(guards.resolve_incident, data)

    @workflow.update
    async def recalculate(self, data: RecalculateInput) -> ActionResult:
        """A calendar revision was published: recompute every running clock, list what moved."""
        await workflow.wait_condition(lambda: self.ready)
        async with self.lock:
            self._check(guards.recalculate, data)
            timing.recalculate(self.s, self.spec, data, workflow.now())
            moved = await self._settle("calendar")
            failed = bool(timing.stale_clocks(self.s))
            if not failed:
                timing.applied_calendar(self.s, data.revision, len(moved), workflow.now())
            result = self._result(None, moved)
        await workflow.wait_condition(lambda: self.recorded >= result.last_seq)
        if failed:
            raise ApplicationError(
                "期限暂时无法重算，已记录事件并将重试 / the deadlines could not be computed now:"
                " an incident is open and they will be tried again",
                type="conflict",
                non_retryable=True,
            )
        return result

    @recalculate.validator
    def _validate_recalculate(self, data: RecalculateInput) -> None:
        self._check(guards.recalculate, data)

    # ================================================================= queries

    @workflow.query
    def view(self) -> CaseView:
        """The case, its tasks, clocks, urges and incidents as the workflow holds them now."""
        s = self.s
        return CaseView(
            case=s.case,
            tasks=list(s.tasks.values()),
            events=s.seq,
            urges=[u.model_dump(mode="json") for u in s.urges],
            clocks=[c.row(s.case.id) for c in s.clocks.values()],
            incidents=list(s.incidents),
        )
