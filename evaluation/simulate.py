"""What-if: a redesigned procedure tried against the recorded durations of real cases.

Each run takes the form of a recorded case of the period (so conditions such as a food
business decide which tasks exist, as often as they did), walks the procedure's stages from
its start stage, and gives every task a duration drawn from what that service item's tasks
actually took in the period (working days on the task's legal clock: waiting and working,
without the time standing still for the applicant). A stage of 会签 takes its slowest task,
或签 its fastest, 依次 the sum; the next stage is the first transition whose condition holds.
The total is working days from acceptance to the last decision, comparable with the committed
limit. Trips are the procedure's own (definitions.analysis). An item without a recorded task
in the period is given its committed share, and named, so that nobody mistakes an assumption
for evidence. Run ``i`` of either design uses the same form and the same drawn duration for
each item (seeded by the seed and ``i``), so the difference between them is the design's.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from definitions.analysis import computed_trips, task_days
from definitions.conditions import evaluate
from definitions.models import JoinPolicy, Procedure, ServiceItem
from evaluation.facts import CaseFacts
from evaluation.figures import spread
from evaluation.measures import Calendars, clock_days
from evaluation.tally import Spread

MAX_STAGES = 100
"""Stages one run may pass through: a loop in a definition ends there instead of hanging."""


@dataclass(frozen=True)
class Recorded:
    """What the period's cases of a procedure recorded, to draw runs from."""

    forms: list[dict[str, Any]]
    durations: dict[str, list[float]]
    """Working days of each service item's decided tasks."""
    days: list[float]
    """Working days the decided cases took on their committed limit's clock."""
    tasks: int


def recorded(cases: Sequence[CaseFacts], calendars: Calendars) -> Recorded:
    durations: dict[str, list[float]] = {}
    tasks = 0
    for c in cases:
        for t in c.tasks:
            if t.decided_at is None or t.clock is None or not t.item_code:
                continue
            durations.setdefault(t.item_code, []).append(
                clock_days(t.clock, calendars, t.decided_at)
            )
            tasks += 1
    days = [
        clock_days(c.clock, calendars, c.decided_at)
        for c in cases
        if c.clock is not None and c.decided_at is not None
    ]
    return Recorded([dict(c.form) for c in cases], durations, days, tasks)


@dataclass(frozen=True)
class Prediction:
    code: str
    version: int
    label: str
    committed_limit: int
    trips: int
    runs: int
    days: Spread | None
    on_time_rate: float | None
    """Runs done within the committed limit."""
    assumed: list[str] = field(default_factory=list)
    """Items without a recorded task in the period: their committed share was used."""


@dataclass(frozen=True)
class Comparison:
    period: str
    cases: int
    """Recorded cases whose forms the runs use."""
    tasks: int
    """Recorded decided tasks whose durations the runs draw from."""
    recorded: Spread | None
    """What the decided cases actually took (for reference)."""
    current: Prediction | None
    redesigned: Prediction


class Draws:
    """The durations of one run: each item drawn once, the same whichever design asks."""

    def __init__(
        self, seed: int, run: int, durations: Mapping[str, Sequence[float]], assumed: set[str]
    ) -> None:
        self.seed, self.run = seed, run
        self.durations = durations
        self.assumed = assumed
        self.drawn: dict[str, float] = {}

    def of(self, item: str, share: int) -> float:
        if item not in self.drawn:
            found = self.durations.get(item)
            if found:
                # Seeded by the item too: whichever design asks first, in whatever order.
                rng = random.Random(f"{self.seed}:{self.run}:{item}")
                self.drawn[item] = found[rng.randrange(len(found))]
            else:
                self.assumed.add(item)
                self.drawn[item] = float(share)
        return self.drawn[item]


def run_once(
    procedure: Procedure,
    items: Mapping[str, ServiceItem],
    form: Mapping[str, Any],
    draws: Draws,
) -> float:
    """Working days one case takes through ``procedure`` with these draws."""
    stages = {s.key: s for s in procedure.stages}
    key: str | None = procedure.start_stage
    total = 0.0
    for _ in range(MAX_STAGES):
        if key is None or key not in stages:
            break
        stage = stages[key]
        drawn = [
            draws.of(t.item, task_days(items.get(t.item), t.days))
            for t in stage.tasks
            if t.condition is None or evaluate(t.condition, form)
        ]
        if drawn:
            if stage.join is JoinPolicy.sequential:
                total += sum(drawn)
            elif stage.join is JoinPolicy.any:
                total += min(drawn)
            else:
                total += max(drawn)
        key = next(
            (n.to for n in stage.next if n.condition is None or evaluate(n.condition, form)),
            None,
        )
    return total


def predict(
    procedure: Procedure,
    items: Mapping[str, ServiceItem],
    data: Recorded,
    runs: int,
    seed: int,
    label: str,
) -> Prediction:
    """``runs`` cases through ``procedure``, forms in turn, durations drawn with ``seed``."""
    assumed: set[str] = set()
    forms = data.forms or [{}]
    totals = [
        run_once(procedure, items, forms[i % len(forms)], Draws(seed, i, data.durations, assumed))
        for i in range(runs)
    ]
    limit = procedure.committed_limit
    return Prediction(
        code=procedure.code,
        version=procedure.version,
        label=label,
        committed_limit=limit,
        trips=computed_trips(procedure),
        runs=runs,
        days=spread(totals),
        on_time_rate=sum(t <= limit for t in totals) / len(totals) if totals else None,
        assumed=sorted(assumed),
    )


def compare(
    redesigned: Procedure,
    current: Procedure | None,
    items: Mapping[str, ServiceItem],
    cases: Sequence[CaseFacts],
    calendars: Calendars,
    period: str,
    runs: int = 2000,
    seed: int = 1,
) -> Comparison:
    """The redesign against the current procedure, both run on the same recorded cases."""
    data = recorded(cases, calendars)
    return Comparison(
        period=period,
        cases=len(cases),
        tasks=data.tasks,
        recorded=spread(data.days),
        current=predict(current, items, data, runs, seed, "current / 现行")
        if current is not None
        else None,
        redesigned=predict(redesigned, items, data, runs, seed, "redesigned / 再造后"),
    )
