"""The pages: public (service guides, 信息公开), sign-in, and each role's work.

Every page reads through the same store queries, services and checks as the JSON API: the
inbox is ``store.queries.inbox`` with ``api.explain.tasks``, the public statistics are
``api.routes.evaluation.public_statistics``, and so on. Forms carry the session's form token
(CSRF) and htmx requests send it as ``X-CSRF-Token``; a POST without it is refused (403).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from api import explain
from api.deps import get_calendars, get_now, get_settings_dep, get_store
from api.routes.evaluation import public_statistics
from api.schemas import Urgency
from core.settings import Settings
from definitions.calendar import SHANGHAI
from definitions.guide import procedure_guide
from store import queries
from store import sessions as sign_ins
from store.db import Store
from store.sessions import SignedIn, Throttle, session_for, sign_in, sign_out
from web.i18n import HTML_LANG, Language, choose, translations
from workflows.contracts import Role, TaskState

HERE = Path(__file__).parent
SESSION_COOKIE = "onetrip_session"
LOGIN_CSRF_COOKIE = "onetrip_login_csrf"
LANG_COOKIE = "onetrip_lang"
VENDOR = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "echarts.min.js": "echarts/dist/echarts.min.js",
}
"""Third-party assets served by OneTrip itself (pinned in web/package-lock.json)."""

router = APIRouter(include_in_schema=False)

ProcedureCode = Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
"""A procedure's code in a page's path, as the API takes it: anything else is refused (422),
never looked up (PostgreSQL refuses a NUL in a query)."""
Number = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
"""A revision, rating or token number in a page's path: 32 bits, as the store keeps them."""


@cache
def environment(lang: Language) -> Environment:
    """The templates in a language (one environment each: gettext is installed per
    environment)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(local=_local, local_day=_local_day)
    return env


def _local(instant: dt.datetime | str | None) -> str:
    """An instant as people here read it: Asia/Shanghai, to the minute (an event's payload
    carries its instants as ISO text)."""
    if isinstance(instant, str):
        try:
            parsed = dt.datetime.fromisoformat(instant)
        except ValueError:
            return instant[:40]
        instant = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return "" if instant is None else instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _local_day(instant: dt.datetime | None) -> str:
    return "" if instant is None else instant.astimezone(SHANGHAI).strftime("%Y-%m-%d")


# --------------------------------------------------------------------------- who is asking


class Visitor:
    """Who asks for a page: their language and, if signed in, their session."""

    def __init__(self, lang: Language, signed: SignedIn | None, secret: str | None) -> None:
        self.lang = lang
        self.signed = signed
        self.secret = secret

    @property
    def role(self) -> Role | None:
        return self.signed.user.role if self.signed else None


def visitor(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    now: Annotated[dt.datetime, Depends(get_now)],
    lang: Annotated[str | None, Query(max_length=5)] = None,
) -> Visitor:
    settings = get_settings_dep(request)
    chosen = choose(lang, request.cookies.get(LANG_COOKIE))
    secret = request.cookies.get(SESSION_COOKIE)
    signed = None
    if secret and len(secret) <= 100:
        idle = dt.timedelta(minutes=settings.session_idle_minutes)
        signed = session_for(store, secret, now=now, idle=idle)
    return Visitor(chosen, signed, secret if signed else None)


VisitorDep = Annotated[Visitor, Depends(visitor)]


def render(
    request: Request, who: Visitor, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    env = environment(who.lang)
    page = env.get_template(template).render(
        request=request,
        who=who,
        user=who.signed.user if who.signed else None,
        csrf=who.signed.csrf if who.signed else None,
        lang=who.lang,
        html_lang=HTML_LANG[who.lang],
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(page, status_code=status_code)
    if request.query_params.get("lang") == who.lang:
        response.set_cookie(
            LANG_COOKIE, who.lang, max_age=365 * 86400, samesite="lax", httponly=True
        )
    return response


def error_text(error: HTTPException | ValidationError) -> str:
    """What a refusal says, in one line for a page: the API's message (or its first field
    error, with the field's name)."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"[:300]
    detail = error.detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        loc = [str(p) for p in first.get("loc", [])[1:]]
        where = f"{'.'.join(loc)}: " if loc else ""
        return f"{where}{first.get('msg', '')}"[:300]
    return str(detail)[:300]


