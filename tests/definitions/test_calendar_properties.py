"""Properties of the working-day clock over official, override-free and fallback years.

Starts range from 2024 to 2028, so official data (chinesecalendar), and the statutory fallback
(2027 on) are both exercised; times of day are arbitrary.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from definitions.calendar import (
    SHANGHAI,
    Suspension,
    WorkingCalendar,
    end_of_day,
    local_date,
)
from definitions.models import WarningThreshold

CAL = WorkingCalendar()

starts = st.builds(
    lambda day, minute: (
        dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI) + dt.timedelta(minutes=minute)
    ),
    st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2028, 12, 31)),
    st.integers(min_value=0, max_value=24 * 60 - 1),
)
limits = st.integers(min_value=0, max_value=45)


@st.composite
def spans(draw: st.DrawFn, start: dt.datetime, count: int) -> list[Suspension]:
    """Closed suspensions beginning at or after ``start``."""
    out = []
    for _ in range(count):
        begin = start + dt.timedelta(minutes=draw(st.integers(0, 60 * 24 * 40)))
        length = dt.timedelta(minutes=draw(st.integers(0, 60 * 24 * 20)))
        out.append(Suspension(begin, begin + length, draw(st.sampled_from(["a", "b", None]))))
    return out


def working_days_between(first: dt.date, last: dt.date) -> int:
    """Working days in (first, last]."""
    if last <= first:
        return 0
    return CAL.count_working_days(first + dt.timedelta(days=1), last).days


@settings(max_examples=300, deadline=None)
@given(start=starts, n=limits)
def test_every_deadline_is_the_end_of_a_working_day(start: dt.datetime, n: int) -> None:
    due = CAL.deadline(start, n)
    assert CAL.is_working_day(due.date)
    assert due.instant == end_of_day(due.date)
    assert due.date > local_date(start) if n else due.date >= local_date(start)
    # Exactly n working days lie after the start day up to the deadline.
    assert working_days_between(local_date(start), due.date) == n or n == 0


@settings(max_examples=300, deadline=None)
@given(data=st.data(), start=starts, n=st.integers(min_value=1, max_value=45))
def test_suspending_k_working_days_moves_the_deadline_by_exactly_k(
    data: st.DataObject, start: dt.datetime, n: int
) -> None:
    [span] = data.draw(spans(start, 1))
    assert span.end is not None
    plain = CAL.deadline(start, n)
    moved = CAL.deadline(start, n, [span])
    first, last = local_date(span.start), local_date(span.end)
    if first >= plain.date:
        # The clock ran on the day the suspension began: a suspension from the deadline's own
        # day (or later) cannot move it.
        assert moved.date == plain.date
        return
    k = working_days_between(first, last)
    assert moved.date == CAL.add_working_days(local_date(start), n + k).date
    assert moved.derivation is not None
    assert [s.working_days for s in moved.derivation.suspended] == [k]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), start=starts, n=limits, count=st.integers(1, 4))
def test_spans_in_any_order_give_the_same_answer(
    data: st.DataObject, start: dt.datetime, n: int, count: int
) -> None:
    given_spans = data.draw(spans(start, count))
    shuffled = data.draw(st.permutations(given_spans))
    a, b = CAL.deadline(start, n, given_spans), CAL.deadline(start, n, shuffled)
    assert (a.date, a.provisional, a.derivation) == (b.date, b.provisional, b.derivation)
    warning = WarningThreshold(percent=80)
    assert CAL.threshold(start, n, warning, given_spans) == CAL.threshold(
        start, n, warning, shuffled
    )


@settings(max_examples=200, deadline=None)
@given(start=starts, n=st.integers(0, 44))
def test_a_longer_limit_is_due_later(start: dt.datetime, n: int) -> None:
    longer, shorter = CAL.deadline(start, n + 1).date, CAL.deadline(start, n).date
    if n == 0 and not CAL.is_working_day(local_date(start)):
        assert longer == shorter  # 即办 on a day off: due the next working day, as 1 day is
    else:
        assert longer > shorter


@settings(max_examples=200, deadline=None)
@given(start=starts, n=st.integers(1, 45))
def test_the_derivation_accounts_for_every_day(start: dt.datetime, n: int) -> None:
    due = CAL.deadline(start, n)
    why = due.derivation
    assert why is not None
    calendar_days = (why.due_date - why.start_date).days
    skipped = why.weekends_skipped + len(why.holidays)
    makeup = len(why.makeup_days)
    weekdays_worked = n - makeup
    assert calendar_days == skipped + makeup + weekdays_worked
    assert why.provisional == due.provisional
    # Every year a counted day falls in names where its data came from.
    first_counted = why.start_date + dt.timedelta(days=1)
    assert [s.year for s in why.sources] == list(range(first_counted.year, why.due_date.year + 1))


@settings(max_examples=200, deadline=None)
@given(start=starts, n=limits, warning=st.integers(1, 99))
def test_a_warning_is_never_after_its_deadline(start: dt.datetime, n: int, warning: int) -> None:
    due = CAL.deadline(start, n)
    at = CAL.threshold(start, n, WarningThreshold(percent=warning))
    assert at.instant <= due.instant


@settings(max_examples=300, deadline=None)
@given(
    first=st.dates(dt.date(2023, 6, 1), dt.date(2028, 6, 1)),
    span=st.integers(0, 900),
)
def test_a_count_of_working_days_is_the_days_counted_one_by_one(first: dt.date, span: int) -> None:
    last = first + dt.timedelta(days=span)
    days = [CAL.day(first + dt.timedelta(days=i)) for i in range(span + 1)]
    counted = CAL.count_working_days(first, last)
    assert counted.days == sum(d.working for d in days)
    assert counted.provisional == any(d.provisional for d in days)
