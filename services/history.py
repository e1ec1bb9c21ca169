"""A history of cases run offline by the engine's own rules, written as the engine writes it.

`onetrip dev --demo` needs something real for every figure, the quality report and the
what-if on a fresh machine: half a year of closed cases, some late, some returned, ratings
good and bad. Running them through Temporal would take half a year. Here each case goes
through the same guards and rules the workflow runs (workflows.case), its deadlines through
the same clock computation (activities.clock.answer), with time moved by hand from one
person's action to the next, and the result is written with the store's own writer — so the
history is what the engine would have recorded. It is history only: cases still open at the
end are left out (an open case needs a running workflow to act on), and no applicant is
notified of it.

The people are simulated, seeded for repeatability: each department has its own pace
(some slow enough to run late), the desk sometimes returns an application, departments
sometimes ask for a supplement or reject, most applicants rate, some badly.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from activities.clock import Calendars, answer
from definitions.calendar import SHANGHAI, WorkingCalendar
from definitions.models import FieldType, FormSchema
from definitions.versioning import ProcedureSnapshot
from services.followup_history import handled_by, write_followups
from store.db import Store
from store.writes import record
from workflows.case import guards, rules, timing
from workflows.case.spec import Spec
from workflows.case.state import CaseData
from workflows.contracts import (
    TERMINAL_STATES,
    AcceptInput,
    Actor,
    CaseInput,
    Channel,
    DecideInput,
    DeliverInput,
    Event,
    MovedDeadline,
    RateInput,
    RatingDimension,
    RecordInput,
    ReturnInput,
    Role,
    SupplementInput,
    TaskInput,
    TaskKind,
    TaskState,
    VisitInput,
    VisitRating,
)

PACE: dict[str, float] = {
    "YZ-SCJG": 0.6,
    "YZ-GA": 0.3,
    "YZ-SW": 0.8,
    "YZ-RS": 0.5,
    "YZ-YB": 0.4,
    "YZ-GJJ": 1.6,
    "YZ-RMYH": 0.5,
}
"""Mean working days a department's caseworker takes on a task once claimed; others 0.7."""
WAIT = 0.35
"""Mean working days a task waits before someone claims it."""
SCORES = [(5, 0.55), (4, 0.25), (3, 0.10), (2, 0.06), (1, 0.04)]
COMPANIES = ["云州", "云城", "青岚", "东湖", "南屏", "北辰", "西岭", "星河", "松涛", "明湖"]
TRADES = ["科技", "餐饮", "商贸", "物流", "文化", "建筑", "医疗器械", "教育咨询"]


@dataclass(frozen=True)
class Written:
    cases: int
    skipped: int
    """Cases still open when the history ends: left out."""
    events: int
    followups: int = 0
    """Follow-ups of the bad ratings among them (those still open go on in workflows)."""


