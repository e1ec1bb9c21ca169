"""Admins: publish procedure versions from YAML; manage users and tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, status

from api.deps import Admin, SettingsDep, StoreDep
from api.schemas import IssuedToken, NewToken, NewUser
from definitions.loader import Catalog, LoadResult, load_paths, load_text
from definitions.models import CalendarYear, Definition, Procedure
from definitions.validate import validate_catalog
from definitions.versioning import snapshot
from store.users import (
    UserExistsError,
    UserInfo,
    create_user,
    get_user,
    issue_token,
    list_users,
    revoke_token,
)
from store.writes import PublishConflict, publish

router = APIRouter(prefix="/admin", tags=["admins"])

SOURCE = "request.yaml"
"""The file name diagnostics of a posted document carry."""


@router.post("/procedures", status_code=status.HTTP_201_CREATED)
def publish_yaml(
    user: Admin,
    store: StoreDep,
    settings: SettingsDep,
    document: str = Body(..., media_type="text/yaml", description="YAML definitions"),
) -> list[dict[str, Any]]:
    """Validate posted definitions with the catalog and publish their procedures.

    Errors answer 422 with the line, column and field path of each; nothing is published
    unless everything validates. A version published before with other content answers 409.
    """
    catalog_result = load_paths(settings.catalog)
    posted = load_text(document, SOURCE, LoadResult())
    # Posted definitions replace catalog ones of the same identity.
    posted_ids = {_identity(e.definition) for e in posted.loaded}
    base = [e for e in catalog_result.loaded if _identity(e.definition) not in posted_ids]
    catalog = Catalog.from_loaded([*posted.loaded, *base])
    findings = posted.diagnostics + [d for d in validate_catalog(catalog) if d.file == SOURCE]
    errors = [d.to_json() for d in findings if d.is_error]
    if errors:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, errors)
    procs = [e.definition for e in posted.loaded if isinstance(e.definition, Procedure)]
    if not procs:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "没有可发布的流程（kind: Procedure）/ no Procedure document to publish",
        )
    out = []
    for proc in procs:
        snap = snapshot(catalog, proc)
        try:
            outcome = publish(store, snap)
        except PublishConflict as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        out.append(
            {
                "code": snap.code,
                "version": snap.version,
                "content_hash": snap.content_hash,
                "outcome": outcome,
            }
        )
    return out


def _identity(d: Definition) -> tuple[str, str, int]:
    if isinstance(d, CalendarYear):
        return (d.kind, d.calendar, d.year)
    return (d.kind, d.code, d.version if isinstance(d, Procedure) else 0)


@router.get("/users")
def users(user: Admin, store: StoreDep) -> list[UserInfo]:
    """Every user."""
    return list_users(store)


@router.post("/users", status_code=status.HTTP_201_CREATED)
def add_user(body: NewUser, user: Admin, store: StoreDep) -> UserInfo:
    """Add a user; a caseworker needs a department, the others none."""
    if (body.role.value == "caseworker") != (body.department is not None):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["body", "department"],
                    "msg": "办理人员必须且只有办理人员有部门 / caseworkers, and only they, have a department",
                    "type": "value_error",
                }
            ],
        )
    try:
        return create_user(
            store, id=body.id, name=body.name, role=body.role, department=body.department
        )
    except UserExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.post("/users/{user_id}/tokens", status_code=status.HTTP_201_CREATED)
def add_token(user_id: str, body: NewToken, user: Admin, store: StoreDep) -> IssuedToken:
    """Issue a bearer token for a user (shown once)."""
    if get_user(store, user_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"用户不存在 / no user {user_id}")
    token_id, token = issue_token(store, user_id, body.label)
    return IssuedToken(token_id=token_id, token=token)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_token(token_id: int, user: Admin, store: StoreDep) -> None:
    """Revoke a token."""
    if not revoke_token(store, token_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"令牌不存在 / no live token {token_id}")
