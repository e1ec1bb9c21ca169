"""Tables of the store, as SQLAlchemy 2.x typed ORM classes.

``events`` is the append-only supervision feed and the source of truth; ``cases`` and ``tasks``
are projections of it (one column per field of :class:`workflows.contracts.CaseRow` and
:class:`workflows.contracts.TaskRow`), rewritten in the same transaction as the events that
change them. Enumerations are stored as their string values in plain ``VARCHAR`` columns (not
database enums), so adding a state needs no migration.

Keep ``store/migrations/versions`` in step with this module: the tests compare the migrated
schema with these models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so later migrations can address them on both backends."""


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An instant, stored in UTC and always read back timezone-aware (UTC).

    PostgreSQL stores ``timestamptz``; SQLite has no time zones and would silently drop
    ``tzinfo``, so there the value is converted to UTC and stored naive, and the UTC zone is put
    back on reading. Naive datetimes are refused: the contracts use aware UTC instants only, and
    guessing a zone would shift deadlines by hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: store aware UTC instants only")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
"""JSON everywhere; ``jsonb`` on PostgreSQL (compact, indexable with GIN later)."""

EventId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit on PostgreSQL; on SQLite only ``INTEGER PRIMARY KEY`` is the auto-assigned rowid."""

ID = 200
"""Length of id columns: a task id is ``<case id (≤64)>/<task key (≤64)>``, with room to spare."""
CODE = 100
"""Length of codes, keys and actor ids (the contracts allow at most 64 and 100)."""
STATE = 32
"""Length of enumeration values."""


OPEN_WORK = "state IN ('claimed', 'open')"
"""Tasks someone still has to act on (the partial indexes of the lists cover only these)."""
OPEN_CASES = "state IN ('delivering', 'in_progress', 'intake', 'rating')"
"""Cases not yet ended (a partial index of the case finder covers only these)."""


class Base(DeclarativeBase):
    """Declarative base holding the store's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ProcedureVersion(Base):
    """A published procedure version: immutable once written (see :func:`store.writes.publish`)."""

    __tablename__ = "procedures"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_procedures_code_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(CODE))
    """``sha256:<hex>`` of the normalised content."""
    name: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """The :class:`definitions.versioning.ProcedureSnapshot`, ``model_dump(mode="json")``."""
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Case(Base):
    """The ``cases`` projection: one row per case, the fields of ``CaseRow``."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_state", "state"),
        Index("ix_cases_procedure_code", "procedure_code"),
        Index("ix_cases_deadline_at", "deadline_at"),
        Index("ix_cases_submitted_at", "submitted_at", "id"),
        Index("ix_cases_applicant_id", "applicant_id"),
        # The supervisors' list of open cases by deadline (overdue ones first of all).
        Index(
            "ix_cases_open_by_deadline",
            "deadline_at",
            "id",
            postgresql_where=text(OPEN_CASES),
            sqlite_where=text(OPEN_CASES),
        ),
    )

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    """The case number (also the workflow id)."""
    procedure_code: Mapped[str] = mapped_column(String(CODE))
    procedure_version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(CODE))
    procedure_name: Mapped[str] = mapped_column(Text)
    applicant_id: Mapped[str] = mapped_column(String(CODE))
    state: Mapped[str] = mapped_column(String(STATE))
    stage_key: Mapped[str | None] = mapped_column(String(CODE))
    departments: Mapped[list[str]] = mapped_column(JSONType)
    form: Mapped[dict[str, Any]] = mapped_column(JSONType)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deemed_accepted: Mapped[bool] = mapped_column(Boolean)
    intake_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    clock: Mapped[str] = mapped_column(String(STATE))
    suspended_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    missing: Mapped[list[str]] = mapped_column(JSONType)
    tolerance_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deadline_date: Mapped[dt.date | None] = mapped_column(Date)
    """Asia/Shanghai calendar date of the deadline."""
    warning_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    provisional: Mapped[bool] = mapped_column(Boolean)
    warned: Mapped[bool] = mapped_column(Boolean)
    overdue: Mapped[bool] = mapped_column(Boolean)
    urge_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    escalated: Mapped[bool] = mapped_column(Boolean)
    returns: Mapped[int] = mapped_column(Integer)
    trips: Mapped[int] = mapped_column(Integer)
    promised_trips: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivery_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(String(STATE))
    """How the application arrived (online, window …): from its ``case.submitted`` event."""
    incidents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Incidents not yet resolved (the case needs a supervisor's attention)."""
    calendar_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    headline: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    """The form fields that name the case in lists (the procedure's headline fields)."""
    search: Mapped[str] = mapped_column(Text, default="", server_default="")
    """Lower-case text a supervisor's free-text search matches: number, applicant, headline."""
    last_seq: Mapped[int] = mapped_column(Integer)
    """Sequence number of the last event reflected here; older writes never overwrite."""
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """Wall-clock instant (UTC) the row was last written by the store."""


