"""Working-day arithmetic for workflows, run as a (local) activity.

Workflow code never reads calendar data itself: replay must not depend on the holiday data
installed today, and a newly published arrangement (a catalog ``CalendarYear`` file) must
reach running cases. The answer of each call is recorded in the workflow history.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import activity

from definitions.calendar import Suspension, WorkingCalendar
from definitions.models import CalendarYear
from workflows.contracts import CLOCK_ACTIVITY, ClockAnswer, ClockRequest, ClockResult


class Calendars:
    """The calendars named in the catalog, built once and replaced by ``reload``."""

    def __init__(self, years: Sequence[CalendarYear] = ()) -> None:
        self._years = list(years)
        self._built: dict[str, WorkingCalendar] = {}

    def reload(self, years: Sequence[CalendarYear]) -> None:
        """Use a new set of overrides from now on (running cases pick them up)."""
        self._years = list(years)
        self._built = {}

    def get(self, name: str) -> WorkingCalendar:
        """The calendar of that name (an unknown regional name falls back to national)."""
        if name not in self._built:
            self._built[name] = WorkingCalendar(self._years, name)
        return self._built[name]


def answer(calendars: Calendars, request: ClockRequest) -> ClockResult:
    """Deadlines (and warning instants) for each query, in order."""
    answers: list[ClockAnswer] = []
    for q in request.queries:
        cal = calendars.get(q.calendar or request.calendar)
        spans = [Suspension(s.start, s.end) for s in q.suspensions]
        due = cal.deadline(q.start, q.days, spans)
        warning = cal.threshold(q.start, q.days, q.warning, spans) if q.warning else None
        answers.append(
            ClockAnswer(
                deadline_at=due.instant,
                deadline_date=due.date,
                warning_at=warning.instant if warning else None,
                provisional=due.provisional or bool(warning and warning.provisional),
            )
        )
    return ClockResult(answers=answers)


class ClockActivities:
    """Activity wrapper around ``answer`` bound to the worker's calendars."""

    def __init__(self, calendars: Calendars) -> None:
        self.calendars = calendars

    @activity.defn(name=CLOCK_ACTIVITY)
    async def compute_deadlines(self, request: ClockRequest) -> ClockResult:
        """Pure computation on calendar data; cheap enough to run on the event loop."""
        return answer(self.calendars, request)
