"""Join policies: how a stage's tasks decide the stage, each one a small piece of logic.

A policy looks only at the states of the stage's tasks, in the order the stage lists them,
and says what happens next. Pure code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from definitions.models import JoinPolicy
from workflows.contracts import OPEN_TASK_STATES, TaskState


class Next(StrEnum):
    wait = "wait"
    """Nothing to do until another decision."""
    complete = "complete"
    """The stage is approved: cancel what is still open, take the transition."""
    reject = "reject"
    """The stage (and so the case) is rejected."""
    open = "open"
    """依次: open the task at ``index``."""


@dataclass(frozen=True)
class Outcome:
    next: Next
    index: int | None = None


def all_join(states: Sequence[TaskState]) -> Outcome:
    """会签: every task must approve; one rejection rejects the stage."""
    if TaskState.rejected in states:
        return Outcome(Next.reject)
    if all(s is TaskState.approved for s in states):
        return Outcome(Next.complete)
    return Outcome(Next.wait)


def any_join(states: Sequence[TaskState]) -> Outcome:
    """或签: the first approval decides the stage; it is rejected only if every task rejects."""
    if TaskState.approved in states:
        return Outcome(Next.complete)
    if all(s is TaskState.rejected for s in states):
        return Outcome(Next.reject)
    return Outcome(Next.wait)


def sequential_join(states: Sequence[TaskState]) -> Outcome:
    """依次: one task after the other, in the listed order; one rejection rejects the stage."""
    if TaskState.rejected in states:
        return Outcome(Next.reject)
    if all(s is TaskState.approved for s in states):
        return Outcome(Next.complete)
    if any(s in OPEN_TASK_STATES for s in states):
        return Outcome(Next.wait)
    pending = [i for i, s in enumerate(states) if s is TaskState.pending]
    return Outcome(Next.open, pending[0]) if pending else Outcome(Next.wait)


POLICIES = {
    JoinPolicy.all: all_join,
    JoinPolicy.any: any_join,
    JoinPolicy.sequential: sequential_join,
}


def decide(policy: JoinPolicy, states: Sequence[TaskState]) -> Outcome:
    """What the stage does next under its policy."""
    return POLICIES[policy](states)


def first_to_open(policy: JoinPolicy, count: int) -> list[int]:
    """Indexes of the tasks opened when the stage starts: all, or the first for 依次."""
    if policy is JoinPolicy.sequential:
        return [0] if count else []
    return list(range(count))
