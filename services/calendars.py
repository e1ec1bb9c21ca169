"""Publishing a calendar year and bringing running cases up to date with it.

When the State Council publishes next year's arrangement (or a region its own days), an
administrator publishes the ``CalendarYear`` (``onetrip calendar publish FILE`` or
``POST /admin/calendars``). The year is stored as a new revision; every worker picks it up
without a restart; every open case with a clock the change may move (provisional, suspended,
or due on or after the first changed date) recomputes its running clocks with that revision,
and each deadline that moved is a ``deadline.moved`` event. Publishing again is harmless:
cases that applied the revision already report nothing moved.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from temporalio.client import Client

from definitions.calendar import WorkingCalendar
from definitions.models import CalendarYear
from evaluation import rollups
from store import followups, queries
from store.calendars import current_years, publish_calendar
from store.db import Store
from workflows.client import Done, Refused, send, update_id
from workflows.contracts import (
    SYSTEM,
    ActionResult,
    FollowUpResult,
    MovedDeadline,
    RecalculateInput,
)

log = structlog.get_logger(__name__)


@dataclass
class Publication:
    """What publishing a calendar year did."""

    revision: int
    outcome: Literal["created", "unchanged"]
    calendar: str
    year: int
    changed: list[dt.date]
    """Dates whose working status differs from what was in force before."""
    cases: list[str] = field(default_factory=list)
    """Open cases asked to recompute their clocks."""
    followups: list[str] = field(default_factory=list)
    """Open follow-ups of bad ratings asked to recompute theirs."""
    moved: list[MovedDeadline] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Cases that could not recompute now (first edition, unavailable …), with why."""

    def to_json(self) -> dict[str, Any]:
        """For the API and ``onetrip calendar publish --json``."""
        return {
            "kind": "CalendarYear",
            "calendar": self.calendar,
            "year": self.year,
            "revision": self.revision,
            "outcome": self.outcome,
            "changed": [d.isoformat() for d in self.changed],
            "cases": list(self.cases),
            "followups": list(self.followups),
            "moved": [m.model_dump(mode="json") for m in self.moved],
            "failed": dict(self.failed),
        }


def _in_force(
    base: Sequence[CalendarYear], published: Sequence[CalendarYear]
) -> list[CalendarYear]:
    by_id = {(y.calendar, y.year): y for y in base}
    by_id.update({(y.calendar, y.year): y for y in published})
    return list(by_id.values())


def changed_dates(
    before: Sequence[CalendarYear], after: Sequence[CalendarYear], calendar: str, year: int
) -> list[dt.date]:
    """Dates of ``year`` whose working status differs between the two sets of years."""
    old, new = WorkingCalendar(before, calendar), WorkingCalendar(after, calendar)
    day, out = dt.date(year, 1, 1), []
    while day.year == year:
        if old.is_working_day(day) != new.is_working_day(day):
            out.append(day)
        day += dt.timedelta(days=1)
    return out


async def record_year(
    store: Store,
    year: CalendarYear,
    *,
    base: Sequence[CalendarYear] = (),
    published_by: str | None = None,
) -> Publication:
    """Store the year as a revision, and find the open cases whose deadlines it may move."""
    before = _in_force(base, await asyncio.to_thread(current_years, store))
    revision, outcome = await asyncio.to_thread(publish_calendar, store, year, published_by)
    after = _in_force(before, [year])
    changed = changed_dates(before, after, year.calendar, year.year)
    publication = Publication(revision, outcome, year.calendar, year.year, changed)
    if changed:
        # Their figures count working days again (closed cases too: no recalculation reaches
        # them, but their days used may have changed).
        await asyncio.to_thread(rollups.mark_stale, store, changed[0], changed[-1])
    first = changed[0] if changed else dt.date(year.year, 12, 31)
    publication.cases = await asyncio.to_thread(
        queries.cases_to_recalculate, store, first, dt.date(year.year, 12, 31)
    )
    publication.followups = await asyncio.to_thread(
        followups.to_recalculate, store, first, dt.date(year.year, 12, 31)
    )
    return publication


async def recalculate(
    client: Client,
    publication: Publication,
    *,
    concurrency: int = 16,
    wait: dt.timedelta = dt.timedelta(seconds=30),
) -> Publication:
    """Have each case of the publication recompute its running clocks with the revision."""
    gate = asyncio.Semaphore(concurrency)

    async def one(case_id: str, followup: str | None = None) -> None:
        data = RecalculateInput(actor=SYSTEM, revision=publication.revision)
        target = followups.workflow_id(followup) if followup else case_id
        uid = update_id(SYSTEM.id, "recalculate", target, f"calendar-{publication.revision}")
        async with gate:
            outcome = await send(
                client,
                target,
                "recalculate",
                data,
                uid=uid,
                wait=wait,
                result_type=FollowUpResult if followup else ActionResult,
            )
        case_id = followup or case_id  # what the failures are listed by
        if isinstance(outcome, Done):
            publication.moved.extend(outcome.result.moved)
        elif isinstance(outcome, Refused):
            publication.failed[case_id] = outcome.message
        else:
            publication.failed[case_id] = type(outcome).__name__
        if case_id in publication.failed:
            log.warning("case not recalculated", case_id=case_id, why=publication.failed[case_id])

    await asyncio.gather(
        *(one(c) for c in publication.cases),
        *(one(f.rpartition("/")[0], f) for f in publication.followups),
    )
    publication.moved.sort(key=lambda m: (m.case_id, m.clock))
    log.info(
        "calendar applied",
        revision=publication.revision,
        cases=len(publication.cases),
        moved=len(publication.moved),
        failed=len(publication.failed),
    )
    return publication


async def publish_year(
    client: Client,
    store: Store,
    year: CalendarYear,
    *,
    base: Sequence[CalendarYear] = (),
    published_by: str | None = None,
    concurrency: int = 16,
    wait: dt.timedelta = dt.timedelta(seconds=30),
) -> Publication:
    """Store the year, then have every open case it may affect recompute its deadlines."""
    publication = await record_year(store, year, base=base, published_by=published_by)
    return await recalculate(client, publication, concurrency=concurrency, wait=wait)
