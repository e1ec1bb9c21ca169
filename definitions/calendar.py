"""The legal working-day clock (工作日, 行政许可法 第八十二条).

Where a day's status comes from, in order of precedence:

1. An override (``kind: CalendarYear``, from the catalog or published to the store) for that
   year: the official arrangement as published by the State Council, naming its notice. A
   regional calendar (``calendar: guangxi``) adds its own days on top of the national one.
2. The ``chinesecalendar`` package, which carries the official arrangements for 2004–2026.
3. A fallback for a year with neither, built from the statutory rules alone
   (全国年节及纪念日放假办法, as amended in 2024): 元旦 1 Jan, 春节 除夕 to 正月初三,
   清明 (the solar term), 劳动节 1–2 May, 端午 (5th of the 5th lunar month), 中秋 (15th of the
   8th lunar month), 国庆节 1–3 Oct; a holiday falling on a weekend is compensated on the next
   free weekday (第六条 补假). Lunar dates and the solar term come from ``lunar_python``. The
   State Council's bridge days and make-up weekends (调休) cannot be known in advance, so any
   result that consulted a fallback day is marked ``provisional`` and the clock never raises
   for a missing year.

Counting rules, all in Asia/Shanghai:

- The day on which a period starts is not counted; the deadline is the end (24:00) of the
  Nth working day after it. A limit of 0 (即办) is due at the end of the start day when that
  is a working day, else at the end of the next working day.
- A suspension (补正, expert review, hearing, …) from instant ``s`` to instant ``e`` removes
  the working days after the day of ``s`` up to and including the day of ``e``: the clock
  ran on the day the case was returned, and restarts the day after the supplement arrived,
  as a new period would (第三十二条: acceptance dates from the day of the last supplement).
- Elapsed time is measured in working days with fractions: a counted day contributes 24
  hours, so "80% of a 5-day limit" is reached at the end of the 4th counted day.

Every deadline carries its :class:`Derivation`: the weekends and named holidays it skipped, the
make-up days it counted, the suspensions it excluded and where each year's data came from, so
a caseworker contesting a red card can read why the deadline is where it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, cached_property
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from lunar_python import Lunar

from definitions.models import NATIONAL_CALENDAR, CalendarYear, WarningThreshold

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_SECONDS = 86_400
FIXED_HOLIDAYS: dict[tuple[int, int], str] = {
    (1, 1): "元旦",
    (5, 1): "劳动节",
    (5, 2): "劳动节",
    (10, 1): "国庆节",
    (10, 2): "国庆节",
    (10, 3): "国庆节",
}
"""Statutory holidays on fixed Gregorian dates (used only by the fallback)."""

CHINESECALENDAR_SOURCE = "国务院办公厅 节假日安排（chinesecalendar 数据）/ official arrangement"
FALLBACK_SOURCE = (
    "暂定：按《全国年节及纪念日放假办法》法定节日与补假推算，未含调休"
    " / provisional: statutory holidays and compensation days only, no official arrangement"
)

PACKAGE_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}
"""The ``chinesecalendar`` package names holidays in English; users read Chinese first."""

_MAX_SCAN_DAYS = 20 * 366
"""Upper bound of any day-by-day scan, so that a bad input can never loop forever."""


class DaySource(StrEnum):
    override = "override"
    chinesecalendar = "chinesecalendar"
    fallback = "fallback"


@dataclass(frozen=True)
class DayInfo:
    """Whether a date is a working day, and on whose authority."""

    date: dt.date
    working: bool
    source: DaySource
    name: str | None = None
    """The holiday's or make-up day's name, when it is one."""
    notice: str | None = None
    """For an override: the notice the arrangement comes from."""

    @property
    def provisional(self) -> bool:
        """True when no official arrangement covered this date."""
        return self.source is DaySource.fallback

    @property
    def makeup(self) -> bool:
        """A weekend day worked by arrangement (调休上班)."""
        return self.working and self.date.weekday() >= 5


@dataclass(frozen=True)
class Suspension:
    """An interval during which the clock does not run; ``end`` None means still suspended."""

    start: dt.datetime
    end: dt.datetime | None = None
    reason: str | None = None
    """Why (``supplement``, ``step:expert_review`` …), repeated in the derivation."""


@dataclass(frozen=True)
class NamedDay:
    date: dt.date
    name: str


@dataclass(frozen=True)
class SuspendedRange:
    """A suspension as the derivation shows it: the dates it removed from the count."""

    first: dt.date
    """The first date not counted (the day after the suspension began)."""
    last: dt.date
    """The last date not counted (the day the clock resumed)."""
    working_days: int
    """Working days of that range that would otherwise have counted before the deadline."""
    reason: str | None = None


@dataclass(frozen=True)
class YearSource:
    year: int
    source: DaySource
    notice: str


@dataclass(frozen=True)
class Derivation:
    """How a deadline follows from its start, its limit and the calendar (for people)."""

    calendar: str
    start: dt.datetime
    start_date: dt.date
    """The day the period starts, which is not counted."""
    days: int
    """The limit in working days (0: 即办)."""
    due_date: dt.date
    due_at: dt.datetime
    weekends_skipped: int
    """Plain Saturdays and Sundays between the start and the deadline."""
    holidays: tuple[NamedDay, ...]
    """Named non-working days skipped (statutory holidays and their bridge days)."""
    makeup_days: tuple[NamedDay, ...]
    """Weekend days counted because they were make-up working days (调休)."""
    suspended: tuple[SuspendedRange, ...]
    sources: tuple[YearSource, ...]
    provisional: bool
    immediate_moved: bool = False
    """即办 on a non-working day: due at the end of the next working day instead."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (ISO dates) for events, projections and the API."""
        return {
            "calendar": self.calendar,
            "start": self.start.isoformat(),
            "start_date": self.start_date.isoformat(),
            "days": self.days,
            "due_date": self.due_date.isoformat(),
            "due_at": self.due_at.isoformat(),
            "weekends_skipped": self.weekends_skipped,
            "holidays": [{"date": d.date.isoformat(), "name": d.name} for d in self.holidays],
            "makeup_days": [{"date": d.date.isoformat(), "name": d.name} for d in self.makeup_days],
            "suspended": [
                {
                    "from": s.first.isoformat(),
                    "to": s.last.isoformat(),
                    "working_days": s.working_days,
                    "reason": s.reason,
                }
                for s in self.suspended
            ],
            "sources": [
                {"year": s.year, "source": s.source.value, "notice": s.notice} for s in self.sources
            ],
            "provisional": self.provisional,
            "immediate_moved": self.immediate_moved,
        }


