"""Data exchanged between the case workflow, its activities, the store and the API.

One pydantic model per workflow input, update, query result and activity input, serialised by
Temporal's pydantic data converter. Instants are timezone-aware UTC (``workflow.now()``);
dates are Asia/Shanghai calendar dates; limits are in working days.

This module is imported by workflow code, so it imports nothing but pydantic and definitions.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from definitions.models import WarningThreshold
from definitions.versioning import ProcedureSnapshot

TASK_QUEUE = "onetrip-cases"
WORKFLOW_NAME = "CaseWorkflow"
RECORD_ACTIVITY = "record_case_events"
CLOCK_ACTIVITY = "compute_deadlines"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- vocabulary


class Role(StrEnum):
    applicant = "applicant"
    caseworker = "caseworker"
    supervisor = "supervisor"
    admin = "admin"
    system = "system"


class CaseState(StrEnum):
    """Where a case is. Suspension (补正, expert review) is the separate ``clock`` field."""

    intake = "intake"
    """Submitted; the front desk has not yet accepted (一窗受理)."""
    in_progress = "in_progress"
    """Accepted; stages running."""
    delivering = "delivering"
    """Approved by every stage; results to be handed out at once (送达)."""
    rating = "rating"
    """Delivered; waiting for the applicant's rating (好差评)."""
    completed = "completed"
    rejected = "rejected"
    refused = "refused"
    """不予受理 at intake."""
    withdrawn = "withdrawn"
    terminated = "terminated"
    """容缺 materials not supplied by the promised date."""


TERMINAL_STATES = frozenset(
    {
        CaseState.completed,
        CaseState.rejected,
        CaseState.refused,
        CaseState.withdrawn,
        CaseState.terminated,
    }
)


class TaskState(StrEnum):
    pending = "pending"
    """Created in a 依次 stage, waiting for the tasks before it."""
    open = "open"
    """In the department's inbox, unclaimed."""
    claimed = "claimed"
    approved = "approved"
    rejected = "rejected"
    cancelled = "cancelled"
    """Not needed any more (或签 decided by another, case ended)."""


OPEN_TASK_STATES = frozenset({TaskState.open, TaskState.claimed})
DECIDED_TASK_STATES = frozenset({TaskState.approved, TaskState.rejected})


class Clock(StrEnum):
    running = "running"
    suspended = "suspended"


class EventType(StrEnum):
    """Every state change of a case; the supervision feed is made of these."""

    case_submitted = "case.submitted"
    case_accepted = "case.accepted"
    case_deemed_accepted = "case.deemed_accepted"
    case_refused = "case.refused"
    case_returned = "case.returned_for_supplement"
    case_supplemented = "case.supplemented"
    case_clock_suspended = "case.clock_suspended"
    case_clock_resumed = "case.clock_resumed"
    case_tolerance_expired = "case.tolerance_expired"
    case_terminated = "case.terminated"
    case_approved = "case.approved"
    case_rejected = "case.rejected"
    case_delivered = "case.delivered"
    case_rated = "case.rated"
    case_completed = "case.completed"
    case_withdrawn = "case.withdrawn"
    case_urged = "case.urged"
    stage_started = "stage.started"
    stage_completed = "stage.completed"
    task_created = "task.created"
    task_opened = "task.opened"
    task_claimed = "task.claimed"
    task_reassigned = "task.reassigned"
    task_approved = "task.approved"
    task_rejected = "task.rejected"
    task_cancelled = "task.cancelled"
    task_step_started = "task.step_started"
    task_step_finished = "task.step_finished"
    deadline_set = "deadline.set"
    deadline_warning = "deadline.warning"
    deadline_overdue = "deadline.overdue"
    deadline_escalated = "deadline.escalated"
    trip_recorded = "trip.recorded"
    finding = "supervision.finding"


class Finding(StrEnum):
    """Supervision findings (电子监察) recorded as ``supervision.finding`` events."""

    repeated_return = "repeated_return"
    """More than one return for supplement: 一次性告知 was not respected."""
    trips_exceeded = "trips_exceeded"
    """More on-site trips than the procedure promises."""
    deemed_acceptance = "deemed_acceptance"
    """Nobody decided intake within the limit (行政许可法 第三十二条)."""


# --------------------------------------------------------------------------- workflow input


class Actor(_Model):
    """Who acts. The API authenticates; the workflow checks role and department."""

    id: str = Field(min_length=1, max_length=100)
    role: Role
    department: str | None = None
    """The caseworker's department code; None for applicants and supervisors."""
    name: str | None = None


SYSTEM = Actor(id="system", role=Role.system)


class Channel(StrEnum):
    online = "online"
    window = "window"
    mail = "mail"


class CaseInput(_Model):
    """Everything a case needs, frozen at submission: the procedure snapshot included."""

    case_id: str = Field(min_length=1, max_length=64)
    snapshot: ProcedureSnapshot
    applicant: Actor
    form: dict[str, Any] = Field(default_factory=dict)
    materials: list[str] = Field(default_factory=list)
    """Material keys handed in with the application."""
    channel: Channel = Channel.online
    """A window submission is an on-site trip."""
    submitted_at: dt.datetime | None = None
    """When the materials arrived; defaults to the workflow's start."""
    calendar: str = "national"
    rating_window_days: int = Field(10, ge=1, le=60)
    """Working days the applicant has to rate after delivery; then the case completes."""
    search_attributes: bool = True
    """Upsert the OneTrip search attributes (they must be registered on the namespace)."""


