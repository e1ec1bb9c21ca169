"""The periodic service-quality report (政务服务质量报告): one self-contained HTML file and a
CSV per table, from the figures (evaluation.figures) and the reengineering analysis — never
computed again here.

The HTML needs no network to open: styles inline, charts as inline SVG whose labels stay
text (searchable, readable when printed). zh-CN first, English beside it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import and_, or_, select

from definitions.calendar import SHANGHAI
from evaluation import rollups
from evaluation.facts import department_names
from evaluation.figures import BY_KEY, GroupFigures, table
from evaluation.measures import Calendars
from evaluation.periods import Period
from evaluation.reengineering import Achieved, StageTime, achieved_from, newest_snapshots
from evaluation.tally import GroupKey, Spread, Tally
from store.db import Store, StoreOrSession, transaction
from store.models import Case

Progress = Callable[[str], None]
"""Told each step as the report is put together (the command shows it)."""

SLOWEST = 10
"""Stages listed in the slowest-stages table."""


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    text: str


@dataclass
class Report:
    period: Period
    previous: Period
    generated_at: dt.datetime
    department: str | None
    overall: GroupFigures
    before: GroupFigures
    """The same figures for the previous period: what changed."""
    departments: list[GroupFigures]
    previous_departments: dict[str, GroupFigures]
    achieved: list[Achieved]
    slowest: list[tuple[Achieved, StageTime]]
    overdue: list[OverdueCase]
    """The oldest overdue cases (all of them when the report was built for the CSV); how many
    there are is ``overall.figures["overdue"]``."""
    brands: dict[str, str | None] = field(default_factory=dict)

    @property
    def last_day(self) -> dt.date:
        return self.period.end - dt.timedelta(days=1)


@dataclass(frozen=True)
class OverdueCase:
    id: str
    procedure_code: str
    procedure_name: str
    state: str
    submitted_at: dt.datetime
    departments: tuple[str, ...]


def overdue_cases(
    target: StoreOrSession,
    period: Period,
    department: str | None = None,
    limit: int | None = None,
) -> list[OverdueCase]:
    """The period's cases whose committed limit passed (of those ``department`` took part
    in), oldest first; the first ``limit`` of them, or all."""
    found: list[OverdueCase] = []
    last: tuple[dt.datetime, str] | None = None
    while limit is None or len(found) < limit:
        query = select(
            Case.id,
            Case.procedure_code,
            Case.procedure_name,
            Case.state,
            Case.submitted_at,
            Case.departments,
        ).where(
            Case.submitted_at >= period.start_at,
            Case.submitted_at < period.end_at,
            Case.overdue,
        )
        if last is not None:
            query = query.where(
                or_(
                    Case.submitted_at > last[0],
                    and_(Case.submitted_at == last[0], Case.id > last[1]),
                )
            )
        with transaction(target) as session:
            rows = session.execute(
                query.order_by(Case.submitted_at, Case.id).limit(OVERDUE_CHUNK)
            ).all()
        for i, code, name, state, at, departments in rows:
            if department is None or department in (departments or ()):
                found.append(OverdueCase(i, code, name, state, at, tuple(departments or ())))
        if len(rows) < OVERDUE_CHUNK:
            break
        last = (rows[-1][4], rows[-1][0])
    return found if limit is None else found[:limit]


OVERDUE_CHUNK = 2000
"""Rows read at a time along the (submitted_at, id) index."""
OVERDUE_LISTED = 200
"""Overdue cases the report's page lists, oldest first (all of them are in its CSV)."""


def _figures(
    tallies: dict[GroupKey, Tally],
    period: Period,
    department: str | None,
    names: dict[str, tuple[str, str | None]],
) -> tuple[GroupFigures, list[GroupFigures]]:
    """The overall figures (of all cases, or of those ``department`` took part in) and each
    department's."""
    departments = table(tallies, period, "department", names).groups
    if department is None:
        [overall] = table(tallies, period, "all", names).groups
        return overall, departments
    mine = [g for g in departments if g.key == department]
    overall = mine[0] if mine else table({}, period, "all", names).groups[0]
    return overall, mine


