"""Each figure computed from a small hand-made set of cases, its value worked out by hand.

The week of 15 September 2025 (Monday to Friday) has no holiday. The legal clock does not
count the start day: a clock started Monday 09:00 has counted 1.5 working days at Wednesday
12:00. Waiting and working time count the start day's remaining hours too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from definitions.calendar import SHANGHAI, Suspension, WorkingCalendar
from evaluation.facts import CaseFacts, TaskFacts, Timing
from evaluation.figures import FIGURES, Spread, compute, percentile
from evaluation.periods import Period

NATIONAL = WorkingCalendar([], "national")
PERIOD = Period.parse("2025Q3")


def calendars(name: str) -> WorkingCalendar:
    return NATIONAL


def at(day: int, hour: int = 9) -> dt.datetime:
    """15 September 2025 is day 15, a Monday."""
    return dt.datetime(2025, 9, day, hour, tzinfo=SHANGHAI)


MON, TUE, WED, THU, FRI = 15, 16, 17, 18, 19


def case(case_id: str, **fields: Any) -> CaseFacts:
    values: dict[str, Any] = {
        "id": case_id,
        "procedure_code": "P",
        "procedure_name": "开办企业",
        "departments": ("A",),
        "state": "in_progress",
        "channel": "online",
        "submitted_at": at(MON, 8),
        "accepted_at": at(MON),
        "deemed_accepted": False,
        "decided_at": None,
        "delivered_at": None,
        "overdue": False,
        "warned": False,
        "escalated": False,
        "returns": 0,
        "trips": 0,
        "rating": None,
        "clock": Timing(at(MON), 3, "national"),
        "tasks": [],
    }
    return CaseFacts(**(values | fields))


def task(case_id: str, department: str, **fields: Any) -> TaskFacts:
    values: dict[str, Any] = {
        "case_id": case_id,
        "task_key": department.lower(),
        "stage_key": "review",
        "department": department,
        "state": "open",
        "days": 2,
        "created_at": at(MON),
        "opened_at": at(MON),
        "claimed_at": None,
        "decided_at": None,
        "overdue": False,
        "warned": False,
        "escalated": False,
        "clock": Timing(at(MON), 2, "national"),
    }
    return TaskFacts(**(values | fields))


SUSPENDED_TUESDAY = (Suspension(at(TUE, 0), at(WED, 0), "supplement"),)

CASES = [
    # Approved Wednesday noon: 1.5 working days of 3; one trip; rated 5.
    case(
        "c1",
        departments=("A", "B"),
        state="completed",
        decided_at=at(WED, 12),
        delivered_at=at(WED, 15),
        trips=1,
        rating=5,
        clock=Timing(at(MON), 3, "national", ended_at=at(WED, 12)),
        tasks=[
            task(
                "c1",
                "A",
                state="approved",
                claimed_at=at(TUE),
                decided_at=at(WED, 12),
                clock=Timing(at(MON), 2, "national", ended_at=at(WED, 12)),
            ),
            task(
                "c1",
                "B",
                state="approved",
                days=1,
                created_at=at(WED, 12),
                opened_at=at(WED, 12),
                claimed_at=at(WED, 12),
                decided_at=at(THU, 12),
                clock=Timing(at(WED, 12), 1, "national", ended_at=at(THU, 12)),
            ),
        ],
    ),
    # Rejected Friday 18:00 after a day suspended for supplement: 2.75 working days, overdue.
    case(
        "c2",
        state="rejected",
        channel="window",
        decided_at=at(FRI, 18),
        overdue=True,
        returns=2,
        clock=Timing(at(MON), 3, "national", SUSPENDED_TUESDAY, at(FRI, 18), overdue=True),
        tasks=[
            task(
                "c2",
                "A",
                state="rejected",
                claimed_at=at(MON, 15),
                decided_at=at(FRI, 18),
                overdue=True,
                clock=Timing(at(MON), 2, "national", SUSPENDED_TUESDAY, at(FRI, 18), True),
            )
        ],
    ),
    # Still open, overdue, warned and escalated; returned once.
    case(
        "c3",
        warned=True,
        overdue=True,
        escalated=True,
        returns=1,
        tasks=[task("c3", "A", overdue=True)],
    ),
    # Refused at intake.
    case("c4", state="refused", channel="window", accepted_at=None, clock=None),
    # Deemed accepted, approved Thursday noon (2.5 working days), no trip, rated 2.
    case(
        "c5",
        state="rating",
        channel=None,
        deemed_accepted=True,
        decided_at=at(THU, 12),
        delivered_at=at(THU, 14),
        rating=2,
        clock=Timing(at(MON), 3, "national", ended_at=at(THU, 12)),
    ),
]


def test_case_figures_worked_out_by_hand() -> None:
    [group] = compute(CASES, PERIOD, "all", calendars).groups
    f = group.figures
    assert (f["received"], f["accepted"], f["deemed_accepted"], f["refused"]) == (5, 4, 1, 1)
    assert (f["approved"], f["rejected"], f["withdrawn"], f["terminated"], f["open"]) == (
        2,
        1,
        0,
        0,
        1,
    )
    # Decided: c1, c2 (overdue), c5.
    assert f["on_time_rate"] == pytest.approx(2 / 3)
    # Used 1.5, 2.75, 2.5: mean 6.75 / 3; p50 the 2nd of three; p90 the 3rd.
    assert f["days_used"] == Spread(3, pytest.approx(2.25), 2.5, 2.75)
    assert f["days_committed"] == Spread(3, 3.0, 3.0, 3.0)
    assert f["used_of_committed"] == pytest.approx(6.75 / 9)
    assert (f["warned"], f["overdue"], f["escalated"]) == (1, 2, 1)
    # Returns 0 + 2 + 1 + 0 over the four accepted cases; c2 was returned twice.
    assert (f["returns_per_case"], f["repeat_returns"]) == (0.75, 1)
    # Delivered: c1 (one trip), c5 (none).
    assert (f["one_trip_rate"], f["zero_trip_rate"]) == (1.0, 0.5)
    # Channels known for c1–c4: two online.
    assert f["online_rate"] == 0.5
    assert (f["rated"], f["rating_mean"], f["good_rate"], f["bad_ratings"]) == (2, 3.5, 0.5, 1)
    assert f["rating_distribution"] == {"5": 1, "4": 0, "3": 0, "2": 1, "1": 0}
    assert f["active_rating_rate"] == 1.0
    assert set(f) == {fig.key for fig in FIGURES if fig.scope == "case"}


def test_department_figures_show_where_the_time_goes() -> None:
    names = {"A": ("云州市市场监督管理局", "云端市监"), "B": ("云州市公安局", None)}
    table = compute(CASES, PERIOD, "department", calendars, names)
    a, b = table.groups
    assert (a.key, a.name, b.key) == ("A", "云州市市场监督管理局", "B")
    assert (a.figures["received"], b.figures["received"]) == (5, 1)
    f = a.figures
    # Decided tasks: c1's (1.5 legal days, on time) and c2's (2.75, overdue).
    assert (f["tasks_decided"], f["task_on_time_rate"], f["tasks_overdue"]) == (2, 0.5, 2)
    assert f["task_days_used"] == Spread(2, pytest.approx(2.125), 1.5, 2.75)
    assert f["task_days_committed"] == Spread(2, 2.0, 2.0, 2.0)
    # c1: waiting Mon 09:00 → Tue 09:00 = 1 day, working Tue 09:00 → Wed 12:00 = 1.125 days.
    # c2: waiting Mon 09:00 → 15:00 = 0.25, working Mon 15:00 → Fri 18:00 = 0.375 + 3.75,
    # less Tuesday, when it stood still for the applicant's supplement: 3.125.
    assert f["waiting_days"] == Spread(2, pytest.approx(0.625), 0.25, 1.0)
    assert f["working_days"] == Spread(2, pytest.approx(2.125), 1.125, 3.125)
    # B: claimed at once, decided a day later.
    g = b.figures
    assert (g["waiting_days"], g["working_days"]) == (
        Spread(1, 0.0, 0.0, 0.0),
        Spread(1, 1.0, 1.0, 1.0),
    )
    assert g["task_days_used"] == Spread(1, 0.5, 0.5, 0.5)
    # By brand: only departments with a brand, under the brand's name.
    [brand] = compute(CASES, PERIOD, "brand", calendars, names).groups
    assert (brand.key, brand.departments, brand.figures) == ("云端市监", ("A",), f)


def test_by_procedure_and_empty_groups() -> None:
    groups = compute(CASES, PERIOD, "procedure", calendars).groups
    assert [(g.key, g.name, g.figures["received"]) for g in groups] == [("P", "开办企业", 5)]
    [empty] = compute([], PERIOD, "all", calendars).groups
    # A rate without a denominator is unknown, not zero.
    assert (empty.figures["on_time_rate"], empty.figures["days_used"]) == (None, None)
    assert empty.figures["received"] == 0


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=50), st.floats(1, 100))
def test_a_percentile_is_a_value_that_enough_values_do_not_exceed(
    values: list[float], p: float
) -> None:
    q = percentile(values, p)
    assert q in values
    assert sum(v <= q for v in values) >= p / 100 * len(values)
    # …and the smallest such value.
    assert sum(v < q for v in values) < p / 100 * len(values)


@pytest.mark.parametrize(
    ("text", "first", "end", "previous"),
    [
        ("2026", dt.date(2026, 1, 1), dt.date(2027, 1, 1), "2025"),
        ("2026H1", dt.date(2026, 1, 1), dt.date(2026, 7, 1), "2025H2"),
        ("2026H2", dt.date(2026, 7, 1), dt.date(2027, 1, 1), "2026H1"),
        ("2026Q1", dt.date(2026, 1, 1), dt.date(2026, 4, 1), "2025Q4"),
        ("2026Q4", dt.date(2026, 10, 1), dt.date(2027, 1, 1), "2026Q3"),
        ("2026-01", dt.date(2026, 1, 1), dt.date(2026, 2, 1), "2025-12"),
        ("2026-12", dt.date(2026, 12, 1), dt.date(2027, 1, 1), "2026-11"),
    ],
)
def test_periods(text: str, first: dt.date, end: dt.date, previous: str) -> None:
    period = Period.parse(text)
    assert (period.first, period.end, period.previous().label) == (first, end, previous)
    assert period.start_at == dt.datetime(first.year, first.month, 1, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "text", ["2026H3", "26H1", "2026Q0", "2026-13", "1999", "H1", "", "2026 H1"]
)
def test_a_period_that_does_not_exist_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="period"):
        Period.parse(text)


@given(st.dates(dt.date(2000, 1, 1), dt.date(2100, 12, 31)))
def test_every_day_lies_in_exactly_one_period_of_each_length(day: dt.date) -> None:
    labels = [
        f"{day.year}",
        f"{day.year}H{1 if day.month <= 6 else 2}",
        f"{day.year}Q{(day.month - 1) // 3 + 1}",
        f"{day.year}-{day.month:02d}",
    ]
    for label in labels:
        period = Period.parse(label)
        assert period.first <= day < period.end
        if period.first != dt.date(2000, 1, 1):
            assert period.previous().end == period.first


def test_the_docs_define_every_figure() -> None:
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "figures.md").read_text()
    for figure in FIGURES:
        assert f"| `{figure.key}` | {figure.zh} |" in docs, figure.key


def test_rating_figures_by_hand() -> None:
    from evaluation.facts import RatingFacts

    delivered = {"state": "completed", "decided_at": at(WED), "delivered_at": at(WED, 15)}
    cases = [
        case(
            "r1",
            rating=5,
            ratings=[RatingFacts(5, dimensions={"overall": 5, "efficiency": 4})],
            **delivered,
        ),
        case("r2", rating=4, ratings=[RatingFacts(4, defaulted=True)], **delivered),
        case(
            "r3",
            rating=1,
            ratings=[
                RatingFacts(3, on_site=True, dimensions={"attitude": 2}),
                RatingFacts(1, dimensions={"overall": 1}),
            ],
            **delivered,
        ),
        case("r4", ratings=[RatingFacts(1, on_site=True)]),
    ]
    [group] = compute(cases, PERIOD, "all", calendars).groups
    f = group.figures
    # Online: 5, 4 (defaulted) and 1; the defaulted one counts as 满意 but not as active.
    assert (f["rated"], f["rating_mean"], f["good_rate"], f["bad_ratings"]) == (
        3,
        pytest.approx(10 / 3),
        pytest.approx(2 / 3),
        1,
    )
    assert (f["defaulted_ratings"], f["active_rating_rate"]) == (1, pytest.approx(2 / 3))
    assert f["dimension_means"] == {"efficiency": 4.0, "overall": 3.0}
    # On site (一次一评): 3 and 1.
    assert (f["onsite_rated"], f["onsite_rating_mean"], f["onsite_bad_ratings"]) == (2, 2.0, 1)
    assert f["onsite_dimension_means"] == {"attitude": 2.0}


def test_time_standing_still_for_the_applicant_counts_where_it_fell() -> None:
    from evaluation.measures import waiting_time, working_time

    # Opened Monday 09:00; the case waits for the applicant Monday 10:00 to Wednesday 09:00;
    # claimed Wednesday 10:00, decided Thursday 10:00.
    stood = (Suspension(at(MON, 10), at(WED, 9), "supplement"),)
    t = task(
        "c9",
        "A",
        claimed_at=at(WED, 10),
        decided_at=at(THU, 10),
        clock=Timing(at(MON), 2, "national", stood, at(THU, 10)),
    )
    # Waiting: Monday 09:00 to Wednesday 10:00 is 2 + 1/24 days, of which 1 + 23/24 stood
    # still: 2 hours. Working: a whole day, none of it standing still.
    assert waiting_time(t, calendars) == pytest.approx(2 / 24)
    assert working_time(t, calendars) == pytest.approx(1.0)


def test_report_cells_never_become_spreadsheet_formulas() -> None:
    from evaluation.report import _plain, to_csv

    assert _plain("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _plain("-1") == "'-1"
    assert _plain("云州市公安局") == "云州市公安局"
    assert to_csv([["a"], [_plain("@x")]]) == "\ufeffa\n'@x\n"


def test_followup_figures_by_hand() -> None:
    """Four bad ratings, five follow-up parts:

    - f1 (case rating 1, departments A and B): A justified, rectified on time, applicant said
      4; B justified, rectified late, applicant said 2.
    - f2 (case rating 2, department A): unjustified, explained.
    - f3 (case rating 1, department A): mistaken, appeal granted: the rating leaves the figures.
    - f4 (visit rating 2, department A): not called back yet.
    """
    from evaluation.facts import FollowUpFacts, RatingFacts

    def part(case_id: str, dept: str, **fields: Any) -> FollowUpFacts:
        values: dict[str, Any] = {
            "case_id": case_id,
            "department": dept,
            "rating_seq": 20,
            "source": "case",
            "state": "callback",
            "excluded": False,
            "verified": False,
            "needs_rectification": False,
            "appeal_granted": False,
            "rectified": False,
            "on_time": False,
            "satisfaction": None,
        }
        return FollowUpFacts(**(values | fields))

    done = {"state": "rectified", "verified": True, "needs_rectification": True, "rectified": True}
    delivered = {"state": "completed", "decided_at": at(WED), "delivered_at": at(WED, 15)}
    cases = [
        case(
            "f1",
            departments=("A", "B"),
            rating=1,
            ratings=[RatingFacts(1)],
            followups=[
                part("f1", "A", **done, on_time=True, satisfaction=4),
                part("f1", "B", **done, on_time=False, satisfaction=2),
            ],
            **delivered,
        ),
        case(
            "f2",
            rating=2,
            ratings=[RatingFacts(2)],
            followups=[part("f2", "A", state="explained", verified=True)],
            **delivered,
        ),
        case(
            "f3",
            rating=1,
            rating_excluded=True,
            ratings=[RatingFacts(1, excluded=True)],
            followups=[
                part("f3", "A", state="excluded", verified=True, excluded=True, appeal_granted=True)
            ],
            **delivered,
        ),
        case(
            "f4",
            ratings=[RatingFacts(2, on_site=True)],
            followups=[part("f4", "A", rating_seq=3, source="visit")],
        ),
        case("f5", rating=5, ratings=[RatingFacts(5)], **delivered),
    ]
    [group] = compute(cases, PERIOD, "all", calendars).groups
    f = group.figures
    # Ratings: f3's 1 is out; online 1, 2, 5 remain, on site the 2.
    assert (f["rated"], f["bad_ratings"], f["rating_mean"]) == (3, 2, pytest.approx(8 / 3))
    assert (f["onsite_rated"], f["onsite_bad_ratings"]) == (1, 1)
    # Parts: 5; called back: f1 A, f1 B, f2 A, f3 A = 4 of 5.
    assert (f["followups"], f["callback_rate"]) == (5, pytest.approx(4 / 5))
    # To rectify: f1 A and B, both rectified, one of them on time.
    assert (f["rectification_rate"], f["rectified_on_time_rate"]) == (1.0, 0.5)
    # Revisits answered: 4 and 2: one of two at 3 or above.
    assert (f["revisit_satisfaction"], f["appeals_granted"]) == (0.5, 1)

    by_department = {
        g.key: g.figures for g in compute(cases, PERIOD, "department", calendars).groups
    }
    a, b = by_department["A"], by_department["B"]
    # A: parts f1, f2, f3, f4: 3 of 4 called back; its one rectification on time, said 4.
    assert (a["followups"], a["callback_rate"], a["rectified_on_time_rate"]) == (4, 0.75, 1.0)
    assert a["revisit_satisfaction"] == 1.0
    # B: only its part of f1, rectified late, said 2.
    assert (b["followups"], b["rectified_on_time_rate"], b["revisit_satisfaction"]) == (1, 0.0, 0.0)


def test_a_granted_appeal_owes_no_department_a_rectification() -> None:
    """One bad rating answered by A and B: B found it justified and was rectifying when A's
    appeal was granted. The rating leaves every figure; B owes nothing; A's appeal is A's."""
    from evaluation.facts import FollowUpFacts, RatingFacts

    common: dict[str, Any] = {
        "case_id": "g1",
        "rating_seq": 20,
        "source": "case",
        "state": "excluded",
        "excluded": True,
        "verified": True,
        "rectified": False,
        "on_time": False,
        "satisfaction": None,
    }
    parts = [
        FollowUpFacts(department="A", needs_rectification=False, appeal_granted=True, **common),
        FollowUpFacts(department="B", needs_rectification=True, appeal_granted=False, **common),
    ]
    delivered = {"state": "completed", "decided_at": at(WED), "delivered_at": at(WED, 15)}
    cases = [
        case(
            "g1",
            departments=("A", "B"),
            rating=1,
            rating_excluded=True,
            ratings=[RatingFacts(1, excluded=True)],
            followups=parts,
            **delivered,
        )
    ]
    [group] = compute(cases, PERIOD, "all", calendars).groups
    f = group.figures
    assert (f["rated"], f["bad_ratings"], f["appeals_granted"]) == (0, 0, 1)
    assert (f["rectification_rate"], f["rectified"]) == (None, 0)
    groups = {g.key: g.figures for g in compute(cases, PERIOD, "department", calendars).groups}
    assert (groups["A"]["appeals_granted"], groups["B"]["appeals_granted"]) == (1, 0)
    assert groups["B"]["rectification_rate"] is None


def test_a_rectification_within_its_period_is_not_counted_yet() -> None:
    from evaluation.facts import FollowUpFacts

    common: dict[str, Any] = {
        "case_id": "h1",
        "department": "A",
        "source": "case",
        "excluded": False,
        "verified": True,
        "needs_rectification": True,
        "appeal_granted": False,
        "rectified": False,
        "on_time": False,
        "satisfaction": None,
    }
    parts = [
        FollowUpFacts(rating_seq=20, state="rectifying", rectifying_in_time=True, **common),
        FollowUpFacts(rating_seq=30, state="rectifying", rectifying_in_time=False, **common),
    ]
    [group] = compute([case("h1", followups=parts)], PERIOD, "all", calendars).groups
    # The late one counts against; the one still in its period waits.
    assert (group.figures["rectification_rate"], group.figures["rectified_on_time_rate"]) == (0, 0)
    assert group.figures["followups"] == 2
