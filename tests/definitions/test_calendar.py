"""The working-day clock against the official 2025 and 2026 arrangements, overrides and fallback."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import chinese_calendar
import pytest

from definitions.calendar import (
    SHANGHAI,
    DaySource,
    Suspension,
    WorkingCalendar,
    end_of_day,
    start_of_day,
    statutory_holidays,
)
from definitions.loader import load_paths
from definitions.models import CalendarYear, WarningThreshold

D = dt.date


def at(day: str, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


# ----------------------------------------------------------------- official arrangements


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2025-09-28", True),  # Sunday, make-up working day for National Day
        ("2025-10-01", False),
        ("2025-10-08", False),  # the eighth day of the 2025 National Day break
        ("2025-10-11", True),  # Saturday, make-up working day
        ("2025-10-12", False),
        ("2026-02-14", True),  # Saturday, make-up working day for Spring Festival
        ("2026-02-16", False),
        ("2026-02-23", False),
        ("2026-02-28", True),
        ("2026-10-10", True),
        ("2026-05-04", False),
    ],
)
def test_official_days(cal: WorkingCalendar, day: str, working: bool) -> None:
    info = cal.day(D.fromisoformat(day))
    assert info.working is working
    assert info.source is DaySource.chinesecalendar
    assert not info.provisional


def test_national_day_2025_deadline(cal: WorkingCalendar) -> None:
    # 26 Sep not counted; 28 Sep (make-up) is day 1, 29, 30, then 1-8 Oct off, 9 and 10 Oct.
    due = cal.add_working_days(D(2025, 9, 26), 5)
    assert due.date == D(2025, 10, 10)
    assert due.instant == at("2025-10-11")
    assert not due.provisional


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2026-02-13", 1, "2026-02-14"),  # Friday + 1 = the make-up Saturday
        ("2026-02-13", 2, "2026-02-24"),  # then the Spring Festival break, 15-23 Feb
        ("2026-09-24", 2, "2026-09-29"),  # Mid-Autumn 25 Sep, weekend, then Mon and Tue
        ("2026-09-30", 3, "2026-10-10"),  # National Day 1-7 Oct, 8, 9 and make-up Sat 10
        ("2025-10-01", 1, "2025-10-09"),  # a start on a holiday is not counted either
        ("2025-12-31", 2, "2026-01-05"),  # 1-3 Jan off, 4 Jan (Sunday) is a make-up day
        ("2025-06-10", 0, "2025-06-10"),  # 即办: the same day
    ],
)
def test_deadlines(cal: WorkingCalendar, start: str, n: int, expected: str) -> None:
    due = cal.add_working_days(D.fromisoformat(start), n)
    assert due.date == D.fromisoformat(expected)
    assert due.instant == end_of_day(due.date)


def test_matches_official_data_day_by_day(cal: WorkingCalendar) -> None:
    rng = random.Random(20251001)
    for _ in range(400):
        start = D(2025, 1, 1) + dt.timedelta(days=rng.randrange(0, 640))
        n = rng.randrange(1, 30)
        day, seen = start, 0
        while seen < n:
            day += dt.timedelta(days=1)
            seen += chinese_calendar.is_workday(day)
        assert cal.add_working_days(start, n).date == day, (start, n)


def test_working_days_in_october_2025(cal: WorkingCalendar) -> None:
    # 9, 10, 11 (make-up Saturday), then four full weeks: 13-17, 20-24, 27-31.
    assert cal.count_working_days(D(2025, 10, 1), D(2025, 10, 31)).days == 18
    assert cal.count_working_days(D(2025, 10, 9), D(2025, 10, 9)).days == 1
    with pytest.raises(ValueError, match="end date is before"):
        cal.count_working_days(D(2025, 10, 2), D(2025, 10, 1))


# ----------------------------------------------------------------- 2027: fallback and overrides


def test_fallback_for_a_year_without_data(cal: WorkingCalendar) -> None:
    # 1 Jan 2027 is a fixed-date holiday, 2-3 Jan a weekend: Mon 4 and Tue 5 are counted.
    due = cal.add_working_days(D(2026, 12, 31), 2)
    assert due.date == D(2027, 1, 5)
    assert due.provisional
    info = cal.day(D(2027, 10, 2))
    assert (info.working, info.source, info.name) == (False, DaySource.fallback, "国庆节")
    # 1-2 May 2027 are a Saturday and a Sunday: made up on Monday 3 and Tuesday 4 (第六条).
    assert [cal.day(D(2027, 5, d)).name for d in (3, 4)] == ["劳动节补假", "劳动节补假"]
    assert cal.day(D(2027, 5, 6)).working  # bridge days and make-up weekends are unknown
    assert cal.day(D(2150, 6, 1)).provisional  # far outside any data, still no exception
    assert cal.day(D(2150, 10, 1)).name == "国庆节"  # outside the lunar tables: fixed dates


def test_fallback_knows_the_lunar_holidays_of_2027(cal: WorkingCalendar) -> None:
    # 除夕 5 Feb 2027 (Friday) to 初三 8 Feb; the weekend days 6 and 7 Feb are made up on 9
    # and 10 Feb. Twenty working days from 25 Jan end on 26 Feb, not on 22 Feb.
    off = [d for d in range(1, 15) if not cal.is_working_day(D(2027, 2, d))]
    assert off == [5, 6, 7, 8, 9, 10, 13, 14]
    due = cal.add_working_days(D(2027, 1, 25), 20)
    assert (due.date, due.provisional) == (D(2027, 2, 26), True)
    assert cal.day(D(2027, 4, 5)).name == "清明节"
    assert cal.day(D(2027, 6, 9)).name == "端午节"
    assert cal.day(D(2027, 9, 15)).name == "中秋节"


@pytest.mark.parametrize("year", [2025, 2026])
def test_fallback_never_works_on_an_official_day_off(year: int) -> None:
    # The statutory rules alone (with 补假) give a subset of the official days off.
    for day, name in statutory_holidays(year).items():
        assert not chinese_calendar.is_workday(day), (day, name)


def test_immediate_on_a_non_working_day_is_due_the_next_working_day(cal: WorkingCalendar) -> None:
    due = cal.deadline(at("2025-10-04", 10), 0)  # a Saturday inside the National Day break
    assert (due.date, due.instant) == (D(2025, 10, 9), at("2025-10-10"))
    assert due.derivation is not None
    assert due.derivation.immediate_moved
    assert cal.threshold(at("2025-10-04", 10), 0, WarningThreshold(percent=50)).instant == at(
        "2025-10-09", 12
    )
    assert cal.deadline(at("2025-10-09", 10), 0).date == D(2025, 10, 9)


def test_a_deadline_explains_itself(cal: WorkingCalendar) -> None:
    pause = Suspension(at("2025-09-29", 9), at("2025-10-09", 9), "supplement")
    due = cal.deadline(at("2025-09-26", 10), 5, [pause])
    why = due.derivation
    assert why is not None
    assert (why.start_date, why.days, why.due_date) == (D(2025, 9, 26), 5, D(2025, 10, 13))
    assert [d.date for d in why.makeup_days] == [D(2025, 9, 28), D(2025, 10, 11)]
    assert why.weekends_skipped == 2  # 27 Sep and 12 Oct
    assert [s.working_days for s in why.suspended] == [2]  # 30 Sep and 9 Oct
    assert why.suspended[0].reason == "supplement"
    assert not why.holidays  # 1-8 Oct lie inside the suspension: not counted either way
    assert [(s.year, s.source) for s in why.sources] == [(2025, DaySource.chinesecalendar)]
    plain = cal.deadline(at("2025-09-26", 10), 5).derivation
    assert plain is not None
    assert [h.name for h in plain.holidays][:1] == ["国庆节"]
    assert len(plain.holidays) == 8


def test_a_deadline_inside_known_years_is_not_provisional(cal: WorkingCalendar) -> None:
    assert not cal.add_working_days(D(2026, 12, 1), 10).provisional


OVERRIDE_2027 = """
kind: CalendarYear
year: 2027
source: 测试用安排（非官方）/ test arrangement, not official
holidays:
  - {from: 2027-01-01, to: 2027-01-04, name: 元旦}