class OfflineCase:
    """One case driven through the guards and rules, its clocks computed as the activity
    does, its timers fired at their instants as time moves on: what the workflow does around
    the rules, with the time moved by hand (the rules' own tests drive cases the same way)."""

    def __init__(
        self,
        data: CaseInput,
        calendars: Calendars,
        at: dt.datetime,
        submitted_at: dt.datetime | None = None,
    ) -> None:
        self.calendars = calendars
        self.spec = Spec(data.snapshot, data.calendar, data.rating_window_days)
        self.now = at
        self.s: CaseData = rules.new_case(data, self.spec, submitted_at or at)
        self.events: list[Event] = []
        self.failures: list[str] = []
        """Clock computations that failed (each became an incident, as in the workflow)."""
        rules.submit(self.s, self.spec, data, self.now)
        self.settle()

    def settle(self, reason: str = "computed") -> list[MovedDeadline]:
        """Compute every stale clock, as the workflow does after each change."""
        stale = timing.stale_clocks(self.s)
        moved: list[MovedDeadline] = []
        if stale:
            try:
                result = answer(self.calendars, timing.clock_request(self.s, self.spec, stale))
            except Exception as exc:  # what the activity turns into a CalendarError
                self.failures.append(str(exc))
                timing.clock_failed(self.s, stale, str(exc), self.now)
            else:
                moved = timing.apply_answers(self.s, self.spec, stale, result, self.now, reason)
        else:
            timing.nothing_to_compute(self.s, self.now)
        timing.project(self.s)
        self.events += self.s.take_pending()
        return moved

    def until(self, instant: dt.datetime) -> None:
        """Let time pass to ``instant``, firing every timer on the way at its own instant."""
        while True:
            nxt = timing.next_instant(self.s)
            if nxt is None or nxt > instant:
                break
            self.now = max(self.now, nxt)
            while timing.fire_due(self.s, self.spec, self.now):
                self.settle()
        self.now = max(self.now, instant)

    def act_at(
        self,
        at: dt.datetime,
        guard: Callable[[CaseData, Spec, Any], None],
        rule: Callable[[CaseData, Spec, Any, dt.datetime], None],
        data: Any,
    ) -> bool:
        """At ``at``: the action if its guard allows it now (the case may have moved on)."""
        self.until(at)
        if self.s.case.state in TERMINAL_STATES:
            return False
        try:
            guard(self.s, self.spec, data)
        except guards.Refusal:
            return False
        rule(self.s, self.spec, data, self.now)
        self.settle()
        return True

    @property
    def closed(self) -> bool:
        return self.s.case.state in TERMINAL_STATES

    def record(self) -> RecordInput:
        """Everything as one write: the events, and every row at its final state."""
        s = self.s
        seq = self.events[-1].seq
        s.case.last_seq = seq
        for task in s.tasks.values():
            task.last_seq = seq
        clocks = [c.row(s.case.id, derivation=False) for c in s.clocks.values()]
        for clock in clocks:
            clock.last_seq = seq
        return RecordInput(
            events=self.events,
            case=s.case,
            tasks=list(s.tasks.values()),
            clocks=clocks,
            incidents=list(s.incidents),
            sanitize=True,
        )


OFFICE = (9, 18)
"""Office hours, Asia/Shanghai: a simulated working day is these nine hours."""


def later(calendar: WorkingCalendar, start: dt.datetime, days: float) -> dt.datetime:
    """``days`` of office time after ``start`` (a working day is nine office hours; nights,
    weekends and holidays do not pass)."""
    remaining = dt.timedelta(hours=days * (OFFICE[1] - OFFICE[0]))
    local = start.astimezone(SHANGHAI)
    for _ in range(10_000):
        opening = local.replace(hour=OFFICE[0], minute=0, second=0, microsecond=0)
        closing = local.replace(hour=OFFICE[1], minute=0, second=0, microsecond=0)
        if not calendar.is_working_day(local.date()) or local >= closing:
            local = opening + dt.timedelta(days=1)
            continue
        local = max(local, opening)
        room = closing - local
        if remaining <= room:
            return (local + remaining).astimezone(dt.UTC)
        remaining -= room
        local = opening + dt.timedelta(days=1)
    return local.astimezone(dt.UTC)


def sample_form(schema: FormSchema, rng: random.Random, index: int) -> dict[str, Any]:
    """A form that passes the schema, with names and numbers people would write."""
    form: dict[str, Any] = {}
    for f in schema.fields:
        if not f.required and rng.random() < 0.3:
            continue
        if f.type is FieldType.string:
            if "name" in f.key and ("company" in f.key or "enterprise" in f.key):
                form[f.key] = f"{rng.choice(COMPANIES)}{rng.choice(TRADES)}有限公司（{index}）"
            else:
                form[f.key] = f"{f.label}{index}"
        elif f.type is FieldType.integer:
            low = int(f.min) if f.min is not None else 1
            high = int(f.max) if f.max is not None else max(low + 50, 50)
            form[f.key] = rng.randint(low, high)
        elif f.type is FieldType.number:
            bottom = f.min if f.min is not None else 1.0
            top = f.max if f.max is not None else bottom + 500.0
            form[f.key] = round(rng.uniform(bottom, top), 2)
        elif f.type is FieldType.boolean:
            form[f.key] = rng.random() < 0.2
        elif f.type is FieldType.date:
            form[f.key] = (dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 300))).isoformat()
        elif f.options:
            form[f.key] = rng.choice(f.options)
    return form