class Task(Base):
    """The ``tasks`` projection: one row per task, the fields of ``TaskRow``."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_inbox", "department", "state", "deadline_at"),
        Index("ix_tasks_case_id", "case_id"),
        # The lists people page through, in their own order (store.queries: most urgent
        # first), over open work only: a department's inbox, the red and the yellow cards.
        Index(
            "ix_tasks_open",
            "department",
            "deadline_at",
            "created_at",
            "id",
            postgresql_where=text(OPEN_WORK),
            sqlite_where=text(OPEN_WORK),
        ),
        Index(
            "ix_tasks_overdue",
            "deadline_at",
            "created_at",
            "id",
            postgresql_where=text(f"{OPEN_WORK} AND overdue"),
            sqlite_where=text(f"{OPEN_WORK} AND overdue"),
        ),
        Index(
            "ix_tasks_warned",
            "deadline_at",
            "created_at",
            "id",
            postgresql_where=text(f"{OPEN_WORK} AND warned AND NOT overdue"),
            sqlite_where=text(f"{OPEN_WORK} AND warned AND NOT overdue"),
        ),
    )

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    """``<case id>/<task key>``."""
    # A task belongs to its case row; deleting a case (retention) removes its tasks.
    case_id: Mapped[str] = mapped_column(String(ID), ForeignKey("cases.id", ondelete="CASCADE"))
    task_key: Mapped[str] = mapped_column(String(CODE))
    stage_key: Mapped[str] = mapped_column(String(CODE))
    item_code: Mapped[str] = mapped_column(String(CODE))
    item_name: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(String(CODE))
    kind: Mapped[str] = mapped_column(String(STATE), default="review", server_default="review")
    """``review`` (a department's item), ``intake`` or ``delivery`` (the front desk's work)."""
    state: Mapped[str] = mapped_column(String(STATE))
    assignee: Mapped[str | None] = mapped_column(String(CODE))
    days: Mapped[int] = mapped_column(Integer)
    """The task's share of the limit, in working days."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    clock: Mapped[str] = mapped_column(String(STATE))
    deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deadline_date: Mapped[dt.date | None] = mapped_column(Date)
    warning_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    warned: Mapped[bool] = mapped_column(Boolean)
    overdue: Mapped[bool] = mapped_column(Boolean)
    urge_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    escalated: Mapped[bool] = mapped_column(Boolean)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    step: Mapped[str | None] = mapped_column(String(CODE))
    """The 第四十五条 step under way, if any."""
    last_seq: Mapped[int] = mapped_column(Integer)
    """Sequence number of the last event that changed this task."""
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """Wall-clock instant (UTC) the row was last written by the store."""


