"""What one case measured, in working days: the part of every figure that needs the calendar.

A case's facts (evaluation.facts) hold instants and clocks; turning them into working days
costs the calendar arithmetic of every clock and span, milliseconds a case. That is done once
per change of the case — here, into a :class:`Measure` — and the figures (evaluation.tally)
only add measures up. Working days are counted as the legal clock counts them: the start day
is not counted, suspensions (补正, 第四十五条 steps) are left out, each department on its own
calendar; fractions of a day are kept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from definitions.calendar import DAY_SECONDS, SHANGHAI, WorkingCalendar, local_date, start_of_day
from evaluation.facts import CaseFacts, FollowUpFacts, TaskFacts, Timing

DECIDED = frozenset({"delivering", "rating", "completed", "rejected"})
"""A decision was reached (办结): approved by every stage, or rejected."""
SUPPLEMENT = "supplement"
"""The suspension source of a return for supplement (the applicant's time)."""

Calendars = Callable[[str], WorkingCalendar]
"""The working calendar of a name (``national`` or a region's)."""


def clock_days(timing: Timing, calendars: Calendars, until: dt.datetime | None = None) -> float:
    """Working days a clock counted from its start to ``until`` (else its end)."""
    end = until or timing.ended_at
    if end is None:
        return 0.0
    return calendars(timing.calendar).elapsed(timing.start, end, timing.suspensions).days


def between(start: dt.datetime, end: dt.datetime, calendar: str, calendars: Calendars) -> float:
    """Working time between two instants, in working days: the part of each working day that
    lies between them (the start day included, unlike the legal clock), so that waiting and
    working add up to the time a task was open."""
    if end <= start:
        return 0.0
    cal = calendars(calendar)
    first = local_date(start)
    if local_date(end) == first:
        seconds = (end - start).total_seconds() if cal.is_working_day(first) else 0.0
        return seconds / DAY_SECONDS
    head = start_of_day(first + dt.timedelta(days=1)) - start
    seconds = head.total_seconds() if cal.is_working_day(first) else 0.0
    return (seconds + cal.elapsed(start, end).seconds) / DAY_SECONDS


def suspended_time(
    task: TaskFacts,
    calendars: Calendars,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> float:
    """Working time the task's clock stood still for the applicant (补正), within
    ``start``–``end`` when given (each span clipped to it)."""
    if task.clock is None:
        return 0.0
    last = task.decided_at or task.clock.ended_at
    total = 0.0
    for span in task.clock.suspensions:
        if span.reason != SUPPLEMENT:
            continue
        begin = max(span.start, start) if start is not None else span.start
        stop = span.end or last
        if end is not None:
            stop = min(stop, end) if stop is not None else end
        if stop is not None and stop > begin:
            total += between(begin, stop, task.clock.calendar, calendars)
    return total


def waiting_time(task: TaskFacts, calendars: Calendars) -> float | None:
    """Working time a task waited, opened and unclaimed, less the time it stood still for
    the applicant meanwhile (None if it was never claimed)."""
    if task.opened_at is None or task.claimed_at is None or task.clock is None:
        return None
    spent = between(task.opened_at, task.claimed_at, task.clock.calendar, calendars)
    held = suspended_time(task, calendars, task.opened_at, task.claimed_at)
    return max(0.0, spent - held)


def working_time(task: TaskFacts, calendars: Calendars) -> float | None:
    """Working time from a task's claim to its decision, less the time it stood still for
    the applicant meanwhile (None if it was not decided)."""
    if task.claimed_at is None or task.decided_at is None or task.clock is None:
        return None
    spent = between(task.claimed_at, task.decided_at, task.clock.calendar, calendars)
    held = suspended_time(task, calendars, task.claimed_at, task.decided_at)
    return max(0.0, spent - held)


class _Model(BaseModel):
    # Stored as JSON (case_facts.measure): fields added later must read older rows.
    model_config = ConfigDict(frozen=True, extra="ignore")


class TaskMeasure(_Model):
    """One review task of a department, in working days."""

    department: str
    stage_key: str
    item_code: str = ""
    decided: bool
    """Decided, on a clock (the tasks the task figures count as decided)."""
    overdue: bool
    days: int
    """Its share of the limit."""
    days_used: float | None = None
    """On its legal clock, from opening to decision (decided tasks)."""
    waiting: float | None = None
    working: float | None = None
    suspended: float | None = None
    """Stood still for the applicant's supplement (decided tasks)."""


class RatingMeasure(_Model):
    on_site: bool
    score: int
    defaulted: bool = False
    excluded: bool = False
    dimensions: dict[str, int] = Field(default_factory=dict)


class PartMeasure(_Model):
    """One department's part of a bad rating's follow-up."""

    department: str
    rating_seq: int
    excluded: bool
    verified: bool
    needs_rectification: bool
    appeal_granted: bool
    rectified: bool
    on_time: bool
    satisfaction: int | None = None
    rectifying_in_time: bool = False


class Measure(_Model):
    """A case as the figures count it: its states and flags, and its clocks in working days."""

    case_id: str
    month: str
    """``YYYY-MM`` of its submission, Asia/Shanghai: the periods' cohorts are whole months."""
    procedure_code: str
    procedure_name: str
    procedure_version: int = 0
    departments: list[str]
    brands: dict[str, str] = Field(default_factory=dict)
    """The service brand (品牌) of each of its departments that has one, when measured."""
    state: str
    channel: str | None = None
    accepted: bool
    deemed_accepted: bool
    decided: bool
    """A decision was reached on the committed limit's clock."""
    days_used: float | None = None
    days_committed: int | None = None
    delivered: bool
    overdue: bool
    warned: bool
    escalated: bool
    returns: int
    trips: int
    rating: int | None = None
    rating_excluded: bool = False
    ratings: list[RatingMeasure] = Field(default_factory=list)
    parts: list[PartMeasure] = Field(default_factory=list)
    tasks: list[TaskMeasure] = Field(default_factory=list)


def month_of(instant: dt.datetime) -> str:
    """The Asia/Shanghai month of an instant, ``YYYY-MM``."""
    return instant.astimezone(SHANGHAI).strftime("%Y-%m")


def _task(t: TaskFacts, calendars: Calendars) -> TaskMeasure:
    decided = t.decided_at is not None and t.clock is not None
    return TaskMeasure(
        department=t.department,
        stage_key=t.stage_key,
        item_code=t.item_code,
        decided=decided,
        overdue=t.overdue,
        days=t.days,
        days_used=clock_days(t.clock, calendars, t.decided_at) if decided and t.clock else None,
        waiting=waiting_time(t, calendars),
        working=working_time(t, calendars),
        suspended=suspended_time(t, calendars) if decided else None,
    )


def _part(p: FollowUpFacts) -> PartMeasure:
    return PartMeasure.model_validate(dataclasses.asdict(p))  # the facts it counts, by name


def measure(case: CaseFacts, calendars: Calendars, brands: Mapping[str, str]) -> Measure:
    """Everything the figures count of one case; ``brands`` names each department's brand."""
    decided = case.state in DECIDED and case.clock is not None
    return Measure(
        case_id=case.id,
        month=month_of(case.submitted_at),
        procedure_code=case.procedure_code,
        procedure_name=case.procedure_name,
        procedure_version=case.procedure_version,
        departments=list(case.departments),
        brands={
            code: brands[code]
            for code in sorted({*case.departments, *(t.department for t in case.tasks)})
            if code in brands
        },
        state=case.state,
        channel=case.channel,
        accepted=case.accepted_at is not None,
        deemed_accepted=case.deemed_accepted,
        decided=decided,
        days_used=clock_days(case.clock, calendars, case.decided_at)
        if decided and case.clock
        else None,
        days_committed=case.clock.days if decided and case.clock else None,
        delivered=case.delivered_at is not None,
        overdue=case.overdue,
        warned=case.warned,
        escalated=case.escalated,
        returns=case.returns,
        trips=case.trips,
        rating=case.rating,
        rating_excluded=case.rating_excluded,
        ratings=[
            RatingMeasure(
                on_site=r.on_site,
                score=r.score,
                defaulted=r.defaulted,
                excluded=r.excluded,
                dimensions=dict(r.dimensions),
            )
            for r in case.ratings
        ],
        parts=[_part(p) for p in case.followups],
        tasks=[_task(t, calendars) for t in case.tasks],
    )