def _score(rng: random.Random) -> int:
    pick, total = rng.random(), 0.0
    for score, weight in SCORES:
        total += weight
        if pick <= total:
            return score
    return 5


def run_case(
    snap: ProcedureSnapshot,
    case_id: str,
    submitted: dt.datetime,
    rng: random.Random,
    calendars: Calendars,
    index: int,
) -> OfflineCase:
    """One application from submission to its end, as the simulated people act on it."""
    national = calendars.get("national")
    form = sample_form(snap.procedure.form, rng, index)
    required = snap.required_keys(form)
    complete = rng.random() > 0.12 or not required
    handed = required if complete else [k for k in required if k != required[-1]]
    applicant = Actor(id=f"demo-applicant-{index % 40}", role=Role.applicant, name="示例申请人")
    channel = Channel.online if rng.random() < 0.75 else Channel.window
    data = CaseInput(
        case_id=case_id,
        snapshot=snap,
        applicant=applicant,
        form=form,
        materials=handed,
        channel=channel,
        submitted_at=submitted,
    )
    case = OfflineCase(data, calendars, submitted)
    desk = Actor(id="desk", role=Role.caseworker, department=snap.procedure.intake.department)
    at = later(national, submitted, rng.uniform(0.05, 0.8))
    if not complete:
        missing = [required[-1]]
        case.act_at(
            at,
            guards.return_for_supplement,
            rules.return_for_supplement,
            ReturnInput(actor=desk, missing=missing, reason="材料不齐，请补正"),
        )
        at = later(national, at, rng.uniform(0.5, 3))
        case.act_at(
            at,
            guards.supplement,
            rules.supplement,
            SupplementInput(actor=applicant, materials=missing),
        )
        at = later(national, at, rng.uniform(0.05, 0.5))
    if channel is Channel.window and rng.random() < 0.5:
        visit = VisitInput(
            actor=desk,
            reason="other",
            rating=VisitRating(
                score=_score(rng),
                dimensions={RatingDimension.attitude: _score(rng)},
            ),
        )
        case.act_at(at, guards.visit, rules.visit, visit)
    case.act_at(at, guards.accept, rules.accept, AcceptInput(actor=desk))
    _work(case, rng, national, at)
    if case.closed:
        return case
    at = later(national, case.now, rng.uniform(0.1, 1.0))
    case.act_at(at, guards.deliver, rules.deliver, DeliverInput(actor=desk))
    if rng.random() < 0.75:
        at = later(national, at, rng.uniform(0.1, 4))
        score = _score(rng)
        dims = (
            {RatingDimension.overall: score, RatingDimension.efficiency: _score(rng)}
            if rng.random() < 0.5
            else {}
        )
        comment = "办理太慢" if score <= 2 else None
        case.act_at(
            at,
            guards.rate,
            rules.rate,
            RateInput(actor=applicant, score=score, comment=comment, dimensions=dims),
        )
    else:
        rating = case.s.clocks.get("rating")
        if rating is not None and rating.due_at is not None:
            case.until(rating.due_at + dt.timedelta(seconds=1))
    return case


