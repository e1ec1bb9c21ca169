"""Supervisors: department performance and satisfaction figures for a period."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from activities.clock import Calendars
from api.deps import CalendarsDep, NowDep, StoreDep, Supervisor
from definitions.calendar import SHANGHAI
from evaluation.figures import Group, GroupFigures, as_data, figures
from evaluation.periods import Period, PeriodError
from evaluation.reengineering import Achieved, achieved_in
from evaluation.report import OVERDUE_LISTED, build, html, tables, to_csv
from evaluation.tally import Spread
from store.db import Store

T = TypeVar("T")

router = APIRouter(tags=["evaluation"])


class FigureDefinition(BaseModel):
    key: str
    zh: str
    en: str
    unit: str
    scope: Literal["case", "task"]
    """``case``: over the group's cases; ``task``: over the department's own review tasks."""
    definition: str


class Days(BaseModel):
    """Working days over ``n`` cases or tasks: mean, median and 90th percentile (nearest
    rank)."""

    n: int
    mean: float
    p50: float
    p90: float


class FigureGroup(BaseModel):
    key: str
    """``all``, a procedure code, a department code or a brand name."""
    name: str
    departments: list[str]
    """The departments of a department or brand group."""
    figures: dict[str, int | float | Days | dict[str, int] | dict[str, float] | None]
    """Each figure by its key (see ``definitions``): counts, rates (0–1, null when nothing to
    count), working days as ``Days``, ratings by level."""


class PerformanceFigures(BaseModel):
    period: str
    first_day: dt.date
    last_day: dt.date
    """The period's days (Asia/Shanghai); its cohort is the cases submitted on them, with
    what happened to them since."""
    by: Group
    groups: list[FigureGroup]
    definitions: list[FigureDefinition]


PeriodText = Annotated[
    str,
    Query(
        min_length=4,
        max_length=7,
        description="2026, 2026H2, 2026Q3 or 2026-07 (Asia/Shanghai days)",
        examples=["2026H2"],
    ),
]


@router.get("/supervision/figures")
async def performance(
    user: Supervisor,
    store: StoreDep,
    calendars: CalendarsDep,
    period: PeriodText,
    by: Group = "department",
    key: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> PerformanceFigures:
    """Performance and satisfaction figures of a period's cases, for all cases, by procedure,
    by department (with the department's own tasks: where the time goes) or by service brand;
    ``key`` keeps one group (a procedure or department code, a brand name). Each figure is
    defined once; ``definitions`` says how."""
    chosen = parse_period(period)
    table = await run_in_threadpool(figures, store, chosen, by, calendars.current().get, None, key)
    return PerformanceFigures.model_validate(as_data(table))


def parse_period(text: str) -> Period:
    try:
        return Period.parse(text)
    except PeriodError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["query", "period"], "msg": str(exc), "type": "value_error"}],
        ) from None


RECENT_LIMIT = 64
"""Answers a :class:`Recent` keeps at most (periods are the caller's choice)."""


class Recent(Generic[T]):
    """Answers kept a while in the app's state: figures over a period cost a scan of its
    cases, and many people open the same page. One computation per key at a time (those
    asking meanwhile share it); other keys and fresh answers never wait."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.kept: dict[Hashable, tuple[float, T]] = {}
        self.pending: dict[Hashable, asyncio.Task[T]] = {}

    @classmethod
    def of(cls, state: Any, name: str, seconds: float) -> Recent[T]:
        """The one kept in ``state`` under ``name`` (made on first use)."""
        found: Recent[T] | None = getattr(state, name, None)
        if found is None:
            found = cls(seconds)
            setattr(state, name, found)
        return found

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        cached = self.kept.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.seconds:
            return cached[1]
        task = self.pending.get(key)
        if task is None:
            task = asyncio.ensure_future(compute())
            self.pending[key] = task
            task.add_done_callback(lambda done: self._keep(key, done))
        # A person who leaves does not cancel the computation the others wait for.
        return await asyncio.shield(task)

    def _keep(self, key: Hashable, done: asyncio.Task[T]) -> None:
        self.pending.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return  # a refusal or a failure is not kept: the next person asks again
        clock = time.monotonic()
        for old in [k for k, (at, _) in self.kept.items() if clock - at >= self.seconds]:
            del self.kept[old]  # expired: at most as many answers as asked for lately
        if len(self.kept) >= RECENT_LIMIT:
            del self.kept[min(self.kept, key=lambda k: self.kept[k][0])]
        self.kept[key] = (clock, done.result())


# --------------------------------------------------------------------------- 信息公开

SMALL_GROUP = 5
"""Fewer cases than this and a figure is not published: a handful of cases could point at
the people behind them."""
CACHE_SECONDS = 300.0
"""Public statistics are recomputed at most this often per period and grouping."""
PUBLIC_YEARS = 5
"""How many years back the public statistics go."""


class PublicFigures(BaseModel):
    received: int
    on_time_rate: float | None
    """Over decided cases; null when fewer than five were decided."""
    days_used_mean: float | None
    """Working days from acceptance to decision, mean; null below five decided cases."""
    days_committed_mean: float | None
    rating_mean: float | None
    """Null when fewer than five ratings."""
    good_rate: float | None
    bad_ratings_rectified: int
    """Bad ratings' follow-ups rectified (a merged case's counts once per department)."""
    rectification_rate: float | None
    """Rectified over found to need it; null below five bad-rating follow-ups."""


class PublicGroup(BaseModel):
    key: str
    name: str
    figures: PublicFigures


class PublicStatistics(BaseModel):
    period: str
    first_day: dt.date
    last_day: dt.date
    by: Literal["department", "procedure"]
    computed_at: dt.datetime
    groups: list[PublicGroup]
    """Groups of at least five cases; smaller ones are left out entirely."""


def _public(g: GroupFigures) -> PublicGroup | None:
    f = g.figures
    if f["received"] < SMALL_GROUP:
        return None
    decided: Spread | None = f["days_used"]
    enough_decided = decided is not None and decided.n >= SMALL_GROUP
    committed: Spread | None = f["days_committed"]
    enough_rated = f["rated"] >= SMALL_GROUP
    return PublicGroup(
        key=g.key,
        name=g.name,
        figures=PublicFigures(
            received=f["received"],
            on_time_rate=f["on_time_rate"] if enough_decided else None,
            days_used_mean=decided.mean if decided is not None and enough_decided else None,
            days_committed_mean=committed.mean
            if committed is not None and enough_decided
            else None,
            rating_mean=f["rating_mean"] if enough_rated else None,
            good_rate=f["good_rate"] if enough_rated else None,
            bad_ratings_rectified=f["rectified"],
            rectification_rate=f["rectification_rate"] if f["followups"] >= SMALL_GROUP else None,
        ),
    )


def _public_period(text: str, today: dt.date) -> Period:
    """Half years only, begun, at most five years back: one granularity, so that no small
    group can be worked out by subtracting one period from another, and a bounded set of
    answers to compute."""
    chosen = parse_period(text)
    if "H" not in chosen.label or not (
        today.year - PUBLIC_YEARS < chosen.first.year and chosen.first <= today
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["query", "period"],
                    "msg": f"公开统计按半年发布（如 2026H1），近 {PUBLIC_YEARS} 年内已开始的半年"
                    f" / public statistics are published by half year (e.g. 2026H1), begun"
                    f" within the last {PUBLIC_YEARS} years",
                    "type": "value_error",
                }
            ],
        )
    return chosen


@router.get("/public/statistics", tags=["public"])
async def statistics(
    request: Request,
    store: StoreDep,
    calendars: CalendarsDep,
    now: NowDep,
    period: PeriodText,
    by: Literal["department", "procedure"] = "department",
) -> PublicStatistics:
    """信息公开: each department's or procedure's on-time rate, time used against the
    commitment and satisfaction in a half year, for anyone. Aggregates only — no case
    numbers, names or comments; groups of fewer than five cases are left out, and a figure
    counted over fewer than five cases is null. Computed at most every five minutes, one
    computation at a time."""
    return await public_statistics(request.app.state, store, calendars, now, period, by)


async def public_statistics(
    state: Any,
    store: Store,
    calendars: Calendars,
    now: dt.datetime,
    period: str,
    by: Literal["department", "procedure"],
) -> PublicStatistics:
    """The public statistics of a half year (the API's and the page's), kept five minutes in
    ``state`` (the app's state) and computed one at a time."""
    chosen = _public_period(period, now.astimezone(SHANGHAI).date())

    async def compute() -> PublicStatistics:
        table = await run_in_threadpool(figures, store, chosen, by, calendars.current().get)
        return PublicStatistics(
            period=chosen.label,
            first_day=chosen.first,
            last_day=chosen.end - dt.timedelta(days=1),
            by=by,
            computed_at=now,
            groups=[g for g in (_public(t) for t in table.groups) if g is not None],
        )

    kept: Recent[PublicStatistics] = Recent.of(state, "public_statistics", CACHE_SECONDS)
    return await kept.get((chosen.label, by), compute)


@router.get("/supervision/reengineering")
async def reengineering(
    user: Supervisor,
    store: StoreDep,
    calendars: CalendarsDep,
    period: PeriodText,
    procedure: Annotated[
        str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    ] = None,
) -> list[Achieved]:
    """Each procedure's achieved figures from the period's cases against what its design
    promised (committed working days, trips, materials before and after merging), and per
    stage and department where the time of decided tasks went: waiting to be claimed,
    working, standing still for the applicant. ``bottleneck`` names where a redesign pays
    first."""
    chosen = parse_period(period)
    return await run_in_threadpool(achieved_in, store, chosen, calendars.current().get, procedure)


@router.get(
    "/supervision/report",
    response_class=Response,
    responses={
        200: {
            "content": {"text/html": {}, "text/csv": {}},
            "description": "The report as one HTML page, or one of its tables as CSV.",
        }
    },
)
async def report(
    user: Supervisor,
    store: StoreDep,
    calendars: CalendarsDep,
    period: PeriodText,
    department: Annotated[
        str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    ] = None,
    table: Annotated[
        Literal["summary", "departments", "slowest_stages", "overdue", "achieved", "rectification"]
        | None,
        Query(description="a table as CSV instead of the HTML page"),
    ] = None,
) -> Response:
    """The service-quality report of a period (政务服务质量报告): summary against the previous
    period, departments ranked with their brands, on-time and rating charts, slowest stages,
    promised against achieved, overdue cases. One self-contained HTML page; ``table`` gives
    one of its tables as CSV."""
    chosen = parse_period(period)
    built = await run_in_threadpool(
        functools.partial(
            build,
            store,
            chosen,
            calendars.current().get,
            department,
            # The page names the oldest overdue cases; the overdue CSV every one of them.
            overdue_listed=None if table == "overdue" else OVERDUE_LISTED,
        )
    )
    name = f"report-{chosen.label}" + (f"-{department}" if department else "")
    if table is not None:
        return Response(
            to_csv(tables(built)[table]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-{table}.csv"'},
        )
    return Response(html(built), media_type="text/html; charset=utf-8")
