"""Everything a case holds, in one serialisable object, and its event log.

The workflow class keeps one :class:`CaseData`; the rules change it and append events; the
writer sends pending events with the rows they changed to the store. Dicts keep insertion
order, so iterating over tasks, clocks or incidents is deterministic.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from workflows.case.clocks import CaseClock
from workflows.contracts import (
    Actor,
    CaseRow,
    ClockKind,
    Event,
    EventType,
    IncidentRow,
    TaskRow,
)


class Urge(BaseModel):
    """A supervisor's urge (督办); its period is the clock ``urge:<number>``."""

    number: int
    task_key: str | None
    by: str
    days: int
    note: str | None = None
    at: dt.datetime

    @property
    def clock(self) -> str:
        return f"urge:{self.number}"


class CaseData(BaseModel):
    """The whole state of a case: projections, clocks, incidents and pending events."""

    model_config = ConfigDict(extra="ignore")

    case: CaseRow
    tasks: dict[str, TaskRow] = {}
    clocks: dict[str, CaseClock] = {}
    incidents: list[IncidentRow] = []
    urges: list[Urge] = []
    stage_tasks: list[str] = []
    """Task keys of the current stage, in the order the stage lists them."""
    return_scope: str | None = None
    """Who returned the case for supplement: the intake marker, or a task key."""
    owed: list[str] = []
    """容缺 materials still to be supplied."""
    handed: list[str] = []
    """Materials handed in so far (with the application and every supplement since)."""
    tolerance_days: int | None = None
    active: dict[str, dt.datetime] = {}
    """Suspension sources in force, and since when (see workflows.case.clocks)."""
    finished_steps: dict[str, list[str]] = {}
    """Steps each task has finished (a finished step does not start again unless allowed)."""
    trips_finding: bool = False
    calendar_revision: int = 0
    clock_retry_at: dt.datetime | None = None
    """When to try again a clock computation that failed."""
    clock_failures: int = 0
    seq: int = 0
    pending: list[Event] = []

    def emit(
        self,
        type: EventType,
        actor: Actor,
        now: dt.datetime,
        *,
        task: TaskRow | None = None,
        department: str | None = None,
        **payload: Any,
    ) -> Event:
        """Append an event with the next sequence number."""
        self.seq += 1
        event = Event(
            case_id=self.case.id,
            seq=self.seq,
            type=type,
            at=now,
            actor_id=actor.id,
            actor_role=actor.role,
            department=department or (task.department if task else actor.department),
            task_key=task.task_key if task else None,
            payload=payload,
        )
        self.pending.append(event)
        return event

    def take_pending(self) -> list[Event]:
        events, self.pending = self.pending, []
        return events

    def clock(self, key: str) -> CaseClock | None:
        return self.clocks.get(key)

    def open_incidents(self) -> list[IncidentRow]:
        return [i for i in self.incidents if i.resolved_at is None]

    def active_step(self, task_key: str) -> CaseClock | None:
        """The step clock running (or suspended) on that task, if a step is under way."""
        for clock in self.clocks.values():
            if clock.task_key == task_key and clock.kind is ClockKind.step and not clock.ended:
                return clock
        return None
