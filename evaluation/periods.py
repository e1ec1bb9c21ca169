"""Reporting periods: a year, a half year, a quarter or a month, in Asia/Shanghai days.

Written as departments write them in reports: ``2026``, ``2026H2``, ``2026Q3``, ``2026-07``.
A period runs from 00:00 of its first day to 00:00 of the day after its last, Shanghai time.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from definitions.calendar import SHANGHAI

_PATTERN = re.compile(r"^(\d{4})(?:(H[12])|(Q[1-4])|-(0[1-9]|1[0-2]))?$")
FIRST_YEAR, LAST_YEAR = 2000, 2100
"""Years a period may name: far beyond any case, still within every calendar's arithmetic."""


class PeriodError(ValueError):
    """The text names no period."""


@dataclass(frozen=True)
class Period:
    label: str
    first: dt.date
    """The period's first day."""
    end: dt.date
    """The day after its last day."""

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026``, ``2026H1``/``H2``, ``2026Q1``…``Q4`` or ``2026-01``…``-12``."""
        match = _PATTERN.match(text.strip())
        if match is None:
            raise PeriodError(
                f"期间格式应为 2026、2026H2、2026Q3 或 2026-07 / a period is written 2026, 2026H2,"
                f" 2026Q3 or 2026-07, not {text[:20]!r}"
            )
        year = int(match.group(1))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise PeriodError(
                f"期间的年份须在 {FIRST_YEAR}–{LAST_YEAR} / a period's year must be"
                f" {FIRST_YEAR}–{LAST_YEAR}"
            )
        half, quarter, month = match.group(2), match.group(3), match.group(4)
        if half:
            first_month, months = (1 if half == "H1" else 7), 6
        elif quarter:
            first_month, months = 3 * (int(quarter[1]) - 1) + 1, 3
        elif month:
            first_month, months = int(month), 1
        else:
            first_month, months = 1, 12
        first = dt.date(year, first_month, 1)
        return cls(match.group(0), first, _add_months(first, months))

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), SHANGHAI)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time(), SHANGHAI)

    def previous(self) -> Period:
        """The period of the same length just before (H2 → H1, Q1 → last year's Q4 …)."""
        label = self.label
        year = int(label[:4])
        if "H" in label:
            return Period.parse(f"{year}H1" if label.endswith("H2") else f"{year - 1}H2")
        if "Q" in label:
            q = int(label[-1])
            return Period.parse(f"{year}Q{q - 1}" if q > 1 else f"{year - 1}Q4")
        if "-" in label:
            m = int(label[5:])
            return Period.parse(f"{year}-{m - 1:02d}" if m > 1 else f"{year - 1}-12")
        return Period.parse(str(year - 1))


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return dt.date(day.year + index // 12, index % 12 + 1, 1)
