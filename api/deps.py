"""Dependencies: the store, the Temporal client, the current user and role checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import (
    CancelWorkflowInput,
    Client,
    DescribeWorkflowInput,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
    TerminateWorkflowInput,
    WorkflowExecutionDescription,
    WorkflowHandle,
    WorkflowUpdateHandle,
)

from activities.clock import Calendars
from core.settings import Settings
from definitions.loader import calendar_years
from store.db import Store
from store.users import UserInfo, user_for_token
from workflows.contracts import Role


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


CALL_SECONDS = 10.0
"""The deadline of a call to Temporal that names none, or the update timeout if longer: a
start or a query answers in milliseconds when the engine is up, and a short update timeout
(set to hand an action back quickly) should not make reads of a busy case fail."""


def get_client(request: Request) -> Client:
    """The Temporal client, every call of which is bounded (see :func:`bounded`)."""
    state = request.app.state
    client: Client = state.client
    made: tuple[Client, Client] | None = getattr(state, "bounded_client", None)
    if made is None or made[0] is not client:
        seconds = max(CALL_SECONDS, state.settings.update_timeout_seconds)
        made = (client, bounded(client, dt.timedelta(seconds=seconds)))
        state.bounded_client = made
    return made[1]


def bounded(client: Client, wait: dt.timedelta) -> Client:
    """The same client (same connection), with ``wait`` as the deadline of every call that
    names none: a start, a query, a signal … of a case.

    Without one, a call waits for gRPC's own deadline: a query to a case whose workflow no
    worker runs (every worker down, its first write still on its way) held a request 30 s.
    Past the bound the call fails with DEADLINE_EXCEEDED, which the routes answer with 503
    and ``Retry-After``, as they answer an unreachable Temporal. Updates carry their own
    bound already (``ONETRIP_UPDATE_TIMEOUT_SECONDS``)."""
    config = client.config()
    config["interceptors"] = [*config["interceptors"], _Deadline(wait)]
    return Client(**config)


_Input = TypeVar("_Input")


class _Deadline(Interceptor):
    def __init__(self, wait: dt.timedelta) -> None:
        self.wait = wait

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _DeadlineOutbound(next, self.wait)


class _DeadlineOutbound(OutboundInterceptor):
    """Sets ``rpc_timeout`` where the caller left it unset. Not on history fetches: waiting
    for a result is a long poll by design."""

    def __init__(self, next: OutboundInterceptor, wait: dt.timedelta) -> None:
        super().__init__(next)
        self.wait = wait

    def _bound(self, data: _Input) -> _Input:
        if getattr(data, "rpc_timeout", None) is None:
            return dataclasses.replace(data, rpc_timeout=self.wait)  # type: ignore[type-var]
        return data

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        return await super().start_workflow(self._bound(input))

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        return await super().query_workflow(self._bound(input))

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        await super().signal_workflow(self._bound(input))

    async def describe_workflow(self, input: DescribeWorkflowInput) -> WorkflowExecutionDescription:
        return await super().describe_workflow(self._bound(input))

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        await super().cancel_workflow(self._bound(input))

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        await super().terminate_workflow(self._bound(input))

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        return await super().start_workflow_update(self._bound(input))

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> WorkflowUpdateHandle[Any]:
        return await super().start_update_with_start_workflow(self._bound(input))


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
