"""Follow-ups of bad ratings (差评回访核实与整改): the department calls back and gives its
verdict, rectifies and asks the applicant; a supervisor decides appeals and urges; the
applicant follows it on their case.

A follow-up is ``/followups/<case id>/<rating seq>``: one per bad rating, of the case (一事一评)
or of an on-site visit (一次一评). A caseworker sees and acts on the follow-ups with a part of
their department; supervisors see all; an applicant sees those of their own cases.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.actions import execute, fail
from api.deps import ClientDep, CurrentUser, SettingsDep, Staff, StoreDep, Supervisor
from api.errors import ApiError
from api.public import PART_WORDS, FollowUpPublic, FollowUpStaff
from api.routes.cases import CaseId, case_for
from api.routes.evaluation import parse_period
from api.schemas import StrictBody, Text
from definitions.calendar import SHANGHAI
from evaluation.periods import Period
from store import followups
from store.db import Store
from store.users import UserInfo
from workflows.client import Closed, Done, Missing
from workflows.contracts import (
    AppealDecisionInput,
    FollowUpResult,
    FollowUpRow,
    FollowUpState,
    FollowUpUrgeInput,
    RectifyInput,
    RevisitInput,
    Role,
    Verdict,
    VerifyInput,
)
from workflows.followup import FollowUpWorkflow

router = APIRouter(tags=["follow-ups"])

RatingSeq = Annotated[int, Path(ge=1, le=2**31 - 1, description="the rating event's number")]
Department = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
]


class FollowUpPage(BaseModel):
    followups: list[FollowUpStaff]
    next: str | None = None
    """Pass as ``cursor`` for the next page; None on the last."""


class Verify(StrictBody):
    """回访核实: what calling the applicant back found, and the verdict."""

    verdict: Literal["justified", "unjustified", "mistaken", "malicious"]
    """justified → rectification; unjustified → explained; mistaken or malicious → appeal."""
    finding: Annotated[Text, Field(min_length=1)]
    """What the call-back found; for a mistaken or malicious rating, the appeal's grounds."""
    explanation: Text | None = None
    """For an unjustified rating: what the applicant is told (required then)."""
    department: Department | None = None
    """The caseworker's own department (the default)."""


class Rectify(StrictBody):
    measures: Annotated[Text, Field(min_length=1)]
    """What was put right; published without names."""
    department: Department | None = None


class Revisit(StrictBody):
    """回访满意度 1–5, or null when the applicant could not be reached or would not say."""

    satisfaction: int | None = Field(None, ge=1, le=5)
    note: Text | None = None
    department: Department | None = None


class AppealDecision(StrictBody):
    department: Department
    granted: bool
    reason: Annotated[Text, Field(min_length=1)]


class FollowUpUrge(StrictBody):
    department: Department
    days: int = Field(ge=1, le=30)
    """Working days granted before escalation."""
    note: Text | None = None


def _visible(user: UserInfo, row: FollowUpRow) -> bool:
    if user.role is Role.caseworker:
        return user.department in row.departments
    if user.role is Role.applicant:
        return row.applicant_id == user.id
    return True


async def _followup(store: Store, user: UserInfo, case_id: str, seq: int) -> FollowUpRow:
    row = await run_in_threadpool(followups.get, store, f"{case_id}/{seq}")
    if row is None or not _visible(user, row):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"差评回访不存在 / no follow-up {case_id}/{seq}"
        )
    return row


