"""Data exchanged between the case workflow, its activities, the store and the API.

One pydantic model per workflow input, update, query result and activity input, serialised by
Temporal's pydantic data converter. Instants are timezone-aware UTC (``workflow.now()``);
dates are Asia/Shanghai calendar dates; limits are in working days.

Every model here ends up in workflow histories, and running cases outlive the code that
started them: unknown fields are ignored (a newer API talking to an older worker, or a history
recorded by a newer version), never refused. Strictness belongs at the edges (API bodies and
YAML), where a person can be told what was wrong.

This module is imported by workflow code, so it imports nothing but pydantic and definitions.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from definitions.models import WarningThreshold
from definitions.versioning import ProcedureSnapshot, prune_unknown

TASK_QUEUE = "onetrip-cases"
WORKFLOW_NAME = "CaseWorkflowV2"
"""The case workflow type (workflows.case): one clock model, incidents instead of freezes."""
LEGACY_WORKFLOW_NAME = "CaseWorkflow"
"""The first edition (workflows.case_v1), registered until the cases it started have ended."""
RECORD_ACTIVITY = "record_case_events"
CLOCK_ACTIVITY = "compute_deadlines"
STORE_REJECTED = "StoreRejected"
"""Error type of a record call the store refused for its content: retrying cannot help."""
CALENDAR_ERROR = "CalendarError"
"""Error type of a clock computation that fails for its input: retrying cannot help."""

MATERIAL_KEY_LENGTH = 64
"""Material keys (and short descriptions of missing items) are at most this long."""
MAX_LIST = 200
"""At most this many entries in a list of materials or missing items."""
TEXT_LENGTH = 2000
"""Reasons, notes and comments are at most this long."""
# The API refuses longer input (api.schemas) and the case's guards refuse it from any other
# client; the models themselves stay as permissive as the first edition's, or a recorded
# update it accepted would fail to decode when its case is replayed.


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


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


class TaskKind(StrEnum):
    """What a task row stands for: a department's review, or the front desk's own work."""

    review = "review"
    """A department handling one item of a stage."""
    intake = "intake"
    """受理 at the front desk: a new application, or one whose supplement came in."""
    delivery = "delivery"
    """送达: all results waiting to be handed out."""
    callback = "callback"
    """差评回访核实: call the applicant back and verify a bad rating (a follow-up's first step)."""
    rectification = "rectification"
    """差评整改: put right what a justified bad rating found."""
    revisit = "revisit"
    """回访: ask the applicant how satisfied they are with the rectification."""


INTAKE_TASK = "@intake"
"""Task key of the front desk's intake; not a valid definition key, so never a stage task's."""
DELIVERY_TASK = "@delivery"
"""Task key of the front desk's delivery."""


class Clock(StrEnum):
    running = "running"
    suspended = "suspended"
    ended = "ended"


class ClockKind(StrEnum):
    """Every clock of a case is one of these; each has its own due instant and cards."""

    intake = "intake"
    """受理 within the intake limit, else deemed accepted (第三十二条)."""
    case = "case"
    """The committed limit from acceptance to decision."""
    task = "task"
    """A department's share of the limit."""
    step = "step"
    """A 第四十五条 step's own declared period (expert review, hearing …)."""
    urge = "urge"
    """督办: the period a supervisor granted; missing it escalates."""
    tolerance = "tolerance"
    """容缺: the date the missing materials were promised by; missing it terminates."""
    delivery = "delivery"
    """Results handed out within the delivery limit (第四十四条)."""
    rating = "rating"
    """The applicant's rating window; then the case completes unrated."""
    callback = "callback"
    """A follow-up's call-back and verification period (回访核实)."""
    rectification = "rectification"
    """A follow-up's rectification period (整改)."""
    revisit = "revisit"
    """A follow-up's period to ask the applicant about the rectification (回访满意度)."""
    appeal = "appeal"
    """A follow-up's appeal (申诉) waiting for a supervisor's decision."""


class IncidentKind(StrEnum):
    """Errors that retrying cannot fix, shown to supervisors while the case stays workable."""

    store_rejected = "store_rejected"
    """The store refused a write for its content; it was written again with the text cleaned."""
    store_unavailable = "store_unavailable"
    """The store could not be reached for a while; writes waited and went through later."""
    clock_failed = "clock_failed"
    """A deadline could not be computed; the clock waits and is computed again later."""


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
    visit_rated = "visit.rated"
    """一次一评: the applicant rated an on-site visit at the desk's device."""
    case_completed = "case.completed"
    case_withdrawn = "case.withdrawn"
    case_urged = "case.urged"
    stage_started = "stage.started"
    stage_completed = "stage.completed"
    task_created = "task.created"
    task_opened = "task.opened"
    task_claimed = "task.claimed"
    task_reassigned = "task.reassigned"
    task_released = "task.released"
    task_approved = "task.approved"
    task_rejected = "task.rejected"
    task_cancelled = "task.cancelled"
    task_step_started = "task.step_started"
    task_step_finished = "task.step_finished"
    deadline_set = "deadline.set"
    deadline_warning = "deadline.warning"
    deadline_overdue = "deadline.overdue"
    deadline_escalated = "deadline.escalated"
    deadline_moved = "deadline.moved"
    card_withdrawn = "deadline.card_withdrawn"
    calendar_applied = "calendar.applied"
    trip_recorded = "trip.recorded"
    finding = "supervision.finding"
    incident_opened = "incident.opened"
    incident_resolved = "incident.resolved"
    followup_opened = "followup.opened"
    """A bad rating's follow-up began (workflows.followup); one part per department."""
    followup_verified = "followup.verified"
    """回访核实: the department called the applicant back and gave its verdict."""
    followup_explained = "followup.explained"
    """The bad rating was found unjustified: explained to the applicant."""
    followup_appealed = "followup.appealed"
    """The department holds the rating mistaken or malicious: 申诉 to a supervisor."""
    followup_appeal_decided = "followup.appeal_decided"
    """A supervisor granted the appeal (the rating leaves the figures) or refused it."""
    followup_rectified = "followup.rectified"
    """整改: the department put right what the rating found."""
    followup_revisited = "followup.revisited"
    """回访满意度: the applicant's satisfaction with the rectification, or that they were not
    reached."""
    followup_urged = "followup.urged"
    followup_concluded = "followup.concluded"
    """Every department's part ended; the result is published (公开)."""


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


def _lenient_snapshot(value: Any) -> Any:
    return prune_unknown(ProcedureSnapshot, value) if isinstance(value, dict) else value


class CaseInput(_Model):
    """Everything a case needs, frozen at submission: the procedure snapshot included."""

    case_id: str = Field(min_length=1, max_length=64)
    snapshot: Annotated[ProcedureSnapshot, BeforeValidator(_lenient_snapshot)]
    """Fields of the procedure language unknown to this version are ignored here (not refused
    as in YAML): a newer version may have started the case."""
    applicant: Actor
    form: dict[str, Any] = Field(default_factory=dict)
    materials: list[str] = Field(default_factory=list)
    """Material keys handed in with the application."""
    channel: Channel = Channel.online
    """A window submission is an on-site trip."""
    submitted_at: AwareDatetime | None = None
    """When the application arrived (the API's receipt); defaults to the workflow's start,
    never to the moment a worker first ran it."""
    calendar: str = "national"
    rating_window_days: int = Field(10, ge=1, le=60)
    """Working days the applicant has to rate after delivery; then the case completes."""
    search_attributes: bool = True
    """Upsert the OneTrip search attributes (they must be registered on the namespace)."""
    calendar_revision: int = Field(0, ge=0)
    """The newest published calendar revision when the case was submitted: clock answers
    must come from calendar data at least this new."""


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
    received: list[str] = Field(default_factory=list)
    """Materials the front desk took in at the window with the acceptance (the applicant
    brought what the online application lacked)."""


class ReturnInput(_Action):
    """Return for supplement (补正) with the complete list of what is missing (一次性告知)."""

    task_key: str | None = None
    """None at intake; a task key when a reviewing department returns it."""
    missing: list[str] = Field(min_length=1)
    """Material keys (or short descriptions) still needed, all of them at once."""
    reason: str = Field(min_length=1, max_length=TEXT_LENGTH)


class RefuseInput(_Action):
    """不予受理 at intake, with the reason the applicant is told."""

    reason: str = Field(min_length=1, max_length=2000)


class SupplementInput(_Action):
    """The applicant hands in what was asked for (or the 容缺 materials), possibly in parts."""

    materials: list[str] = Field(min_length=1)
    on_site: bool = False
    """Read by the first edition only: trips are now recorded by the office (VisitInput)."""
    note: str | None = None
    """The applicant's words to the department (e.g. which page was re-signed)."""


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
    """An active caseworker of the task's department (the API checks it in the store)."""
    assignee_department: str | None = None
    """The assignee's department as the API found it; must be the task's."""


class RatingDimension(StrEnum):
    """The dimensions of a rating in national practice (GB/T 39735-2020)."""

    overall = "overall"
    """整体满意度."""
    efficiency = "efficiency"
    """办事效率 (online) / 服务效率 (on site)."""
    guide_accuracy = "guide_accuracy"
    """办事指南准确度 (online)."""
    convenience = "convenience"
    """办事便捷度 (online)."""
    usability = "usability"
    """平台操作性 (online)."""
    service_level = "service_level"
    """服务水平 (on site)."""
    attitude = "attitude"
    """服务态度 (on site)."""


ONLINE_DIMENSIONS = frozenset(
    {
        RatingDimension.overall,
        RatingDimension.efficiency,
        RatingDimension.guide_accuracy,
        RatingDimension.convenience,
        RatingDimension.usability,
    }
)
ONSITE_DIMENSIONS = frozenset(
    {
        RatingDimension.overall,
        RatingDimension.efficiency,
        RatingDimension.service_level,
        RatingDimension.attitude,
    }
)
Score = Annotated[int, Field(ge=1, le=5)]
"""5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意 (the last two are 差评)."""


class VisitRating(_Model):
    """一次一评: the applicant's rating of one on-site visit, from the desk's device."""

    score: Score
    comment: str | None = Field(None, max_length=TEXT_LENGTH)
    dimensions: dict[RatingDimension, Score] = Field(default_factory=dict)


class VisitInput(_Action):
    """The front desk records an on-site visit of the applicant (到办事现场), counted as a trip."""

    reason: Literal["window_submission", "on_site_supplement", "other"]
    """A window pickup is recorded by the delivery itself (method ``window``)."""
    note: str | None = Field(None, max_length=TEXT_LENGTH)
    rating: VisitRating | None = None
    """The applicant's rating of this visit (一次一评), when they gave one."""


class ResolveIncidentInput(_Action):
    """A supervisor closes an incident after looking into it."""

    number: int = Field(ge=1)
    note: str | None = Field(None, max_length=TEXT_LENGTH)


class RecalculateInput(_Action):
    """A calendar revision was published: recompute every running clock with it."""

    revision: int = Field(ge=1)


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
    """好差评, 一事一评: 5 非常满意 … 1 非常不满意, with optional dimension scores."""

    score: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=TEXT_LENGTH)
    dimensions: dict[RatingDimension, Score] = Field(default_factory=dict)


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
    kind: TaskKind = TaskKind.review
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
    provisional: bool = False
    """The deadline used the calendar's fallback (a year with no official arrangement)."""
    step: str | None = None
    """The 第四十五条 step running now, if any (the task's clock waits meanwhile)."""
    last_seq: int = 0
    """Sequence of the last event that changed this row (older writes never overwrite)."""

    @property
    def clock_key(self) -> str:
        """The key of the clock this task's deadline comes from."""
        if self.kind is TaskKind.intake:
            return "intake"
        if self.kind is TaskKind.delivery:
            return "delivery"
        return f"task:{self.task_key}"


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
    incidents: int = 0
    """Incidents not yet resolved: the case needs a supervisor's attention."""
    calendar_revision: int = 0
    """The newest calendar revision applied to this case's clocks."""
    last_seq: int = 0


