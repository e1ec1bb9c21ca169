"""Time in a case: computing deadlines, firing timers, and showing both on the rows.

The rules leave clocks *stale*; :func:`clock_request` asks the clock activity for them and
:func:`apply_answers` takes its answers (events for new and moved deadlines and withdrawn
cards). :func:`fire_due` carries out what a due instant means for its kind of clock (a card,
deemed acceptance, an escalation, termination, the end of the rating window), and
:func:`project` copies what the clocks know onto the case and task rows. Pure code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from workflows.case.clocks import INTAKE_SUPPLEMENT, SUPPLEMENT, CaseClock
from workflows.case.incidents import open_incident, resolve_kind
from workflows.case.rules import accept_application, close, rating_window_ended
from workflows.case.spec import Spec
from workflows.case.state import CaseData
from workflows.contracts import (
    SYSTEM,
    TERMINAL_STATES,
    CaseState,
    Clock,
    ClockKind,
    ClockRequest,
    ClockResult,
    EventType,
    Finding,
    IncidentKind,
    MovedDeadline,
    RecalculateInput,
)

CLOCK_RETRY_FIRST = dt.timedelta(minutes=1)
CLOCK_RETRY_MAX = dt.timedelta(days=1)
"""A failed clock computation is tried again after 1 minute, doubling up to once a day."""


def stale_clocks(s: CaseData) -> list[CaseClock]:
    """Running clocks whose due instant must be computed (new, resumed, new calendar)."""
    return [c for c in s.clocks.values() if (c.stale or c.recheck) and c.running and c.limited]


def nothing_to_compute(s: CaseData, now: dt.datetime) -> None:
    """No clock waits for a computation any more (those that failed have ended)."""
    if s.clock_retry_at is not None or s.clock_failures:
        s.clock_retry_at = None
        s.clock_failures = 0
        resolve_kind(
            s, IncidentKind.clock_failed, "无待计算的期限 / no deadline left to compute", now
        )


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
            clock.recheck = True  # its known instants stay armed until the new ones are in


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
    if what == "warning":
        clock.warned = True
        _card(s, spec, clock, EventType.deadline_warning, now)
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
        accept_application(s, spec, SYSTEM, now, clock.start, [], None, deemed=True)
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
        rating_window_ended(s, spec, now)
    elif clock.kind is ClockKind.urge:
        urged = next(u for u in s.urges if u.clock == key)
        scope = "task" if urged.task_key else "case"
        _card(s, spec, clock, EventType.deadline_escalated, now, scope, urged_by=urged.by)
    else:
        _card(s, spec, clock, EventType.deadline_overdue, now)
    return True


def _card(
    s: CaseData,
    spec: Spec,
    clock: CaseClock,
    kind: EventType,
    now: dt.datetime,
    scope: str | None = None,
    **extra: Any,
) -> None:
    """A 黄牌, 红牌 or escalation of a clock, with the instant it stood for."""
    s.emit(
        kind,
        SYSTEM,
        now,
        **_where(s, spec, clock),
        clock=clock.key,
        scope=scope or clock.kind.value,
        deadline_at=_iso(clock.due_at),
        provisional=clock.provisional,
        **extra,
    )


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
        own = clocks.get(task.clock_key)
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
