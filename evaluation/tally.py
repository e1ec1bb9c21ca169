"""Tallies: every figure as counts, sums and histograms that add up — and subtract.

A figure over a period is a figure over whole months (a half year is six), and every figure
here is made of parts that add: counts, sums, and for p50/p90 a histogram of the values. So
each month keeps one :class:`Tally` per group (all cases, a procedure, a department, a brand,
a stage's department), kept up to date as cases change (evaluation.rollups: a changed case's
old measure is taken out, its new one put in), and the figures of any period are the sum of
its months' tallies, finished here (:func:`case_figures`, :func:`task_figures`,
:func:`followup_figures`, :func:`stage_time`) — the one definition of each figure
(docs/figures.md), whether the cases come from the store or are worked out in memory.

Percentiles are nearest-rank over the values rounded to a thousandth of a working day
(86.4 seconds): the smallest value that at least p% of the values do not exceed. Means are
of the exact values. A rate whose denominator is zero is ``None``, never 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from evaluation.measures import Measure, TaskMeasure

RESOLUTION = 1000
"""Histogram bins per working day: values are kept to the thousandth of a day."""
APPROVED = frozenset({"delivering", "rating", "completed"})
ENDED_EARLY = frozenset({"refused", "withdrawn", "terminated"})
BAD_RATING = 2
"""Ratings at or below it are 差评 (不满意 2, 非常不满意 1); 3 to 5 count as good (好评)."""
ONLINE = "online"

GroupKey = tuple[str, str]
"""(kind, key): ``("all", "")``, ``("procedure", code)``, ``("department", code)``,
``("brand", name)`` or ``("stage", "<procedure>/<stage>/<department>")``."""
KINDS = ("all", "procedure", "department", "brand", "stage")


@dataclass(frozen=True)
class Spread:
    """Working days: how many values, their mean, p50 and p90 (nearest rank)."""

    n: int
    mean: float
    p50: float
    p90: float


@dataclass
class Tally:
    """Counts (``n``), sums of working days (``s``) and histograms (``h``: bins named by the
    value in thousandths of a working day, as text, the way they are stored) of one group's
    cases in one month, or of several months added up. Entries that come to zero stay until
    :meth:`prune`."""

    n: Counter[str] = field(default_factory=Counter)
    s: dict[str, float] = field(default_factory=dict)
    h: dict[str, Counter[str]] = field(default_factory=dict)

    def prune(self) -> None:
        """Drop entries that came to zero (a case taken out again)."""
        for key in [k for k, by in self.n.items() if not by]:
            del self.n[key]
        for key, bins in list(self.h.items()):
            for b in [b for b, by in bins.items() if not by]:
                del bins[b]
            if not bins:
                del self.h[key]
                self.s.pop(key, None)

    @property
    def empty(self) -> bool:
        return not any(self.n.values()) and not any(any(b.values()) for b in self.h.values())

    def add(self, other: Tally, sign: int = 1) -> None:
        """Add ``other`` (``sign`` -1: take it out)."""
        n = self.n
        get = n.get
        for key, by in other.n.items():
            n[key] = get(key, 0) + sign * by
        s = self.s
        for key, total in other.s.items():
            s[key] = s.get(key, 0.0) + sign * total
        for key, bins in other.h.items():
            mine = self.h.get(key)
            if mine is None:
                self.h[key] = (
                    Counter(bins) if sign == 1 else Counter({b: -c for b, c in bins.items()})
                )
                continue
            found = mine.get
            for b, by in bins.items():
                mine[b] = found(b, 0) + sign * by

    def spread(self, key: str) -> Spread | None:
        bins = self.h.get(key)
        n = sum(bins.values()) if bins else 0
        if not bins or n <= 0:
            return None
        return Spread(
            n, self.s.get(key, 0.0) / n, _nearest_rank(bins, n, 50), _nearest_rank(bins, n, 90)
        )

    def rate(self, part: str, whole: str) -> float | None:
        return rate(self.n[part], self.n[whole])

    def mean(self, total: str, count: str) -> float | None:
        return None if not self.n[count] else self.n[total] / self.n[count]

    def prefixed(self, prefix: str) -> dict[str, int]:
        return {k[len(prefix) :]: v for k, v in self.n.items() if k.startswith(prefix) and v}

    def to_json(self) -> dict[str, Any]:
        return {"n": dict(self.n), "s": self.s, "h": {k: dict(b) for k, b in self.h.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tally:
        # Read often (every month of every period asked for): the stored dicts as they are.
        return cls(
            Counter(data.get("n") or {}),
            dict(data.get("s") or {}),
            {key: Counter(bins) for key, bins in (data.get("h") or {}).items()},
        )


def rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _nearest_rank(bins: Mapping[str, int], n: int, p: int) -> float:
    # The smallest value that at least p% of the values do not exceed (integer arithmetic).
    rank = max(1, (p * n + 99) // 100)
    seen = 0
    for b in sorted(bins, key=int):
        seen += bins[b]
        if seen >= rank:
            return int(b) / RESOLUTION
    raise AssertionError("a histogram's counts add up to n")


# --------------------------------------------------------------------------- what a case adds

Counts = list[tuple[str, int]]
"""What a case adds to a group's counts."""
Values = list[tuple[str, float]]
"""The values a case adds to a group's spreads."""


