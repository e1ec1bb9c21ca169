"""Supervisors' pages and the follow-ups of bad ratings: the dashboard (cards now by department,
on-time rate and satisfaction charts of a period, incidents), the overdue list with urge, the
report of a period, and the follow-ups — the department's call-back, rectification and revisit,
the supervisor's appeal decisions and urges.

Every figure comes from the API's own handlers (``performance``, ``report``, the follow-up
handlers) with the signed-in person as their user; no figure is computed twice.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import Client

from activities.clock import Calendars
from api import explain, paging
from api.deps import get_calendars, get_client, get_now, get_settings_dep, get_store
from api.routes import followups as followup_api
from api.routes import supervisor as supervisor_api
from api.routes.cases import CaseId
from api.routes.evaluation import Recent, parse_period, performance, reengineering, report
from evaluation.facts import department_names
from store import queries
from store.db import Store
from web.pages import Number, VisitorDep, check_csrf, error_text, half_year, render, signed_in
from workflows.contracts import Role, TaskRow

router = APIRouter(include_in_schema=False)
OVERSEERS = (Role.supervisor, Role.admin)
FLAGGED_PAGE = 50
"""Tasks per page of the red and yellow card lists."""


@router.get("/work/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    calendars: Annotated[Calendars, Depends(get_calendars)],
    period: Annotated[str | None, Query(max_length=7)] = None,
) -> HTMLResponse:
    """Where cases are late now, and how each department did in a period."""
    signed = signed_in(who, *OVERSEERS)
    now = get_now(request)
    chosen = period or half_year(now)
    cards = await run_in_threadpool(queries.flagged_counts, store)
    names = await run_in_threadpool(department_names, store)
    error = None
    groups: list[Any] = []
    computed_at = None

    async def compute() -> tuple[Any, dt.datetime]:
        answer = await performance(signed.user, store, calendars, chosen, by="department")
        return answer, now

    try:
        # Kept a minute: supervisors open the dashboard often, and a half year's figures
        # scan its cases (the lists of late tasks above are always read fresh).
        kept: Recent[tuple[Any, dt.datetime]] = Recent.of(
            request.app.state, "dashboard_figures", DASHBOARD_SECONDS
        )
        figures, computed_at = await kept.get(parse_period(chosen).label, compute)
        groups = figures.groups
    except HTTPException as exc:
        error = error_text(exc)
    chart = {
        "names": [g.name for g in groups],
        "on_time": [_pct(g.figures.get("task_on_time_rate")) for g in groups],
        "rating": [_round(g.figures.get("rating_mean")) for g in groups],
    }
    attention = supervisor_api.incidents(signed.user, store, resolved=False, limit=20)
    return render(
        request,
        who,
        "dashboard.html",
        status_code=422 if error else 200,
        period=chosen,
        cards=[(names.get(code, (code, None))[0], n) for code, n in sorted(cards.items())],
        groups=groups,
        chart=json.dumps(chart, ensure_ascii=False).replace("<", "\\u003c"),
        error=error,
        computed_at=computed_at,
        attention=attention,
    )


def _pct(value: Any) -> float | None:
    return round(float(value) * 100, 1) if isinstance(value, int | float) else None


def _round(value: Any) -> float | None:
    return round(float(value), 2) if isinstance(value, int | float) else None


DASHBOARD_SECONDS = 60.0
"""How long the dashboard's period figures are kept before they are computed again."""


