"""Supervisors: department performance and satisfaction figures for a period."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.deps import CalendarsDep, StoreDep, Supervisor
from evaluation.figures import Group, as_data, figures
from evaluation.periods import Period, PeriodError

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
    figures: dict[str, int | float | Days | dict[str, int] | None]
    """Each figure by its key (see ``definitions``): counts, rates (0–1, null when nothing to
    count), working days as ``Days``, ratings by level."""


class Figures(BaseModel):
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
) -> Figures:
    """Performance and satisfaction figures of a period's cases, for all cases, by procedure,
    by department (with the department's own tasks: where the time goes) or by service brand.
    Each figure is defined once; ``definitions`` says how."""
    try:
        chosen = Period.parse(period)
    except PeriodError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["query", "period"], "msg": str(exc), "type": "value_error"}],
        ) from None
    table = await run_in_threadpool(figures, store, chosen, by, calendars.current().get)
    return Figures.model_validate(as_data(table))