@dataclass
class Part:
    """What one case adds to a group's tally: counts and spread values."""

    counts: Counts = field(default_factory=list)
    values: Values = field(default_factory=list)

    def into(self, t: Tally, sign: int) -> None:
        # The projection runs this for every group of every case: plain dict operations.
        n, s, h = t.n, t.s, t.h
        get = n.get
        for key, by in self.counts:
            n[key] = get(key, 0) + sign * by
        for key, value in self.values:
            s[key] = s.get(key, 0.0) + sign * value
            bins = h.get(key)
            if bins is None:
                bins = h[key] = Counter()
            b = str(round(value * RESOLUTION))
            bins[b] = bins.get(b, 0) + sign


def _case(m: Measure) -> Part:
    """What a case adds to the case figures of a group it belongs to."""
    c: Counts = [("received", 1), (f"state:{m.state}", 1), (f"version:{m.procedure_version}", 1)]
    c.append((f"name:{m.procedure_name}", 1))
    v: Values = []
    if m.accepted:
        c += [("accepted", 1), ("accepted_returns", m.returns)]
    if m.deemed_accepted:
        c.append(("deemed_accepted", 1))
    if m.decided:
        c.append(("decided", 1))
        if not m.overdue:
            c.append(("decided_on_time", 1))
        v += [("days_used", m.days_used or 0.0), ("days_committed", float(m.days_committed or 0))]
    for flag in ("warned", "overdue", "escalated"):
        if getattr(m, flag):
            c.append((flag, 1))
    if m.returns >= 2:
        c.append(("repeat_returns", 1))
    if m.delivered:
        c += [("delivered", 1), ("delivered_trips", m.trips)]
        if m.trips <= 1:
            c.append(("delivered_one_trip", 1))
        if m.trips == 0:
            c.append(("delivered_zero_trips", 1))
    if m.channel is not None:
        c.append(("channel_known", 1))
        if m.channel == ONLINE:
            c.append(("online", 1))
    defaulted = any(r.defaulted for r in m.ratings if not r.on_site)
    # A bad rating whose appeal was granted counts in no rating figure.
    if m.rating is not None and not m.rating_excluded:
        c += [("rated", 1), ("rating_sum", m.rating), (f"rating:{m.rating}", 1)]
        if m.rating > BAD_RATING:
            c.append(("good", 1))
    if m.delivered and m.rating is not None and not defaulted:
        c.append(("rated_active", 1))
    if defaulted:
        c.append(("defaulted", 1))
    for r in m.ratings:
        if r.excluded:
            continue
        prefix = "site_dim_" if r.on_site else "dim_"
        if r.on_site:
            c += [("site_rated", 1), ("site_sum", r.score)]
            if r.score <= BAD_RATING:
                c.append(("site_bad", 1))
        for dimension, score in r.dimensions.items():
            c += [(f"{prefix}n:{dimension}", 1), (f"{prefix}sum:{dimension}", score)]
    return Part(c, v)


def _tasks(tasks: Iterable[TaskMeasure]) -> Part:
    """What a department's review tasks add to its task figures."""
    p = Part()
    c, v = p.counts, p.values
    for task in tasks:
        c.append(("tasks", 1))
        if task.overdue:
            c.append(("tasks_overdue", 1))
        if task.decided:
            c.append(("tasks_decided", 1))
            if not task.overdue:
                c.append(("tasks_on_time", 1))
            if task.days_used is not None:
                v.append(("task_days_used", task.days_used))
            v.append(("task_days_committed", float(task.days)))
        if task.waiting is not None:
            v.append(("waiting_days", task.waiting))
        if task.working is not None:
            v.append(("working_days", task.working))
    return p