def _cursor(row: FollowUpRow) -> str:
    raw = json.dumps([row.rated_at.isoformat(), row.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after(cursor: str) -> tuple[dt.datetime, str]:
    try:
        at, fid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        instant = dt.datetime.fromisoformat(at)
        if not isinstance(fid, str) or instant.tzinfo is None:
            raise ValueError(cursor)
    except (ValueError, TypeError) as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "cursor 无效，请使用上一页返回的 next / invalid cursor: pass the previous page's next",
        ) from error
    return instant, fid


@router.get("/followups")
def list_followups(
    user: Staff,
    store: StoreDep,
    state: FollowUpState | None = None,
    awaiting: Literal["callback", "appeal", "rectification", "revisit"] | None = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[
        str | None, Query(max_length=16, description="rated in: 2026H2, 2026Q3, 2026-07")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> FollowUpPage:
    """Follow-ups of bad ratings, newest rating first. A caseworker sees their department's;
    ``awaiting=appeal`` lists the appeals a supervisor is to decide."""
    if user.role is Role.caseworker:
        if department is not None and department != user.department:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "只能查看本部门的差评回访 / only your department's follow-ups",
            )
        department = user.department
    span: Period | None = parse_period(period) if period is not None else None
    rows = followups.find(
        store,
        department=department,
        state=state,
        awaiting=awaiting,
        rated_from=span.start_at if span else None,
        rated_before=span.end_at if span else None,
        after=_after(cursor) if cursor else None,
        limit=limit,
    )
    return FollowUpPage(
        followups=[FollowUpStaff.of_row(r) for r in rows],
        next=_cursor(rows[-1]) if len(rows) == limit else None,
    )


@router.get("/followups/{case_id}/{rating_seq}")
async def get_followup(
    case_id: CaseId, rating_seq: RatingSeq, user: CurrentUser, store: StoreDep
) -> FollowUpStaff | FollowUpPublic:
    """One follow-up; its applicant sees verdicts, explanations and measures, not who acted."""
    row = await _followup(store, user, case_id, rating_seq)
    if user.role is Role.applicant:
        return FollowUpPublic.of_row(row)
    return FollowUpStaff.of_row(row)


@router.get("/cases/{case_id}/followups")
async def case_followups(
    case_id: CaseId, user: CurrentUser, store: StoreDep, client: ClientDep
) -> list[FollowUpStaff] | list[FollowUpPublic]:
    """The follow-ups of a case's bad ratings (its own and its visits')."""
    await case_for(user, store, client, case_id)
    rows = await run_in_threadpool(followups.of_case, store, case_id)
    if user.role is Role.applicant:
        return [FollowUpPublic.of_row(r) for r in rows]
    return [FollowUpStaff.of_row(r) for r in rows if _visible(user, r)]


async def _send(
    request: Request,
    store: Store,
    client: Any,
    settings: Any,
    row: FollowUpRow,
    update: Any,
    data: Any,
) -> FollowUpStaff:
    if row.state is FollowUpState.concluded:
        raise ApiError(
            status.HTTP_409_CONFLICT,
            "followup_concluded",
            f"差评回访 {row.id} 已办结 / follow-up {row.id} is concluded",
        )
    outcome = await execute(
        request,
        store,
        client,
        settings,
        followups.workflow_id(row.id),
        update,
        data,
        result_type=FollowUpResult,
    )
    if isinstance(outcome, Done):
        return FollowUpStaff.of_row(outcome.result.followup)
    if isinstance(outcome, Closed):
        raise ApiError(
            status.HTTP_409_CONFLICT,
            "followup_concluded",
            f"差评回访 {row.id} 已办结 / follow-up {row.id} is concluded",
        )
    if isinstance(outcome, Missing):
        # Opened with the rating, not started yet: the worker starts it within seconds.
        raise ApiError(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "followup_starting",
            "差评回访正在启动，请稍后重试 / the follow-up is starting, retry shortly",
            headers={"Retry-After": "5"},
        )
    fail(outcome, row.id)


def _own_department(user: UserInfo, department: str | None) -> str:
    found = department or user.department
    if not found:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["body", "department"],
                    "msg": "须指明部门 / name the department whose part this is",
                    "type": "missing",
                }
            ],
        )
    return found


