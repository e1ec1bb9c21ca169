"""What the API answers about cases: its own models, declared field by field.

The workflow's state and the store's projections (``workflows.contracts``) change as the
engine grows; clients must not notice. Each answer here names the fields it publishes and is
read from a contract by attribute (:meth:`Public.of`), so a field added to a contract does
not appear in the API until it is declared here, and a contract field renamed or removed
fails the contract test (tests/api/test_public.py) rather than a client. Bookkeeping that
only the engine needs (``last_seq`` of projections, row ids, calendar revisions per clock)
is not published.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workflows.contracts import (
    CaseState,
    Clock,
    ClockKind,
    EventType,
    IncidentKind,
    Role,
    TaskKind,
    TaskState,
)


class Answer(BaseModel):
    """Every instant an answer carries is in UTC (``…Z``), whichever zone the engine or the
    store produced it in: clients compare them as they are."""

    @model_validator(mode="after")
    def _in_utc(self) -> Self:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if (
                isinstance(value, dt.datetime)
                and value.tzinfo is not None
                and value.tzinfo is not dt.UTC
            ):
                object.__setattr__(self, name, value.astimezone(dt.UTC))
        return self


class Public(Answer):
    """An API answer read from an engine contract by attribute."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, source: Any, **extra: Any) -> Self:
        """This answer from ``source`` (a contract object), with ``extra`` fields that the
        source does not hold (derivations, context)."""
        data = {name: getattr(source, name) for name in cls.model_fields if hasattr(source, name)}
        data.update(extra)
        return cls.model_validate(data)


class CasePublic(Public):
    """A case: where it stands, its deadlines and flags."""

    id: str
    """The case number (办件编号)."""
    procedure_code: str
    procedure_version: int
    procedure_name: str
    content_hash: str
    """The exact procedure definition the case follows (its content hash)."""
    applicant_id: str
    state: CaseState
    stage_key: str | None = None
    departments: list[str] = Field(default_factory=list)
    form: dict[str, Any] = Field(default_factory=dict)
    submitted_at: dt.datetime
    accepted_at: dt.datetime | None = None
    deemed_accepted: bool = False
    """Accepted because the desk did not decide in time (视为受理)."""
    intake_due_at: dt.datetime | None = None
    clock: Clock = Clock.running
    suspended_since: dt.datetime | None = None
    missing: list[str] = Field(default_factory=list)
    """What the applicant was asked to supplement (or 容缺 materials still owed)."""
    tolerance_due_at: dt.datetime | None = None
    deadline_at: dt.datetime | None = None
    deadline_date: dt.date | None = None
    warning_at: dt.datetime | None = None
    provisional: bool = False
    """A deadline used the calendar's fallback (a year with no official arrangement)."""
    warned: bool = False
    overdue: bool = False
    urge_due_at: dt.datetime | None = None
    escalated: bool = False
    returns: int = 0
    trips: int = 0
    promised_trips: int = 0
    decided_at: dt.datetime | None = None
    delivery_due_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    rating: int | None = None
    rating_comment: str | None = None
    closed_at: dt.datetime | None = None
    incidents: int = 0
    """Incidents not yet resolved: the case needs a supervisor's attention."""


class TaskPublic(Public):
    """A department's task of a case (or the desk's intake or delivery)."""

    id: str
    """``<case id>/<task key>``."""
    case_id: str
    task_key: str
    stage_key: str
    item_code: str
    item_name: str
    department: str
    kind: TaskKind = TaskKind.review
    state: TaskState
    assignee: str | None = None
    days: int
    """The task's share of the time limit, in working days."""
    created_at: dt.datetime
    opened_at: dt.datetime | None = None
    claimed_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None
    reason: str | None = None
    clock: Clock = Clock.running
    deadline_at: dt.datetime | None = None
    deadline_date: dt.date | None = None
    warning_at: dt.datetime | None = None
    warned: bool = False
    overdue: bool = False
    urge_due_at: dt.datetime | None = None
    escalated: bool = False
    provisional: bool = False
    """The deadline used the calendar's fallback (a year with no official arrangement)."""
    step: str | None = None
    """The 第四十五条 step running now, if any (the task's clock waits meanwhile)."""


class SpanPublic(Public):
    """A period a clock did not run, and why (``supplement``, ``step:<task>`` …)."""

    start: dt.datetime
    end: dt.datetime | None = None
    reason: str | None = None


class ClockPublic(Public):
    """One deadline of a case with the working-day arithmetic behind it."""

    key: str
    """``intake``, ``case``, ``task:<task>``, ``step:<task>:<step>``, ``urge:<n>`` …"""
    kind: ClockKind
    task_key: str | None = None
    label: str | None = None
    calendar: str = "national"
    status: Clock = Clock.running
    start: dt.datetime
    days: int
    """The limit in working days (0: 即办)."""
    spans: list[SpanPublic] = Field(default_factory=list)
    due_at: dt.datetime | None = None
    due_date: dt.date | None = None
    warning_at: dt.datetime | None = None
    warned: bool = False
    overdue: bool = False
    provisional: bool = False
    derivation: dict[str, Any] | None = None
    """How the due instant follows from the calendar: start, days, weekends and holidays
    skipped, make-up days counted, suspensions excluded, the calendar's source."""
    ended_at: dt.datetime | None = None


