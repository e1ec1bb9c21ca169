"""Follow-ups of a history's bad ratings, run offline by the follow-up's own rules.

The companion of services.history: each bad rating of a case written there gets its follow-up,
driven through workflows.followup.rules with time moved by hand (call-backs, verdicts,
rectifications, appeals and revisits by seeded simulated people, some late), its clocks
computed as the clock activity does, written with the store's own follow-up writer. A follow-up
still open when the history ends is handed to the worker with its state: it starts the
follow-up's workflow from there, so that the open ones can be acted on like any other.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from activities.clock import Calendars, answer
from definitions.calendar import WorkingCalendar
from definitions.versioning import ProcedureSnapshot
from store import followups
from store.db import Store
from workflows.contracts import (
    Actor,
    AppealDecisionInput,
    ClockRequest,
    Event,
    FollowUpInput,
    FollowUpRecordInput,
    FollowUpState,
    PartState,
    RecordInput,
    RectifyInput,
    RevisitInput,
    Role,
    TaskKind,
    TaskState,
    Verdict,
    VerifyInput,
)
from workflows.followup import rules
from workflows.followup.rules import FollowUpData, Refusal

SUPERVISOR = Actor(id="demo-supervisor", role=Role.supervisor, name="示例督查员")
VERDICTS: list[tuple[Verdict, float]] = [
    (Verdict.justified, 0.6),
    (Verdict.unjustified, 0.22),
    (Verdict.mistaken, 0.12),
    (Verdict.malicious, 0.06),
]
STALL = 0.2
"""The share of departments whose part of a follow-up is left at a step."""
MEASURES = (
    "增设导办员，优化取号流程",
    "更新办事指南，补充材料示例",
    "对窗口人员开展服务规范培训",
    "压缩内部审批环节，明确办理时限",
)


class OfflineFollowUp:
    """One follow-up driven through its rules; timers fired as time moves on."""

    def __init__(self, start: FollowUpInput, calendars: Calendars) -> None:
        self.calendars = calendars
        self.now = start.rated_at
        self.d: FollowUpData = rules.new_followup(start)
        self.events: list[Event] = []
        rules.open_followup(self.d, self.now)
        self.settle()

    def settle(self) -> None:
        stale = rules.stale_clocks(self.d)
        if stale:
            request = ClockRequest(
                calendar=self.d.input.default_calendar, queries=rules.queries(stale)
            )
            try:
                result = answer(self.calendars, request)
            except Exception:  # as the workflow: try again later
                rules.clock_failed(self.d, self.now)
            else:
                rules.apply_answers(self.d, stale, result.answers, result.revision, self.now)
        rules.project(self.d)
        self.events += self.d.take_pending()

    def until(self, instant: dt.datetime) -> None:
        while True:
            nxt = rules.next_instant(self.d)
            if nxt is None or nxt > instant:
                break
            self.now = max(self.now, nxt)
            if rules.fire_due(self.d, self.now):
                self.settle()
            rules.project(self.d)
            self.events += self.d.take_pending()
        self.now = max(self.now, instant)

    def act_at(
        self,
        at: dt.datetime,
        check: Callable[[FollowUpData, Any], None],
        apply: Callable[[FollowUpData, Any, dt.datetime], None],
        data: Any,
    ) -> bool:
        self.until(at)
        try:
            check(self.d, data)
        except Refusal:
            return False
        apply(self.d, data, self.now)
        self.settle()
        return True

    def record(self) -> FollowUpRecordInput:
        d = self.d
        seq = self.events[-1].seq
        d.row.last_seq = seq
        for task in d.tasks.values():
            task.last_seq = seq
        clocks = [c.row(d.row.case_id, derivation=False) for c in d.clocks.values()]
        for clock in clocks:
            clock.last_seq = seq
        return FollowUpRecordInput(
            events=self.events,
            followup=d.row,
            tasks=list(d.tasks.values()),
            clocks=clocks,
            sanitize=True,
        )


def _pick(rng: random.Random, choices: list[tuple[Verdict, float]]) -> Verdict:
    roll, total = rng.random(), 0.0
    for value, weight in choices:
        total += weight
        if roll <= total:
            return value
    return choices[-1][0]


def run_followup(
    start: FollowUpInput,
    rng: random.Random,
    calendars: Calendars,
    later: Callable[[WorkingCalendar, dt.datetime, float], dt.datetime],
    end: dt.datetime,
) -> OfflineFollowUp:
    """A follow-up as the simulated people act on it, up to ``end`` (what falls after is left
    for the running workflow)."""
    national = calendars.get("national")
    f = OfflineFollowUp(start, calendars)
    # Some departments are behind: their part stops at a step (its cards still fire), and
    # its workflow takes it from there.
    stalled = {
        p.department: rng.choice((0, 1, 2, 3)) for p in f.d.row.parts if rng.random() < STALL
    }
    for part in list(f.d.row.parts):
        stop = stalled.get(part.department, 99)
        worker = Actor(
            id=f"demo-{part.department.lower()}-followup",
            role=Role.caseworker,
            department=part.department,
            name="示例回访员",
        )
        at = later(national, start.rated_at, rng.uniform(0.3, 4.5))
        if at > end or stop == 0:
            continue
        verdict = _pick(rng, VERDICTS)
        verify = VerifyInput(
            actor=worker,
            department=part.department,
            verdict=verdict,
            finding="已电话回访申请人，核实评价所述情况",
            explanation="所需材料和时限均按法定要求执行，已向申请人说明依据"
            if verdict is Verdict.unjustified
            else None,
        )
        if not f.act_at(at, rules.check_verify, rules.verify, verify):
            continue
        if verdict in (Verdict.mistaken, Verdict.malicious):
            at = later(national, at, rng.uniform(0.5, 4))
            if at > end or stop == 1:
                continue
            granted = rng.random() < 0.5
            decision = AppealDecisionInput(
                actor=SUPERVISOR,
                department=part.department,
                granted=granted,
                reason="申请人确认误评" if granted else "证据不足，维持差评",
            )
            f.act_at(at, rules.check_appeal, rules.decide_appeal, decision)
        if f.d.part(part.department).state is not PartState.rectifying:
            continue
        days = next(d.rectification_days for d in start.departments if d.code == part.department)
        at = later(national, at, rng.uniform(1, days * 1.2))
        if at > end or stop <= 2:
            continue
        measures = RectifyInput(
            actor=worker, department=part.department, measures=rng.choice(MEASURES)
        )
        f.act_at(at, rules.check_rectify, rules.rectify, measures)
        at = later(national, at, rng.uniform(0.3, 3))
        if at > end or stop <= 3:
            continue
        satisfaction = None if rng.random() < 0.1 else rng.choice([5, 5, 4, 4, 4, 3, 2])
        f.act_at(
            at,
            rules.check_revisit,
            rules.revisit,
            RevisitInput(actor=worker, department=part.department, satisfaction=satisfaction),
        )
    f.until(end)
    return f


def write_followups(
    store: Store,
    data: RecordInput,
    snap: ProcedureSnapshot,
    handled: list[str],
    rng: random.Random,
    calendars: Calendars,
    later: Callable[[WorkingCalendar, dt.datetime, float], dt.datetime],
    end: dt.datetime,
) -> int:
    """The follow-ups of a written case's bad ratings; returns how many were written."""
    count = 0
    for event in data.events:
        start = followups.start_input(event, data.case, snap, handled)
        if start is None:
            continue
        f = run_followup(start, rng, calendars, later, end)
        followups.record(store, f.record(), notify=False)
        if f.d.row.state is FollowUpState.open:
            # Still open: the worker starts its workflow from where the history left it.
            followups.to_resume(
                store, start.model_copy(update={"resume": f.d.model_dump(mode="json")})
            )
        count += 1
    return count


def handled_by(tasks: list[Any]) -> list[str]:
    """The departments that reviewed a case (as store.followups.handled_by reads them)."""
    found = [
        t.department
        for t in sorted(tasks, key=lambda t: (t.created_at, t.id))
        if t.kind is TaskKind.review and t.state not in (TaskState.pending, TaskState.cancelled)
    ]
    return list(dict.fromkeys(found))