@router.post("/followups/{case_id}/{rating_seq}/verify")
async def verify(
    case_id: CaseId,
    rating_seq: RatingSeq,
    body: Verify,
    request: Request,
    user: Staff,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> FollowUpStaff:
    """回访核实: the department's verdict. Justified → rectification; unjustified → the
    explanation goes to the applicant; mistaken or malicious → an appeal to a supervisor."""
    row = await _followup(store, user, case_id, rating_seq)
    data = VerifyInput(
        actor=user.actor(),
        department=_own_department(user, body.department),
        verdict=Verdict(body.verdict),
        finding=body.finding,
        explanation=body.explanation,
    )
    return await _send(request, store, client, settings, row, FollowUpWorkflow.verify, data)


@router.post("/followups/{case_id}/{rating_seq}/rectify")
async def rectify(
    case_id: CaseId,
    rating_seq: RatingSeq,
    body: Rectify,
    request: Request,
    user: Staff,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> FollowUpStaff:
    """整改 done, with the measures (on time if before the rectification deadline)."""
    row = await _followup(store, user, case_id, rating_seq)
    data = RectifyInput(
        actor=user.actor(),
        department=_own_department(user, body.department),
        measures=body.measures,
    )
    return await _send(request, store, client, settings, row, FollowUpWorkflow.rectify, data)


@router.post("/followups/{case_id}/{rating_seq}/revisit")
async def revisit(
    case_id: CaseId,
    rating_seq: RatingSeq,
    body: Revisit,
    request: Request,
    user: Staff,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> FollowUpStaff:
    """回访满意度: the applicant's satisfaction with the rectification."""
    row = await _followup(store, user, case_id, rating_seq)
    data = RevisitInput(
        actor=user.actor(),
        department=_own_department(user, body.department),
        satisfaction=body.satisfaction,
        note=body.note,
    )
    return await _send(request, store, client, settings, row, FollowUpWorkflow.revisit, data)


@router.post("/followups/{case_id}/{rating_seq}/appeal")
async def decide_appeal(
    case_id: CaseId,
    rating_seq: RatingSeq,
    body: AppealDecision,
    request: Request,
    user: Supervisor,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> FollowUpStaff:
    """申诉复核: granted leaves the rating out of every figure (kept, never deleted); refused
    sends the department to rectify."""
    row = await _followup(store, user, case_id, rating_seq)
    data = AppealDecisionInput(
        actor=user.actor().model_copy(update={"role": Role.supervisor}),
        department=body.department,
        granted=body.granted,
        reason=body.reason,
    )
    return await _send(request, store, client, settings, row, FollowUpWorkflow.decide_appeal, data)


@router.post("/followups/{case_id}/{rating_seq}/urge")
async def urge(
    case_id: CaseId,
    rating_seq: RatingSeq,
    body: FollowUpUrge,
    request: Request,
    user: Supervisor,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
) -> FollowUpStaff:
    """督办 on a department's part: missing the period raises an escalation event."""
    row = await _followup(store, user, case_id, rating_seq)
    data = FollowUpUrgeInput(
        actor=user.actor().model_copy(update={"role": Role.supervisor}),
        department=body.department,
        days=body.days,
        note=body.note,
    )
    return await _send(request, store, client, settings, row, FollowUpWorkflow.urge, data)


# --------------------------------------------------------------------------- 公开


class PublishedPart(BaseModel):
    department: str
    name: str
    outcome: str
    """``rectified`` or ``explained``."""
    outcome_label: str
    measures: str | None = None
    rectified_on_time: bool | None = None


class PublishedResult(BaseModel):
    """A bad rating's follow-up as published (公开): no case number, name or comment."""

    procedure_code: str
    procedure_name: str
    source: str
    """``case`` (一事一评) or ``visit`` (一次一评)."""
    score: int
    rated_day: dt.date
    concluded_day: dt.date
    summary: str
    parts: list[PublishedPart]


class PublishedPage(BaseModel):
    results: list[PublishedResult]
    next: str | None = None


def _published(row: FollowUpRow) -> PublishedResult:
    assert row.concluded_at is not None
    return PublishedResult(
        procedure_code=row.procedure_code,
        procedure_name=row.procedure_name,
        source=row.source,
        score=row.score,
        rated_day=row.rated_at.astimezone(SHANGHAI).date(),
        concluded_day=row.concluded_at.astimezone(SHANGHAI).date(),
        summary=row.summary or "",
        parts=[
            PublishedPart(
                department=p.department,
                name=p.name,
                outcome=p.state.value,
                outcome_label=PART_WORDS.get(p.state.value, (p.state.value,) * 2)[0],
                measures=p.measures,
                rectified_on_time=p.rectified_on_time,
            )
            for p in row.parts
        ],
    )


def _published_cursor(row: FollowUpRow) -> str:
    assert row.concluded_at is not None
    raw = json.dumps([row.concluded_at.isoformat(), row.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@router.get("/public/rectifications", tags=["public"])
def published_results(
    store: StoreDep,
    period: Annotated[
        str, Query(min_length=4, max_length=7, description="2026, 2026H2, 2026Q3 or 2026-07")
    ],
    department: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PublishedPage:
    """差评整改公示: the results of bad ratings' follow-ups concluded in the period — what each
    department found and put right — for anyone. No case numbers, names or comments; a rating
    whose appeal was granted is not listed (it no longer stands)."""
    span = parse_period(period)
    rows = followups.published(
        store,
        span.start_at,
        span.end_at,
        department=department,
        after=_after(cursor) if cursor else None,
        limit=limit,
    )
    return PublishedPage(
        results=[_published(r) for r in rows],
        next=_published_cursor(rows[-1]) if len(rows) == limit else None,
    )
