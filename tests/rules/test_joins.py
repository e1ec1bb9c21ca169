"""Join policies, each on its own: what a stage does next given its tasks' states."""

from __future__ import annotations

import pytest

from definitions.models import JoinPolicy
from workflows.case.joins import Next, decide, first_to_open
from workflows.contracts import TaskState

A, R, OPEN, C, P = (
    TaskState.approved,
    TaskState.rejected,
    TaskState.open,
    TaskState.claimed,
    TaskState.pending,
)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([A, A, A], Next.complete),
        ([A, OPEN, C], Next.wait),
        ([A, R, OPEN], Next.reject),  # one rejection rejects at once: the others are moot
        ([R], Next.reject),
    ],
)
def test_all_every_task_must_approve(states: list[TaskState], expected: Next) -> None:
    assert decide(JoinPolicy.all, states).next is expected


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([A, OPEN], Next.complete),  # the first approval decides the stage
        ([R, OPEN], Next.wait),  # one refusal is not the stage's: another may still approve
        ([R, C], Next.wait),
        ([R, R], Next.reject),
        ([R, A], Next.complete),
    ],
)
def test_any_first_approval_decides(states: list[TaskState], expected: Next) -> None:
    assert decide(JoinPolicy.any, states).next is expected


def test_sequential_opens_the_next_pending_task_in_order() -> None:
    assert decide(JoinPolicy.sequential, [A, P, P]).next is Next.open
    assert decide(JoinPolicy.sequential, [A, P, P]).index == 1
    assert decide(JoinPolicy.sequential, [A, A, P]).index == 2
    assert decide(JoinPolicy.sequential, [A, C, P]).next is Next.wait
    assert decide(JoinPolicy.sequential, [A, R, P]).next is Next.reject
    assert decide(JoinPolicy.sequential, [A, A, A]).next is Next.complete


def test_which_tasks_open_when_a_stage_starts() -> None:
    assert first_to_open(JoinPolicy.all, 3) == [0, 1, 2]
    assert first_to_open(JoinPolicy.any, 2) == [0, 1]
    assert first_to_open(JoinPolicy.sequential, 3) == [0]
    assert first_to_open(JoinPolicy.sequential, 0) == []