def _parts(m: Measure, departments: set[str] | None) -> Part:
    """What a case's follow-up parts add (those of ``departments``, or all of them)."""
    parts = [p for p in m.parts if departments is None or p.department in departments]
    c: Counts = []
    for p in parts:
        c.append(("parts", 1))
        counted = p.verified or not p.excluded
        if counted:
            c.append(("parts_counted", 1))
            if p.verified:
                c.append(("parts_verified", 1))
        if p.excluded:
            continue
        # A granted appeal takes the whole rating out: no part of it is owed a rectification;
        # one still being rectified within its period is not counted either way yet.
        if p.rectified:
            c.append(("parts_rectified", 1))
        if p.needs_rectification and not p.rectifying_in_time:
            c.append(("parts_owed", 1))
            if p.rectified:
                c.append(("parts_owed_rectified", 1))
            if p.on_time:
                c.append(("parts_owed_on_time", 1))
        if p.satisfaction is not None:
            c.append(("revisits", 1))
            if p.satisfaction > BAD_RATING:
                c.append(("revisits_good", 1))
    granted = len({p.rating_seq for p in parts if p.appeal_granted})
    if granted:
        c.append(("appeals_granted", granted))
    return Part(c)


def _stage(tasks: Iterable[TaskMeasure]) -> Part:
    p = Part()
    for task in tasks:
        p.counts += [("stage_tasks", 1), ("stage_days", task.days)]
        if task.waiting is not None:
            p.values.append(("waiting", task.waiting))
        if task.working is not None:
            p.values.append(("working", task.working))
        p.values.append(("suspended", task.suspended or 0.0))
    return p


def contribute(m: Measure, into: Callable[[GroupKey], Tally], sign: int = 1) -> None:
    """Add one case to each group it belongs to (``sign`` -1: take it out).

    All cases and its procedure: its case figures and every part of its follow-ups. A
    department (and a brand, for the departments under it): the case's figures if it took
    part in the case, its own review tasks and its own parts of the follow-ups. A stage's
    department: its decided review tasks in that stage.
    """
    case = _case(m)
    everything = _parts(m, None)
    for key in (("all", ""), ("procedure", m.procedure_code)):
        t = into(key)
        case.into(t, sign)
        everything.into(t, sign)
    codes = sorted({*m.departments, *(t.department for t in m.tasks)})
    involved = set(m.departments)
    groups: dict[GroupKey, set[str]] = {("department", code): {code} for code in codes}
    for code in codes:
        if code in m.brands:
            groups.setdefault(("brand", m.brands[code]), set()).add(code)
    for key, members in groups.items():
        t = into(key)
        if members & involved:
            case.into(t, sign)
        _tasks(task for task in m.tasks if task.department in members).into(t, sign)
        _parts(m, members).into(t, sign)
        Part([(f"member:{code}", 1) for code in members]).into(t, sign)
    stages: dict[tuple[str, str], list[TaskMeasure]] = {}
    for task in m.tasks:
        if task.decided:
            stages.setdefault((task.stage_key, task.department), []).append(task)
    for (stage, department), decided in stages.items():
        _stage(decided).into(into(("stage", f"{m.procedure_code}/{stage}/{department}")), sign)


def contributions(m: Measure) -> dict[GroupKey, Tally]:
    """What one case adds to each group it belongs to, a tally per group."""
    out: dict[GroupKey, Tally] = {}
    contribute(m, lambda key: out.setdefault(key, Tally()))
    return out


def tally_cases(measures: Iterable[Measure]) -> dict[GroupKey, Tally]:
    """Every group's tally of these cases."""
    total: dict[GroupKey, Tally] = {}
    for m in measures:
        contribute(m, lambda key: total.setdefault(key, Tally()))
    for t in total.values():
        t.prune()
    return total


def of_kind(tallies: Mapping[GroupKey, Tally], kind: str) -> Iterator[tuple[str, Tally]]:
    """The groups of one kind, by key."""
    for (k, key), t in sorted(tallies.items()):
        if k == kind:
            yield key, t


# --------------------------------------------------------------------------- the figures