class ClockRecord(Base):
    """The ``clocks`` projection: every clock of every case, with its derivation."""

    __tablename__ = "clocks"
    __table_args__ = (
        Index("ix_clocks_case_id", "case_id"),
        Index("ix_clocks_status_due_date", "status", "due_date"),
    )

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    """``<case id>/<clock key>``."""
    case_id: Mapped[str] = mapped_column(String(ID), ForeignKey("cases.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(ID))
    kind: Mapped[str] = mapped_column(String(STATE))
    task_key: Mapped[str | None] = mapped_column(String(CODE))
    label: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(STATE))
    calendar: Mapped[str] = mapped_column(String(CODE))
    start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    days: Mapped[int] = mapped_column(Integer)
    spans: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    warning_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    warned: Mapped[bool] = mapped_column(Boolean)
    overdue: Mapped[bool] = mapped_column(Boolean)
    provisional: Mapped[bool] = mapped_column(Boolean)
    derivation: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    calendar_revision: Mapped[int] = mapped_column(Integer)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class IncidentRecord(Base):
    """The ``incidents`` projection: errors retrying cannot fix, for supervisors."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_case_id", "case_id"),
        Index("ix_incidents_resolved_at", "resolved_at"),
    )

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    """``<case id>/<number>``."""
    case_id: Mapped[str] = mapped_column(String(ID), ForeignKey("cases.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(STATE))
    message: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(CODE))
    last_seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CalendarRecord(Base):
    """A published calendar year (``CalendarYear``); its id is the calendar revision.

    Publishing another content for the same calendar and year adds a row that supersedes the
    earlier one; the highest id of a (calendar, year) is in force.
    """

    __tablename__ = "calendar_years"
    __table_args__ = (Index("ix_calendar_years_calendar_year", "calendar", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    calendar: Mapped[str] = mapped_column(String(CODE))
    year: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """The ``CalendarYear``, ``model_dump(mode="json", by_alias=True)``."""
    content_hash: Mapped[str] = mapped_column(String(CODE))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(String(CODE))


class RequestKey(Base):
    """What a request key was first used for, so that reusing it for another body is refused."""

    __tablename__ = "request_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of user, action, case and the client's key."""
    body_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class EventRecord(Base):
    """The ``events`` table: the append-only supervision feed.

    ``position`` is the global cursor of the feed (:func:`store.queries.events_after`), given
    after commit (:mod:`store.feed`); (case_id, seq) is the event's identity assigned by the
    workflow, unique so that retried inserts are no-ops. No foreign key to ``cases``: the feed
    is the source of truth and the projections can be dropped and rebuilt from it.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_events_case_id_seq"),
        Index("ix_events_at", "at"),
        Index("ix_events_type", "type"),
        Index("uq_events_position", "position", unique=True),
        # What the sequencer looks for: committed events not numbered yet (a few at a time).
        Index(
            "ix_events_unsequenced",
            "id",
            postgresql_where=text("position IS NULL"),
            sqlite_where=text("position IS NULL"),
        ),
        # Never reuse an id, even of a deleted last row.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    position: Mapped[int | None] = mapped_column(BigInteger)
    """1, 2, 3 … in the order events committed, without gaps; None until sequenced."""
    case_id: Mapped[str] = mapped_column(String(ID))
    seq: Mapped[int] = mapped_column(Integer)
    """1, 2, 3 … within the case, assigned by the workflow."""
    type: Mapped[str] = mapped_column(String(CODE))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """When it happened, in workflow time."""
    actor_id: Mapped[str] = mapped_column(String(CODE))
    actor_role: Mapped[str] = mapped_column(String(STATE))
    department: Mapped[str | None] = mapped_column(String(CODE))
    task_key: Mapped[str | None] = mapped_column(String(CODE))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """Wall-clock instant (UTC) the store wrote it (``at`` may be older after a retry)."""


class User(Base):
    """A person who uses the API: applicant, caseworker (of one department), supervisor, admin."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(STATE))
    department: Mapped[str | None] = mapped_column(String(CODE))
    """The caseworker's department code; None for the other roles."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    password_hash: Mapped[str | None] = mapped_column(Text)
    """Argon2id hash of the password people sign in to the pages with; None: no sign-in."""


class ApiToken(Base):
    """A bearer token, stored as its SHA-256: the plain token is shown once, at issue."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(CODE), ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """The outbox: what an applicant is told, written with the event that causes it.

    ``id`` is ``<case id>/<event seq>``, so recording an event twice makes one message. A
    sender takes a due row by leasing it (``lease_until``), sends it, and marks it sent; a
    failure is retried with backoff until ``failed``.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "state", "next_attempt_at"),
        Index("ix_notifications_case_id", "case_id"),
    )

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(ID))
    applicant_id: Mapped[str] = mapped_column(String(CODE))
    kind: Mapped[str] = mapped_column(String(STATE))
    """``accepted``, ``returned``, ``refused``, ``approved``, ``rejected``, ``delivered`` …"""
    title_zh: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    """The message in zh-CN, with what the applicant must do (e.g. the materials to bring)."""
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(STATE))
    """``pending``, ``sent`` or ``failed`` (after the last retry)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Subscriber(Base):
    """An external supervision system the event feed is pushed to (store.subscribers)."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    """Signs every delivery (HMAC-SHA256); written once by an admin, never shown again."""
    types: Mapped[list[str]] = mapped_column(JSONType)
    """Event types wanted; empty: every type."""
    active: Mapped[bool] = mapped_column(Boolean)
    cursor: Mapped[int] = mapped_column(BigInteger)
    """The id of the last feed event the receiver acknowledged."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(CODE))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    """Whose lease it is: every report of a delivery must carry it, so a worker whose lease
    ran out, or was revoked by an admin's change, cannot move the cursor."""