class EventPublic(Public):
    """One entry of a case's history (the supervision feed)."""

    case_id: str
    seq: int
    """The event's number within its case, from 1."""
    type: EventType
    at: dt.datetime
    actor_id: str
    actor_role: Role
    department: str | None = None
    task_key: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class FeedEvent(EventPublic):
    """An event of the global feed, with its position in it."""

    id: int
    """Give the last one seen as ``after`` to continue."""


class IncidentPublic(Public):
    """An error retrying cannot fix; the case stays workable while a supervisor looks."""

    case_id: str
    number: int
    kind: IncidentKind
    message: str
    opened_at: dt.datetime
    resolved_at: dt.datetime | None = None
    resolution: str | None = None
    resolved_by: str | None = None


class MovedPublic(Public):
    """A deadline that a recalculation moved (a newly published calendar year)."""

    case_id: str
    clock: str
    kind: ClockKind
    task_key: str | None = None
    before: dt.datetime | None = None
    after: dt.datetime
    provisional: bool = False


class ActionAnswer(Public):
    """What an action answers once its events are in the store."""

    case_id: str
    state: CaseState
    last_seq: int
    """The number of the case's latest event: the timeline holds the action from here."""
    task: TaskPublic | None = None
    """The task acted on, as it stands now."""
    moved: list[MovedPublic] = Field(default_factory=list)
    """For a recalculation: the deadlines it moved."""


class NotificationPublic(Public):
    """A message to the applicant, as they read it."""

    id: str
    case_id: str
    kind: str
    """``accepted``, ``returned``, ``refused``, ``approved``, ``rejected``, ``delivered`` …"""
    title_zh: str
    title_en: str
    text: str
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: dt.datetime
    sent_at: dt.datetime | None = None
    """When the gateway took it; null while it is on its way."""


class NotificationStatus(NotificationPublic):
    """A message with its delivery, as staff read it (to tell an applicant it did not go)."""

    state: str
    """``pending``, ``sent`` or ``failed`` (after the last retry)."""
    attempts: int
    last_error: str | None = None


# --------------------------------------------------------------------------- follow-ups


PART_WORDS: dict[str, tuple[str, str]] = {
    "callback": ("待回访核实", "to be called back and verified"),
    "appealed": ("申诉待复核", "appeal awaiting a supervisor"),
    "rectifying": ("整改中", "being rectified"),
    "revisit": ("待回访满意度", "to ask the applicant about the rectification"),
    "explained": ("已解释说明", "explained to the applicant"),
    "rectified": ("已整改", "rectified"),
    "excluded": ("申诉成立，不计入统计", "appeal granted: left out of the figures"),
}


class FollowUpPartPublic(Public):
    """One department's part of a bad rating's follow-up."""

    department: str
    name: str
    state: str
    state_label: str = ""
    verdict: str | None = None
    explanation: str | None = None
    appeal_granted: bool | None = None
    rectification_due_at: dt.datetime | None = None
    rectified_at: dt.datetime | None = None
    rectified_on_time: bool | None = None
    measures: str | None = None
    satisfaction: int | None = None
    revisited_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    """The deadline of the step under way."""
    ended_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _words(self) -> Self:
        zh, en = PART_WORDS.get(self.state, (self.state, self.state))
        object.__setattr__(self, "state_label", f"{zh} / {en}")
        return self


class FollowUpPartStaff(FollowUpPartPublic):
    """What staff also see: who verified and decided, what the call-back found, the cards."""

    verified_by: str | None = None
    verified_at: dt.datetime | None = None
    finding: str | None = None
    appeal_reason: str | None = None
    appeal_decided_by: str | None = None
    appeal_decided_at: dt.datetime | None = None
    warned: bool = False
    overdue: bool = False
    escalated: bool = False


class FollowUpPublic(Public):
    """A bad rating's follow-up (差评回访核实与整改), as its applicant sees it."""

    audience: str = "applicant"
    id: str
    case_id: str
    rating_seq: int
    source: str
    """``case`` (一事一评) or ``visit`` (一次一评)."""
    score: int
    comment: str | None = None
    rated_at: dt.datetime
    procedure_code: str
    procedure_name: str
    state: str
    excluded: bool = False
    """An appeal was granted: the rating counts in no figure (it is kept)."""
    opened_at: dt.datetime | None = None
    concluded_at: dt.datetime | None = None
    summary: str | None = None
    """The published result (公开)."""
    parts: list[FollowUpPartPublic] = Field(default_factory=list)
    path: str = ""
    """Where to act on it: ``/followups/<case id>/<rating seq>``."""

    @classmethod
    def of_row(cls, row: Any) -> Self:
        part = FollowUpPartStaff if cls is FollowUpStaff else FollowUpPartPublic
        return cls.of(
            row,
            parts=[part.of(p) for p in row.parts],
            path=f"/followups/{row.case_id}/{row.rating_seq}",
        )


class FollowUpStaff(FollowUpPublic):
    """A follow-up as staff see it."""

    audience: str = "staff"
    applicant_id: str
    problem: str | None = None
    """What keeps it from running as it should (a deadline that cannot be computed now)."""
    parts: list[FollowUpPartStaff] = Field(default_factory=list)  # type: ignore[assignment]