def case_figures(t: Tally) -> dict[str, Any]:
    """The case figures of a group (see evaluation.figures.FIGURES)."""
    states = t.prefixed("state:")
    used, committed = t.spread("days_used"), t.spread("days_committed")
    return {
        "received": t.n["received"],
        "accepted": t.n["accepted"],
        "deemed_accepted": t.n["deemed_accepted"],
        "refused": states.get("refused", 0),
        "approved": sum(states.get(s, 0) for s in APPROVED),
        "rejected": states.get("rejected", 0),
        "withdrawn": states.get("withdrawn", 0),
        "terminated": states.get("terminated", 0),
        "open": sum(
            c for s, c in states.items() if s not in APPROVED | ENDED_EARLY and s != "rejected"
        ),
        "on_time_rate": t.rate("decided_on_time", "decided"),
        "days_used": used,
        "days_committed": committed,
        "used_of_committed": None
        if not t.s.get("days_committed")
        else t.s.get("days_used", 0.0) / t.s["days_committed"],
        "warned": t.n["warned"],
        "overdue": t.n["overdue"],
        "escalated": t.n["escalated"],
        "returns_per_case": t.mean("accepted_returns", "accepted"),
        "repeat_returns": t.n["repeat_returns"],
        "one_trip_rate": t.rate("delivered_one_trip", "delivered"),
        "zero_trip_rate": t.rate("delivered_zero_trips", "delivered"),
        "online_rate": t.rate("online", "channel_known"),
        "rated": t.n["rated"],
        "rating_mean": t.mean("rating_sum", "rated"),
        "rating_distribution": {str(level): t.n[f"rating:{level}"] for level in range(5, 0, -1)},
        "good_rate": t.rate("good", "rated"),
        "bad_ratings": t.n["rated"] - t.n["good"],
        "active_rating_rate": t.rate("rated_active", "delivered"),
        "defaulted_ratings": t.n["defaulted"],
        "dimension_means": _dimension_means(t, "dim_"),
        "onsite_rated": t.n["site_rated"],
        "onsite_rating_mean": t.mean("site_sum", "site_rated"),
        "onsite_bad_ratings": t.n["site_bad"],
        "onsite_dimension_means": _dimension_means(t, "site_dim_"),
    } | followup_figures(t)


def _dimension_means(t: Tally, prefix: str) -> dict[str, float]:
    counts = t.prefixed(f"{prefix}n:")
    sums = t.prefixed(f"{prefix}sum:")
    return {d: sums.get(d, 0) / n for d, n in sorted(counts.items())}


def followup_figures(t: Tally) -> dict[str, Any]:
    """The follow-up figures of a group's follow-up parts."""
    return {
        "followups": t.n["parts"],
        "callback_rate": t.rate("parts_verified", "parts_counted"),
        "rectification_rate": t.rate("parts_owed_rectified", "parts_owed"),
        "rectified": t.n["parts_rectified"],
        "rectified_on_time_rate": t.rate("parts_owed_on_time", "parts_owed"),
        "revisit_satisfaction": t.rate("revisits_good", "revisits"),
        "appeals_granted": t.n["appeals_granted"],
    }


def task_figures(t: Tally) -> dict[str, Any]:
    """The task figures of a department's review tasks."""
    return {
        "tasks_decided": t.n["tasks_decided"],
        "task_on_time_rate": t.rate("tasks_on_time", "tasks_decided"),
        "task_days_used": t.spread("task_days_used"),
        "task_days_committed": t.spread("task_days_committed"),
        "waiting_days": t.spread("waiting_days"),
        "working_days": t.spread("working_days"),
        "tasks_overdue": t.n["tasks_overdue"],
    }


def department_figures(t: Tally) -> dict[str, Any]:
    """A department's (or a brand's) figures: the cases it took part in, its own tasks and
    its own parts of the follow-ups."""
    return case_figures(t) | task_figures(t)


def members(t: Tally) -> tuple[str, ...]:
    """The department codes a department or brand group stands for."""
    return tuple(sorted(t.prefixed("member:")))


def name(t: Tally) -> str | None:
    """The procedure name its cases carried most often."""
    names = t.prefixed("name:")
    return max(sorted(names), key=lambda k: names[k]) if names else None


def newest_version(t: Tally) -> int:
    versions = [int(v) for v in t.prefixed("version:")]
    return max(versions, default=0)


@dataclass(frozen=True)
class StageTally:
    stage_key: str
    department: str
    tally: Tally


def stages_of(tallies: Mapping[GroupKey, Tally], procedure: str) -> list[StageTally]:
    """The stage tallies of one procedure."""
    prefix = f"{procedure}/"
    out = []
    for key, t in of_kind(tallies, "stage"):
        if key.startswith(prefix) and t.n["stage_tasks"]:
            stage, _, department = key[len(prefix) :].rpartition("/")
            out.append(StageTally(stage, department, t))
    return out


def trips_mean(t: Tally) -> float | None:
    return t.mean("delivered_trips", "delivered")


__all__ = [
    "KINDS",
    "GroupKey",
    "Spread",
    "StageTally",
    "Tally",
    "case_figures",
    "contribute",
    "contributions",
    "department_figures",
    "followup_figures",
    "members",
    "name",
    "newest_version",
    "of_kind",
    "rate",
    "stages_of",
    "tally_cases",
    "task_figures",
    "trips_mean",
]