# --------------------------------------------------------------------------- updates


class _Action(_Model):
    actor: Actor
    request_id: str | None = None
    """The client's idempotency key; also the update id."""


class AcceptInput(_Action):
    """Accept at intake (受理), optionally 容缺: some non-key materials to follow."""

    tolerated: list[str] = Field(default_factory=list)
    """Keys of materials accepted as missing (容缺)."""
    tolerance_days: int | None = Field(None, ge=1, le=60)
    """Working days from acceptance to supply them; at most the committed limit."""


class ReturnInput(_Action):
    """Return for supplement (补正) with the complete list of what is missing (一次性告知)."""

    task_key: str | None = None
    """None at intake; a task key when a reviewing department returns it."""
    missing: list[str] = Field(min_length=1)
    """Material keys (or short descriptions) still needed, all of them at once."""
    reason: str = Field(min_length=1, max_length=2000)


class RefuseInput(_Action):
    """不予受理 at intake, with the reason the applicant is told."""

    reason: str = Field(min_length=1, max_length=2000)


class SupplementInput(_Action):
    """The applicant hands in what was asked for (or the 容缺 materials)."""

    materials: list[str] = Field(min_length=1)
    on_site: bool = False
    """Handed in at a window: an on-site trip."""


class TaskInput(_Action):
    task_key: str


class DecideInput(_Action):
    task_key: str
    approve: bool
    reason: str | None = Field(None, max_length=2000)
    """Required for a rejection: a refusal without reasons is a supervision finding."""


class ReassignInput(_Action):
    task_key: str
    assignee: str = Field(min_length=1, max_length=100)
    """A caseworker of the task's department (the API checks the user exists)."""


class StepInput(_Action):
    """Start or finish a step that does not count toward the limit (expert review …)."""

    task_key: str
    step_key: str


class UrgeInput(_Action):
    """督办: a supervisor asks for a task (or the whole case) to finish within a period."""

    task_key: str | None = None
    days: int = Field(ge=1, le=30)
    """Working days granted; missing them raises an escalation event."""
    note: str | None = Field(None, max_length=2000)


class WithdrawInput(_Action):
    reason: str | None = Field(None, max_length=2000)


class DeliverInput(_Action):
    """All results handed out at once; a window pickup is an on-site trip."""

    method: Literal["window", "post", "electronic"] | None = None
    """Defaults to the procedure's delivery method."""


class RateInput(_Action):
    """好差评: 5 非常满意 … 1 非常不满意."""

    score: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=2000)


# --------------------------------------------------------------------------- projections


class Event(_Model):
    """One entry of the append-only supervision feed; (case_id, seq) is unique."""

    case_id: str
    seq: int = Field(ge=1)
    type: EventType
    at: dt.datetime
    actor_id: str
    actor_role: Role
    department: str | None = None
    task_key: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class TaskRow(_Model):
    """A task as the inbox shows it (the ``tasks`` projection)."""

    id: str
    """``<case id>/<task key>``."""
    case_id: str
    task_key: str
    stage_key: str
    item_code: str
    item_name: str
    department: str
    state: TaskState
    assignee: str | None = None
    days: int
    """The task's share in working days."""
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
    last_seq: int = 0
    """Sequence of the last event that changed this row (older writes never overwrite)."""


class CaseRow(_Model):
    """A case as supervisors and applicants see it (the ``cases`` projection)."""

    id: str
    procedure_code: str
    procedure_version: int
    content_hash: str
    procedure_name: str
    applicant_id: str
    state: CaseState
    stage_key: str | None = None
    departments: list[str] = Field(default_factory=list)
    form: dict[str, Any] = Field(default_factory=dict)
    submitted_at: dt.datetime
    accepted_at: dt.datetime | None = None
    deemed_accepted: bool = False
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
    last_seq: int = 0


class RecordInput(_Model):
    """Events to append and the projections they lead to, written in one transaction."""

    events: list[Event] = Field(min_length=1)
    case: CaseRow
    tasks: list[TaskRow] = Field(default_factory=list)
    """Only the tasks these events changed."""


class RecordResult(_Model):
    inserted: int
    """Events newly written; 0 when a retry found them all present already."""


# --------------------------------------------------------------------------- the clock


class SuspensionSpan(_Model):
    start: dt.datetime
    end: dt.datetime | None = None


class ClockQuery(_Model):
    start: dt.datetime
    days: int = Field(ge=0)
    """The limit in working days (0: 即办)."""
    suspensions: list[SuspensionSpan] = Field(default_factory=list)
    warning: WarningThreshold | None = None
    calendar: str | None = None
    """The department's calendar; None: the request's."""


class ClockRequest(_Model):
    calendar: str = "national"
    queries: list[ClockQuery]


class ClockAnswer(_Model):
    deadline_at: dt.datetime
    deadline_date: dt.date
    warning_at: dt.datetime | None = None
    provisional: bool = False


class ClockResult(_Model):
    answers: list[ClockAnswer]


# --------------------------------------------------------------------------- results


class ActionResult(_Model):
    """What an update answers: the case's state once its events are in the store."""

    case_id: str
    state: CaseState
    last_seq: int
    task: TaskRow | None = None


class CaseView(_Model):
    """The query result: the case, all its tasks and the event count (for debugging too)."""

    case: CaseRow
    tasks: list[TaskRow]
    events: int
    urges: list[dict[str, Any]] = Field(default_factory=list)
