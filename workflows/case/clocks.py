"""The one clock model: every deadline of a case is a :class:`CaseClock`.

A clock knows its start, its limit in working days, the spans it did not run (each with the
suspension *source* that caused it), its due and warning instants (computed by the clock
activity, which owns the calendar), and the cards it raised: ``warned`` (黄牌) and ``overdue``
(红牌, or the escalation, deemed acceptance, termination … its kind stands for).

Suspension sources, and the clocks each one stops:

=====================  ==================================================================
``supplement``         a return for supplement (补正) during review: the case, every task,
                       step, urge and the 容缺 period — everything waits for the applicant
``intake_supplement``  a return at intake: the intake clock (restarted when the supplement
                       comes in, 第三十二条) and urges on the whole case
``step:<task>``        a 第四十五条 step of that task: the task and urges on it, the case and
                       its urges, and the 容缺 period (第四十五条 time counts for none of them);
                       never another department's task or urge
``owed``               容缺 materials still owed when every stage approved: delivery waits
                       for the applicant (results are not handed out before they arrive)
=====================  ==================================================================

Pure code: no Temporal, no calendar data; instants are passed in.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from definitions.models import WarningThreshold
from workflows.contracts import (
    Clock,
    ClockAnswer,
    ClockKind,
    ClockQuery,
    ClockRow,
    ClockState,
    Span,
    SuspensionSpan,
)

SUPPLEMENT = "supplement"
INTAKE_SUPPLEMENT = "intake_supplement"
OWED = "owed"
_STEP = "step:"
_INTAKE_TASK = "@intake"

WARNED_KINDS = frozenset(
    {ClockKind.intake, ClockKind.case, ClockKind.task, ClockKind.step, ClockKind.delivery}
)
"""Kinds that raise a 黄牌 before their due instant; the others only act when it passes."""


def step_source(task_key: str) -> str:
    """The suspension source of a 第四十五条 step running on that task."""
    return f"{_STEP}{task_key}"


class Change(BaseModel):
    """What applying a computed answer did to a clock."""

    first: bool
    """The clock had no due instant before."""
    before: dt.datetime | None
    moved: bool
    withdrawn: list[str]
    """Cards withdrawn because the instant they stood for moved into the future."""


class CaseClock(ClockState):
    """A clock of a case, with what the rules need beyond its projection."""

    warning: WarningThreshold | None = None
    stale: bool = True
    """The due instant must be (re)computed before timers can be armed."""
    recheck: bool = False
    """To be computed again (a new calendar revision), its known instants still armed."""
    limited: bool = True
    """False for a 第四十五条 step published without its days: timed, never late."""

    # ----------------------------------------------------------------- state

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def suspended(self) -> bool:
        return any(s.end is None for s in self.spans)

    @property
    def running(self) -> bool:
        return not self.ended and not self.suspended

    @property
    def status(self) -> Clock:
        if self.ended:
            return Clock.ended
        return Clock.suspended if self.suspended else Clock.running

    def affected_by(self, source: str) -> bool:
        """Whether that suspension source stops this clock (see the module's table)."""
        if source == SUPPLEMENT:
            return self.kind not in (ClockKind.intake, ClockKind.delivery, ClockKind.rating)
        if source == INTAKE_SUPPLEMENT:
            return self.kind is ClockKind.intake or (
                self.kind is ClockKind.urge and self.task_key in (None, _INTAKE_TASK)
            )
        if source == OWED:
            return self.kind is ClockKind.delivery
        if source.startswith(_STEP):
            task = source.removeprefix(_STEP)
            if self.kind in (ClockKind.case, ClockKind.tolerance):
                return True
            if self.kind in (ClockKind.task, ClockKind.urge):
                return self.task_key == task or (
                    self.kind is ClockKind.urge and self.task_key is None
                )
        return False

    # ----------------------------------------------------------------- transitions

    def suspend(self, source: str, now: dt.datetime) -> bool:
        """Stop for that source (no-op if it does not apply, or already applies)."""
        if self.ended or not self.affected_by(source):
            return False
        if any(s.end is None and s.reason == source for s in self.spans):
            return False
        self.spans.append(Span(start=now, reason=source))
        return True

    def resume(self, source: str, now: dt.datetime) -> bool:
        """End that source's span; True if the clock runs again (its due must be recomputed)."""
        touched = False
        for span in self.spans:
            if span.end is None and span.reason == source:
                span.end = now
                touched = True
        if touched and self.running:
            self.stale = True
            return True
        return False

    def end(self, now: dt.datetime) -> None:
        """The thing timed is done (or moot): no more timers, open spans closed."""
        if self.ended:
            return
        for span in self.spans:
            if span.end is None:
                span.end = now
        self.ended_at = now
        self.stale = False
        self.recheck = False

    def restart(self, now: dt.datetime) -> list[str]:
        """A new period from ``now`` (intake after a supplement); returns the cards withdrawn."""
        withdrawn = [
            card for card, up in (("warning", self.warned), ("overdue", self.overdue)) if up
        ]
        self.start = now
        self.spans = []
        self.warned = False
        self.overdue = False
        self.stale = True
        return withdrawn

    # ----------------------------------------------------------------- computation

    def query(self) -> ClockQuery:
        """What the clock activity must compute (only for a running clock)."""
        return ClockQuery(
            key=self.key,
            start=self.start,
            days=self.days,
            suspensions=[
                SuspensionSpan(start=s.start, end=s.end, reason=s.reason) for s in self.spans
            ],
            warning=self.warning,
            calendar=self.calendar,
        )

    def apply(self, answer: ClockAnswer, revision: int, now: dt.datetime) -> Change:
        """Take a computed due instant; withdraw cards whose instant moved into the future."""
        before = self.due_at
        self.due_at, self.due_date = answer.deadline_at, answer.deadline_date
        self.warning_at = answer.warning_at if self.warning is not None else None
        self.provisional = answer.provisional
        self.derivation = answer.derivation
        self.calendar_revision = max(self.calendar_revision, revision)
        self.stale = False
        self.recheck = False
        withdrawn: list[str] = []
        if self.warned and (self.warning_at is None or self.warning_at > now):
            self.warned = False
            withdrawn.append("warning")
        if self.overdue and self.due_at > now:
            self.overdue = False
            withdrawn.append("escalation" if self.kind is ClockKind.urge else "overdue")
        return Change(
            first=before is None,
            before=before,
            moved=before is not None and before != self.due_at,
            withdrawn=withdrawn,
        )

    def armed(self) -> list[tuple[dt.datetime, str]]:
        """The timers this clock wants: ``(instant, "warning" | "due")``."""
        if not self.running or self.stale or self.due_at is None or not self.limited:
            return []
        out: list[tuple[dt.datetime, str]] = []
        if self.warning_at is not None and not self.warned and not self.overdue:
            out.append((self.warning_at, "warning"))
        if not self.overdue:
            out.append((self.due_at, "due"))
        return out

    def row(self, case_id: str, derivation: bool = True) -> ClockRow:
        """The projection of this clock (copies: later changes do not reach it).

        ``derivation=False``: without it, for the store, which takes it from the deadline
        event of the same batch (it would otherwise travel twice in every write).
        """
        data = {name: getattr(self, name) for name in ClockState.model_fields}
        data["spans"] = [s.model_copy() for s in self.spans]
        data["derivation"] = dict(self.derivation) if self.derivation and derivation else None
        return ClockRow(id=f"{case_id}/{self.key}", case_id=case_id, status=self.status, **data)