class Span(_Model):
    """A period a clock did not run, and why (``supplement``, ``step:<task>`` …)."""

    start: dt.datetime
    end: dt.datetime | None = None
    reason: str | None = None


class ClockState(_Model):
    """What a clock is: shared by the case's clock model and its projection."""

    key: str
    """``intake``, ``case``, ``task:<task>``, ``step:<task>:<step>``, ``urge:<n>`` …"""
    kind: ClockKind
    task_key: str | None = None
    label: str | None = None
    """What is timed, for people (the step's name, the urge's note …)."""
    calendar: str = "national"
    start: dt.datetime
    days: int
    """The limit in working days (0: 即办)."""
    spans: list[Span] = Field(default_factory=list)
    due_at: dt.datetime | None = None
    due_date: dt.date | None = None
    warning_at: dt.datetime | None = None
    warned: bool = False
    """A 黄牌 is standing."""
    overdue: bool = False
    """The due instant passed: a 红牌 (or the escalation, termination … of its kind)."""
    provisional: bool = False
    derivation: dict[str, Any] | None = None
    """How the due instant follows from the calendar (definitions.calendar.Derivation)."""
    calendar_revision: int = 0
    ended_at: dt.datetime | None = None


class ClockRow(ClockState):
    """One clock of a case as supervisors read it (the ``clocks`` projection)."""

    id: str
    """``<case id>/<clock key>``."""
    case_id: str
    status: Clock = Clock.running
    last_seq: int = 0