@dataclass(frozen=True)
class Deadline:
    """A point on the legal clock: the date it falls on and the exact instant."""

    date: dt.date
    instant: dt.datetime
    """Timezone-aware, in Asia/Shanghai."""
    provisional: bool = False
    """True when a day of the computation came from the fallback rules."""
    derivation: Derivation | None = None


@dataclass(frozen=True)
class Count:
    days: int
    provisional: bool = False


@dataclass(frozen=True)
class Elapsed:
    seconds: int
    """Counted time in seconds; one working day is 86 400 seconds."""
    provisional: bool = False

    @property
    def days(self) -> float:
        """Elapsed working days, with fractions."""
        return self.seconds / DAY_SECONDS


def local_date(instant: dt.datetime) -> dt.date:
    """The Asia/Shanghai date of an aware instant."""
    if instant.tzinfo is None:
        raise ValueError("时间必须带时区 / instants must be timezone-aware")
    return instant.astimezone(SHANGHAI).date()


def start_of_day(day: dt.date) -> dt.datetime:
    """00:00 of a date in Asia/Shanghai."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI)


def end_of_day(day: dt.date) -> dt.datetime:
    """24:00 of a date in Asia/Shanghai (the start of the next day)."""
    return start_of_day(day + dt.timedelta(days=1))


# --------------------------------------------------------------------------- statutory fallback


def _solar(lunar: Lunar) -> dt.date:
    solar = lunar.getSolar()
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


@cache
def statutory_holidays(year: int) -> dict[dt.date, str]:
    """The statutory days off of a Gregorian year by law alone, with compensation days.

    全国年节及纪念日放假办法 (2024): 元旦 1, 春节 4 (除夕 to 初三), 清明 1, 劳动节 2, 端午 1,
    中秋 1, 国庆节 3 days; 第六条: a holiday on a Saturday or Sunday is made up on a working
    day — here the next weekday that is not itself a holiday, as the arrangements do. Two
    holidays on one date (中秋 on 1 October, as in 2020) are two days off: the second is made
    up the same way. Lunar dates before 1901 or after 2099 are outside the lunar tables: only
    fixed dates then.
    """
    entries = [(dt.date(year, m, d), name) for (m, d), name in FIXED_HOLIDAYS.items()]
    if 1901 <= year <= 2099:
        eve = _solar(Lunar.fromYmd(year, 1, 1).next(-1))
        entries += [
            (eve + dt.timedelta(days=i), "春节")
            for i in range(4)
            if (eve + dt.timedelta(days=i)).year == year
        ]
        qingming = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]
        entries.append(
            (dt.date(qingming.getYear(), qingming.getMonth(), qingming.getDay()), "清明节")
        )
        entries.append((_solar(Lunar.fromYmd(year, 5, 5)), "端午节"))
        entries.append((_solar(Lunar.fromYmd(year, 8, 15)), "中秋节"))
    days: dict[dt.date, str] = {}
    owed: list[str] = []
    for day, name in sorted(entries):
        if day in days:
            owed.append(name)  # two holidays on one date
            continue
        days[day] = name
        if day.weekday() >= 5:
            owed.append(name)
    # Compensation days in date order of what is owed, each on the next free weekday after
    # the holiday block it belongs to.
    compensation: dict[dt.date, str] = {}
    for day, name in sorted(entries):
        if name not in owed:
            continue
        owed.remove(name)
        candidate = day + dt.timedelta(days=1)
        while candidate.year == year and (
            candidate.weekday() >= 5 or candidate in days or candidate in compensation
        ):
            candidate += dt.timedelta(days=1)
        if candidate.year == year:
            compensation[candidate] = f"{name}补假"
    return dict(sorted({**days, **compensation}.items()))


@cache
def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


# --------------------------------------------------------------------------- the calendar


@dataclass
class WorkingCalendar:
    """Working-day arithmetic for one calendar (national, or a regional one layered on it)."""

    years: Sequence[CalendarYear] = ()
    name: str = NATIONAL_CALENDAR
    _cache: dict[dt.date, DayInfo] = field(default_factory=dict, init=False, repr=False)
    _year_totals: dict[int, list[tuple[int, int]]] = field(
        default_factory=dict, init=False, repr=False
    )

    @cached_property
    def _national(self) -> dict[int, _Year]:
        return _index(y for y in self.years if y.calendar == NATIONAL_CALENDAR)

    @cached_property
    def _regional(self) -> dict[int, _Year]:
        if self.name == NATIONAL_CALENDAR:
            return {}
        return _index(y for y in self.years if y.calendar == self.name)

    @property
    def override_years(self) -> list[int]:
        """Years for which the national calendar has an override file."""
        return sorted(self._national)

    def day(self, day: dt.date) -> DayInfo:
        """The status of a date, from the highest-precedence source that knows it."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        info = self._resolve(day)
        self._cache[day] = info
        return info

    def _resolve(self, day: dt.date) -> DayInfo:
        regional = self._regional.get(day.year)
        if regional is not None and day in regional.days:
            working, name = regional.days[day]
            return DayInfo(day, working, DaySource.override, name, regional.notice)
        national = self._national.get(day.year)
        if national is not None:
            listed = national.days.get(day)
            if listed is not None:
                return DayInfo(day, listed[0], DaySource.override, listed[1], national.notice)
            return DayInfo(day, day.weekday() < 5, DaySource.override, None, national.notice)
        if not _package_knows(day.year):
            holiday = statutory_holidays(day.year).get(day)
            if holiday is not None:
                return DayInfo(day, False, DaySource.fallback, holiday)
            return DayInfo(day, day.weekday() < 5, DaySource.fallback)
        working = bool(chinese_calendar.is_workday(day))
        _, name = chinese_calendar.get_holiday_detail(day)
        label = PACKAGE_NAMES.get(name, name) if isinstance(name, str) else None
        return DayInfo(day, working, DaySource.chinesecalendar, label)

    def is_working_day(self, day: dt.date) -> bool:
        """True for a working day, including a make-up working day (调休) on a weekend."""
        return self.day(day).working

    def year_source(self, year: int) -> YearSource:
        """Where the national status of that year's days comes from."""
        regional = self._regional.get(year)
        national = self._national.get(year)
        if national is not None:
            notice = national.notice
            if regional is not None:
                notice = f"{notice}；{regional.notice}"
            return YearSource(year, DaySource.override, notice)
        if _package_knows(year):
            notice = CHINESECALENDAR_SOURCE
            if regional is not None:
                notice = f"{notice}；{regional.notice}"
            return YearSource(year, DaySource.chinesecalendar, notice)
        return YearSource(year, DaySource.fallback, FALLBACK_SOURCE)

    # ----------------------------------------------------------------- date arithmetic

    def add_working_days(self, start: dt.date, n: int) -> Deadline:
        """The Nth working day after ``start`` (not counting ``start``); 0 gives ``start``.

        The instant is the end of that day, when the time limit expires.
        """
        return self.deadline(start_of_day(start), n)

    def count_working_days(self, first: dt.date, last: dt.date) -> Count:
        """Working days from ``first`` to ``last``, both included.

        Each year's days are looked up once and kept as running totals (working days and
        provisional days up to each date), so a count costs a subtraction per year spanned
        whatever the range: every inbox row asks how many working days are left.
        """
        if last < first:
            raise ValueError("结束日期早于开始日期 / the end date is before the start date")
        if (last - first).days > _MAX_SCAN_DAYS:
            raise ValueError("日期范围过长 / the range is too long")
        working = provisional = 0
        for year in range(first.year, last.year + 1):
            totals = self._totals(year)
            start = first if year == first.year else dt.date(year, 1, 1)
            end = last if year == last.year else dt.date(year, 12, 31)
            a, b = start.timetuple().tm_yday - 1, end.timetuple().tm_yday
            working += totals[b][0] - totals[a][0]
            provisional += totals[b][1] - totals[a][1]
        return Count(working, provisional > 0)

    def _totals(self, year: int) -> list[tuple[int, int]]:
        """Running totals of a year: entry i holds the working days and the provisional days
        among its first i days."""
        found = self._year_totals.get(year)
        if found is None:
            found = [(0, 0)]
            day = dt.date(year, 1, 1)
            while day.year == year:
                info = self.day(day)
                w, p = found[-1]
                found.append((w + info.working, p + info.provisional))
                day += dt.timedelta(days=1)
            self._year_totals[year] = found
        return found

    # ----------------------------------------------------------------- the legal clock

    def _counted_days(
        self, start: dt.datetime, suspensions: Sequence[Suspension]
    ) -> Iterator[DayInfo]:
        """Days after the start day that a suspension does not remove, in order."""
        first = local_date(start)
        # A suspended day's status cannot change the result, so it is not even looked up.
        windows = _windows(suspensions)
        for i in range(1, _MAX_SCAN_DAYS):
            day = first + dt.timedelta(days=i)
            if not any(lo < day <= hi for lo, hi, _ in windows):
                yield self.day(day)

    def _nth_counted(
        self, start: dt.datetime, n: int, suspensions: Sequence[Suspension]
    ) -> tuple[dt.date, bool]:
        """The date of the Nth (n >= 1) counted working day, and whether it is provisional."""
        _open_suspension_check(suspensions)
        seen = 0
        provisional = False
        for info in self._counted_days(start, suspensions):
            provisional = provisional or info.provisional
            if info.working:
                seen += 1
                if seen == n:
                    return info.date, provisional
        raise ValueError("期限超出可计算范围 / the limit is beyond the calendar's range")

    def _immediate_day(self, start: dt.datetime) -> tuple[dt.date, bool]:
        """即办: the start day if it is a working day, else the next working day."""
        day = local_date(start)
        info = self.day(day)
        if info.working:
            return day, info.provisional
        provisional = info.provisional
        for _ in range(_MAX_SCAN_DAYS):
            day += dt.timedelta(days=1)
            info = self.day(day)
            provisional = provisional or info.provisional
            if info.working:
                return day, provisional
        raise ValueError("期限超出可计算范围 / the limit is beyond the calendar's range")

    def deadline(
        self, start: dt.datetime, n: int, suspensions: Sequence[Suspension] = ()
    ) -> Deadline:
        """End of the Nth counted working day after the day of ``start``, with its derivation.

        ``n`` is a limit in working days; 0 (即办) is due at the end of the start day, or of
        the next working day when the start day is not one.
        """
        if n < 0:
            raise ValueError("工作日数不能为负 / the number of working days cannot be negative")
        _open_suspension_check(suspensions)
        if n == 0:
            day, provisional = self._immediate_day(start)
        else:
            day, provisional = self._nth_counted(start, n, suspensions)
        return Deadline(day, end_of_day(day), provisional, self._derive(start, n, day, suspensions))

    def _derive(
        self,
        start: dt.datetime,
        n: int,
        due: dt.date,
        suspensions: Sequence[Suspension],
    ) -> Derivation:
        first = local_date(start)
        windows = _windows(suspensions)
        weekends = 0
        holidays: list[NamedDay] = []
        makeup: list[NamedDay] = []
        excluded = [0] * len(windows)
        years: dict[int, YearSource] = {}
        provisional = False
        day = first + dt.timedelta(days=1) if n > 0 else first
        while day <= due:
            hit = [i for i, (lo, hi, _) in enumerate(windows) if lo < day <= hi]
            info = self.day(day)
            if hit:
                if info.working:
                    for i in hit:
                        excluded[i] += 1
            else:
                years.setdefault(day.year, self.year_source(day.year))
                provisional = provisional or info.provisional
                if info.working:
                    if info.makeup:
                        makeup.append(NamedDay(day, info.name or "调休上班"))
                elif info.name:
                    holidays.append(NamedDay(day, info.name))
                else:
                    weekends += 1
            day += dt.timedelta(days=1)
        ranges = tuple(
            SuspendedRange(lo + dt.timedelta(days=1), hi, excluded[i], reason)
            for i, (lo, hi, reason) in enumerate(windows)
            if lo < due
        )
        return Derivation(
            calendar=self.name,
            start=start,
            start_date=first,
            days=n,
            due_date=due,
            due_at=end_of_day(due),
            weekends_skipped=weekends,
            holidays=tuple(holidays),
            makeup_days=tuple(makeup),
            suspended=ranges,
            sources=tuple(years[y] for y in sorted(years)),
            provisional=provisional,
            immediate_moved=n == 0 and due != first,
        )

    def elapsed(
        self, start: dt.datetime, at: dt.datetime, suspensions: Sequence[Suspension] = ()
    ) -> Elapsed:
        """Counted working time between two instants, excluding suspensions."""
        end_day = local_date(at)
        if at <= start or end_day <= local_date(start):
            return Elapsed(0, False)
        seconds = 0
        provisional = False
        for info in self._counted_days(start, suspensions):
            if info.date > end_day:
                break
            provisional = provisional or info.provisional
            if not info.working:
                continue
            if info.date < end_day:
                seconds += DAY_SECONDS
            else:
                seconds += int((at - start_of_day(info.date)).total_seconds())
        return Elapsed(seconds, provisional)

    def threshold(
        self,
        start: dt.datetime,
        n: int,
        warning: WarningThreshold,
        suspensions: Sequence[Suspension] = (),
    ) -> Deadline:
        """The instant a supervision warning (黄牌) is due for a limit of ``n`` working days.

        ``days_before: K`` is 00:00 of the Kth-last counted working day; ``percent: P`` is when
        P% of the counted time has elapsed (00:00 of the next counted day when that falls on a
        day boundary). For 即办 (n=0) the warning falls within the day it is due.
        """
        if n < 0:
            raise ValueError("工作日数不能为负 / the number of working days cannot be negative")
        if n == 0:
            day, provisional = self._immediate_day(start)
            begin = max(start, start_of_day(day))
            span = (end_of_day(day) - begin).total_seconds()
            if warning.percent is not None:
                offset = span * warning.percent / 100
            else:
                offset = span if warning.days_before == 0 else 0
            return Deadline(day, begin + dt.timedelta(seconds=offset), provisional)
        if warning.percent is not None:
            target = n * DAY_SECONDS * warning.percent // 100
        else:
            assert warning.days_before is not None
            target = (n - warning.days_before) * DAY_SECONDS
        # Reaching a whole number of days means the start of the next counted day (a weekend
        # between them does not bring the warning forward to Saturday 00:00).
        whole, rest = divmod(max(target, 0), DAY_SECONDS)
        day, provisional = self._nth_counted(start, whole + 1, suspensions)
        return Deadline(day, start_of_day(day) + dt.timedelta(seconds=rest), provisional)