workdays:
  - {date: 2027-01-09, name: 元旦调休}
"""


def _calendar_from(tmp_path: Path, text: str, name: str = "national") -> WorkingCalendar:
    (tmp_path / "cal.yaml").write_text(text, encoding="utf-8")
    result = load_paths([tmp_path])
    assert not result.diagnostics
    years = [e.definition for e in result.loaded if isinstance(e.definition, CalendarYear)]
    return WorkingCalendar(years, name)


def test_override_file_for_2027(tmp_path: Path) -> None:
    cal = _calendar_from(tmp_path, OVERRIDE_2027)
    # 1-4 Jan off by the override: Tue 5, Wed 6, Thu 7, Fri 8, make-up Sat 9.
    due = cal.add_working_days(D(2026, 12, 31), 5)
    assert due.date == D(2027, 1, 9)
    assert not due.provisional
    assert cal.day(D(2027, 1, 9)).source is DaySource.override
    assert cal.day(D(2027, 3, 3)).source is DaySource.override  # the file covers the whole year
    assert cal.day(D(2028, 1, 3)).provisional


def test_override_takes_precedence_over_the_package(tmp_path: Path) -> None:
    cal = _calendar_from(
        tmp_path,
        "kind: CalendarYear\nyear: 2025\nsource: 测试 / test\n"
        "holidays: [{date: 2025-10-01, name: 国庆节}]\n",
    )
    assert not cal.is_working_day(D(2025, 10, 1))
    assert cal.is_working_day(D(2025, 10, 2))  # not listed in the override: a plain Thursday
    assert not cal.is_working_day(D(2025, 9, 28))  # the package's make-up Sunday is not used


def test_regional_calendar_layers_on_national(tmp_path: Path) -> None:
    text = (
        "kind: CalendarYear\ncalendar: guangxi\nyear: 2025\nsource: 测试 / test\n"
        "holidays: [{from: 2025-03-31, to: 2025-04-01, name: 壮族三月三}]\n"
    )
    regional = _calendar_from(tmp_path, text, "guangxi")
    national = _calendar_from(tmp_path, text)
    assert not regional.is_working_day(D(2025, 3, 31))
    assert national.is_working_day(D(2025, 3, 31))
    assert not regional.is_working_day(D(2025, 10, 1))  # national holidays still apply


def test_override_rejects_dates_outside_its_year() -> None:
    with pytest.raises(ValueError, match="outside 2027"):
        CalendarYear.model_validate(
            {"year": 2027, "source": "x", "holidays": [{"date": "2026-12-31"}]}
        )


# ----------------------------------------------------------------- the legal clock


def test_deadline_from_an_instant(cal: WorkingCalendar) -> None:
    due = cal.deadline(at("2025-09-26", 10, 30), 5)
    assert (due.date, due.instant) == (D(2025, 10, 10), at("2025-10-11"))
    assert cal.deadline(at("2025-09-26", 10), 0).instant == at("2025-09-27")
    utc = dt.datetime(2025, 9, 26, 20, 0, tzinfo=dt.UTC)  # already 27 Sep in Shanghai
    assert cal.deadline(utc, 1).date == D(2025, 9, 28)


def test_suspension_across_a_weekend_shifts_by_one_working_day(cal: WorkingCalendar) -> None:
    start = at("2025-09-19", 10)  # a Friday; days 22, 23, 24, 25, 26 Sep are counted
    assert cal.deadline(start, 5).date == D(2025, 9, 26)
    # Returned for supplement Friday 15:00, supplemented Monday 15:00 (3 calendar days):
    # Sat, Sun and Mon are removed; only Monday was a working day, so one day is added,
    # and the day after Friday 26 Sep that counts is the make-up Sunday 28 Sep.
    pause = Suspension(at("2025-09-19", 15), at("2025-09-22", 15))
    assert cal.deadline(start, 5, [pause]).date == D(2025, 9, 28)


def test_suspension_over_the_holiday(cal: WorkingCalendar) -> None:
    start = at("2025-09-26", 10)
    pause = Suspension(at("2025-09-29", 9), at("2025-10-09", 9))  # removes 30 Sep and 9 Oct
    assert cal.deadline(start, 5, [pause]).date == D(2025, 10, 13)


def test_open_suspension_has_no_deadline_and_stops_elapsed(cal: WorkingCalendar) -> None:
    start = at("2025-09-15", 9)
    pause = Suspension(at("2025-09-16", 12))
    with pytest.raises(ValueError, match="suspended"):
        cal.deadline(start, 5, [pause])
    # Only Tuesday 16 Sep ran (the day of the return); nothing after it counts.
    assert cal.elapsed(start, at("2025-09-30", 12), [pause]).days == 1.0


def test_elapsed_counts_fractions_of_working_days(cal: WorkingCalendar) -> None:
    start = at("2025-09-26", 10)
    # 28, 29, 30 Sep in full, the holidays not at all, half of 9 Oct.
    assert cal.elapsed(start, at("2025-10-09", 12)).days == 3.5
    assert cal.elapsed(start, at("2025-09-26", 23)).days == 0
    assert cal.elapsed(start, at("2025-09-27", 12)).days == 0  # Saturday


def test_warning_thresholds(cal: WorkingCalendar) -> None:
    start = at("2025-09-26", 10)
    one_day = WarningThreshold(days_before=1)
    assert cal.threshold(start, 5, one_day).instant == at("2025-10-10")
    assert cal.threshold(start, 5, WarningThreshold(percent=80)).instant == at("2025-10-10")
    assert cal.threshold(start, 5, WarningThreshold(percent=50)).instant == at("2025-09-30", 12)
    # The last working day is Monday: the warning is Monday 00:00, not Saturday 00:00.
    assert cal.threshold(at("2025-09-15", 10), 5, one_day).instant == at("2025-09-22")
    # A threshold longer than the limit fires at the start of the first counted day.
    assert cal.threshold(start, 2, WarningThreshold(days_before=5)).instant == at("2025-09-28")
    # 即办: within the start day.
    assert cal.threshold(start, 0, WarningThreshold(percent=50)).instant == at("2025-09-26", 17)


def test_bad_inputs_are_refused(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_days(D(2025, 1, 1), -1)
    with pytest.raises(ValueError, match="timezone"):
        cal.deadline(dt.datetime(2025, 1, 1, 9), 1)
    assert start_of_day(D(2025, 1, 1)).utcoffset() == dt.timedelta(hours=8)


def test_two_holidays_on_one_date_are_two_days_off(cal: WorkingCalendar) -> None:
    # 2031: 中秋 falls on 1 October (Wednesday); as in 2020, both holidays are days off, so
    # the fallback makes up the second on the next free weekday, Monday 6 October.
    days = statutory_holidays(2031)
    assert [d.isoformat() for d in days if d.month == 10] == [
        "2031-10-01",
        "2031-10-02",
        "2031-10-03",
        "2031-10-06",
    ]
    assert sum(1 for d in statutory_holidays(2020) if d.month == 10) == 5  # with 补假
