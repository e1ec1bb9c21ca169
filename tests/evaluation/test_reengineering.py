"""Achieved against promised, and where each stage's time goes, worked out by hand.

The cases are those of test_figures (the week of 15 September 2025); they run under the
business start-up's promise (开办企业: 3 working days instead of 7, no trip instead of two).
"""

from __future__ import annotations

import pytest

from evaluation.figures import Spread
from evaluation.reengineering import achieved
from tests.evaluation.test_figures import CASES, calendars
from tests.store.factories import procedure_snapshot


def test_achieved_against_promised_and_where_the_time_goes() -> None:
    snap = procedure_snapshot("YZ-YJS-KBQY")
    [p] = achieved(CASES, {"P": snap}, calendars)
    assert (p.name, p.cases, p.decided) == (snap.procedure.name, 5, 3)
    assert (p.promised_days, p.before.limit_days, p.after.trips, p.before.trips) == (3, 7, 0, 2)
    # Decided in 1.5, 2.75 and 2.5 working days; two of three on time.
    assert p.days == Spread(3, pytest.approx(2.25), 2.5, 2.75)
    assert p.on_time_rate == pytest.approx(2 / 3)
    # Delivered: c1 (one trip) and c5 (none): half a trip each, against none promised.
    assert (p.trips_mean, p.one_trip_rate, p.returns_per_case) == (0.5, 1.0, 0.75)
    a, b = p.stages
    assert (a.department, a.tasks, a.committed) == ("A", 2, 2.0)
    # c1: waited a day, worked 1.125. c2: waited 0.25, claimed Monday 15:00, decided Friday
    # 18:00 (4.125 days) of which Tuesday stood still for the applicant: 3.125 working.
    assert a.waiting == Spread(2, pytest.approx(0.625), 0.25, 1.0)
    assert a.working == Spread(2, pytest.approx(2.125), 1.125, 3.125)
    assert a.suspended == Spread(2, 0.5, 0.0, 1.0)
    assert (b.department, b.tasks, b.waiting, b.working) == (
        "B",
        1,
        Spread(1, 0.0, 0.0, 0.0),
        Spread(1, 1.0, 1.0, 1.0),
    )
    assert p.bottleneck == a


def test_procedures_without_a_published_promise_are_left_out() -> None:
    assert achieved(CASES, {}, calendars) == []