def _work(
    case: OfflineCase, rng: random.Random, calendar: WorkingCalendar, start: dt.datetime
) -> None:
    """The departments claim and decide every review task as it opens, at their own pace."""
    plans: dict[str, list[Any]] = {}
    for _ in range(200):
        if case.closed or case.s.case.state.value != "in_progress":
            return
        open_tasks = [
            t
            for t in case.s.tasks.values()
            if t.kind is TaskKind.review and t.state in (TaskState.open, TaskState.claimed)
        ]
        if not open_tasks:
            return
        for t in open_tasks:
            if t.task_key not in plans:
                begin = max(case.now, start)
                claim_at = later(calendar, begin, rng.expovariate(1 / WAIT))
                pace = PACE.get(t.department, 0.7)
                decide_at = later(calendar, claim_at, rng.expovariate(1 / pace))
                plans[t.task_key] = [claim_at, decide_at, rng.random()]
        key = min(
            (t.task_key for t in open_tasks),
            key=lambda k: plans[k][0] if case.s.tasks[k].state is TaskState.open else plans[k][1],
        )
        task = case.s.tasks[key]
        worker = Actor(id=task.department.lower(), role=Role.caseworker, department=task.department)
        claim_at, decide_at, luck = plans[key]
        if task.state is TaskState.open:
            case.act_at(claim_at, guards.claim, rules.claim, TaskInput(actor=worker, task_key=key))
            continue
        if luck < 0.05 and not case.s.return_scope:
            material = next(iter(case.s.handed), None)
            if material is not None:
                case.act_at(
                    decide_at,
                    guards.return_for_supplement,
                    rules.return_for_supplement,
                    ReturnInput(
                        actor=worker, task_key=key, missing=[material], reason="材料内容需更正"
                    ),
                )
                back = later(calendar, decide_at, rng.uniform(0.5, 4))
                applicant = Actor(id=case.s.case.applicant_id, role=Role.applicant)
                case.act_at(
                    back,
                    guards.supplement,
                    rules.supplement,
                    SupplementInput(actor=applicant, materials=[material]),
                )
                # Supplemented: decided afterwards, approved (the correction was what was missing).
                plans[key] = [claim_at, later(calendar, back, rng.expovariate(1 / 0.5)), 0.5]
                continue
        approve = luck < 0.995
        case.act_at(
            decide_at,
            guards.decide,
            rules.decide,
            DecideInput(
                actor=worker,
                task_key=key,
                approve=approve,
                reason=None if approve else "不符合法定条件",
            ),
        )


def write_history(
    store: Store,
    snapshots: Sequence[ProcedureSnapshot],
    calendars: Calendars,
    *,
    end: dt.datetime,
    cases: int = 300,
    days: int = 182,
    seed: int = 7,
    prefix: str = "DEMO-H",
) -> Written:
    """``cases`` applications submitted over the ``days`` before ``end`` (the last month
    left free so that they close), written to ``store``."""
    rng = random.Random(seed)
    national = calendars.get("national")
    weights = [3.0 if s.code == "YZ-YJS-KBQY" else 1.0 for s in snapshots]
    written = skipped = events = followed = 0
    first = end - dt.timedelta(days=days)
    last = end - dt.timedelta(days=30)
    for index in range(cases):
        snap = rng.choices(list(snapshots), weights)[0]
        moment = first + (last - first) * rng.random()
        local = moment.astimezone(SHANGHAI).replace(hour=9, minute=0, second=0, microsecond=0)
        while not national.is_working_day(local.date()):
            local += dt.timedelta(days=1)
        submitted = (local + dt.timedelta(minutes=rng.randint(0, 8 * 60))).astimezone(dt.UTC)
        case = run_case(snap, f"{prefix}-{index + 1:04d}", submitted, rng, calendars, index)
        if not case.closed or case.now > end:
            skipped += 1
            continue
        data = case.record()
        record(store, data, notify=False)
        followed += write_followups(
            store, data, snap, handled_by(list(case.s.tasks.values())), rng, calendars, later, end
        )
        written += 1
        events += len(data.events)
    return Written(written, skipped, events, followed)
