"""Performance figures, each defined once: the API, the command and the report read them here.

Every figure is computed over a period's cohort (the cases submitted in it, see
:mod:`evaluation.facts`), for one group of cases: all of them, one procedure, or one
department (the cases it took part in, and its own review tasks). Working days are counted
as the legal clock counts them: the start day is not counted, suspensions (补正, 第四十五条
steps) are left out, each department on its own calendar; fractions of a day are kept
(evaluation.measures). Each figure is made of counts, sums and histograms that add up
(evaluation.tally), kept per month and group in the store (evaluation.rollups), so a period's
figures are its months' tallies added up. Percentiles are nearest-rank over values kept to
the thousandth of a working day: p90 is the smallest value that at least 90% of the values
do not exceed. A rate whose denominator is zero is ``None``, never 0; whoever shows values
rounds them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from evaluation import rollups
from evaluation.facts import CaseFacts, department_names
from evaluation.measures import Calendars, measure
from evaluation.periods import Period
from evaluation.tally import (
    GroupKey,
    Spread,
    Tally,
    case_figures,
    department_figures,
    members,
    name,
    of_kind,
    tally_cases,
)
from store.db import Store

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


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value that at least ``p``% of the values do not exceed."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> Spread | None:
    """The spread of values held in memory (what-if runs), exact."""
    if not values:
        return None
    return Spread(
        len(values), sum(values) / len(values), percentile(values, 50), percentile(values, 90)
    )


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


def table(
    tallies: Mapping[GroupKey, Tally],
    period: Period,
    by: Group,
    departments: Mapping[str, tuple[str, str | None]] | None = None,
) -> FigureTable:
    """The figures of each group of ``by`` from its tally."""
    departments = departments or {}
    if by == "all":
        whole = tallies.get(("all", ""), Tally())
        return FigureTable(period, by, [GroupFigures("all", "全部 / all", case_figures(whole))])
    if by == "procedure":
        groups = [
            GroupFigures(code, name(t) or code, case_figures(t))
            for code, t in of_kind(tallies, "procedure")
        ]
        return FigureTable(period, by, groups)
    # By department (or by the brand of departments): the cases each took part in, its own
    # review tasks and its own parts of the follow-ups.
    groups = [
        GroupFigures(
            key,
            key if by == "brand" else departments.get(key, (key, None))[0],
            department_figures(t),
            members(t),
        )
        for key, t in of_kind(tallies, by)
    ]
    return FigureTable(period, by, groups)


def compute(
    cases: Iterable[CaseFacts],
    period: Period,
    by: Group,
    calendars: Calendars,
    departments: Mapping[str, tuple[str, str | None]] | None = None,
) -> FigureTable:
    """The figures of ``cases`` (held in memory) grouped ``by`` all, procedure, department or
    brand: measured and added up as the store's projection does."""
    departments = departments or {}
    brands = {code: brand for code, (_, brand) in departments.items() if brand}
    tallies = tally_cases(measure(c, calendars, brands) for c in cases)
    return table(tallies, period, by, departments)


def figures(
    target: Store,
    period: Period,
    by: Group,
    calendars: Calendars,
    departments: Mapping[str, tuple[str, str | None]] | None = None,
    key: str | None = None,
) -> FigureTable:
    """The figures of ``period``'s cohort from the store's month tallies, once the projection
    has caught up with the feed; departments named as published. ``key`` keeps one group
    (a procedure code, a department code or a brand name)."""
    rollups.catch_up(target, calendars)
    names = department_names(target) if departments is None else departments
    tallies = rollups.period_tallies(target, period, [by], key=key if by != "all" else None)
    return table(tallies, period, by, names)


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
