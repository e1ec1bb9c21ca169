"""Administrators' pages, one per concern as in the API: publish definitions from YAML (each
error at its line) and the published procedures with each version's analysis; the calendar
years (whose authority each year stands on, what was published, and which deadlines each
publication moved); users and their tokens; the feed's webhook subscribers. Each action calls
the JSON API's own handler (api.routes.admin, api.routes.subscribers); bodies are read with
the API's strict JSON rules, so a page accepts exactly what the API accepts.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import Client

from api.deps import get_calendars, get_client, get_now, get_settings_dep, get_store
from api.public import EventPublic
from api.routes import admin as admin_api
from api.routes import subscribers as subscriber_api
from api.routes.admin import UserId
from api.schemas import NewToken, NewUser, UserUpdate
from definitions.calendar import SHANGHAI
from store import queries
from store.calendars import year_at
from store.db import Store
from store.sessions import PasswordRefused, SignedIn, check_password
from store.users import user_details
from web.pages import ProcedureCode, Visitor, VisitorDep, check_csrf, render, signed_in
from workflows.contracts import EventType, Role

router = APIRouter(include_in_schema=False)
YAML_LIMIT = 1_000_000
KEEP_YAML = 65_536
"""A refused YAML is shown again to be fixed up to this many characters; a longer one (a
document that explodes, most likely) is not sent back."""
"""Characters of YAML a page may post (the API's body limit is 1 MiB too)."""


def _errors(error: HTTPException | ValidationError) -> list[str]:
    """Each error in one line, with its line and column when the YAML check gives them."""
    if isinstance(error, ValidationError):
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()][:50]
    detail = error.detail
    if not isinstance(detail, list):
        return [str(detail)[:500]]
    lines = []
    for d in detail[:50]:
        if not isinstance(d, dict):
            lines.append(str(d)[:300])
            continue
        path = f"[{d['path']}] " if d.get("path") else ""
        if d.get("line"):
            column = f"第 {d['column']} 列" if d.get("column") else ""
            where = f"第 {d['line']} 行{column}（line {d['line']}）{path}："
        elif d.get("loc"):
            where = ".".join(str(p) for p in d["loc"]) + "："
        else:
            where = path
        lines.append(f"{where}{d.get('message') or d.get('msg') or ''}"[:500])
    return lines


StoreDep = Annotated[Store, Depends(get_store)]
MOVED_SHOWN = 500
"""Moved deadlines a page lists (the API lists them all)."""


def _admin(request: Request, who: Visitor, csrf: str | None) -> SignedIn:
    """A POST of an administrator's page: its form token, and the role the API route asks."""
    signed = check_csrf(request, who, csrf)
    if signed.user.role is not Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "只有管理员可以操作 / admins only")
    return signed


def _refused(error: HTTPException | ValidationError) -> tuple[list[str], int]:
    """A refusal's lines and status for the page; a server error stays one."""
    if isinstance(error, ValidationError):
        return _errors(error), status.HTTP_422_UNPROCESSABLE_CONTENT
    if error.status_code >= 500:
        raise error
    return _errors(error), error.status_code


# --------------------------------------------------------------------------- publish, procedures


