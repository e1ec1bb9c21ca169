"""Request and response bodies of the API (answers about cases are built from api.public).

Every text a client sends is bounded and checked here, at the edge: a NUL character (which
PostgreSQL refuses) or an unpaired surrogate (which cannot be stored as UTF-8) is answered
422 naming the field, never passed on to a case where it would fail every write; so is any
other control character (an escape sequence in a reason reaches every log, page and CSV that
shows it), but the tab and line breaks of a written text.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, field_validator

from api.applicant import MaterialHeld
from api.public import CasePublic, ClockPublic, FeedEvent, IncidentPublic, TaskPublic
from definitions.forms import storable
from workflows.contracts import (
    MATERIAL_KEY_LENGTH,
    MAX_LIST,
    TEXT_LENGTH,
    Role,
)

_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def control(value: str, *, lines: bool = False) -> str | None:
    """What is wrong with the first control character of ``value``, if any (``lines``: tabs
    and line breaks are text)."""
    found = (_CONTROL_IN_TEXT if lines else _CONTROL_IN_LINE).search(value)
    if found is None:
        return None
    code = f"U+{ord(found.group()):04X}"
    return (
        f"第 {found.start() + 1} 个字符是控制字符 {code} / character {found.start() + 1} is"
        f" the control character {code}"
    )


def _written(value: str) -> str:
    storable(value)
    problem = control(value, lines=True)
    if problem is not None:
        raise ValueError(problem)
    return value


def one_line(value: str) -> str:
    """Text without any control character (a name, a key, a password)."""
    storable(value)
    problem = control(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Text = Annotated[str, Field(max_length=TEXT_LENGTH), AfterValidator(_written)]
"""A reason, note or comment: tabs and line breaks, no other control character."""
Key = Annotated[str, Field(min_length=1, max_length=MATERIAL_KEY_LENGTH), AfterValidator(one_line)]
"""A material key, or a short description of something missing."""
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(one_line)]

MAX_VERSION = 2**31 - 1
"""Procedure versions are 32-bit integers in the store."""
MAX_OFFSET = 10**9
MAX_CURSOR = 2**62
"""Event ids are 64-bit; larger numbers would overflow the database driver."""


class StrictBody(BaseModel):
    """A request body: unknown fields and values of the wrong JSON type are refused (strict:
    ``"5"`` is not a number, ``1`` is not ``true``)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ProcedureSummary(BaseModel):
    code: str
    version: int
    name: str
    name_en: str | None = None
    committed_limit: int
    """Working days from acceptance; 0 means 即办."""
    trips: int
    content_hash: str


class SubmitCase(StrictBody):
    """An application: one form and one set of materials for the whole procedure."""

    procedure: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]+$")
    version: int | None = Field(None, ge=1, le=MAX_VERSION)
    """Defaults to the latest published version."""
    form: dict[str, Any] = Field(default_factory=dict, max_length=200)
    materials: list[Key] = Field(default_factory=list, max_length=MAX_LIST)
    """Keys of the materials handed in (the procedure's guide lists them)."""
    channel: Literal["online", "window"] = "online"
    """Always ``online`` here: a window submission is recorded by the front desk."""

    @field_validator("channel")
    @classmethod
    def _online(cls, value: str) -> str:
        if value != "online":
            raise ValueError(
                "窗口收件与到场次数由窗口人员登记（POST /cases/{id}/visits）/ a window"
                " submission is recorded by the front desk (POST /cases/{id}/visits)"
            )
        return value


class Submitted(BaseModel):
    case_id: str
    procedure: str
    version: int
    missing_materials: list[str]
    """Required materials not handed in: the front desk will ask for them (补正)."""


class CaseDetail(BaseModel):
    """A case as staff see it."""

    audience: Literal["staff"] = "staff"
    case: CasePublic
    tasks: list[TaskPublic]
    clocks: list[ClockPublic] = Field(default_factory=list)
    """Every deadline of the case, each with its working-day derivation."""
    materials: list[MaterialHeld] = Field(default_factory=list)
    """Every material the form requires, with the guide's details and whether it is in."""


class Urgency(StrEnum):
    normal = "normal"
    warning = "warning"
    """A 黄牌 stands: most of the time is used."""
    overdue = "overdue"
    """A 红牌 stands: the deadline passed."""
    escalated = "escalated"
    """A supervisor's urge (督办) was missed too."""


class TaskView(TaskPublic):
    """A task as lists show it: the derivation of its deadline, and its case's context."""

    derivation: dict[str, Any] | None = None
    procedure: str | None = None
    procedure_name: str | None = None
    stage_name: str | None = None
    applicant: str | None = None
    applicant_name: str | None = None
    headline: dict[str, str] = Field(default_factory=dict)
    """The form fields that name the case (the procedure's headline fields)."""
    urgency: Urgency = Urgency.normal
    """The gravest card on the task or on its case."""
    urgency_label: str = "正常 / normal"
    """The urgency in words, for lists that must not rely on colour (and whose it is)."""
    days_left: int | None = None
    """Working days to the deadline day: 0 due today, negative past it."""
    waiting_for_applicant: bool = False
    """The task stands still until the applicant hands in what was asked for (补正)."""
    urged_until: dt.datetime | None = None
    """A supervisor urged this task or its whole case (督办) to be done by then."""
    followup: str | None = None
    """For a bad rating's follow-up task (kind callback, rectification or revisit): where to
    act on it, ``/followups/<case id>/<rating seq>``."""