def signed_in(who: Visitor, *roles: Role) -> SignedIn:
    """The session, if its person has one of ``roles``; else to the sign-in page (303) or 403."""
    if who.signed is None:
        raise HTTPException(status.HTTP_303_SEE_OTHER, headers={"Location": "/login"})
    if roles and who.signed.user.role not in roles:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "无权访问此页面 / this page is not for your role"
        )
    return who.signed


def check_csrf(request: Request, who: Visitor, sent: str | None) -> SignedIn:
    """A POST from a page of this session: its form token, in the form or the htmx header."""
    signed = signed_in(who)
    token = sent or request.headers.get("x-csrf-token")
    if not token or not secrets.compare_digest(token.encode(), signed.csrf.encode()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "表单已失效，请刷新页面后重试 / the form has expired: reload the page and try again",
        )
    return signed


# --------------------------------------------------------------------------- assets


@router.get("/static/vendor/{name}")
def vendor(name: str, request: Request) -> FileResponse:
    path = VENDOR.get(name)
    root = get_settings_dep(request).assets_dir or HERE / "node_modules"
    found = root / path if path else None
    if found is None or not found.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no asset {name[:40]}")
    return FileResponse(found, headers={"Cache-Control": "public, max-age=86400"})


# --------------------------------------------------------------------------- public


def _procedures(store: Store) -> list[Any]:
    latest: dict[str, Any] = {}
    for info in queries.list_procedures(store):
        if info.code not in latest or info.version > latest[info.code].version:
            latest[info.code] = info
    found = []
    for code in sorted(latest):
        snap = queries.get_procedure(store, code, latest[code].version)
        if snap is not None:
            found.append(snap)
    return found


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request, who: VisitorDep, store: Annotated[Store, Depends(get_store)]
) -> HTMLResponse:
    """办事指南: every published procedure, for anyone."""
    return render(request, who, "home.html", procedures=_procedures(store))


@router.get("/guide/{code}", response_class=HTMLResponse)
def guide(
    code: ProcedureCode,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
) -> HTMLResponse:
    snap = queries.get_procedure(store, code[:64], None)
    if snap is None:
        return render(request, who, "missing.html", status_code=404, what=code[:64])
    found = procedure_guide(
        snap.procedure, {i.code: i for i in snap.items}, {d.code: d for d in snap.departments}
    )
    return render(request, who, "guide.html", snap=snap, guide=asdict(found))


def half_year(now: dt.datetime) -> str:
    today = now.astimezone(SHANGHAI).date()
    return f"{today.year}H{1 if today.month <= 6 else 2}"


@router.get("/statistics", response_class=HTMLResponse)
async def statistics(
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    now: Annotated[dt.datetime, Depends(get_now)],
    period: Annotated[str | None, Query(max_length=7)] = None,
    by: Literal["department", "procedure"] = "department",
) -> HTMLResponse:
    """信息公开: the public statistics of a half year, as the API gives them."""
    chosen = period or half_year(now)
    try:
        answer = await public_statistics(
            request.app.state, store, get_calendars(request), now, chosen, by
        )
    except HTTPException as error:
        return render(
            request,
            who,
            "statistics.html",
            status_code=422,
            period=chosen,
            by=by,
            stats=None,
            error=error_text(error),
        )
    return render(request, who, "statistics.html", period=chosen, by=by, stats=answer, error=None)


# --------------------------------------------------------------------------- signing in


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, who: VisitorDep) -> HTMLResponse:
    if who.signed is not None:
        return RedirectResponse("/work", status.HTTP_303_SEE_OTHER)  # type: ignore[return-value]
    token = secrets.token_urlsafe(24)
    response = render(request, who, "login.html", login_csrf=token, error=None, user_id="")
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        max_age=3600,
        secure=get_settings_dep(request).cookie_secure,
    )
    return response


