"""Working-day arithmetic for workflows, run as a local activity.

Workflow code never reads calendar data itself: replay must not depend on the holiday data
installed today, and a newly published arrangement must reach running cases. The answer of
each call (due instants, warning instants and their derivations) is recorded in the history.

Calendar data comes from the catalog's ``CalendarYear`` files and from the years published to
the store (which win for the same calendar and year). Workers poll the store's latest revision
(:meth:`Calendars.refresh_if_newer`), and a request that needs a newer revision than the
worker has loads it first, so a case recomputed after a publication never gets an answer from
older data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from definitions.calendar import Suspension, WorkingCalendar
from definitions.models import CalendarYear
from store.calendars import current_years, latest_revision
from store.db import Store
from workflows.contracts import (
    CALENDAR_ERROR,
    CLOCK_ACTIVITY,
    ClockAnswer,
    ClockRequest,
    ClockResult,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Loaded:
    """One consistent set of calendar data: its revision, its years, the calendars built."""

    revision: int
    years: tuple[CalendarYear, ...]
    built: dict[str, WorkingCalendar]

    def get(self, name: str) -> WorkingCalendar:
        """The calendar of that name (an unknown regional name falls back to national)."""
        calendar = self.built.get(name)
        if calendar is None:
            calendar = self.built[name] = WorkingCalendar(self.years, name)
        return calendar


class Calendars:
    """The calendars a worker computes with: catalog years, overlaid by published ones."""

    def __init__(self, years: Sequence[CalendarYear] = (), store: Store | None = None) -> None:
        self._base = tuple(years)
        self._store = store
        self.loaded = Loaded(0, self._base, {})
        """Replaced whole by a reload (a refresh runs in a thread), never changed in place."""

    @property
    def revision(self) -> int:
        """The newest published revision this worker computes with (0: catalog only)."""
        return self.loaded.revision

    def reload(self, years: Sequence[CalendarYear], revision: int | None = None) -> None:
        """Use these years (overlaid on the catalog's) from now on."""
        published = {(y.calendar, y.year): y for y in years}
        base = [y for y in self._base if (y.calendar, y.year) not in published]
        self.loaded = Loaded(
            self.loaded.revision if revision is None else revision,
            (*base, *published.values()),
            {},
        )

    def refresh(self) -> int:
        """Load the published years from the store (blocking I/O); returns the revision."""
        if self._store is None:
            return self.revision
        years = current_years(self._store)
        revision = max((y.revision for y in years), default=0)
        plain = [
            CalendarYear.model_validate(y.model_dump(exclude={"revision", "published_at"}))
            for y in years
        ]
        self.reload(plain, revision)
        log.info("calendars loaded", revision=revision, years=len(plain))
        return revision

    def refresh_if_newer(self) -> bool:
        """Poll the store's latest revision and reload when it moved (blocking I/O)."""
        if self._store is None or latest_revision(self._store) <= self.revision:
            return False
        self.refresh()
        return True

    def current(self) -> Loaded:
        """The data loaded now, to answer a whole request with."""
        return self.loaded

    def get(self, name: str) -> WorkingCalendar:
        """The calendar of that name, from the data loaded now."""
        return self.current().get(name)


def answer(calendars: Calendars, request: ClockRequest) -> ClockResult:
    """Deadlines, warning instants and derivations for each query, in order."""
    loaded = calendars.current()  # one set of data for the whole answer, whatever a refresh does
    answers: list[ClockAnswer] = []
    for q in request.queries:
        cal = loaded.get(q.calendar or request.calendar)
        spans = [Suspension(s.start, s.end, s.reason) for s in q.suspensions]
        due = cal.deadline(q.start, q.days, spans)
        warning = cal.threshold(q.start, q.days, q.warning, spans) if q.warning else None
        answers.append(
            ClockAnswer(
                deadline_at=due.instant,
                deadline_date=due.date,
                warning_at=warning.instant if warning else None,
                provisional=due.provisional or bool(warning and warning.provisional),
                derivation=due.derivation.to_json() if due.derivation else None,
            )
        )
    return ClockResult(answers=answers, revision=loaded.revision)


class ClockActivities:
    """Activity wrapper around ``answer`` bound to the worker's calendars."""

    def __init__(self, calendars: Calendars) -> None:
        self.calendars = calendars

    @activity.defn(name=CLOCK_ACTIVITY)
    async def compute_deadlines(self, request: ClockRequest) -> ClockResult:
        """Pure computation on calendar data, after loading a newer revision if one is asked.

        An error of the computation itself (a query the calendar cannot answer) will repeat
        on every attempt: it is raised as a non-retryable CalendarError, which the case turns
        into an incident. Loading from the store may fail for a while: that is retried.
        """
        if request.min_revision > self.calendars.revision:
            await asyncio.to_thread(self.calendars.refresh)
        try:
            return answer(self.calendars, request)
        except (ValueError, KeyError, NotImplementedError, OverflowError, TypeError) as exc:
            keys = ", ".join(q.key or "?" for q in request.queries)
            raise ApplicationError(
                f"{type(exc).__name__}: {str(exc)[:300]} ({keys})",
                type=CALENDAR_ERROR,
                non_retryable=True,
            ) from None