class IncidentRow(_Model):
    """An error retrying cannot fix, shown to supervisors (the ``incidents`` projection)."""

    id: str
    """``<case id>/<number>``."""
    case_id: str
    number: int
    kind: IncidentKind
    message: str
    """What failed, at most 500 characters (never the offending input itself)."""
    opened_at: dt.datetime
    resolved_at: dt.datetime | None = None
    resolution: str | None = None
    resolved_by: str | None = None
    last_seq: int = 0


class RecordInput(_Model):
    """Events to append and the projections they lead to, written in one transaction."""

    events: list[Event] = Field(min_length=1)
    case: CaseRow
    tasks: list[TaskRow] = Field(default_factory=list)
    """Only the tasks these events changed."""
    clocks: list[ClockRow] = Field(default_factory=list)
    """Without their derivations: the store takes each from the ``deadline.set`` or
    ``deadline.moved`` event of the same batch, and keeps the stored one otherwise."""
    incidents: list[IncidentRow] = Field(default_factory=list)
    sanitize: bool | None = None
    """True: clean text the store refuses (NUL …) and cap lengths before writing. False: refuse
    with a non-retryable StoreRejected error instead. None (callers of the first edition):
    clean and write, logging the case."""


class RecordResult(_Model):
    inserted: int
    """Events newly written; 0 when a retry found them all present already."""


