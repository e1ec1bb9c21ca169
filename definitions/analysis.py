"""Reengineering figures (流程再造): a merged procedure against its items applied one by one.

"Before" is what an applicant faced when every item was applied for separately, one after
another: the committed limits add up, every item's on-site trips add up, and every item asks
for its own copy of each material. "After" is the merged procedure: the time is the critical
path through its parallel stages, the trips are those of the single front desk and the single
delivery, a material shared by key is handed in once, and a document another item of the
bundle issues (``produces``) is not handed in at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from definitions.models import Channel, DeliveryMethod, JoinPolicy, Procedure, ServiceItem, Stage


def task_days(task_item: ServiceItem | None, days: int | None) -> int:
    """A task's share in working days: its own ``days`` or its item's committed limit."""
    if days is not None:
        return days
    return task_item.committed_limit if task_item is not None else 0


def stage_days(stage: Stage, items: Mapping[str, ServiceItem]) -> int:
    """Working days a stage may take: the slowest task in parallel, the sum in order.

    或签 (any) is bounded like 会签: the promise must hold even if approvals come last.
    """
    shares = [task_days(items.get(t.item), t.days) for t in stage.tasks]
    if stage.join is JoinPolicy.sequential:
        return sum(shares)
    return max(shares, default=0)


@dataclass(frozen=True)
class CriticalPath:
    days: int
    """Working days along the longest path, from acceptance to the last decision."""
    stages: tuple[str, ...]


def critical_path(procedure: Procedure, items: Mapping[str, ServiceItem]) -> CriticalPath:
    """The longest path from the start stage through the transitions.

    Every branch is considered, since the promise must hold whatever the form says. Cycles
    and unknown stages are the validator's to report; here they end a path.
    """
    stages = {s.key: s for s in procedure.stages}
    memo: dict[str, CriticalPath] = {}

    def walk(key: str, on_path: frozenset[str]) -> CriticalPath:
        if key in memo:
            return memo[key]
        stage = stages[key]
        best = CriticalPath(0, ())
        for transition in stage.next:
            if transition.to in stages and transition.to not in on_path:
                candidate = walk(transition.to, on_path | {key})
                if candidate.days > best.days or not best.stages:
                    best = candidate
        result = CriticalPath(stage_days(stage, items) + best.days, (key, *best.stages))
        memo[key] = result
        return result

    start = procedure.start_stage
    if start not in stages:
        return CriticalPath(0, ())
    return walk(start, frozenset())


def computed_trips(procedure: Procedure) -> int:
    """On-site trips the merged flow needs: intake if it cannot be done online, and pickup."""
    intake = 0 if Channel.online in procedure.intake.channels else 1
    pickup = 1 if procedure.delivery.method is DeliveryMethod.window else 0
    return intake + pickup


@dataclass(frozen=True)
class Figures:
    limit_days: int
    """Working days from acceptance to the last decision."""
    trips: int
    materials: int
    """Material entries the applicant hands in."""
    copies: int
    """Sheets (份) counted with their copies."""
    applications: int
    """Application forms filled in."""


@dataclass(frozen=True)
class ItemRow:
    code: str
    name: str
    department: str
    committed_limit: int
    trips: int
    materials: int


@dataclass(frozen=True)
class Reengineering:
    code: str
    name: str
    version: int
    committed_limit: int
    """The bundle's promise, at least the critical path."""
    critical_path: tuple[str, ...]
    departments: int
    before: Figures
    after: Figures
    items: list[ItemRow] = field(default_factory=list)

    def reduction(self, figure: str) -> float:
        """Reduction of one figure in percent (0 when there was nothing before)."""
        before = getattr(self.before, figure)
        after = getattr(self.after, figure)
        return round((before - after) * 100 / before, 1) if before else 0.0

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``, with the reductions in percent."""
        data = asdict(self)
        data["critical_path"] = list(self.critical_path)
        data["reduction_percent"] = {f: self.reduction(f) for f in FIGURES}
        return data


FIGURES = ("limit_days", "trips", "materials", "copies", "applications")


def analyze(procedure: Procedure, items: Mapping[str, ServiceItem]) -> Reengineering:
    """Before/after figures of a procedure whose items are all known."""
    merged = [items[code] for code in procedure.items if code in items]
    before = Figures(
        limit_days=sum(i.committed_limit for i in merged),
        trips=sum(i.trips for i in merged),
        materials=sum(len(i.materials) for i in merged),
        copies=sum(m.copies for i in merged for m in i.materials),
        applications=len(merged),
    )
    unique: dict[str, int] = {}
    produced = {key: item.code for item in merged for key in item.produces}
    for item in merged:
        for m in item.materials:
            if produced.get(m.key, item.code) != item.code:
                continue  # issued by another item of the bundle: obtained, not handed in
            unique[m.key] = max(unique.get(m.key, 0), m.copies)
    path = critical_path(procedure, items)
    after = Figures(
        limit_days=path.days,
        trips=computed_trips(procedure),
        materials=len(unique),
        copies=sum(unique.values()),
        applications=1,
    )
    departments = {
        t.department or items[t.item].department
        for s in procedure.stages
        for t in s.tasks
        if t.department or t.item in items
    }
    return Reengineering(
        code=procedure.code,
        name=procedure.name,
        version=procedure.version,
        committed_limit=procedure.committed_limit,
        critical_path=path.stages,
        departments=len(departments),
        before=before,
        after=after,
        items=[
            ItemRow(i.code, i.name, i.department, i.committed_limit, i.trips, len(i.materials))
            for i in merged
        ],
    )
