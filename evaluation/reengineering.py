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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from definitions.analysis import Figures as Promise
from definitions.analysis import analyze
from definitions.versioning import ProcedureSnapshot
from evaluation.facts import CaseFacts, TaskFacts, cohort
from evaluation.figures import (
    Calendars,
    Spread,
    case_figures,
    spread,
    suspended_time,
    waiting_time,
    working_time,
)
from evaluation.periods import Period
from store import queries
from store.db import StoreOrSession


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
    cases: Sequence[CaseFacts], snap: ProcedureSnapshot | None, calendars: Calendars
) -> list[StageTime]:
    order = {s.key: i for i, s in enumerate(snap.procedure.stages)} if snap else {}
    names = {s.key: s.name for s in snap.procedure.stages} if snap else {}
    groups: dict[tuple[str, str], list[TaskFacts]] = {}
    for c in cases:
        for t in c.tasks:
            if t.decided_at is not None and t.clock is not None:
                groups.setdefault((t.stage_key, t.department), []).append(t)
    out = []
    for (stage, department), tasks in sorted(
        groups.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0])
    ):
        waiting = [w for t in tasks if (w := waiting_time(t, calendars)) is not None]
        working = [w for t in tasks if (w := working_time(t, calendars)) is not None]
        out.append(
            StageTime(
                stage_key=stage,
                stage_name=names.get(stage, stage),
                department=department,
                tasks=len(tasks),
                committed=sum(t.days for t in tasks) / len(tasks),
                waiting=spread(waiting),
                working=spread(working),
                suspended=spread([suspended_time(t, calendars) for t in tasks]),
            )
        )
    return out


def _load(s: StageTime) -> float:
    return (s.waiting.mean if s.waiting else 0.0) + (s.working.mean if s.working else 0.0)


def achieved(
    cases: Iterable[CaseFacts],
    snapshots: dict[str, ProcedureSnapshot],
    calendars: Calendars,
) -> list[Achieved]:
    """Each procedure's achieved figures against its promise; ``snapshots`` by code."""
    by_code: dict[str, list[CaseFacts]] = {}
    for c in cases:
        by_code.setdefault(c.procedure_code, []).append(c)
    out = []
    for code, group in sorted(by_code.items()):
        snap = snapshots.get(code)
        if snap is None:
            continue
        analysis = analyze(snap.procedure, {i.code: i for i in snap.items})
        figures = case_figures(group, calendars)
        delivered = [c for c in group if c.delivered_at is not None]
        stages = stage_times(group, snap, calendars)
        days: Spread | None = figures["days_used"]
        out.append(
            Achieved(
                code=code,
                name=snap.procedure.name,
                version=snap.version,
                cases=len(group),
                decided=days.n if days else 0,
                promised_days=analysis.committed_limit,
                before=analysis.before,
                after=analysis.after,
                days=days,
                on_time_rate=figures["on_time_rate"],
                trips_mean=sum(c.trips for c in delivered) / len(delivered) if delivered else None,
                one_trip_rate=figures["one_trip_rate"],
                returns_per_case=figures["returns_per_case"],
                stages=stages,
                bottleneck=max(stages, key=_load) if stages else None,
            )
        )
    return out


def newest_snapshots(
    target: StoreOrSession, cases: Sequence[CaseFacts]
) -> dict[str, ProcedureSnapshot]:
    """For each procedure among ``cases``, the newest version they ran (its promise is the one
    shown)."""
    newest: dict[str, int] = {}
    for c in cases:
        newest[c.procedure_code] = max(newest.get(c.procedure_code, 0), c.procedure_version)
    snapshots = {}
    for code, version in newest.items():
        snap = queries.get_procedure(target, code, version or None)
        if snap is not None:
            snapshots[code] = snap
    return snapshots


def achieved_in(
    target: StoreOrSession, period: Period, calendars: Calendars, procedure: str | None = None
) -> list[Achieved]:
    """The period's cases from the store, each procedure against its newest version's
    promise among them."""
    cases = [
        c for c in cohort(target, period) if procedure is None or c.procedure_code == procedure
    ]
    return achieved(cases, newest_snapshots(target, cases), calendars)
