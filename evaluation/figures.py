"""Performance figures, each defined once: the API, the command and the report read them here.

Every figure is computed over a period's cohort (the cases submitted in it, see
:mod:`evaluation.facts`), for one group of cases: all of them, one procedure, or one
department (the cases it took part in, and its own review tasks). Working days are counted
as the legal clock counts them: the start day is not counted, suspensions (补正, 第四十五条
steps) are left out, each department on its own calendar; fractions of a day are kept.
Percentiles are nearest-rank: p90 is the smallest value that at least 90% of the values do
not exceed. A rate whose denominator is zero is ``None``, never 0. Values are kept exact;
whoever shows them rounds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from definitions.calendar import DAY_SECONDS, WorkingCalendar, local_date, start_of_day
from evaluation.facts import (
    CaseFacts,
    FollowUpFacts,
    RatingFacts,
    TaskFacts,
    Timing,
    cohort,
    department_names,
)
from evaluation.periods import Period
from store.db import StoreOrSession

DECIDED = frozenset({"delivering", "rating", "completed", "rejected"})
"""A decision was reached (办结): approved by every stage, or rejected."""
APPROVED = frozenset({"delivering", "rating", "completed"})
ENDED_EARLY = {"refused": "refused", "withdrawn": "withdrawn", "terminated": "terminated"}
BAD_RATING = 2
"""Ratings at or below it are 差评 (不满意 2, 非常不满意 1); 3 to 5 count as good (好评)."""
ONLINE = "online"
SUPPLEMENT = "supplement"
"""The suspension source of a return for supplement (the applicant's time)."""

Group = Literal["all", "procedure", "department", "brand"]


@dataclass(frozen=True)
class Figure:
    key: str
    zh: str
    en: str
    unit: Literal["count", "rate", "days", "ratio", "score", "scores", "distribution"]
    definition: str
    scope: Literal["case", "task"] = "case"


FIGURES: tuple[Figure, ...] = (
    Figure("received", "收件量", "received", "count", "cases submitted in the period"),
    Figure(
        "accepted", "受理量", "accepted", "count", "received cases accepted, deemed ones included"
    ),
    Figure(
        "deemed_accepted",
        "视为受理",
        "deemed accepted",
        "count",
        "received cases accepted because the desk did not decide within the intake limit",
    ),
    Figure("refused", "不予受理", "refused at intake", "count", "received cases refused at intake"),
    Figure(
        "approved", "办结（准予）", "approved", "count", "received cases approved by every stage"
    ),
    Figure("rejected", "不予许可", "rejected", "count", "received cases rejected by a department"),
    Figure("withdrawn", "撤回", "withdrawn", "count", "received cases the applicant withdrew"),
    Figure(
        "terminated",
        "终止",
        "terminated",
        "count",
        "received cases ended because 容缺 materials never came",
    ),
    Figure("open", "在办", "open", "count", "received cases with no decision or end yet"),
    Figure(
        "on_time_rate",
        "按时办结率",
        "on-time rate",
        "rate",
        "decided cases (approved or rejected) whose committed limit never passed, over decided cases",
    ),
    Figure(
        "days_used",
        "实际用时（工作日）",
        "working days used",
        "days",
        "working days on the committed limit's clock from acceptance to decision, suspensions left"
        " out, over decided cases: mean, p50, p90",
    ),
    Figure(
        "days_committed",
        "承诺时限（工作日）",
        "working days committed",
        "days",
        "the committed limit of the decided cases: mean, p50, p90",
    ),
    Figure(
        "used_of_committed",
        "用时占承诺比",
        "used of committed",
        "ratio",
        "working days used summed over decided cases, over their committed days summed",
    ),
    Figure("warned", "黄牌", "warned", "count", "received cases given a warning on their limit"),
    Figure("overdue", "红牌（超期）", "overdue", "count", "received cases whose limit passed"),
    Figure(
        "escalated",
        "督办升级",
        "escalated",
        "count",
        "received cases whose urge period also passed",
    ),
    Figure(
        "returns_per_case",
        "件均补正次数",
        "returns per case",
        "ratio",
        "returns for supplement over accepted cases",
    ),
    Figure(
        "repeat_returns",
        "多次补正（违反一次性告知）",
        "returned more than once",
        "count",
        "received cases returned for supplement twice or more (一次性告知 not kept)",
    ),
    Figure(
        "one_trip_rate",
        "最多跑一次率",
        "at most one trip",
        "rate",
        "delivered cases whose applicant came at most once, over delivered cases",
    ),
    Figure(
        "zero_trip_rate",
        "零跑动率",
        "zero trips",
        "rate",
        "delivered cases whose applicant never came, over delivered cases",
    ),
    Figure(
        "online_rate",
        "网上申请率",
        "applied online",
        "rate",
        "received cases submitted online, over received cases whose channel is known (target 80%)",
    ),
    Figure("rated", "评价数", "rated", "count", "received cases the applicant rated"),
    Figure("rating_mean", "平均评分", "mean rating", "score", "mean of the ratings (1 to 5)"),
    Figure(
        "rating_distribution",
        "评价分布",
        "ratings by level",
        "distribution",
        "how many ratings of each level, 非常满意 5 … 非常不满意 1",
    ),
    Figure(
        "good_rate",
        "好评率",
        "good ratings",
        "rate",
        "ratings of 3 to 5 (基本满意 and above), over ratings",
    ),
    Figure("bad_ratings", "差评数", "bad ratings", "count", "ratings of 1 or 2"),
    Figure(
        "active_rating_rate",
        "主动评价率",
        "rated actively",
        "rate",
        "delivered cases the applicant rated themselves (not defaulted), over delivered cases",
    ),
    Figure(
        "defaulted_ratings",
        "默认好评",
        "defaulted ratings",
        "count",
        "cases not rated in the window and counted as 满意 (4) where the rules say so; included"
        " in the rating figures, not in the active rating rate",
    ),
    Figure(
        "dimension_means",
        "分项评分",
        "mean by dimension",
        "scores",
        "online ratings' dimension scores (整体满意度, 办事效率, 办事指南准确度, 办事便捷度,"
        " 平台操作性): the mean of each dimension rated",
    ),
    Figure(
        "onsite_rated",
        "现场评价数（一次一评）",
        "on-site ratings",
        "count",
        "ratings of on-site visits of the received cases, recorded at the desk",
    ),
    Figure(
        "onsite_rating_mean",
        "现场平均评分",
        "on-site mean rating",
        "score",
        "mean of the on-site visits' ratings",
    ),
    Figure(
        "onsite_bad_ratings",
        "现场差评数",
        "on-site bad ratings",
        "count",
        "on-site visits rated 1 or 2",
    ),
    Figure(
        "onsite_dimension_means",
        "现场分项评分",
        "on-site mean by dimension",
        "scores",
        "on-site ratings' dimension scores (整体满意度, 服务效率, 服务水平, 服务态度): the mean of"
        " each",
    ),
    Figure(
        "followups",
        "差评回访件数",
        "bad ratings followed up",
        "count",
        "parts of bad-rating follow-ups: each bad rating of a received case (its own or a"
        " visit's) once for every department answering for it",
    ),
    Figure(
        "callback_rate",
        "差评回访率",
        "bad ratings called back",
        "rate",
        "follow-up parts the department called back and gave a verdict on (回访核实), over"
        " follow-up parts (those ended by another department's granted appeal left out)",
    ),
    Figure(
        "rectification_rate",
        "差评整改率",
        "bad ratings rectified",
        "rate",
        "follow-up parts rectified, over those found justified or whose appeal was refused"
        " (a rating whose appeal was granted owes none; one still within its rectification"
        " period is not counted yet)",
    ),
    Figure(
        "rectified",
        "差评整改数",
        "bad ratings rectified",
        "count",
        "follow-up parts rectified",
    ),
    Figure(
        "rectified_on_time_rate",
        "差评按期整改率",
        "bad ratings rectified on time",
        "rate",
        "follow-up parts rectified by the end of their rectification period, over those found"
        " justified or whose appeal was refused (one still within its period not counted yet)",
    ),
    Figure(
        "revisit_satisfaction",
        "回访满意度",
        "satisfied with the rectification",
        "rate",
        "revisits after a rectification where the applicant said 3 to 5 (基本满意 and above),"
        " over revisits where the applicant answered",
    ),
    Figure(
        "appeals_granted",
        "申诉成立",
        "appeals granted",
        "count",
        "bad ratings left out of every rating figure because a supervisor granted an appeal"
        " (mistaken or malicious; for a department, its own appeal); kept in the records",
    ),
    Figure(
        "tasks_decided",
        "办结环节数",
        "tasks decided",
        "count",
        "the department's review tasks of received cases that it decided",
        "task",
    ),
    Figure(
        "task_on_time_rate",
        "环节按时率",
        "tasks on time",
        "rate",
        "decided tasks whose share of the limit never passed, over decided tasks",
        "task",
    ),
    Figure(
        "task_days_used",
        "环节用时（工作日）",
        "working days per task",
        "days",
        "working days on the task's clock from opening to decision, suspensions left out:"
        " mean, p50, p90",
        "task",
    ),
    Figure(
        "task_days_committed",
        "环节时限（工作日）",
        "task share committed",
        "days",
        "the decided tasks' share of the limit: mean, p50, p90",
        "task",
    ),
    Figure(
        "waiting_days",
        "待领取用时（工作日）",
        "working days waiting",
        "days",
        "working time from a task's opening to its claim (nobody working on it), the opening"
        " day included, less the time it stood still for the applicant's supplement: mean,"
        " p50, p90",
        "task",
    ),
    Figure(
        "working_days",
        "办理用时（工作日）",
        "working days working",
        "days",
        "working time from a task's claim to its decision, the claim day included: mean, p50, p90",
        "task",
    ),
    Figure(
        "tasks_overdue",
        "环节超期",
        "tasks overdue",
        "count",
        "the department's tasks whose share of the limit passed",
        "task",
    ),
)
BY_KEY = {f.key: f for f in FIGURES}


@dataclass(frozen=True)
class Spread:
    """Working days: how many values, their mean, p50 and p90 (nearest rank)."""

    n: int
    mean: float
    p50: float
    p90: float


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value that at least ``p``% of the values do not exceed."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> Spread | None:
    if not values:
        return None
    return Spread(
        len(values), sum(values) / len(values), percentile(values, 50), percentile(values, 90)
    )


def rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


Calendars = Callable[[str], WorkingCalendar]
"""The working calendar of a name (``national`` or a region's)."""


def clock_days(timing: Timing, calendars: Calendars, until: dt.datetime | None = None) -> float:
    """Working days a clock counted from its start to ``until`` (else its end)."""
    end = until or timing.ended_at
    if end is None:
        return 0.0
    return calendars(timing.calendar).elapsed(timing.start, end, timing.suspensions).days


def between(start: dt.datetime, end: dt.datetime, calendar: str, calendars: Calendars) -> float:
    """Working time between two instants, in working days: the part of each working day that
    lies between them (the start day included, unlike the legal clock), so that waiting and
    working add up to the time a task was open."""
    if end <= start:
        return 0.0
    cal = calendars(calendar)
    first = local_date(start)
    if local_date(end) == first:
        seconds = (end - start).total_seconds() if cal.is_working_day(first) else 0.0
        return seconds / DAY_SECONDS
    head = start_of_day(first + dt.timedelta(days=1)) - start
    seconds = head.total_seconds() if cal.is_working_day(first) else 0.0
    return (seconds + cal.elapsed(start, end).seconds) / DAY_SECONDS


def case_figures(cases: Sequence[CaseFacts], calendars: Calendars) -> dict[str, Any]:
    """The case figures of one group of cases."""
    states = [c.state for c in cases]
    decided = [c for c in cases if c.state in DECIDED and c.clock is not None]
    used = [clock_days(c.clock, calendars, c.decided_at) for c in decided if c.clock]
    committed = [float(c.clock.days) for c in decided if c.clock]
    accepted = [c for c in cases if c.accepted_at is not None]
    delivered = [c for c in cases if c.delivered_at is not None]
    known_channel = [c for c in cases if c.channel is not None]
    # A bad rating whose appeal was granted counts in no rating figure.
    ratings = [c.rating for c in cases if c.rating is not None and not c.rating_excluded]
    online = [r for c in cases for r in c.ratings if not r.on_site and not r.excluded]
    on_site = [r for c in cases for r in c.ratings if r.on_site and not r.excluded]
    defaulted = {c.id for c in cases if any(r.defaulted for r in c.ratings if not r.on_site)}
    rated_delivered = [c for c in delivered if c.rating is not None and c.id not in defaulted]
    site_scores = [r.score for r in on_site]
    return {
        "received": len(cases),
        "accepted": len(accepted),
        "deemed_accepted": sum(c.deemed_accepted for c in cases),
        "refused": states.count("refused"),
        "approved": sum(s in APPROVED for s in states),
        "rejected": states.count("rejected"),
        "withdrawn": states.count("withdrawn"),
        "terminated": states.count("terminated"),
        "open": sum(s not in DECIDED and s not in ENDED_EARLY for s in states),
        "on_time_rate": rate(sum(not c.overdue for c in decided), len(decided)),
        "days_used": spread(used),
        "days_committed": spread(committed),
        "used_of_committed": None if not sum(committed) else sum(used) / sum(committed),
        "warned": sum(c.warned for c in cases),
        "overdue": sum(c.overdue for c in cases),
        "escalated": sum(c.escalated for c in cases),
        "returns_per_case": None
        if not accepted
        else sum(c.returns for c in accepted) / len(accepted),
        "repeat_returns": sum(c.returns >= 2 for c in cases),
        "one_trip_rate": rate(sum(c.trips <= 1 for c in delivered), len(delivered)),
        "zero_trip_rate": rate(sum(c.trips == 0 for c in delivered), len(delivered)),
        "online_rate": rate(sum(c.channel == ONLINE for c in known_channel), len(known_channel)),
        "rated": len(ratings),
        "rating_mean": None if not ratings else sum(ratings) / len(ratings),
        "rating_distribution": {str(level): ratings.count(level) for level in range(5, 0, -1)},
        "good_rate": rate(sum(r > BAD_RATING for r in ratings), len(ratings)),
        "bad_ratings": sum(r <= BAD_RATING for r in ratings),
        "active_rating_rate": rate(len(rated_delivered), len(delivered)),
        "defaulted_ratings": len(defaulted),
        "dimension_means": dimension_means(online),
        "onsite_rated": len(on_site),
        "onsite_rating_mean": sum(site_scores) / len(site_scores) if site_scores else None,
        "onsite_bad_ratings": sum(r <= BAD_RATING for r in site_scores),
        "onsite_dimension_means": dimension_means(on_site),
    } | followup_figures([p for c in cases for p in c.followups])


def followup_figures(parts: Sequence[FollowUpFacts]) -> dict[str, Any]:
    """The follow-up figures of a set of follow-up parts (see FIGURES)."""
    counted = [p for p in parts if p.verified or not p.excluded]
    # A granted appeal takes the whole rating out: no part of it is owed a rectification.
    kept = [p for p in parts if not p.excluded]
    # Still being rectified within the period: not yet counted either way.
    owed = [p for p in kept if p.needs_rectification and not p.rectifying_in_time]
    answered = [p.satisfaction for p in kept if p.satisfaction is not None]
    return {
        "followups": len(parts),
        "callback_rate": rate(sum(p.verified for p in counted), len(counted)),
        "rectification_rate": rate(sum(p.rectified for p in owed), len(owed)),
        "rectified": sum(p.rectified for p in kept),
        "rectified_on_time_rate": rate(sum(p.on_time for p in owed), len(owed)),
        "revisit_satisfaction": rate(sum(s > BAD_RATING for s in answered), len(answered)),
        "appeals_granted": len({(p.case_id, p.rating_seq) for p in parts if p.appeal_granted}),
    }


def dimension_means(ratings: Sequence[RatingFacts]) -> dict[str, float]:
    """The mean score of each dimension rated, by dimension name."""
    scores: dict[str, list[int]] = {}
    for r in ratings:
        for dimension, score in r.dimensions.items():
            scores.setdefault(dimension, []).append(score)
    return {d: sum(v) / len(v) for d, v in sorted(scores.items())}


def suspended_time(
    task: TaskFacts,
    calendars: Calendars,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> float:
    """Working time the task's clock stood still for the applicant (补正), within
    ``start``–``end`` when given (each span clipped to it)."""
    if task.clock is None:
        return 0.0
    last = task.decided_at or task.clock.ended_at
    total = 0.0
    for span in task.clock.suspensions:
        if span.reason != SUPPLEMENT:
            continue
        begin = max(span.start, start) if start is not None else span.start
        stop = span.end or last
        if end is not None:
            stop = min(stop, end) if stop is not None else end
        if stop is not None and stop > begin:
            total += between(begin, stop, task.clock.calendar, calendars)
    return total


def waiting_time(task: TaskFacts, calendars: Calendars) -> float | None:
    """Working time a task waited, opened and unclaimed, less the time it stood still for
    the applicant meanwhile (None if it was never claimed)."""
    if task.opened_at is None or task.claimed_at is None or task.clock is None:
        return None
    spent = between(task.opened_at, task.claimed_at, task.clock.calendar, calendars)
    held = suspended_time(task, calendars, task.opened_at, task.claimed_at)
    return max(0.0, spent - held)


def working_time(task: TaskFacts, calendars: Calendars) -> float | None:
    """Working time from a task's claim to its decision, less the time it stood still for
    the applicant meanwhile (None if it was not decided)."""
    if task.claimed_at is None or task.decided_at is None or task.clock is None:
        return None
    spent = between(task.claimed_at, task.decided_at, task.clock.calendar, calendars)
    held = suspended_time(task, calendars, task.claimed_at, task.decided_at)
    return max(0.0, spent - held)


def task_figures(tasks: Sequence[TaskFacts], calendars: Calendars) -> dict[str, Any]:
    """The task figures of one department's review tasks."""
    decided = [t for t in tasks if t.decided_at is not None and t.clock is not None]
    used = [clock_days(t.clock, calendars, t.decided_at) for t in decided if t.clock]
    waiting = [w for t in tasks if (w := waiting_time(t, calendars)) is not None]
    working = [w for t in tasks if (w := working_time(t, calendars)) is not None]
    return {
        "tasks_decided": len(decided),
        "task_on_time_rate": rate(sum(not t.overdue for t in decided), len(decided)),
        "task_days_used": spread(used),
        "task_days_committed": spread([float(t.days) for t in decided]),
        "waiting_days": spread(waiting),
        "working_days": spread(working),
        "tasks_overdue": sum(t.overdue for t in tasks),
    }


@dataclass(frozen=True)
class GroupFigures:
    key: str
    """``all``, a procedure code, a department code or a brand name."""
    name: str
    figures: dict[str, Any]
    departments: tuple[str, ...] = ()


@dataclass(frozen=True)
class FigureTable:
    period: Period
    by: Group
    groups: list[GroupFigures]


def compute(
    cases: Iterable[CaseFacts],
    period: Period,
    by: Group,
    calendars: Calendars,
    departments: Mapping[str, tuple[str, str | None]] | None = None,
) -> FigureTable:
    """The figures of ``cases`` grouped ``by`` all, procedure, department or brand."""
    departments = departments or {}
    everything = list(cases)
    if by == "all":
        groups = [GroupFigures("all", "全部 / all", case_figures(everything, calendars))]
        return FigureTable(period, by, groups)
    if by == "procedure":
        by_code: dict[str, list[CaseFacts]] = {}
        for c in everything:
            by_code.setdefault(c.procedure_code, []).append(c)
        groups = [
            GroupFigures(code, same[0].procedure_name, case_figures(same, calendars))
            for code, same in sorted(by_code.items())
        ]
        return FigureTable(period, by, groups)

    # By department (or by the brand of departments): the cases each took part in, and its
    # own review tasks; each case and task visited once.
    def keys_of(code: str) -> list[str]:
        if by == "brand":
            brand = departments.get(code, (code, None))[1]
            return [brand] if brand is not None else []
        return [code]

    cases_of: dict[str, list[CaseFacts]] = {}
    tasks_of: dict[str, list[TaskFacts]] = {}
    parts_of: dict[str, list[FollowUpFacts]] = {}
    members: dict[str, set[str]] = {}
    for c in everything:
        for p in c.followups:
            for key in keys_of(p.department):
                parts_of.setdefault(key, []).append(p)
        codes = set(c.departments) | {t.department for t in c.tasks}
        for key in {k for code in codes for k in keys_of(code)}:
            cases_of.setdefault(key, []).append(c)
        for code in codes:
            for key in keys_of(code):
                members.setdefault(key, set()).add(code)
        for t in c.tasks:
            for key in keys_of(t.department):
                tasks_of.setdefault(key, []).append(t)
    groups = []
    for key, codes in sorted(members.items()):
        involved = [c for c in cases_of.get(key, []) if codes & set(c.departments)]
        name = key if by == "brand" else departments.get(key, (key, None))[0]
        figures = (
            case_figures(involved, calendars)
            | task_figures(tasks_of.get(key, []), calendars)
            # Its own parts of the follow-ups only: another department's rectification is not
            # this one's.
            | followup_figures(parts_of.get(key, []))
        )
        groups.append(GroupFigures(key, name, figures, tuple(sorted(codes))))
    return FigureTable(period, by, groups)


def figures(
    target: StoreOrSession,
    period: Period,
    by: Group,
    calendars: Calendars,
    departments: Mapping[str, tuple[str, str | None]] | None = None,
) -> FigureTable:
    """The figures of ``period``'s cohort from the store; departments named as published."""
    names = department_names(target) if departments is None else departments
    return compute(cohort(target, period), period, by, calendars, names)


def definitions() -> list[dict[str, str]]:
    """Every figure's key, names, unit, scope and definition."""
    return [
        {
            "key": f.key,
            "zh": f.zh,
            "en": f.en,
            "unit": f.unit,
            "scope": f.scope,
            "definition": f.definition,
        }
        for f in FIGURES
    ]


def as_data(table: FigureTable) -> dict[str, Any]:
    """The table as plain data (what the API answers and ``onetrip figures --json`` prints)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Spread):
            return {"n": value.n, "mean": value.mean, "p50": value.p50, "p90": value.p90}
        return value

    return {
        "period": table.period.label,
        "first_day": table.period.first.isoformat(),
        "last_day": (table.period.end - dt.timedelta(days=1)).isoformat(),
        "by": table.by,
        "groups": [
            {
                "key": g.key,
                "name": g.name,
                "departments": list(g.departments),
                "figures": {k: plain(v) for k, v in g.figures.items()},
            }
            for g in table.groups
        ],
        "definitions": definitions(),
    }
