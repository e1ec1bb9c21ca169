"""FollowUpWorkflow: a bad rating's follow-up, durable, with working-day clocks like a case.

Started by the worker from the row the rating's own write opened (store.followups), with the
id ``followup-<case id>-<rating seq>``, so it starts once. Actions are Updates checked by the
pure rules (workflows.followup.rules) in the validator and again under the lock; one writer
sends the events with the rows they changed (the follow-up, its tasks and clocks) to the
store, in order; one durable timer waits for the earliest card. The store being down delays
the answers, never the follow-up: the record activity is retried until it succeeds, and a
write the store refuses for its content is written again cleaned.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from workflows.case.clocks import CaseClock
    from workflows.contracts import (
        CALENDAR_ERROR,
        CLOCK_ACTIVITY,
        FOLLOWUP_WORKFLOW_NAME,
        RECORD_FOLLOWUP_ACTIVITY,
        STORE_REJECTED,
        AppealDecisionInput,
        ClockRequest,
        ClockResult,
        FollowUpInput,
        FollowUpRecordInput,
        FollowUpResult,
        FollowUpRow,
        FollowUpState,
        FollowUpUrgeInput,
        MovedDeadline,
        RecalculateInput,
        RecordResult,
        RectifyInput,
        RevisitInput,
        TaskRow,
        VerifyInput,
    )
    from workflows.followup import rules
    from workflows.followup.rules import FollowUpData, Refusal

RECORD_RETRY = RetryPolicy(
    initial_interval=dt.timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=dt.timedelta(minutes=5),
    non_retryable_error_types=[STORE_REJECTED],
)
"""A store that is down is waited for (every 5 minutes at most); a refused write is not
retried as it is."""
REJECTED_PAUSE = dt.timedelta(hours=1)
CLOCK_RETRY = RetryPolicy(
    initial_interval=dt.timedelta(milliseconds=200),
    maximum_attempts=3,
    non_retryable_error_types=[CALENDAR_ERROR],
)

Check = Callable[[FollowUpData, Any], None]
Apply = Callable[[FollowUpData, Any, dt.datetime], None]


@workflow.defn(name=FOLLOWUP_WORKFLOW_NAME)
class FollowUpWorkflow:
    @workflow.init
    def __init__(self, input: FollowUpInput) -> None:
        self.d = (
            FollowUpData.model_validate(input.resume)
            if input.resume is not None
            else rules.new_followup(input)
        )
        self.lock = asyncio.Lock()
        self.ready = False
        self.wake = False
        self.closing = False
        self.recorded = 0
        self.sanitize = False
        self.written: dict[str, BaseModel] = {}
        self.timer: asyncio.Task[None] | None = None

    @workflow.run
    async def run(self, input: FollowUpInput) -> FollowUpRow:
        writer = asyncio.create_task(self._writer())
        async with self.lock:
            if input.resume is None:
                rules.open_followup(self.d, workflow.now(), input.rated_at)
            else:
                self.recorded = self.d.seq  # written by whoever ran its beginning
            await self._settle()
            self.ready = True
        await self._timers()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.closing = True
        await writer
        return self.d.row

    # ================================================================= time

    async def _timers(self) -> None:
        armed: dt.datetime | None = None
        while self.d.row.state is not FollowUpState.concluded:
            at = rules.next_instant(self.d)
            if at is not None and at <= workflow.now():
                async with self.lock:
                    if rules.fire_due(self.d, workflow.now()):
                        await self._settle()
                    rules.project(self.d)
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
        if self.timer is not None:
            self.timer.cancel()

    def _woken(self) -> bool:
        return self.wake or (self.timer is not None and self.timer.done())

    async def _sleep(self, until: dt.datetime) -> None:
        await workflow.sleep(until - workflow.now())

    async def _settle(self) -> list[MovedDeadline]:
        """Compute every new clock; a failure is tried again later (the follow-up goes on)."""
        stale = rules.stale_clocks(self.d)
        moved: list[MovedDeadline] = []
        if stale:
            try:
                result: ClockResult = await workflow.execute_local_activity(
                    CLOCK_ACTIVITY,
                    ClockRequest(
                        calendar=self.d.input.default_calendar,
                        queries=rules.queries(stale),
                        min_revision=self.d.calendar_revision,
                    ),
                    result_type=ClockResult,
                    start_to_close_timeout=dt.timedelta(seconds=10),
                    retry_policy=CLOCK_RETRY,
                )
            except (ActivityError, ApplicationError, ActivityTimeout) as err:
                cause = err.cause if isinstance(err, ActivityError) else err
                workflow.logger.error("follow-up %s: clock failed: %s", self.d.row.id, cause)
                rules.clock_failed(self.d, workflow.now(), str(cause or err)[:300])
            else:
                moved = rules.apply_answers(
                    self.d, stale, result.answers, result.revision, workflow.now()
                )
        rules.project(self.d)
        self.wake = True
        return moved

    # ================================================================= the store

    async def _writer(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self.d.pending) or self.closing)
            if not self.d.pending:
                return
            async with self.lock:
                batch, copies = self._batch()
            while True:
                try:
                    await workflow.execute_activity(
                        RECORD_FOLLOWUP_ACTIVITY,
                        batch,
                        result_type=RecordResult,
                        start_to_close_timeout=dt.timedelta(seconds=30),
                        retry_policy=RECORD_RETRY,
                    )
                    break
                except ActivityError as err:
                    workflow.logger.error("follow-up %s: write refused: %s", self.d.row.id, err)
                    if batch.sanitize:
                        await workflow.sleep(REJECTED_PAUSE)
                    # What the store refused is in the follow-up's own data: every later
                    # write goes cleaned too.
                    self.sanitize = True
                    batch = batch.model_copy(update={"sanitize": True})
            self.written.update(copies)
            self.recorded = batch.events[-1].seq

    def _batch(self) -> tuple[FollowUpRecordInput, dict[str, BaseModel]]:
        d = self.d
        events = d.take_pending()
        seq = events[-1].seq
        copies: dict[str, BaseModel] = {}
        d.row.last_seq = seq
        tasks: list[TaskRow] = []
        for task in d.tasks.values():
            if self.written.get(task.id) != task.model_copy(update={"last_seq": 0}):
                copies[task.id] = task.model_copy(update={"last_seq": 0})
                task.last_seq = seq
                tasks.append(task.model_copy())
        clocks = []
        for clock in d.clocks.values():
            key = f"clock:{clock.key}"
            if self.written.get(key) != clock:
                copies[key] = _clock_copy(clock)
                row = clock.row(d.row.case_id, derivation=False)
                row.last_seq = seq
                clocks.append(row)
        return (
            FollowUpRecordInput(
                events=events,
                followup=d.row.model_copy(deep=True),
                tasks=tasks,
                clocks=clocks,
                sanitize=self.sanitize,
            ),
            copies,
        )

    # ================================================================= acting

    def _check(self, check: Check, data: Any) -> None:
        try:
            check(self.d, data)
        except Refusal as refusal:
            raise ApplicationError(refusal.message, type=refusal.kind, non_retryable=True) from None

    async def _act(self, check: Check, apply: Apply, data: Any) -> FollowUpResult:
        await workflow.wait_condition(lambda: self.ready)
        async with self.lock:
            self._check(check, data)
            apply(self.d, data, workflow.now())
            moved = await self._settle()
            result = FollowUpResult(
                followup=self.d.row.model_copy(deep=True), last_seq=self.d.seq, moved=moved
            )
        await workflow.wait_condition(lambda: self.recorded >= result.last_seq)
        return result

    @workflow.update
    async def verify(self, data: VerifyInput) -> FollowUpResult:
        """回访核实: the department's verdict after calling the applicant back."""
        return await self._act(rules.check_verify, rules.verify, data)

    @verify.validator
    def _validate_verify(self, data: VerifyInput) -> None:
        self._check(rules.check_verify, data)

    @workflow.update
    async def rectify(self, data: RectifyInput) -> FollowUpResult:
        """整改 done, with the measures taken."""
        return await self._act(rules.check_rectify, rules.rectify, data)

    @rectify.validator
    def _validate_rectify(self, data: RectifyInput) -> None:
        self._check(rules.check_rectify, data)

    @workflow.update
    async def revisit(self, data: RevisitInput) -> FollowUpResult:
        """回访满意度: the applicant's satisfaction with the rectification."""
        return await self._act(rules.check_revisit, rules.revisit, data)

    @revisit.validator
    def _validate_revisit(self, data: RevisitInput) -> None:
        self._check(rules.check_revisit, data)

    @workflow.update
    async def decide_appeal(self, data: AppealDecisionInput) -> FollowUpResult:
        """申诉复核 by a supervisor."""
        return await self._act(rules.check_appeal, rules.decide_appeal, data)

    @decide_appeal.validator
    def _validate_appeal(self, data: AppealDecisionInput) -> None:
        self._check(rules.check_appeal, data)

    @workflow.update
    async def urge(self, data: FollowUpUrgeInput) -> FollowUpResult:
        """督办 on a department's part."""
        return await self._act(rules.check_urge, rules.urge, data)

    @urge.validator
    def _validate_urge(self, data: FollowUpUrgeInput) -> None:
        self._check(rules.check_urge, data)

    @workflow.update
    async def recalculate(self, data: RecalculateInput) -> FollowUpResult:
        """A calendar revision was published: recompute every running clock, list what moved."""
        return await self._act(rules.check_recalculate, rules.recalculate, data)

    @recalculate.validator
    def _validate_recalculate(self, data: RecalculateInput) -> None:
        self._check(rules.check_recalculate, data)

    @workflow.query
    def view(self) -> FollowUpRow:
        return self.d.row


def _clock_copy(clock: CaseClock) -> CaseClock:
    return clock.model_copy(update={"spans": [s.model_copy() for s in clock.spans]})
