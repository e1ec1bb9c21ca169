"""The legal working-day clock (工作日, 行政许可法 第八十二条).

Where a day's status comes from, in order of precedence:

1. An override file in the catalog (``kind: CalendarYear``) for that year: the official
   arrangement as published by the State Council, naming its notice. A regional calendar
   (``calendar: guangxi``) adds its own days on top of the national one.
2. The ``chinesecalendar`` package, which carries the official arrangements for 2004–2026.
3. A fallback for a year with neither: weekends plus the fixed-date statutory holidays
   (元旦 1 Jan, 劳动节 1–2 May, 国庆节 1–3 Oct; 全国年节及纪念日放假办法 as amended in 2024).
   The lunar holidays (春节, 清明, 端午, 中秋) and make-up days are unknown, so any result
   that consulted a fallback day is marked ``provisional`` and never raises.

Counting rules, all in Asia/Shanghai:

- The day on which a period starts is not counted; the deadline is the end (24:00) of the
  Nth working day after it. A limit of 0 (即办) is due at the end of the start day.
- A suspension (补正, expert review, hearing, …) from instant ``s`` to instant ``e`` removes
  the working days after the day of ``s`` up to and including the day of ``e``: the clock
  ran on the day the case was returned, and restarts the day after the supplement arrived,
  as a new period would (第三十二条: acceptance dates from the day of the last supplement).
- Elapsed time is measured in working days with fractions: a counted day contributes 24
  hours, so "80% of a 5-day limit" is reached at the end of the 4th counted day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from zoneinfo import ZoneInfo

import chinese_calendar

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
"""Statutory holidays on fixed Gregorian dates, used only by the fallback."""

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

    @property
    def provisional(self) -> bool:
        """True when no official arrangement covered this date."""
        return self.source is DaySource.fallback


@dataclass(frozen=True)
class Suspension:
    """An interval during which the clock does not run; ``end`` None means still suspended."""

    start: dt.datetime
    end: dt.datetime | None = None


@dataclass(frozen=True)
class Deadline:
    """A point on the legal clock: the date it falls on and the exact instant."""

    date: dt.date
    instant: dt.datetime
    """Timezone-aware, in Asia/Shanghai."""
    provisional: bool = False
    """True when a day of the computation came from the fallback rules."""


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


@dataclass
class WorkingCalendar:
    """Working-day arithmetic for one calendar (national, or a regional one layered on it)."""

    years: Sequence[CalendarYear] = ()
    name: str = NATIONAL_CALENDAR
    _cache: dict[dt.date, DayInfo] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def _national(self) -> dict[int, dict[dt.date, tuple[bool, str | None]]]:
        return _index(y for y in self.years if y.calendar == NATIONAL_CALENDAR)

    @cached_property
    def _regional(self) -> dict[int, dict[dt.date, tuple[bool, str | None]]]:
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
        regional = self._regional.get(day.year, {}).get(day)
        if regional is not None:
            return DayInfo(day, regional[0], DaySource.override, regional[1])
        if day.year in self._national:
            listed = self._national[day.year].get(day)
            if listed is not None:
                return DayInfo(day, listed[0], DaySource.override, listed[1])
            return DayInfo(day, day.weekday() < 5, DaySource.override)
        try:
            working = bool(chinese_calendar.is_workday(day))
            _, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            fixed = FIXED_HOLIDAYS.get((day.month, day.day))
            if fixed is not None:
                return DayInfo(day, False, DaySource.fallback, fixed)
            return DayInfo(day, day.weekday() < 5, DaySource.fallback)
        label = name if isinstance(name, str) else None
        return DayInfo(day, working, DaySource.chinesecalendar, label)

    def is_working_day(self, day: dt.date) -> bool:
        """True for a working day, including a make-up working day (调休) on a weekend."""
        return self.day(day).working

    # ----------------------------------------------------------------- date arithmetic

    def add_working_days(self, start: dt.date, n: int) -> Deadline:
        """The Nth working day after ``start`` (not counting ``start``); 0 gives ``start``.

        The instant is the end of that day, when the time limit expires.
        """
        return self.deadline(start_of_day(start), n)

    def count_working_days(self, first: dt.date, last: dt.date) -> Count:
        """Working days from ``first`` to ``last``, both included."""
        if last < first:
            raise ValueError("结束日期早于开始日期 / the end date is before the start date")
        if (last - first).days > _MAX_SCAN_DAYS:
            raise ValueError("日期范围过长 / the range is too long")
        days = [self.day(first + dt.timedelta(days=i)) for i in range((last - first).days + 1)]
        return Count(sum(d.working for d in days), any(d.provisional for d in days))

    # ----------------------------------------------------------------- the legal clock

    def _counted_days(
        self, start: dt.datetime, suspensions: Sequence[Suspension]
    ) -> Iterator[DayInfo]:
        """Working days that count for a period starting at ``start``, in order."""
        first = local_date(start)
        # A suspended day's status cannot change the result, so it is not even looked up.
        windows = [
            (local_date(s.start), local_date(s.end) if s.end else dt.date.max) for s in suspensions
        ]
        for i in range(1, _MAX_SCAN_DAYS):
            day = first + dt.timedelta(days=i)
            if not any(lo < day <= hi for lo, hi in windows):
                yield self.day(day)

    def _nth_counted(
        self, start: dt.datetime, n: int, suspensions: Sequence[Suspension]
    ) -> tuple[dt.date, bool]:
        """The date of the Nth (n >= 1) counted working day, and whether it is provisional."""
        if any(s.end is None for s in suspensions):
            raise ValueError(
                "计时已中止，截止时间待恢复后确定 / the clock is suspended; no deadline until it resumes"
            )
        seen = 0
        provisional = False
        for info in self._counted_days(start, suspensions):
            provisional = provisional or info.provisional
            if info.working:
                seen += 1
                if seen == n:
                    return info.date, provisional
        raise ValueError("期限超出可计算范围 / the limit is beyond the calendar's range")

    def deadline(
        self, start: dt.datetime, n: int, suspensions: Sequence[Suspension] = ()
    ) -> Deadline:
        """End of the Nth counted working day after the day of ``start``.

        ``n`` is a limit in working days; 0 (即办) is due at the end of the start day.
        """
        if n < 0:
            raise ValueError("工作日数不能为负 / the number of working days cannot be negative")
        if n == 0:
            day = local_date(start)
            return Deadline(day, end_of_day(day), False)
        day, provisional = self._nth_counted(start, n, suspensions)
        return Deadline(day, end_of_day(day), provisional)

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
        day boundary). For 即办 (n=0)
        the warning falls within the start day.
        """
        if n < 0:
            raise ValueError("工作日数不能为负 / the number of working days cannot be negative")
        if n == 0:
            day_end = end_of_day(local_date(start))
            span = (day_end - start).total_seconds()
            if warning.percent is not None:
                offset = span * warning.percent / 100
            else:
                offset = span if warning.days_before == 0 else 0
            return Deadline(local_date(start), start + dt.timedelta(seconds=offset), False)
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


def _index(years: Iterable[CalendarYear]) -> dict[int, dict[dt.date, tuple[bool, str | None]]]:
    out: dict[int, dict[dt.date, tuple[bool, str | None]]] = {}
    for year in years:
        days = out.setdefault(year.year, {})
        for r in year.holidays:
            for d in r.days():
                days[d] = (False, r.name)
        for r in year.workdays:
            for d in r.days():
                days[d] = (True, r.name)
    return {y: dict(sorted(days.items())) for y, days in sorted(out.items())}