def _overview(
    request: Request,
    who: Visitor,
    store: Store,
    *,
    errors: list[str] | None = None,
    published: list[dict[str, Any]] | None = None,
    yaml: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    latest: dict[str, queries.ProcedureInfo] = {}
    versions: dict[str, int] = {}
    for info in queries.list_procedures(store):
        latest[info.code] = info  # listed by version: the last is the newest
        versions[info.code] = versions.get(info.code, 0) + 1
    return render(
        request,
        who,
        "admin.html",
        status_code=status_code,
        procedures=list(latest.values()),
        versions=versions,
        errors=errors or [],
        published=published or [],
        yaml=yaml,
    )


@router.get("/work/admin", response_class=HTMLResponse)
def admin_page(request: Request, who: VisitorDep, store: StoreDep) -> HTMLResponse:
    signed_in(who, Role.admin)
    return _overview(request, who, store)


@dataclass
class Publishing:
    """A posted YAML form of an administrator's page, with what publishing it needs."""

    request: Request
    who: Visitor
    background: BackgroundTasks
    store: Store
    client: Client
    csrf: str | None
    yaml: str


def _publishing(
    request: Request,
    who: VisitorDep,
    background: BackgroundTasks,
    store: StoreDep,
    client: Annotated[Client, Depends(get_client)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    yaml: Annotated[str, Form(max_length=YAML_LIMIT)] = "",
) -> Publishing:
    return Publishing(request, who, background, store, client, csrf, yaml)


PublishingDep = Annotated[Publishing, Depends(_publishing)]


@router.post("/work/admin/publish", response_class=HTMLResponse)
async def publish(form: PublishingDep) -> HTMLResponse:
    """Publish procedures and calendar years from YAML, as ``POST /admin/procedures``."""
    return await _publish(form, admin_api.publish_yaml, _overview)


Publisher = Callable[..., Awaitable[list[dict[str, Any]]]]


async def _publish(
    form: Publishing, publisher: Publisher, page: Callable[..., HTMLResponse]
) -> HTMLResponse:
    """Publish through the API's handler; the page again with what was published, or with
    each error at its line and the YAML kept to be fixed."""
    request, who, store = form.request, form.who, form.store
    signed = _admin(request, who, form.csrf)
    settings = get_settings_dep(request)
    try:
        out = await publisher(
            signed.user, store, form.client, settings, form.yaml.encode("utf-8"), form.background
        )
    except HTTPException as error:
        lines, code = _refused(error)
        kept = form.yaml
        if len(kept) > KEEP_YAML:
            kept = ""
            lines.append(
                f"所提交的 YAML 超过 {KEEP_YAML} 个字符，不再显示 / the YAML sent is longer than"
                f" {KEEP_YAML} characters and is not shown again"
            )
        return page(request, who, store, errors=lines, yaml=kept, status_code=code)
    return page(request, who, store, published=out)


@router.get("/work/admin/procedures/{code}", response_class=HTMLResponse)
def procedure_page(
    code: ProcedureCode, request: Request, who: VisitorDep, store: StoreDep
) -> HTMLResponse:
    """Every version of a procedure: what merging saves, its critical path, its cases."""
    signed = signed_in(who, Role.admin)
    try:
        versions = admin_api.procedure_versions(code[:64], signed.user, store)
    except HTTPException as error:
        if error.status_code != status.HTTP_404_NOT_FOUND:
            raise
        return render(request, who, "missing.html", status_code=404, what=code[:64])
    return render(request, who, "admin_procedure.html", versions=list(reversed(versions)))


# --------------------------------------------------------------------------- calendars


def _calendars(
    request: Request,
    who: Visitor,
    store: Store,
    *,
    errors: list[str] | None = None,
    published: list[dict[str, Any]] | None = None,
    yaml: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    assert who.signed is not None
    this_year = get_now(request).astimezone(SHANGHAI).year
    sources = admin_api.calendar_sources(
        who.signed.user,
        get_calendars(request),
        "national",
        first=this_year - 1,
        last=this_year + 2,
    )
    years = sorted(
        admin_api.calendars(who.signed.user, store),
        key=lambda y: (y.calendar != "national", y.calendar, -y.year),
    )
    return render(
        request,
        who,
        "admin_calendars.html",
        status_code=status_code,
        sources=sources,
        years=years,
        errors=errors or [],
        published=published or [],
        yaml=yaml,
    )


@router.get("/work/admin/calendars", response_class=HTMLResponse)
def calendars_page(request: Request, who: VisitorDep, store: StoreDep) -> HTMLResponse:
    signed_in(who, Role.admin)
    return _calendars(request, who, store)


@router.post("/work/admin/calendars", response_class=HTMLResponse)
async def publish_calendar(form: PublishingDep) -> HTMLResponse:
    """Publish calendar years, as ``POST /admin/calendars``: open cases recompute after the
    answer, and the revision's page lists the deadlines that moved."""
    return await _publish(form, admin_api.publish_calendars, _calendars)


@router.get("/work/admin/calendars/{revision}", response_class=HTMLResponse)
def moved_page(revision: int, request: Request, who: VisitorDep, store: StoreDep) -> HTMLResponse:
    """The deadlines a calendar revision moved, case by case, before and after."""
    signed_in(who, Role.admin)
    year = year_at(store, revision) if 1 <= revision < 2**31 else None
    if year is None:
        return render(request, who, "missing.html", status_code=404, what=f"#{revision}"[:20])
    total, cases = queries.moved_counts(store, revision)
    return render(
        request,
        who,
        "admin_moved.html",
        revision=revision,
        year=year,
        total=total,
        moved=[EventPublic.of(e) for e in queries.moved_by_revision(store, revision, MOVED_SHOWN)],
        cases=cases,
    )


# --------------------------------------------------------------------------- users and tokens


def _users(
    request: Request,
    who: Visitor,
    store: Store,
    *,
    errors: list[str] | None = None,
    issued: tuple[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    assert who.signed is not None
    return render(
        request,
        who,
        "admin_users.html",
        status_code=status_code,
        users=user_details(store),
        locks=admin_api.sign_in_locks(who.signed.user, store, get_now(request)),
        issued=issued,
        errors=errors or [],
        roles=[r.value for r in Role if r is not Role.system],
    )


@router.get("/work/admin/users", response_class=HTMLResponse)
def users_page(request: Request, who: VisitorDep, store: StoreDep) -> HTMLResponse:
    signed_in(who, Role.admin)
    return _users(request, who, store)


@router.post("/work/admin/users")
def add_user(
    request: Request,
    who: VisitorDep,
    store: StoreDep,
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    user_id: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Add a user, and the password they sign in with."""
    signed = _admin(request, who, csrf)
    try:
        body = NewUser.model_validate_json(
            json.dumps(
                {
                    "id": user_id.strip(),
                    "name": name.strip(),
                    "role": role,
                    "department": department.strip() or None,
                }
            )
        )
        if password:
            check_password(password, body.id)
        admin_api.add_user(body, signed.user, store)
        if password:
            admin_api.reset_password(
                body.id, admin_api.NewPassword(password=password), signed.user, store
            )
    except PasswordRefused as error:
        return _users(request, who, store, errors=[f"password: {error}"[:300]], status_code=422)
    except (HTTPException, ValidationError) as error:
        lines, code = _refused(error)
        return _users(request, who, store, errors=lines, status_code=code)
    return RedirectResponse(USERS, status.HTTP_303_SEE_OTHER)


@router.post("/work/admin/users/{user_id}/{action}")
def user_action(
    user_id: UserId,
    action: str,
    request: Request,
    who: VisitorDep,
    store: StoreDep,
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Disable, enable, reset the password of a user or issue them a token, as the API does."""
    signed = _admin(request, who, csrf)
    user_id = user_id[:64]
    try:
        if action == "token":
            issued = admin_api.add_token(
                user_id,
                NewToken.model_validate_json(
                    json.dumps({"label": "页面签发 / issued on the page"})
                ),
                signed.user,
                store,
            )
            # Shown once, on this answer only (never stored in plain, never cached).
            shown = _users(request, who, store, issued=(user_id, issued.token))
            shown.headers["Cache-Control"] = "no-store"
            return shown
        if action in ("disable", "enable"):
            admin_api.edit_user(
                user_id,
                UserUpdate.model_validate_json(json.dumps({"disabled": action == "disable"})),
                signed.user,
                store,
            )
        elif action == "password":
            admin_api.reset_password(
                user_id,
                admin_api.NewPassword.model_validate_json(json.dumps({"password": password})),
                signed.user,
                store,
            )
        else:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no action {action[:20]}")
    except (HTTPException, ValidationError) as error:
        lines, code = _refused(error)
        return _users(request, who, store, errors=lines, status_code=code)
    return RedirectResponse(USERS, status.HTTP_303_SEE_OTHER)


@router.post("/work/admin/tokens/{token_id}/revoke")
def revoke_token(
    token_id: int,
    request: Request,
    who: VisitorDep,
    store: StoreDep,
    csrf: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    """Revoke a bearer token, as ``DELETE /admin/tokens/{id}`` (not the last administrator's
    last one)."""
    signed = _admin(request, who, csrf)
    try:
        if not 1 <= token_id < 2**31:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"令牌不存在 / no live token {str(token_id)[:20]}"
            )
        admin_api.delete_token(token_id, signed.user, store)
    except HTTPException as error:
        lines, code = _refused(error)
        return _users(request, who, store, errors=lines, status_code=code)
    return RedirectResponse(USERS, status.HTTP_303_SEE_OTHER)


USERS = "/work/admin/users"


@router.post("/work/admin/locks/clear")
def clear_lock(
    request: Request,
    who: VisitorDep,
    store: StoreDep,
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    kind: Annotated[str, Form(max_length=20)] = "",
    subject: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Lift a sign-in lock, as ``DELETE /admin/sign-in-locks``."""
    signed = _admin(request, who, csrf)
    if kind not in ("user", "address") or not 1 <= len(subject) <= 150:
        return _users(
            request, who, store, errors=["kind/subject: 无此锁定 / no such lock"], status_code=422
        )
    try:
        admin_api.lift_sign_in_lock(
            signed.user, store, "user" if kind == "user" else "address", subject
        )
    except HTTPException as error:
        lines, code = _refused(error)
        return _users(request, who, store, errors=lines, status_code=code)
    return RedirectResponse(USERS, status.HTTP_303_SEE_OTHER)


# --------------------------------------------------------------------------- webhook subscribers

SUBSCRIBERS = "/work/admin/subscribers"


def _subscribers(
    request: Request,
    who: Visitor,
    store: Store,
    *,
    errors: list[str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    assert who.signed is not None
    return render(
        request,
        who,
        "admin_subscribers.html",
        status_code=status_code,
        subscribers=subscriber_api.list_subscribers(who.signed.user, store),
        types=[t.value for t in EventType],
        errors=errors or [],
        form=form or {"types": [], "start": "now"},
    )


@router.get(SUBSCRIBERS, response_class=HTMLResponse)
def subscribers_page(request: Request, who: VisitorDep, store: StoreDep) -> HTMLResponse:
    signed_in(who, Role.admin)
    return _subscribers(request, who, store)


def _cursor(text: str) -> int | str:
    """A feed id typed in a form: ASCII digits only (never "²" or "١"); else left as text
    for the API's own check to refuse with the field's name."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else text


@router.post(SUBSCRIBERS)
async def add_subscriber(
    request: Request,
    who: VisitorDep,
    store: StoreDep,
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    url: Annotated[str, Form(max_length=2000)] = "",
    secret: Annotated[str, Form(max_length=200)] = "",
    types: Annotated[list[str] | None, Form(max_length=len(EventType))] = None,
    start: Annotated[Literal["now", "all", "after"], Form()] = "now",
    after: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """Push the feed to an external system, as ``POST /admin/subscribers``."""
    signed = _admin(request, who, csrf)
    chosen = [t[:64] for t in types or []]
    begin: int | str = "now" if start == "now" else 0 if start == "all" else _cursor(after)
    form = {"url": url, "types": chosen, "start": start, "after": after}
    if start == "after" and not isinstance(begin, int):
        return _subscribers(
            request,
            who,
            store,
            errors=["after: 须为事件号（数字）/ must be an event id (digits)"],
            form=form,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        body = subscriber_api.NewSubscriber.model_validate_json(
            json.dumps({"url": url.strip(), "secret": secret, "types": chosen, "start": begin})
        )
        await subscriber_api.add_subscriber(body, signed.user, store, get_now(request))
    except (HTTPException, ValidationError) as error:
        lines, code = _refused(error)
        return _subscribers(request, who, store, errors=lines, form=form, status_code=code)
    return RedirectResponse(SUBSCRIBERS, status.HTTP_303_SEE_OTHER)


@router.post(SUBSCRIBERS + "/{subscriber_id}/{action}")
def subscriber_action(
    subscriber_id: int,
    action: str,
    request: Request,
    who: VisitorDep,
    store: StoreDep,
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    cursor: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """Pause, resume, resend from a feed id, or remove a subscriber, as the API does."""
    signed = _admin(request, who, csrf)
    every: dict[str, dict[str, Any]] = {
        "pause": {"active": False},
        "resume": {"active": True},
        "rewind": {"cursor": _cursor(cursor)},
    }
    changes = every.get(action, {})
    try:
        if not 1 <= subscriber_id < 2**31:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"订阅不存在 / no subscriber {str(subscriber_id)[:20]}"
            )
        if action == "remove":
            subscriber_api.remove_subscriber(subscriber_id, signed.user, store)
        elif changes:
            subscriber_api.change_subscriber(
                subscriber_id,
                subscriber_api.SubscriberUpdate.model_validate_json(json.dumps(changes)),
                signed.user,
                store,
                get_now(request),
            )
        else:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no action {action[:20]}")
    except (HTTPException, ValidationError) as error:
        lines, code = _refused(error)
        return _subscribers(request, who, store, errors=lines, status_code=code)
    return RedirectResponse(SUBSCRIBERS, status.HTTP_303_SEE_OTHER)