def throttle_of(settings: Settings) -> Throttle:
    """The failed sign-in limits configured (``ONETRIP_SIGN_IN_*``)."""
    return Throttle(
        window=dt.timedelta(minutes=settings.sign_in_window_minutes),
        lock=dt.timedelta(minutes=settings.sign_in_lock_minutes),
    )


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    now: Annotated[dt.datetime, Depends(get_now)],
    user_id: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Sign in with a user id and password; the same answer whichever of the two was wrong."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not csrf or not secrets.compare_digest(csrf.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "表单已失效，请刷新页面后重试 / the form has expired: reload the page and try again",
        )
    settings = get_settings_dep(request)
    name = user_id.strip()
    address = request.client.host if request.client else "unknown"
    limits = {
        sign_ins.user_key(name): settings.sign_in_attempts,
        sign_ins.address_key(address): settings.sign_in_address_attempts,
    }
    throttle = throttle_of(settings)
    # Counted before any password is hashed: attempts sent at once get no more checks than
    # the limit, and a locked user id or address costs no hash at all.
    attempt = await run_in_threadpool(sign_ins.begin_attempt, store, limits, now, throttle)
    locked = attempt.locked
    made = None
    if not locked:
        made = await run_in_threadpool(
            sign_in,
            store,
            name,
            password,
            now=now,
            lifetime=dt.timedelta(hours=settings.session_hours),
        )
        if made is None:
            locked = await run_in_threadpool(sign_ins.failed, store, attempt, limits, now, throttle)
    if made is None:
        until = max(locked.values()) if locked else None
        response = render(
            request,
            who,
            "login.html",
            status_code=429 if locked else 401,
            login_csrf=expected,
            error=True,
            locked=_local(until) if until else None,
            address_locked=sign_ins.address_key(address) in locked,
            user_id=name[:100],
        )
        if until:
            response.headers["Retry-After"] = str(max(1, int((until - now).total_seconds())))
        return response
    await run_in_threadpool(sign_ins.succeeded, store, name, address)
    secret, _ = made
    if who.secret:
        # Signing in over a live session ends it: one browser, one session.
        await run_in_threadpool(sign_out, store, who.secret)
    redirect = RedirectResponse("/work", status.HTTP_303_SEE_OTHER)
    redirect.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        max_age=settings.session_hours * 3600,
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE)
    return redirect


@router.post("/logout")
async def logout(
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    check_csrf(request, who, csrf)
    if who.secret:
        await run_in_threadpool(sign_out, store, who.secret)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/work")
def work(who: VisitorDep) -> Response:
    """Where a signed-in person starts: caseworkers at their inbox, applicants at their cases,
    supervisors and administrators at the dashboard."""
    signed = signed_in(who)
    start = {
        Role.caseworker: "/work/inbox",
        Role.applicant: "/my",
    }.get(signed.user.role, "/work/dashboard")
    return RedirectResponse(start, status.HTTP_303_SEE_OTHER)


# --------------------------------------------------------------------------- caseworkers


INBOX_STATES = {
    "open": (TaskState.open, TaskState.claimed),
    "unclaimed": (TaskState.open,),
    "claimed": (TaskState.claimed,),
}


@router.get("/work/inbox", response_class=HTMLResponse)
def inbox(
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    now: Annotated[dt.datetime, Depends(get_now)],
    show: Literal["open", "unclaimed", "claimed", "mine"] = "open",
    procedure: Annotated[str | None, Query(max_length=64)] = None,
    due_before: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """The department's work, most urgent first: the API's inbox rows, filtered (an empty
    field of the filter form means no filter)."""
    signed = signed_in(who, Role.caseworker)
    try:
        before = dt.date.fromisoformat(due_before) if due_before else None
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "日期格式应为 2025-10-01 / give the date as 2025-10-01",
        ) from None
    user = signed.user
    assert user.department is not None
    states = INBOX_STATES.get(show, (TaskState.claimed,))
    rows = queries.inbox(
        store,
        user.department,
        states=states,
        assignee=user.id if show == "mine" else None,
        limit=200,
    )
    views = explain.tasks(store, rows, get_calendars(request), now)
    procedures = sorted({(v.procedure, v.procedure_name) for v in views if v.procedure})
    if procedure:
        views = [v for v in views if v.procedure == procedure]
    if before is not None:
        views = [v for v in views if v.deadline_date is not None and v.deadline_date < before]
    counts = {u.value: sum(v.urgency is u for v in views) for u in Urgency}
    template = "inbox_rows.html" if request.headers.get("hx-request") else "inbox.html"
    return render(
        request,
        who,
        template,
        tasks=views,
        counts=counts,
        show=show,
        procedure=procedure,
        procedures=procedures,
        due_before=before,
    )