# --------------------------------------------------------------------------- the clock


class SuspensionSpan(_Model):
    start: dt.datetime
    end: dt.datetime | None = None
    reason: str | None = None


class ClockQuery(_Model):
    key: str | None = None
    """The clock asked about (for logs and errors)."""
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
    min_revision: int = 0
    """Answer from calendar data at least this new (reloaded from the store if need be)."""


class ClockAnswer(_Model):
    deadline_at: dt.datetime
    deadline_date: dt.date
    warning_at: dt.datetime | None = None
    provisional: bool = False
    derivation: dict[str, Any] | None = None


class ClockResult(_Model):
    answers: list[ClockAnswer]
    revision: int = 0
    """The calendar revision the answers were computed with."""


# --------------------------------------------------------------------------- results


class MovedDeadline(_Model):
    """A due instant that a recomputation moved (a new calendar, a resumed clock)."""

    case_id: str
    clock: str
    kind: ClockKind
    task_key: str | None = None
    before: dt.datetime | None = None
    after: dt.datetime
    provisional: bool = False


class ActionResult(_Model):
    """What an update answers: the case's state once its events are in the store."""

    case_id: str
    state: CaseState
    last_seq: int
    task: TaskRow | None = None
    moved: list[MovedDeadline] = Field(default_factory=list)
    """For a recalculation: the deadlines it moved."""