def build(
    target: Store,
    period: Period,
    calendars: Calendars,
    department: str | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    overdue_listed: int | None = OVERDUE_LISTED,
) -> Report:
    """Everything the report shows, for all departments or one; ``overdue_listed`` overdue
    cases by name (None: every one, for the CSV), all of them counted."""
    tell = progress or (lambda _: None)
    tell("更新指标 / bringing the figures up to date")
    rollups.catch_up(target, calendars)
    names = department_names(target)
    try:
        previous = period.previous()
    except ValueError:  # the first year periods can name: nothing before it
        previous = period
    kinds = ["all", "procedure", "department", "stage"]
    tell("读取本期与上期指标 / reading this period's and the previous period's figures")
    tallies = rollups.period_tallies(target, period, kinds)
    earlier = rollups.period_tallies(target, previous, kinds) if previous != period else {}
    overall, departments = _figures(tallies, period, department, names)
    before, _ = _figures(earlier, previous, department, names)
    previous_departments = {g.key: g for g in table(earlier, previous, "department", names).groups}
    tell("流程再造分析 / reengineering analysis")
    done = achieved_from(tallies, newest_snapshots(target, tallies))
    if department is not None:
        done = [a for a in done if any(s.department == department for s in a.stages)]
    stages = [
        (a, s)
        for a in done
        for s in a.stages
        if (department is None or s.department == department) and s.working is not None
    ]
    stages.sort(key=lambda pair: -_load(pair[1]))
    tell("超期办件 / overdue cases")
    overdue = overdue_cases(target, period, department, overdue_listed)
    return Report(
        period=period,
        previous=previous,
        generated_at=now or dt.datetime.now(dt.UTC),
        department=department,
        overall=overall,
        before=before,
        departments=sorted(departments, key=_ranking),
        previous_departments=previous_departments,
        achieved=done,
        slowest=stages[:SLOWEST],
        overdue=overdue,
        brands={code: brand for code, (_, brand) in names.items()},
    )


def _load(s: StageTime) -> float:
    return (s.waiting.mean if s.waiting else 0.0) + (s.working.mean if s.working else 0.0)


def _ranking(g: GroupFigures) -> tuple[float, float, str]:
    """Departments ranked by on-time rate, then mean rating (both higher first)."""
    on_time = g.figures["task_on_time_rate"]
    rating = g.figures["rating_mean"]
    return (-(on_time if on_time is not None else -1), -(rating or 0), g.key)


# --------------------------------------------------------------------------- formatting


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def days(value: Spread | None) -> str:
    return "—" if value is None else f"{value.p50:.1f} / {value.p90:.1f}"


def change(now: float | None, before: float | None, rate: bool = False) -> str:
    if now is None or before is None:
        return "—"
    delta = now - before
    if rate:
        return f"{delta * 100:+.1f} 个百分点 / pp"
    return f"{delta:+.2f}"


def bars(groups: Sequence[GroupFigures], key: str, scale: float) -> list[Bar]:
    out = []
    for g in groups:
        value = g.figures.get(key)
        text = pct(value) if BY_KEY[key].unit == "rate" else num(value)
        out.append(Bar(g.name, None if value is None else value / scale, text))
    return out


# --------------------------------------------------------------------------- output