class CaseSummary(CasePublic):
    """A case as lists show it, with the working-day derivation of its deadline."""

    derivation: dict[str, Any] | None = None
    headline: dict[str, str] = Field(default_factory=dict)
    """The form fields that name the case (the procedure's headline fields)."""


class CasePage(BaseModel):
    items: list[CaseSummary]
    next: str | None = None
    """Give it as ``cursor`` for the next page; none at the end."""
    counts: dict[str, int] | None = None
    """On the first page: how many cases match, by state."""


class Supplement(StrictBody):
    """Materials handed in: everything asked for, or a part of it (the time limit stays
    stopped until the rest arrives)."""

    materials: list[Key] = Field(min_length=1, max_length=MAX_LIST)
    note: Text | None = None
    """Words to the department, e.g. which page was signed again."""
    on_site: bool = False
    """Refused when true: the front desk records on-site visits (POST /cases/{id}/visits)."""

    @field_validator("on_site")
    @classmethod
    def _not_on_site(cls, value: bool) -> bool:
        if value:
            raise ValueError(
                "到场补正由窗口人员登记（POST /cases/{id}/visits）/ an on-site supplement is"
                " recorded by the front desk (POST /cases/{id}/visits)"
            )
        return value


class Withdraw(StrictBody):
    reason: Text | None = None


Score = Annotated[int, Field(ge=1, le=5, strict=True)]
"""5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意 (the last two are 差评)."""
OnlineDimension = Literal["overall", "efficiency", "guide_accuracy", "convenience", "usability"]
"""整体满意度, 办事效率, 办事指南准确度, 办事便捷度, 平台操作性."""
OnSiteDimension = Literal["overall", "efficiency", "service_level", "attitude"]
"""整体满意度, 服务效率, 服务水平, 服务态度."""


class Rating(StrictBody):
    """一事一评: one rating of the whole case, online."""

    score: Score
    comment: Text | None = None
    dimensions: dict[OnlineDimension, Score] = Field(default_factory=dict)
    """Optional scores per dimension."""


class VisitRatingBody(StrictBody):
    """一次一评: the applicant's rating of this visit, from the desk's rating device."""

    score: Score
    comment: Text | None = None
    dimensions: dict[OnSiteDimension, Score] = Field(default_factory=dict)


class IntakeDecision(StrictBody):
    decision: Literal["accept", "refuse", "return"]
    reason: Text | None = None
    missing: list[Key] = Field(default_factory=list, max_length=MAX_LIST)
    """For ``return``: everything missing, at once (一次性告知)."""
    tolerated: list[Key] = Field(default_factory=list, max_length=MAX_LIST)
    """For ``accept``: 容缺 materials to follow."""
    received: list[Key] = Field(default_factory=list, max_length=MAX_LIST)
    """For ``accept``: materials the applicant brought to the window (recorded as handed in)."""
    tolerance_days: int | None = Field(None, ge=1, le=60)


class TaskDecision(StrictBody):
    decision: Literal["approve", "reject", "return"]
    reason: Text | None = None
    missing: list[Key] = Field(default_factory=list, max_length=MAX_LIST)


class Reassign(StrictBody):
    assignee: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]+$")


class Urge(StrictBody):
    task_key: str | None = Field(None, max_length=64, pattern=r"^@?[a-z][a-z0-9_]*$")
    days: int = Field(ge=1, le=30)
    """Working days granted before escalation."""
    note: Text | None = None


class Deliver(StrictBody):
    method: Literal["window", "post", "electronic"] | None = None


class Visit(StrictBody):
    """An on-site visit of the applicant, recorded by the front desk."""

    reason: Literal["window_submission", "on_site_supplement", "other"]
    """A window pickup is recorded by the delivery itself (``method: window``)."""
    note: Text | None = None
    rating: VisitRatingBody | None = None


class Resolve(StrictBody):
    note: Text | None = None


def _a_person(role: Role) -> Role:
    if role is Role.system:
        raise ValueError(
            "system 是引擎自身的角色，不能授予用户 / 'system' is the engine's own role, not a"
            " person's"
        )
    return role


PersonRole = Annotated[Role, Field(strict=False), AfterValidator(_a_person)]
"""A role's value (an enum is matched by value, never coerced from another type); never
``system``."""


class NewUser(StrictBody):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{1,63}$")
    name: Name
    role: PersonRole
    department: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]+$")


class UserUpdate(StrictBody):
    """The fields to change; a field left out stays as it is (``department: null`` clears it)."""

    name: Name | None = None
    role: PersonRole | None = None
    department: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]+$")
    disabled: StrictBool | None = None


class NewToken(StrictBody):
    label: Name | None = None


class Attention(BaseModel):
    """A case that needs a supervisor: an incident, and where the case stands."""

    incident: IncidentPublic
    procedure_code: str
    state: str


class IssuedToken(BaseModel):
    token_id: int
    token: str
    """Shown once; only its SHA-256 is stored."""


class EventPage(BaseModel):
    events: list[FeedEvent]
    next: int
    """Pass as ``after`` to get the following events."""
