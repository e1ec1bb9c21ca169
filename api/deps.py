"""Dependencies: the store, the Temporal client, the current user and role checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from activities.clock import Calendars
from core.settings import Settings
from definitions.loader import calendar_years
from store.db import Store
from store.users import UserInfo, user_for_token
from workflows.contracts import Role


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_calendars(request: Request) -> Calendars:
    """The working-day calendars (catalog years, overlaid by published ones), reloaded when a
    newer calendar revision was published (one small query)."""
    state = request.app.state
    calendars: Calendars | None = getattr(state, "calendars", None)
    if calendars is None:
        calendars = Calendars(calendar_years(state.settings.catalog), state.store)
        calendars.refresh()
        state.calendars = calendars
    else:
        calendars.refresh_if_newer()
    return calendars


def get_now(request: Request) -> dt.datetime:
    """The current instant (UTC); ``app.state.now`` replaces the wall clock in tests."""
    now: Callable[[], dt.datetime] = getattr(request.app.state, "now", _wall_clock)
    return now()


def _wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


StoreDep = Annotated[Store, Depends(get_store)]
NowDep = Annotated[dt.datetime, Depends(get_now)]
CalendarsDep = Annotated[Calendars, Depends(get_calendars)]
ClientDep = Annotated[Client, Depends(get_client)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

_bearer = HTTPBearer(auto_error=False, description="Bearer token issued by an admin")


def current_user(
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> UserInfo:
    """The user owning the bearer token; 401 without a valid one."""
    user = user_for_token(store, credentials.credentials) if credentials else None
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "需要有效的令牌 / a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[UserInfo, Depends(current_user)]


def require(*roles: Role) -> Callable[[UserInfo], UserInfo]:
    """A dependency admitting only the given roles (403 for the others)."""
    allowed = frozenset(roles)

    def check(user: CurrentUser) -> UserInfo:
        if user.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"无权访问（需要角色：{names}）/ forbidden: requires role {names}",
            )
        return user

    return check


Applicant = Annotated[UserInfo, Depends(require(Role.applicant))]
Caseworker = Annotated[UserInfo, Depends(require(Role.caseworker))]
Supervisor = Annotated[UserInfo, Depends(require(Role.supervisor, Role.admin))]
Staff = Annotated[UserInfo, Depends(require(Role.caseworker, Role.supervisor, Role.admin))]
Admin = Annotated[UserInfo, Depends(require(Role.admin))]