class CaseView(_Model):
    """The query result: the case, all its tasks and the event count (for debugging too)."""

    case: CaseRow
    tasks: list[TaskRow]
    events: int
    urges: list[dict[str, Any]] = Field(default_factory=list)
    clocks: list[ClockRow] = Field(default_factory=list)
    """Without their derivations: the store takes each from the ``deadline.set`` or
    ``deadline.moved`` event of the same batch, and keeps the stored one otherwise."""
    incidents: list[IncidentRow] = Field(default_factory=list)


# --------------------------------------------------------------------------- follow-ups

FOLLOWUP_WORKFLOW_NAME = "FollowUpWorkflow"
"""A bad rating's follow-up (workflows.followup): 回访核实, verdict, 整改 or 申诉, 回访满意度."""
RECORD_FOLLOWUP_ACTIVITY = "record_followup_events"
FOLLOWUP_SEQ = 100_000
"""A follow-up's events are stored under its case's id, numbered from ``FOLLOWUP_SEQ`` times
the rating event's own number: the case's timeline, the feed and the task and clock tables
take them as they are, and no two follow-ups (nor the case) share a number."""
FOLLOWUP_TASK_PREFIX = "followup:"
"""Task keys of a follow-up: ``followup:<rating seq>:<department>:<step>``."""


class Verdict(StrEnum):
    """What calling the applicant back found (回访核实)."""

    justified = "justified"
    """清晰合理: the department rectifies."""
    unjustified = "unjustified"
    """不属实: explained to the applicant."""
    mistaken = "mistaken"
    """误评: an appeal (申诉) asks a supervisor to leave it out of the figures."""
    malicious = "malicious"
    """恶意差评: as mistaken."""


APPEALED_VERDICTS = frozenset({Verdict.mistaken, Verdict.malicious})


class PartState(StrEnum):
    """Where one department's part of a follow-up is."""

    callback = "callback"
    """Waiting for the call-back and verdict."""
    appealed = "appealed"
    """Waiting for a supervisor's decision on the appeal."""
    rectifying = "rectifying"
    revisit = "revisit"
    """Rectified; waiting for the applicant's satisfaction."""
    explained = "explained"
    rectified = "rectified"
    excluded = "excluded"
    """An appeal was granted: the rating is left out of the figures (and kept)."""


OPEN_PART_STATES = frozenset(
    {PartState.callback, PartState.appealed, PartState.rectifying, PartState.revisit}
)


class FollowUpState(StrEnum):
    open = "open"
    concluded = "concluded"
    """Every part ended; the result is published."""


class FollowUpDepartment(_Model):
    """A department that handled the rated case, with its jurisdiction's periods."""

    code: str
    name: str
    calendar: str = "national"
    callback_days: int = 3
    """Working days to call the applicant back and give a verdict (回访核实)."""
    rectification_days: int = 15
    """Working days to rectify a justified bad rating (5 in some provinces)."""


class FollowUpInput(_Model):
    """What a follow-up starts from: the bad rating and the departments that answer for it."""

    id: str
    """``<case id>/<rating seq>``; the workflow id is ``followup-<case id>-<rating seq>``."""
    case_id: str
    rating_seq: int = Field(ge=1)
    source: Literal["case", "visit"]
    """一事一评 (the case's rating) or 一次一评 (an on-site visit's)."""
    score: int = Field(ge=1, le=5)
    comment: str | None = None
    rated_at: dt.datetime
    applicant_id: str
    procedure_code: str
    procedure_name: str
    departments: list[FollowUpDepartment] = Field(min_length=1)
    warning: WarningThreshold | None = None
    """When a 黄牌 fires on the follow-up's clocks (the procedure's threshold)."""
    default_calendar: str = "national"
    resume: dict[str, Any] | None = None
    """The follow-up's state so far, when its beginning was run elsewhere (a history imported
    with ``onetrip dev --demo``): the workflow goes on from there instead of opening it."""