class FollowUpRecord(Base):
    """The ``followups`` table: each bad rating's follow-up (workflows.followup).

    Written with the rating's event, in the same transaction (``start`` holds what the
    follow-up starts from); the worker starts its workflow and sets ``started_at``. From then on
    the workflow rewrites the row with its events, newer ``last_seq`` only.
    """

    __tablename__ = "followups"
    __table_args__ = (
        Index("ix_followups_case_id", "case_id"),
        Index("ix_followups_rated_at", "rated_at"),
        Index("ix_followups_pending", "started_at", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    """``<case id>/<rating seq>``."""
    case_id: Mapped[str] = mapped_column(String(ID))
    rating_seq: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(STATE))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    applicant_id: Mapped[str] = mapped_column(String(CODE))
    procedure_code: Mapped[str] = mapped_column(String(CODE))
    procedure_name: Mapped[str] = mapped_column(Text)
    departments: Mapped[list[str]] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(STATE))
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    concluded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[str | None] = mapped_column(Text)
    problem: Mapped[str | None] = mapped_column(Text)
    last_seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    start: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    """The workflow's input (FollowUpInput), kept until the worker has started it."""
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class WebSession(Base):
    """A person signed in to the pages (store.sessions): the cookie holds a random secret,
    stored here as its SHA-256 like a bearer token, with the form token (CSRF) of the session."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(CODE), ForeignKey("users.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """The latest instant it may be used: a fixed time after sign-in, whatever the activity."""


class SignInThrottle(Base):
    """Failed sign-ins of a user id or a client address in the current window, and until when
    further attempts are refused (store.sessions): shared by every API process."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    """``user:<id>`` or ``ip:<address>``."""
    failures: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    """When the window of these failures began."""
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CaseMeasureRecord(Base):
    """``case_facts``: each case as the figures count it (evaluation.measures.Measure), kept
    by the figures' projector (evaluation.rollups) so that its working days are worked out
    once per change of the case, not on every report."""

    __tablename__ = "case_facts"
    __table_args__ = (
        Index("ix_case_facts_month", "month"),
        # What the projector looks for besides the feed: cases a published calendar moved.
        Index(
            "ix_case_facts_stale",
            "case_id",
            postgresql_where=text("stale"),
            sqlite_where=text("stale"),
        ),
    )

    case_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    """``YYYY-MM`` of the submission, Asia/Shanghai."""
    measure: Mapped[dict[str, Any]] = mapped_column(JSONType)
    last_seq: Mapped[int] = mapped_column(Integer)
    """The case's ``last_seq`` the measure reflects."""
    stale: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """To be measured again (a calendar year it ran in was published again)."""
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FigureTallyRecord(Base):
    """``figure_tallies``: one month's tally of one group (evaluation.tally): what every
    figure of that group adds up from, kept up to date case by case."""

    __tablename__ = "figure_tallies"
    __table_args__ = (Index("ix_figure_tallies_kind_month", "kind", "month"),)

    kind: Mapped[str] = mapped_column(String(STATE), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    tally: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ProjectionRecord(Base):
    """How far a projection of the feed has read (the feed position of its last event)."""

    __tablename__ = "projections"

    name: Mapped[str] = mapped_column(String(CODE), primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
