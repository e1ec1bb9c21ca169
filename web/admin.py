"""Administrators' pages: publish definitions from YAML (each error at its line), the published
procedures, the calendar years' authority, and the users (create, disable, enable, reset a
password). Each action calls the JSON API's own handler (api.routes.admin); bodies are read
with the API's strict JSON rules, so a page accepts exactly what the API accepts.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import Client

from api.deps import get_calendars, get_client, get_now, get_settings_dep, get_store
from api.routes import admin as admin_api
from api.schemas import NewToken, NewUser, UserUpdate
from definitions.calendar import SHANGHAI
from store import queries
from store.db import Store
from store.users import list_users, user_detail
from web.pages import VisitorDep, check_csrf, render, signed_in
from workflows.contracts import Role

router = APIRouter(include_in_schema=False)
YAML_LIMIT = 1_000_000
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


def _page(
    request: Request,
    who: Any,
    store: Store,
    *,
    errors: list[str] | None = None,
    published: list[dict[str, Any]] | None = None,
    yaml: str = "",
    issued: tuple[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    this_year = get_now(request).astimezone(SHANGHAI).year
    sources = admin_api.calendar_sources(
        who.signed.user,
        get_calendars(request),
        "national",
        first=this_year - 1,
        last=this_year + 2,
    )
    details = [user_detail(store, u.id) for u in list_users(store)]
    return render(
        request,
        who,
        "admin.html",
        status_code=status_code,
        users=[d for d in details if d is not None],
        sources=sources,
        issued=issued,
        procedures=queries.list_procedures(store),
        errors=errors or [],
        published=published or [],
        yaml=yaml,
        roles=[r.value for r in Role if r is not Role.system],
    )


@router.get("/work/admin", response_class=HTMLResponse)
def admin_page(
    request: Request, who: VisitorDep, store: Annotated[Store, Depends(get_store)]
) -> HTMLResponse:
    signed_in(who, Role.admin)
    return _page(request, who, store)


@router.post("/work/admin/publish", response_class=HTMLResponse)
async def publish(
    request: Request,
    who: VisitorDep,
    background: BackgroundTasks,
    store: Annotated[Store, Depends(get_store)],
    client: Annotated[Client, Depends(get_client)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    yaml: Annotated[str, Form(max_length=YAML_LIMIT)] = "",
) -> HTMLResponse:
    """Publish procedures and calendar years from YAML, as ``POST /admin/procedures``."""
    signed = check_csrf(request, who, csrf)
    if signed.user.role is not Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "只有管理员可以发布 / admins only")
    settings = get_settings_dep(request)
    try:
        out = await admin_api.publish_yaml(
            signed.user, store, client, settings, yaml.encode("utf-8"), background
        )
    except HTTPException as error:
        if error.status_code >= 500:
            raise
        return _page(
            request, who, store, errors=_errors(error), yaml=yaml, status_code=error.status_code
        )
    return _page(request, who, store, published=out)


@router.post("/work/admin/users")
def add_user(
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    user_id: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Add a user, and the password they sign in with."""
    signed = check_csrf(request, who, csrf)
    if signed.user.role is not Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "只有管理员可以管理用户 / admins only")
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
            from store.sessions import check_password

            check_password(password, body.id)
        admin_api.add_user(body, signed.user, store)
        if password:
            admin_api.reset_password(
                body.id, admin_api.NewPassword(password=password), signed.user, store
            )
    except (HTTPException, ValidationError, ValueError) as error:
        lines = (
            _errors(error)
            if isinstance(error, HTTPException | ValidationError)
            else [str(error)[:300]]
        )
        code = error.status_code if isinstance(error, HTTPException) else 422
        return _page(request, who, store, errors=lines, status_code=code)
    return RedirectResponse("/work/admin", status.HTTP_303_SEE_OTHER)


@router.post("/work/admin/users/{user_id}/{action}")
def user_action(
    user_id: str,
    action: str,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Disable, enable, or reset the password of a user, as the API does."""
    signed = check_csrf(request, who, csrf)
    if signed.user.role is not Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "只有管理员可以管理用户 / admins only")
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
            # Shown once, on this answer only (never stored in plain).
            return _page(request, who, store, issued=(user_id, issued.token))
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
        code = error.status_code if isinstance(error, HTTPException) else 422
        if code >= 500:
            raise
        return _page(request, who, store, errors=_errors(error), status_code=code)
    return RedirectResponse("/work/admin", status.HTTP_303_SEE_OTHER)


@router.post("/work/admin/tokens/{token_id}/revoke")
def revoke_token(
    token_id: int,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    """Revoke a bearer token, as ``DELETE /admin/tokens/{id}`` (not the last administrator's
    last one)."""
    signed = check_csrf(request, who, csrf)
    if signed.user.role is not Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "只有管理员可以管理令牌 / admins only")
    try:
        admin_api.delete_token(max(1, min(token_id, 2**31 - 1)), signed.user, store)
    except HTTPException as error:
        if error.status_code >= 500:
            raise
        return _page(request, who, store, errors=_errors(error), status_code=error.status_code)
    return RedirectResponse("/work/admin", status.HTTP_303_SEE_OTHER)