_ENV = Environment(
    loader=PackageLoader("evaluation", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def local_day(instant: dt.datetime) -> str:
    """The Asia/Shanghai day of an instant (the day people and periods count)."""
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d")


_ENV.globals.update(pct=pct, num=num, days=days, change=change, local_day=local_day, BY_KEY=BY_KEY)


def html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    template = _ENV.get_template("report.html.j2")
    return template.render(
        r=report,
        overdue=report.overdue[:OVERDUE_LISTED],
        overdue_count=report.overall.figures["overdue"],
        on_time=bars(report.departments, "task_on_time_rate", 1.0),
        ratings=bars(report.departments, "rating_mean", 5.0),
        rectification=[
            *(
                (g.name, g.figures)
                for g in sorted(report.departments, key=lambda g: g.key)
                if g.figures["followups"]
            ),
            ("全部 / all", report.overall.figures),
        ],
    )


def tables(report: Report) -> dict[str, list[list[Any]]]:
    """Every table of the report as rows (the first row names the columns)."""
    o, b = report.overall.figures, report.before.figures
    summary: list[list[Any]] = [["figure", "指标", report.period.label, report.previous.label]]
    for key in (
        "received",
        "accepted",
        "approved",
        "rejected",
        "open",
        "on_time_rate",
        "overdue",
        "one_trip_rate",
        "online_rate",
        "rating_mean",
        "good_rate",
        "bad_ratings",
        "active_rating_rate",
    ):
        summary.append([key, BY_KEY[key].zh, _plain(o[key]), _plain(b[key])])
    departments: list[list[Any]] = [
        [
            "rank",
            "department",
            "name",
            "brand",
            "received",
            "tasks_decided",
            "task_on_time_rate",
            "task_days_p50",
            "task_days_p90",
            "overdue",
            "rating_mean",
            "good_rate",
            "bad_ratings",
        ]
    ]
    for rank, g in enumerate(report.departments, 1):
        f = g.figures
        used: Spread | None = f["task_days_used"]
        departments.append(
            [
                rank,
                _plain(g.key),
                _plain(g.name),
                _plain(report.brands.get(g.key) or ""),
                f["received"],
                f["tasks_decided"],
                _plain(f["task_on_time_rate"]),
                _plain(used.p50 if used else None),
                _plain(used.p90 if used else None),
                f["tasks_overdue"],
                _plain(f["rating_mean"]),
                _plain(f["good_rate"]),
                f["bad_ratings"],
            ]
        )
    stages: list[list[Any]] = [
        [
            "procedure",
            "stage",
            "department",
            "tasks",
            "share_days",
            "waiting_mean",
            "working_mean",
            "supplement_mean",
        ]
    ]
    for a, s in report.slowest:
        stages.append(
            [
                _plain(a.code),
                _plain(s.stage_name),
                _plain(s.department),
                s.tasks,
                round(s.committed, 2),
                _plain(s.waiting.mean if s.waiting else None),
                _plain(s.working.mean if s.working else None),
                _plain(s.suspended.mean if s.suspended else None),
            ]
        )
    overdue: list[list[Any]] = [["case", "procedure", "state", "submitted_day", "departments"]]
    for c in report.overdue:
        overdue.append(
            [c.id, c.procedure_code, c.state, local_day(c.submitted_at), " ".join(c.departments)]
        )
    achieved_rows: list[list[Any]] = [
        [
            "procedure",
            "version",
            "cases",
            "decided",
            "promised_days",
            "days_p50",
            "days_p90",
            "on_time_rate",
            "promised_trips",
            "trips_mean",
            "returns_per_case",
        ]
    ]
    for a in report.achieved:
        achieved_rows.append(
            [
                a.code,
                a.version,
                a.cases,
                a.decided,
                a.promised_days,
                _plain(a.days.p50 if a.days else None),
                _plain(a.days.p90 if a.days else None),
                _plain(a.on_time_rate),
                a.after.trips,
                _plain(a.trips_mean),
                _plain(a.returns_per_case),
            ]
        )
    return {
        "summary": summary,
        "departments": departments,
        "slowest_stages": stages,
        "overdue": overdue,
        "achieved": achieved_rows,
        "rectification": rectification(report),
    }


RECTIFICATION = (
    "followups",
    "callback_rate",
    "rectified",
    "rectification_rate",
    "rectified_on_time_rate",
    "revisit_satisfaction",
    "appeals_granted",
)
"""The follow-up figures the report's rectification table shows, per department."""


def rectification(report: Report) -> list[list[Any]]:
    """差评整改: each department's follow-ups of bad ratings (its own parts), then the total."""
    rows: list[list[Any]] = [["department", "name", *RECTIFICATION]]
    for g in sorted(report.departments, key=lambda g: g.key):
        if g.figures["followups"]:
            rows.append(
                [_plain(g.key), _plain(g.name), *(_plain(g.figures[k]) for k in RECTIFICATION)]
            )
    o = report.overall.figures
    rows.append(["all", "全部 / all", *(_plain(o[k]) for k in RECTIFICATION)])
    return rows


FORMULA = ("=", "+", "-", "@", "\t", "\r")
"""How a spreadsheet cell starting would be read as a formula."""


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, str) and value.startswith(FORMULA):
        return "'" + value  # text stays text in a spreadsheet (no formula from a name)
    return "" if value is None else value


def to_csv(rows: list[list[Any]]) -> str:
    """CSV text starting with a byte order mark, so that spreadsheet programs read the
    Chinese as UTF-8."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()