class PartRow(_Model):
    """One department's part of a follow-up."""

    department: str
    name: str
    state: PartState = PartState.callback
    verdict: Verdict | None = None
    verified_by: str | None = None
    verified_at: dt.datetime | None = None
    finding: str | None = None
    """What the call-back found."""
    explanation: str | None = None
    """For the applicant: why the rating was unjustified, or what was put right."""
    appeal_granted: bool | None = None
    appeal_reason: str | None = None
    """The supervisor's reason for granting or refusing."""
    appeal_decided_by: str | None = None
    appeal_decided_at: dt.datetime | None = None
    rectification_due_at: dt.datetime | None = None
    rectified_at: dt.datetime | None = None
    rectified_on_time: bool | None = None
    measures: str | None = None
    satisfaction: int | None = None
    """回访满意度, 1 to 5; None when not asked yet or the applicant was not reached."""
    revisited_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    """The deadline of the step under way."""
    warned: bool = False
    overdue: bool = False
    escalated: bool = False
    ended_at: dt.datetime | None = None


class FollowUpRow(_Model):
    """A follow-up as the store keeps it (the ``followups`` projection)."""

    id: str
    case_id: str
    rating_seq: int
    source: Literal["case", "visit"]
    score: int
    comment: str | None = None
    rated_at: dt.datetime
    applicant_id: str
    procedure_code: str
    procedure_name: str
    departments: list[str] = Field(default_factory=list)
    state: FollowUpState = FollowUpState.open
    excluded: bool = False
    """An appeal was granted: the rating counts in no figure."""
    parts: list[PartRow] = Field(default_factory=list)
    opened_at: dt.datetime | None = None
    concluded_at: dt.datetime | None = None
    summary: str | None = None
    """The published result (公开): verdicts and measures, no names."""
    problem: str | None = None
    """What keeps the follow-up from running as it should (a deadline that cannot be
    computed, a write the store refuses), for supervisors; None when all is well."""
    last_seq: int = 0

    @classmethod
    def opening(cls, start: FollowUpInput) -> FollowUpRow:
        """The follow-up before anything happened: every part waiting for its call-back."""
        return cls(
            id=start.id,
            case_id=start.case_id,
            rating_seq=start.rating_seq,
            source=start.source,
            score=start.score,
            comment=start.comment,
            rated_at=start.rated_at,
            applicant_id=start.applicant_id,
            procedure_code=start.procedure_code,
            procedure_name=start.procedure_name,
            departments=[d.code for d in start.departments],
            parts=[PartRow(department=d.code, name=d.name) for d in start.departments],
        )


class VerifyInput(_Action):
    """回访核实: the department called the applicant back; its verdict."""

    department: str
    verdict: Verdict
    finding: str = Field(min_length=1, max_length=TEXT_LENGTH)
    """What the call-back found (for a mistaken or malicious rating: the appeal's grounds)."""
    explanation: str | None = Field(None, max_length=TEXT_LENGTH)
    """For an unjustified rating: what the applicant is told (required then)."""


class RectifyInput(_Action):
    department: str
    measures: str = Field(min_length=1, max_length=TEXT_LENGTH)
    """What was put right (published without names)."""


class RevisitInput(_Action):
    """回访满意度: the applicant's satisfaction with the rectification, 1 to 5, or None when
    they could not be reached or would not say."""

    department: str
    satisfaction: int | None = Field(None, ge=1, le=5)
    note: str | None = Field(None, max_length=TEXT_LENGTH)


class AppealDecisionInput(_Action):
    """A supervisor decides an appeal (申诉复核)."""

    department: str
    granted: bool
    reason: str = Field(min_length=1, max_length=TEXT_LENGTH)


class FollowUpUrgeInput(_Action):
    """督办 on one department's part of a follow-up."""

    department: str
    days: int = Field(ge=1, le=30)
    note: str | None = Field(None, max_length=TEXT_LENGTH)


class FollowUpRecordInput(_Model):
    """A follow-up's events and the rows they changed, written in one transaction."""

    events: list[Event] = Field(min_length=1)
    followup: FollowUpRow
    tasks: list[TaskRow] = Field(default_factory=list)
    clocks: list[ClockRow] = Field(default_factory=list)
    sanitize: bool = False
    """Clean text the store refused (NUL …) before writing (see RecordInput)."""


class FollowUpResult(_Model):
    """What a follow-up update answers, once its events are in the store."""

    followup: FollowUpRow
    last_seq: int
    moved: list[MovedDeadline] = Field(default_factory=list)
    """For a recalculation: the deadlines it moved."""