def _open_suspension_check(suspensions: Sequence[Suspension]) -> None:
    if any(s.end is None for s in suspensions):
        raise ValueError(
            "计时已中止，截止时间待恢复后确定 / the clock is suspended; no deadline until it resumes"
        )


def _windows(suspensions: Sequence[Suspension]) -> list[tuple[dt.date, dt.date, str | None]]:
    """Each suspension as (day of its start, day of its end, reason), in start order."""
    windows = [
        (local_date(s.start), local_date(s.end) if s.end else dt.date.max, s.reason)
        for s in suspensions
    ]
    return sorted(windows, key=lambda w: (w[0], w[1], w[2] or ""))


@dataclass(frozen=True)
class _Year:
    notice: str
    days: dict[dt.date, tuple[bool, str | None]]


def _index(years: Iterable[CalendarYear]) -> dict[int, _Year]:
    out: dict[int, _Year] = {}
    for year in years:
        entry = out.setdefault(year.year, _Year(year.source, {}))
        for r in year.holidays:
            for d in r.days():
                entry.days[d] = (False, r.name)
        for r in year.workdays:
            for d in r.days():
                entry.days[d] = (True, r.name)
    return {
        y: _Year(entry.notice, dict(sorted(entry.days.items()))) for y, entry in sorted(out.items())
    }
