"""Admins: publish procedure versions and calendar years from YAML; manage users and tokens."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel, Field
from temporalio.client import Client

from api.deps import Admin, CalendarsDep, ClientDep, NowDep, SettingsDep, StoreDep
from api.errors import ApiError
from api.public import EventPublic
from api.schemas import IssuedToken, NewToken, NewUser, StrictBody, UserUpdate, one_line
from core.settings import Settings
from definitions.analysis import FIGURES, Figures, ItemRow, analyze
from definitions.calendar import DaySource
from definitions.loader import Catalog, LoadResult, calendar_years, load_bytes, load_paths
from definitions.models import CalendarYear, Definition, Procedure
from definitions.validate import validate_catalog
from services.calendars import recalculate, record_year
from store import queries
from store.calendars import PublishedYear, current_years
from store.db import Store
from store.sessions import KeyKind, PasswordRefused, locks, set_password, unlock
from store.users import (
    LastAdminError,
    UserDetail,
    UserExistsError,
    UserInfo,
    create_user,
    get_user,
    issue_token,
    list_users,
    revoke_token,
    update_user,
    user_detail,
)
from store.writes import PublishConflict, publish_catalog
from workflows.contracts import Role

router = APIRouter(prefix="/admin", tags=["admins"])

SOURCE = "request.yaml"
"""The file name diagnostics of a posted document carry."""


YamlBody = Annotated[
    bytes,
    Body(
        ...,
        media_type="text/yaml",
        description="YAML definitions (UTF-8, or UTF-16/32 with a byte order mark)",
    ),
]


def _load(document: bytes, settings: Settings) -> tuple[LoadResult, Catalog]:
    """Validate posted definitions together with the catalog; 422 with every error."""
    catalog_result = load_paths(settings.catalog)
    posted = load_bytes(document, SOURCE, LoadResult())
    # Posted definitions replace catalog ones of the same identity.
    posted_ids = {_identity(e.definition) for e in posted.loaded}
    base = [e for e in catalog_result.loaded if _identity(e.definition) not in posted_ids]
    catalog = Catalog.from_loaded([*posted.loaded, *base])
    findings = posted.diagnostics + [d for d in validate_catalog(catalog) if d.file == SOURCE]
    errors = [d.to_json() for d in findings if d.is_error]
    if errors:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, errors)
    return posted, catalog


async def _publish_years(
    years: list[CalendarYear],
    user: UserInfo,
    store: Store,
    client: Client,
    settings: Settings,
    background: BackgroundTasks,
) -> list[dict[str, Any]]:
    """Store each year now; the open cases recompute after the answer (see the moved list)."""
    base = await run_in_threadpool(calendar_years, settings.catalog)
    out = []
    for year in years:
        publication = await record_year(store, year, base=base, published_by=user.id)
        background.add_task(recalculate, client, publication)
        out.append(publication.to_json() | {"recalculating": len(publication.cases)})
    return out


@router.post("/procedures", status_code=status.HTTP_201_CREATED)
async def publish_yaml(
    user: Admin,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
    document: YamlBody,
    background: BackgroundTasks,
) -> list[dict[str, Any]]:
    """Validate posted definitions with the catalog and publish their procedures and
    calendar years.

    Errors answer 422 with the line, column and field path of each; nothing is published
    unless everything validates. A version published before with other content answers 409.
    A calendar year reaches running cases as described at ``POST /admin/calendars``.
    """
    posted, catalog = await run_in_threadpool(_load, document, settings)
    procs = [e.definition for e in posted.loaded if isinstance(e.definition, Procedure)]
    years = [e.definition for e in posted.loaded if isinstance(e.definition, CalendarYear)]
    if not procs and not years:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "没有可发布的流程或日历（kind: Procedure / CalendarYear）/ no Procedure or"
            " CalendarYear document to publish",
        )
    try:
        published = await run_in_threadpool(publish_catalog, store, catalog, procs) if procs else []
    except PublishConflict as exc:
        raise ApiError(status.HTTP_409_CONFLICT, "version_conflict", str(exc)) from None
    out: list[dict[str, Any]] = [
        {
            "kind": "Procedure",
            "code": snap.code,
            "version": snap.version,
            "content_hash": snap.content_hash,
            "outcome": outcome,
        }
        for snap, outcome in published
    ]
    return out + await _publish_years(years, user, store, client, settings, background)


class VersionAnalysis(BaseModel):
    """A published version with its design analysis (流程再造: the items applied one by one
    against the merged procedure) and the cases that run on it."""

    code: str
    version: int
    name: str
    content_hash: str
    published_at: dt.datetime
    cases: int
    """Cases started on this version."""
    open_cases: int
    """Of them, not yet closed: the version stays in use until they are."""
    committed_limit: int
    """The promise in working days, at least the critical path."""
    critical_path: list[str]
    """The stages along the longest path, from acceptance to the last decision (keys)."""
    critical_path_names: list[str]
    """The same stages by name."""
    departments: int
    before: Figures
    """Every item applied for on its own: limits, trips, materials and copies add up."""
    after: Figures
    reduction_percent: dict[str, float]
    items: list[ItemRow]


@router.get("/procedures/{code}")
def procedure_versions(
    code: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")],
    user: Admin,
    store: StoreDep,
) -> list[VersionAnalysis]:
    """Every published version of a procedure, oldest first, with its reengineering analysis
    (what merging saves the applicant) and how many cases run on it."""
    infos = [p for p in queries.list_procedures(store) if p.code == code]
    if not infos:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"流程未发布 / no published procedure {code}"
        )
    counts = queries.cases_by_version(store, code)
    out = []
    for info in infos:
        snap = queries.get_procedure(store, code, info.version)
        assert snap is not None
        result = analyze(snap.procedure, {i.code: i for i in snap.items})
        names = {stage.key: stage.name for stage in snap.procedure.stages}
        cases, open_cases = counts.get(info.version, (0, 0))
        out.append(
            VersionAnalysis(
                code=code,
                version=info.version,
                name=info.name,
                content_hash=info.content_hash,
                published_at=info.published_at,
                cases=cases,
                open_cases=open_cases,
                committed_limit=result.committed_limit,
                critical_path=list(result.critical_path),
                critical_path_names=[names.get(k, k) for k in result.critical_path],
                departments=result.departments,
                before=result.before,
                after=result.after,
                reduction_percent={f: result.reduction(f) for f in FIGURES},
                items=result.items,
            )
        )
    return out


@router.post("/calendars", status_code=status.HTTP_201_CREATED)
async def publish_calendars(
    user: Admin,
    store: StoreDep,
    client: ClientDep,
    settings: SettingsDep,
    document: YamlBody,
    background: BackgroundTasks,
) -> list[dict[str, Any]]:
    """Publish calendar years (``kind: CalendarYear``), e.g. next year's official arrangement.

    Each year is stored as a new revision (the same content again changes nothing) and reaches
    every worker without a restart. The answer lists the dates that changed and the open cases
    whose deadlines they may move; those recompute right after it, and
    ``GET /admin/calendars/{revision}/moved`` lists each deadline that moved.
    """
    posted, _ = await run_in_threadpool(_load, document, settings)
    years = [e.definition for e in posted.loaded if isinstance(e.definition, CalendarYear)]
    if not years or len(years) != len(posted.loaded):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "只接受日历定义（kind: CalendarYear）/ only CalendarYear documents are accepted here",
        )
    return await _publish_years(years, user, store, client, settings, background)


@router.get("/calendars")
def calendars(user: Admin, store: StoreDep) -> list[PublishedYear]:
    """The calendar years in force (the latest revision of each calendar and year)."""
    return current_years(store)


class YearSourceAnswer(BaseModel):
    year: int
    source: DaySource
    """``override``: a year published (or shipped) as data; ``chinesecalendar``: the
    official arrangement as the package knows it; ``fallback``: the statutory rules alone."""
    provisional: bool
    """Deadlines in this year may still move when the official arrangement is published."""
    notice: str
    """Where it comes from: the notice's name, or the package, or the fallback's rules."""


@router.get("/calendars/sources")
def calendar_sources(
    user: Admin,
    calendars: CalendarsDep,
    calendar: Annotated[
        str, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    ] = "national",
    first: Annotated[int, Query(alias="from", ge=2000, le=2100)] = 2024,
    last: Annotated[int, Query(alias="to", ge=2000, le=2100)] = 2028,
) -> list[YearSourceAnswer]:
    """On whose authority each year's working days stand, for deadlines computed now: the
    years still on the provisional fallback are the ones to publish (``POST
    /admin/calendars``)."""
    if last < first or last - first > 50:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["query", "to"],
                    "msg": "须不早于 from，且至多 50 年 / must not be before from, at most 50"
                    " years",
                    "type": "value_error",
                }
            ],
        )
    working = calendars.get(calendar)
    answers = []
    for year in range(first, last + 1):
        found = working.year_source(year)
        answers.append(
            YearSourceAnswer(
                year=year,
                source=found.source,
                provisional=found.source is DaySource.fallback,
                notice=found.notice,
            )
        )
    return answers


@router.get("/calendars/{revision}/moved")
def moved(
    revision: Annotated[int, Path(ge=1, le=2**31 - 1)], user: Admin, store: StoreDep
) -> list[EventPublic]:
    """Every deadline that calendar revision moved, by case (``deadline.moved`` events)."""
    return [EventPublic.of(e) for e in queries.moved_by_revision(store, revision)]


def _identity(d: Definition) -> tuple[str, str, int]:
    if isinstance(d, CalendarYear):
        return (d.kind, d.calendar, d.year)
    return (d.kind, d.code, d.version if isinstance(d, Procedure) else 0)


@router.get("/users")
def users(user: Admin, store: StoreDep) -> list[UserInfo]:
    """Every user."""
    return list_users(store)


UserId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


def _invalid(field: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": ["body", field], "msg": message, "type": "value_error"}],
    )


def _check_department(store: Store, role: Role, department: str | None) -> None:
    """Caseworkers, and only they, belong to a department the catalog knows."""
    if (role is Role.caseworker) != (department is not None):
        raise _invalid(
            "department",
            "办理人员必须且只有办理人员有部门 / caseworkers, and only they, have a department",
        )
    if department is not None and department not in queries.known_departments(store):
        raise _invalid(
            "department",
            f"已发布的目录中没有部门 {department} / no department {department} in the published"
            " catalog",
        )


@router.post("/users", status_code=status.HTTP_201_CREATED)
def add_user(body: NewUser, user: Admin, store: StoreDep) -> UserInfo:
    """Add a user; a caseworker needs a department of the catalog, the others none."""
    _check_department(store, body.role, body.department)
    try:
        return create_user(
            store, id=body.id, name=body.name, role=body.role, department=body.department
        )
    except UserExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.get("/users/{user_id}")
def user_info(user_id: UserId, user: Admin, store: StoreDep) -> UserDetail:
    """A user with their tokens (never the secrets) and the open tasks they hold."""
    detail = user_detail(store, user_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"用户不存在 / no user {user_id}")
    return detail


@router.patch("/users/{user_id}")
def edit_user(user_id: UserId, body: UserUpdate, user: Admin, store: StoreDep) -> UserDetail:
    """Rename, change role or department, disable or enable a user.

    Disabling stops every token of the user at once; the tasks they hold stay theirs until a
    supervisor reassigns them (``claimed_tasks`` in the answer counts them). The last enabled
    administrator with a live token cannot be disabled or demoted (409).
    """
    current = get_user(store, user_id)
    if current is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"用户不存在 / no user {user_id}")
    given = body.model_fields_set
    role = body.role if body.role is not None else current.role
    department = body.department if "department" in given else current.department
    if "role" in given or "department" in given:
        _check_department(store, role, department)
    try:
        update_user(
            store,
            user_id,
            name=body.name,
            role=body.role,
            department=department,
            set_department="department" in given,
            disabled=body.disabled,
        )
    except LastAdminError as exc:
        raise ApiError(status.HTTP_409_CONFLICT, "last_admin", str(exc)) from None
    detail = user_detail(store, user_id)
    assert detail is not None
    return detail


class NewPassword(StrictBody):
    password: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(one_line)]
    """At least 10 characters, not the user name; the person signs in to the pages with it."""


@router.post("/users/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
def reset_password(user_id: UserId, body: NewPassword, user: Admin, store: StoreDep) -> None:
    """Set (or reset) the password a person signs in to the pages with; their sessions end.
    Bearer tokens are not affected."""
    try:
        found = set_password(store, user_id, body.password)
    except PasswordRefused as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["body", "password"], "msg": str(exc), "type": "value_error"}],
        ) from None
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"用户不存在 / no user {user_id}")


@router.post("/users/{user_id}/tokens", status_code=status.HTTP_201_CREATED)
def add_token(user_id: UserId, body: NewToken, user: Admin, store: StoreDep) -> IssuedToken:
    """Issue a bearer token for a user (shown once)."""
    if get_user(store, user_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"用户不存在 / no user {user_id}")
    token_id, token = issue_token(store, user_id, body.label)
    return IssuedToken(token_id=token_id, token=token)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user: Admin, store: StoreDep
) -> None:
    """Revoke a token (not the last one of the last enabled administrator: 409)."""
    try:
        revoked = revoke_token(store, token_id)
    except LastAdminError as exc:
        raise ApiError(status.HTTP_409_CONFLICT, "last_admin", str(exc)) from None
    if not revoked:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"令牌不存在 / no live token {token_id}")


class SignInLock(BaseModel):
    """A user id or a client address refused sign-in for a while after failed attempts."""

    kind: KeyKind
    subject: str
    """The user id as typed, or the client address."""
    locked_until: dt.datetime


@router.get("/sign-in-locks")
def sign_in_locks(user: Admin, store: StoreDep, now: NowDep) -> list[SignInLock]:
    """User ids and client addresses locked now after failed sign-ins to the pages
    (``ONETRIP_SIGN_IN_*``), soonest end first."""
    return [
        SignInLock(kind=kind, subject=subject, locked_until=until)
        for kind, subject, until in locks(store, now)
    ]


@router.delete("/sign-in-locks", status_code=status.HTTP_204_NO_CONTENT)
def lift_sign_in_lock(
    user: Admin,
    store: StoreDep,
    kind: Annotated[KeyKind, Query()],
    subject: Annotated[str, Query(min_length=1, max_length=150)],
) -> None:
    """Lift a lock and forget the failed attempts of a user id or an address (a new password
    lifts its user's lock too)."""
    if not unlock(store, kind, subject):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"没有此锁定 / no lock of {kind} {subject[:40]}",
        )
