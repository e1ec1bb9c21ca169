"""Request and response bodies of the API (the workflow contracts are reused for results)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.contracts import CaseRow, Channel, Role, TaskRow

MAX_VERSION = 2**31 - 1
"""Procedure versions are 32-bit integers in the store."""
MAX_OFFSET = 10**9
MAX_CURSOR = 2**62
"""Event ids are 64-bit; larger numbers would overflow the database driver."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProcedureSummary(BaseModel):
    code: str
    version: int
    name: str
    name_en: str | None = None
    committed_limit: int
    """Working days from acceptance; 0 means 即办."""
    trips: int
    content_hash: str


class SubmitCase(_Body):
    """An application: one form and one set of materials for the whole procedure."""

    procedure: str = Field(min_length=1, max_length=64)
    version: int | None = Field(None, ge=1, le=MAX_VERSION)
    """Defaults to the latest published version."""
    form: dict[str, Any] = Field(default_factory=dict)
    materials: list[str] = Field(default_factory=list, max_length=200)
    """Keys of the materials handed in (the procedure's guide lists them)."""
    channel: Channel = Channel.online


class Submitted(BaseModel):
    case_id: str
    procedure: str
    version: int
    missing_materials: list[str]
    """Required materials not handed in: the front desk will ask for them (补正)."""


class CaseDetail(BaseModel):
    case: CaseRow
    tasks: list[TaskRow]


class Supplement(_Body):
    materials: list[str] = Field(min_length=1)
    on_site: bool = False


class Withdraw(_Body):
    reason: str | None = Field(None, max_length=2000)


class Rating(_Body):
    score: int = Field(ge=1, le=5)
    """5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意."""
    comment: str | None = Field(None, max_length=2000)


class IntakeDecision(_Body):
    decision: Literal["accept", "refuse", "return"]
    reason: str | None = Field(None, max_length=2000)
    missing: list[str] = Field(default_factory=list)
    """For ``return``: everything missing, at once (一次性告知)."""
    tolerated: list[str] = Field(default_factory=list)
    """For ``accept``: 容缺 materials to follow."""
    tolerance_days: int | None = Field(None, ge=1, le=60)


class TaskDecision(_Body):
    decision: Literal["approve", "reject", "return"]
    reason: str | None = Field(None, max_length=2000)
    missing: list[str] = Field(default_factory=list)


class Reassign(_Body):
    assignee: str = Field(min_length=1, max_length=100)


class Urge(_Body):
    task_key: str | None = None
    days: int = Field(ge=1, le=30)
    """Working days granted before escalation."""
    note: str | None = Field(None, max_length=2000)


class Deliver(_Body):
    method: Literal["window", "post", "electronic"] | None = None


class NewUser(_Body):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{1,63}$")
    name: str = Field(min_length=1, max_length=200)
    role: Role
    department: str | None = None


class NewToken(_Body):
    label: str | None = Field(None, max_length=200)


class IssuedToken(BaseModel):
    token_id: int
    token: str
    """Shown once; only its SHA-256 is stored."""


class EventPage(BaseModel):
    events: list[dict[str, Any]]
    next: int
    """Pass as ``after`` to get the following events."""
