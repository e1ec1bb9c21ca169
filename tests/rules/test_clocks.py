"""The clock model on its own: which suspension stops which clock, spans, cards."""

from __future__ import annotations

import datetime as dt

import pytest

from definitions.models import WarningThreshold
from tests.rules.sim import sh
from workflows.case.clocks import INTAKE_SUPPLEMENT, SUPPLEMENT, CaseClock, step_source
from workflows.contracts import Clock, ClockAnswer, ClockKind


def clock(kind: ClockKind, task: str | None = None, warning: bool = True) -> CaseClock:
    return CaseClock(
        key=f"{kind.value}:{task}",
        kind=kind,
        task_key=task,
        calendar="national",
        start=sh("2025-11-03 09:00"),
        days=5,
        warning=WarningThreshold(days_before=1) if warning else None,
    )


def due(at: str, warning: str | None = None) -> ClockAnswer:
    instant = sh(at)
    return ClockAnswer(
        deadline_at=instant,
        deadline_date=(instant - dt.timedelta(seconds=1)).date(),
        warning_at=sh(warning) if warning else None,
    )


@pytest.mark.parametrize(
    ("kind", "task", "stopped_by"),
    [
        (ClockKind.case, None, {SUPPLEMENT, "step:gh", "step:zj"}),
        (ClockKind.tolerance, None, {SUPPLEMENT, "step:gh", "step:zj"}),
        (ClockKind.task, "gh", {SUPPLEMENT, "step:gh"}),
        (ClockKind.task, "zj", {SUPPLEMENT, "step:zj"}),
        # A supervisor's urge on a task waits for that task's own step only.
        (ClockKind.urge, "zj", {SUPPLEMENT, "step:zj"}),
        (ClockKind.urge, None, {SUPPLEMENT, INTAKE_SUPPLEMENT, "step:gh", "step:zj"}),
        (ClockKind.step, "gh", {SUPPLEMENT}),
        (ClockKind.intake, "@intake", {INTAKE_SUPPLEMENT}),
        (ClockKind.delivery, "@delivery", set()),
        (ClockKind.rating, None, set()),
    ],
)
def test_which_suspension_stops_which_clock(
    kind: ClockKind, task: str | None, stopped_by: set[str]
) -> None:
    sources = {SUPPLEMENT, INTAKE_SUPPLEMENT, step_source("gh"), step_source("zj")}
    assert {s for s in sources if clock(kind, task).affected_by(s)} == stopped_by


def test_a_clock_runs_again_only_when_every_source_let_go() -> None:
    c = clock(ClockKind.case)
    c.stale = False
    assert c.suspend("step:gh", sh("2025-11-04 10:00"))
    assert not c.suspend("step:gh", sh("2025-11-04 11:00"))  # already stopped by it
    assert c.suspend(SUPPLEMENT, sh("2025-11-05 10:00"))
    assert c.status is Clock.suspended
    assert not c.resume(SUPPLEMENT, sh("2025-11-06 10:00"))  # the step still holds it
    assert c.suspended
    assert not c.stale
    assert c.resume("step:gh", sh("2025-11-07 10:00"))
    assert c.running
    assert c.stale
    assert [(s.reason, s.end is not None) for s in c.spans] == [
        ("step:gh", True),
        (SUPPLEMENT, True),
    ]
    query = c.query()
    assert [s.reason for s in query.suspensions] == ["step:gh", SUPPLEMENT]


def test_cards_are_withdrawn_when_their_instant_moves_into_the_future() -> None:
    c = clock(ClockKind.task, "gh")
    now = sh("2025-11-10 12:00")
    first = c.apply(due("2025-11-11 00:00", "2025-11-10 00:00"), 0, now)
    assert (first.first, first.moved, first.withdrawn) == (True, False, [])
    assert c.armed() == [(sh("2025-11-10 00:00"), "warning"), (sh("2025-11-11 00:00"), "due")]
    c.warned = True
    c.overdue = True
    assert c.armed() == []
    moved = c.apply(due("2025-11-13 00:00", "2025-11-12 00:00"), 3, now)
    assert (moved.moved, moved.before, moved.withdrawn) == (
        True,
        sh("2025-11-11 00:00"),
        ["warning", "overdue"],
    )
    assert (c.warned, c.overdue, c.calendar_revision) == (False, False, 3)
    assert c.armed() == [(sh("2025-11-12 00:00"), "warning"), (sh("2025-11-13 00:00"), "due")]


def test_a_card_whose_instant_is_still_past_stands() -> None:
    c = clock(ClockKind.task, "gh")
    now = sh("2025-11-12 12:00")
    c.apply(due("2025-11-11 00:00", "2025-11-10 00:00"), 0, now)
    c.warned = c.overdue = True
    change = c.apply(due("2025-11-12 00:00", "2025-11-11 00:00"), 0, now)
    assert change.moved
    assert change.withdrawn == []
    assert c.warned
    assert c.overdue


def test_an_escalation_is_withdrawn_as_such() -> None:
    c = clock(ClockKind.urge, "gh", warning=False)
    c.apply(due("2025-11-11 00:00"), 0, sh("2025-11-11 01:00"))
    c.overdue = True
    change = c.apply(due("2025-11-14 00:00"), 1, sh("2025-11-11 01:00"))
    assert change.withdrawn == ["escalation"]


def test_ended_and_suspended_clocks_arm_nothing() -> None:
    c = clock(ClockKind.task, "gh")
    c.apply(due("2025-11-11 00:00", "2025-11-10 00:00"), 0, sh("2025-11-03 10:00"))
    assert len(c.armed()) == 2
    c.suspend(SUPPLEMENT, sh("2025-11-04 10:00"))
    assert c.armed() == []
    c.resume(SUPPLEMENT, sh("2025-11-05 10:00"))
    assert c.armed() == []  # stale until recomputed
    c.end(sh("2025-11-05 11:00"))
    assert (c.status, c.armed(), c.suspend(SUPPLEMENT, sh("2025-11-06 10:00"))) == (
        Clock.ended,
        [],
        False,
    )


def test_restarting_withdraws_the_cards() -> None:
    c = clock(ClockKind.intake, "@intake")
    c.warned = True
    assert c.restart(sh("2025-11-06 10:00")) == ["warning"]
    assert (c.start, c.warned, c.stale, c.spans) == (sh("2025-11-06 10:00"), False, True, [])
