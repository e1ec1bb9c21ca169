"""A case run by its pure rules alone: no Temporal server, the real working-day calendar.

It does what CaseWorkflowV2 does around the rules (guard, rule, compute the stale clocks,
fire timers in order), with time moved by hand. Tests of the rules read it like a case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from activities.clock import Calendars
from definitions.calendar import SHANGHAI
from definitions.models import Procedure
from definitions.versioning import snapshot
from services.history import OfflineCase
from tests.fixtures_temporal import catalog
from workflows.case import guards
from workflows.case.clocks import CaseClock
from workflows.case.spec import Spec
from workflows.case.state import CaseData
from workflows.contracts import (
    Actor,
    CaseInput,
    Event,
    EventType,
    MovedDeadline,
    Role,
    TaskRow,
)


def sh(text: str) -> dt.datetime:
    """An instant written in Asia/Shanghai time."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def caseworker(department: str, name: str = "1") -> Actor:
    return Actor(id=f"{department.lower()}-{name}", role=Role.caseworker, department=department)


APPLICANT = Actor(id="applicant-1", role=Role.applicant, name="张三")
DESK = caseworker("YZ-ZWFW")
SUPERVISOR = Actor(id="supervisor-1", role=Role.supervisor)

Guard = Callable[[CaseData, Spec, Any], None]
Rule = Callable[[CaseData, Spec, Any, dt.datetime], None]


class Sim(OfflineCase):
    """One case, its clock, and every event it emitted."""

    def __init__(
        self,
        code: str = "YZ-YJS-KBQY",
        *,
        at: dt.datetime,
        form: dict[str, Any] | None = None,
        calendars: Calendars | None = None,
        submitted_at: dt.datetime | None = None,
        procedure: Procedure | None = None,
        materials: list[str] | None = None,
    ) -> None:
        cat = catalog()
        proc = procedure or cat.procedure(code)
        assert proc is not None
        snap = snapshot(cat, proc)
        form = form if form is not None else {"company_name": "云州示范科技有限公司"}
        data = CaseInput(
            case_id="SIM-1",
            snapshot=snap,
            applicant=APPLICANT,
            form=form,
            # Everything the form needs, unless a test says what was handed in.
            materials=snap.required_keys(form) if materials is None else materials,
        )
        super().__init__(data, calendars or Calendars(), at, submitted_at)

    # ----------------------------------------------------------------- driving

    def act(
        self, guard: Guard, rule: Rule, data: Any, reason: str = "resumed"
    ) -> list[MovedDeadline]:
        """Guard, rule, deadlines: as an update handler does."""
        guard(self.s, self.spec, data)
        rule(self.s, self.spec, data, self.now)
        return self.settle(reason)

    def refused(self, guard: Guard, data: Any) -> guards.Refusal:
        try:
            guard(self.s, self.spec, data)
        except guards.Refusal as refusal:
            return refusal
        raise AssertionError("not refused")

    # ----------------------------------------------------------------- reading

    def of(self, kind: EventType) -> list[Event]:
        return [e for e in self.events if e.type is kind]

    def types(self) -> list[EventType]:
        return [e.type for e in self.events]

    def task(self, key: str) -> TaskRow:
        return self.s.tasks[key]

    def clock(self, key: str) -> CaseClock:
        clock = self.s.clocks.get(key)
        assert clock is not None, f"no clock {key}; clocks: {list(self.s.clocks)}"
        return clock
