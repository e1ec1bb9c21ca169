"""Reengineering from data: what merged procedures achieve against what they promised, and
where the time of each stage goes.

Beside the static analysis of a procedure (definitions.analysis: committed limit, trips and
materials before and after merging), the cases of a period show what was achieved: working
days on the committed limit's clock (p50, p90), trips, returns, the on-time rate. Per stage
and department the time of each decided review task splits into waiting (opened, nobody has
claimed it), working (claimed, until decided) and stood still for the applicant (suspended
for supplement), so that a redesign targets the step that actually takes the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from definitions.analysis import Figures as Promise
from definitions.analysis import analyze
from definitions.versioning import ProcedureSnapshot
from evaluation import rollups
from evaluation.facts import CaseFacts
from evaluation.measures import Calendars, measure
from evaluation.periods import Period
from evaluation.tally import (
    GroupKey,
    Spread,
    Tally,
    case_figures,
    newest_version,
    of_kind,
    stages_of,
    tally_cases,
    trips_mean,
)
from store import queries
from store.db import Store, StoreOrSession


@dataclass(frozen=True)
class StageTime:
    """Where the time of one department's tasks in one stage went (working days)."""

    stage_key: str
    stage_name: str
    department: str
    tasks: int
    """Decided review tasks."""
    committed: float
    """The tasks' share of the limit, mean."""
    waiting: Spread | None
    working: Spread | None
    suspended: Spread | None
    """Stood still for the applicant's supplement."""


@dataclass(frozen=True)
class Achieved:
    code: str
    name: str
    version: int
    """The newest version among the period's cases (whose promise is shown)."""
    cases: int
    decided: int
    promised_days: int
    """The committed limit in working days (after merging)."""
    before: Promise
    after: Promise
    days: Spread | None
    """Working days used on the committed limit's clock, over decided cases."""
    on_time_rate: float | None
    trips_mean: float | None
    """Trips per delivered case (promised: ``after.trips``)."""
    one_trip_rate: float | None
    returns_per_case: float | None
    stages: list[StageTime]
    bottleneck: StageTime | None
    """The stage and department whose decided tasks took longest (waiting and working,
    mean): where a redesign pays first."""


def stage_times(
    tallies: Mapping[GroupKey, Tally], code: str, snap: ProcedureSnapshot | None
) -> list[StageTime]:
    """Where the time of each stage's department went, in the stages' order."""
    order = {st.key: i for i, st in enumerate(snap.procedure.stages)} if snap else {}
    names = {st.key: st.name for st in snap.procedure.stages} if snap else {}
    found = stages_of(tallies, code)
    found.sort(key=lambda st: (order.get(st.stage_key, len(order)), st.stage_key, st.department))
    return [
        StageTime(
            stage_key=st.stage_key,
            stage_name=names.get(st.stage_key, st.stage_key),
            department=st.department,
            tasks=st.tally.n["stage_tasks"],
            committed=st.tally.n["stage_days"] / st.tally.n["stage_tasks"],
            waiting=st.tally.spread("waiting"),
            working=st.tally.spread("working"),
            suspended=st.tally.spread("suspended"),
        )
        for st in found
    ]


def _load(s: StageTime) -> float:
    return (s.waiting.mean if s.waiting else 0.0) + (s.working.mean if s.working else 0.0)


def achieved_from(
    tallies: Mapping[GroupKey, Tally], snapshots: Mapping[str, ProcedureSnapshot]
) -> list[Achieved]:
    """Each procedure's achieved figures against its promise; ``snapshots`` by code."""
    out = []
    for code, t in of_kind(tallies, "procedure"):
        snap = snapshots.get(code)
        if snap is None:
            continue
        analysis = analyze(snap.procedure, {i.code: i for i in snap.items})
        figures = case_figures(t)
        stages = stage_times(tallies, code, snap)
        days: Spread | None = figures["days_used"]
        out.append(
            Achieved(
                code=code,
                name=snap.procedure.name,
                version=snap.version,
                cases=t.n["received"],
                decided=days.n if days else 0,
                promised_days=analysis.committed_limit,
                before=analysis.before,
                after=analysis.after,
                days=days,
                on_time_rate=figures["on_time_rate"],
                trips_mean=trips_mean(t),
                one_trip_rate=figures["one_trip_rate"],
                returns_per_case=figures["returns_per_case"],
                stages=stages,
                bottleneck=max(stages, key=_load) if stages else None,
            )
        )
    return out


def achieved(
    cases: Iterable[CaseFacts],
    snapshots: Mapping[str, ProcedureSnapshot],
    calendars: Calendars,
) -> list[Achieved]:
    """The achieved figures of cases held in memory; ``snapshots`` by code."""
    return achieved_from(tally_cases(measure(c, calendars, {}) for c in cases), snapshots)


def newest_snapshots(
    target: StoreOrSession, tallies: Mapping[GroupKey, Tally]
) -> dict[str, ProcedureSnapshot]:
    """For each procedure among the tallies, the newest version its cases ran (its promise
    is the one shown)."""
    snapshots = {}
    for code, t in of_kind(tallies, "procedure"):
        snap = queries.get_procedure(target, code, newest_version(t) or None)
        if snap is not None:
            snapshots[code] = snap
    return snapshots


def achieved_in(
    target: Store, period: Period, calendars: Calendars, procedure: str | None = None
) -> list[Achieved]:
    """The period's cases from the store, each procedure against its newest version's
    promise among them."""
    rollups.catch_up(target, calendars)
    tallies = {
        key: t
        for key, t in rollups.period_tallies(target, period, ["procedure", "stage"]).items()
        if procedure is None or _of_procedure(key, procedure)
    }
    return achieved_from(tallies, newest_snapshots(target, tallies))


def _of_procedure(key: GroupKey, procedure: str) -> bool:
    kind, name = key
    return name == procedure if kind == "procedure" else name.startswith(f"{procedure}/")