@router.get("/work/overdue", response_class=HTMLResponse)
def overdue(
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    calendars: Annotated[Calendars, Depends(get_calendars)],
    severity: Literal["overdue", "warning"] = "overdue",
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> HTMLResponse:
    """Open tasks with a red (or yellow) card, oldest deadline first, each with its
    derivation, to urge; a page at a time."""
    signed_in(who, *OVERSEERS)
    rows, following = flagged_page(store, severity, paging.task_after(cursor))
    views = explain.tasks(store, rows, calendars, get_now(request))
    return render(
        request,
        who,
        "overdue.html",
        tasks=views,
        severity=severity,
        error=None,
        following=following,
    )


def flagged_page(
    store: Store, severity: str, after: queries.TaskKey | None
) -> tuple[list[TaskRow], str | None]:
    """A page of the red (or yellow) card list and the cursor of the next one."""
    find = queries.overdue_tasks if severity == "overdue" else queries.warning_tasks
    rows = find(store, limit=FLAGGED_PAGE, after=after)
    following = (
        paging.task_cursor(queries.task_key(rows[-1])) if len(rows) == FLAGGED_PAGE else None
    )
    return rows, following


@router.post("/work/cases/{case_id}/urge")
async def urge(
    case_id: CaseId,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    client: Annotated[Client, Depends(get_client)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    task_key: Annotated[str | None, Form(max_length=64)] = None,
    days: Annotated[str | None, Form(max_length=3)] = None,
    note: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """督办 a task (or the whole case) through the API's own handler."""
    signed = check_csrf(request, who, csrf)
    if signed.user.role not in OVERSEERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "督办由监督人员发起 / supervisors urge")
    from api.schemas import Urge

    try:
        body = Urge.model_validate(
            {
                "task_key": task_key or None,
                "days": int(days) if days and days.isdecimal() else days,
                "note": (note or "").strip() or None,
            }
        )
        await supervisor_api.urge(
            case_id[:200], body, request, signed.user, store, client, get_settings_dep(request)
        )
    except (HTTPException, ValidationError) as error:
        code = error.status_code if isinstance(error, HTTPException) else 422
        if code >= 500:
            raise
        calendars = get_calendars(request)
        page, following = flagged_page(store, "overdue", None)
        rows = explain.tasks(store, page, calendars, get_now(request))
        return render(
            request,
            who,
            "overdue.html",
            status_code=code,
            tasks=rows,
            severity="overdue",
            error=error_text(error),
            following=following,
        )
    return RedirectResponse("/work/overdue", status.HTTP_303_SEE_OTHER)


@router.get("/work/reengineering", response_class=HTMLResponse)
async def reengineering_page(
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    calendars: Annotated[Calendars, Depends(get_calendars)],
    period: Annotated[str | None, Query(max_length=7)] = None,
) -> HTMLResponse:
    """流程再造: each merged procedure's achieved figures against its promise, and where each
    stage's time went (the API's figures)."""
    signed = signed_in(who, *OVERSEERS)
    chosen = period or half_year(get_now(request))
    try:
        rows = await reengineering(signed.user, store, calendars, chosen, procedure=None)
    except HTTPException as error:
        return render(
            request,
            who,
            "reengineering.html",
            status_code=error.status_code,
            period=chosen,
            rows=[],
            error=error_text(error),
        )
    return render(request, who, "reengineering.html", period=chosen, rows=rows, error=None)


@router.get("/work/report")
async def quality_report(
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    calendars: Annotated[Calendars, Depends(get_calendars)],
    period: Annotated[str | None, Query(max_length=7)] = None,
    table: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """The quality report of a period, as the API gives it (the page to open and download)."""
    signed = signed_in(who, *OVERSEERS)
    chosen = period or half_year(get_now(request))
    if table not in (
        None,
        "summary",
        "departments",
        "slowest_stages",
        "overdue",
        "achieved",
        "rectification",
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no table {str(table)[:20]}")
    return await report(
        signed.user,
        store,
        calendars,
        chosen,
        department=None,
        table=table,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- follow-ups


@router.get("/work/followups", response_class=HTMLResponse)
def followups_page(
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    awaiting: Literal["callback", "appeal", "rectification", "revisit", ""] = "",
) -> HTMLResponse:
    """Follow-ups of bad ratings: a caseworker's department's, or all for a supervisor."""
    signed = signed_in(who, Role.caseworker, *OVERSEERS)
    page = followup_api.list_followups(
        signed.user,
        store,
        state=None,
        awaiting=awaiting or None,
        department=None,
        period=None,
        cursor=None,
        limit=100,
    )
    return render(
        request, who, "followups.html", rows=page.followups, awaiting=awaiting, error=None
    )


@router.get("/work/followups/{case_id}/{seq}", response_class=HTMLResponse)
async def followup_page(
    case_id: CaseId,
    seq: Number,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
) -> HTMLResponse:
    return await _followup(request, who, store, case_id, seq, None)


async def _followup(
    request: Request,
    who: Any,
    store: Store,
    case_id: str,
    seq: int,
    error: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    signed = signed_in(who, Role.caseworker, *OVERSEERS)
    row = await followup_api.get_followup(case_id[:200], seq, signed.user, store)
    return render(request, who, "followup.html", status_code=status_code, f=row, error=error)


@router.post("/work/followups/{case_id}/{seq}/{action}")
async def followup_action(
    case_id: CaseId,
    seq: Number,
    action: Literal["verify", "rectify", "revisit", "appeal", "urge"],
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    client: Annotated[Client, Depends(get_client)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    """The follow-up's steps, through the API's own handlers."""
    signed = check_csrf(request, who, csrf)
    # Who may take each step (the API's handlers are called directly: their role checks are
    # the routes' dependencies, which do not run here).
    allowed = OVERSEERS if action in ("appeal", "urge") else (Role.caseworker,)
    if signed.user.role not in allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "无权办理此步骤 / your role does not take this step",
        )
    data = await request.form()
    settings = get_settings_dep(request)
    user = signed.user
    case_id = case_id[:200]

    def text(name: str) -> str | None:
        value = data.get(name)
        return (value.strip()[:2000] or None) if isinstance(value, str) else None

    def number(name: str) -> Any:
        value = text(name)
        return int(value) if value and value.isdecimal() else value

    try:
        if action == "verify":
            verify = followup_api.Verify.model_validate(
                {
                    "verdict": text("verdict") or "",
                    "finding": text("finding") or "",
                    "explanation": text("explanation"),
                    "department": text("department"),
                }
            )
            await followup_api.verify(case_id, seq, verify, request, user, store, client, settings)
        elif action == "rectify":
            rectify = followup_api.Rectify.model_validate(
                {"measures": text("measures") or "", "department": text("department")}
            )
            await followup_api.rectify(
                case_id, seq, rectify, request, user, store, client, settings
            )
        elif action == "revisit":
            revisit = followup_api.Revisit.model_validate(
                {
                    "satisfaction": number("satisfaction"),
                    "note": text("note"),
                    "department": text("department"),
                }
            )
            await followup_api.revisit(
                case_id, seq, revisit, request, user, store, client, settings
            )
        elif action == "appeal":
            decision = followup_api.AppealDecision.model_validate(
                {
                    "department": text("department") or "",
                    "granted": text("granted") == "yes",
                    "reason": text("reason") or "",
                }
            )
            await followup_api.decide_appeal(
                case_id, seq, decision, request, user, store, client, settings
            )
        else:
            urged = followup_api.FollowUpUrge.model_validate(
                {
                    "department": text("department") or "",
                    "days": number("days"),
                    "note": text("note"),
                }
            )
            await followup_api.urge(case_id, seq, urged, request, user, store, client, settings)
    except (HTTPException, ValidationError) as error:
        code = error.status_code if isinstance(error, HTTPException) else 422
        if code >= 500 or code == 404:
            raise
        return await _followup(request, who, store, case_id, seq, error_text(error), code)
    return RedirectResponse(f"/work/followups/{case_id}/{seq}", status.HTTP_303_SEE_OTHER)
