"""The clock activity answers each query on its department's calendar."""

from __future__ import annotations

import datetime as dt

from activities.clock import Calendars, answer
from definitions.calendar import SHANGHAI
from definitions.models import CalendarYear, WarningThreshold
from workflows.contracts import ClockQuery, ClockRequest

GUANGXI = CalendarYear.model_validate(
    {
        "calendar": "guangxi",
        "year": 2025,
        "source": "测试 / test",
        "holidays": [{"from": "2025-03-31", "to": "2025-04-01", "name": "壮族三月三"}],
    }
)


def test_queries_use_their_own_calendar() -> None:
    start = dt.datetime(2025, 3, 28, 10, 0, tzinfo=SHANGHAI)  # a Friday
    request = ClockRequest(
        queries=[
            ClockQuery(start=start, days=1),
            ClockQuery(start=start, days=1, calendar="guangxi"),
            ClockQuery(start=start, days=2, warning=WarningThreshold(percent=50)),
        ]
    )
    national, regional, warned = answer(Calendars([GUANGXI]), request).answers
    assert national.deadline_date == dt.date(2025, 3, 31)  # Monday
    assert regional.deadline_date == dt.date(2025, 4, 2)  # after the regional holidays
    # Half of 2 days is a whole day: the warning opens the second counted day, Tuesday.
    assert warned.warning_at == dt.datetime(2025, 4, 1, 0, 0, tzinfo=SHANGHAI)
    assert not national.provisional
    assert (
        answer(
            Calendars(), ClockRequest(queries=[ClockQuery(start=start.replace(year=2027), days=3)])
        )
        .answers[0]
        .provisional
    )
