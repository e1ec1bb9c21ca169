"""What-if on recorded durations, with runs whose outcome is worked out by hand."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from definitions.models import JoinPolicy, Procedure
from evaluation.facts import CaseFacts, TaskFacts, Timing
from evaluation.figures import Spread
from evaluation.simulate import compare
from tests.evaluation.test_figures import MON, at, calendars, case, task
from tests.store.factories import procedure_snapshot

SNAP = procedure_snapshot("YZ-YJS-KBQY")
ITEMS = {i.code: i for i in SNAP.items}
CURRENT = SNAP.procedure
REGISTRATION = "YZ-SCJG-XK-0001"
FOLLOW_UP = {
    "YZ-GA-QT-0001": 0.5,
    "YZ-SW-QT-0001": 1.5,
    "YZ-RS-QR-0001": 0.5,
    "YZ-YB-QR-0001": 0.5,
    "YZ-GJJ-GG-0001": 0.5,
    "YZ-RMYH-QT-0001": 2.0,
}


def took(item: str, days: float, case_id: str = "c1") -> TaskFacts:
    """A decided task of ``item`` whose legal clock counted ``days`` (started at the very end
    of Monday, so every day counts from Tuesday on: up to 4 days within the week)."""
    start = at(MON, 0) + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    decided = at(MON + 1, 0) + dt.timedelta(days=days)
    return dataclasses.replace(
        task(case_id, "A"),
        item_code=item,
        claimed_at=start,
        decided_at=decided,
        clock=Timing(start, 1, "national", ended_at=decided),
    )


def recorded_case(case_id: str, food: bool = False, bank: float = 2.0) -> CaseFacts:
    durations = {REGISTRATION: 1.0, **FOLLOW_UP, "YZ-RMYH-QT-0001": bank}
    return dataclasses.replace(
        case(case_id, state="completed", decided_at=at(MON + 4)),
        form={"company_name": "x", "food_business": food},
        tasks=[took(item, days, case_id) for item, days in durations.items()],
    )


def all_at_once(procedure: Procedure) -> Procedure:
    """The redesign: every task in one 会签 stage, promised in 2 working days."""
    [first, second] = procedure.stages
    merged = first.model_copy(
        update={"tasks": [*first.tasks, *second.tasks], "next": [], "join": JoinPolicy.all}
    )
    return procedure.model_copy(update={"stages": [merged], "committed_limit": 2, "version": 9})


def test_a_redesign_against_the_current_procedure_by_hand() -> None:
    cases = [recorded_case("c1"), recorded_case("c2")]
    result = compare(all_at_once(CURRENT), CURRENT, ITEMS, cases, calendars, "2025Q3", runs=50)
    assert (result.cases, result.tasks) == (2, 14)
    current, redesigned = result.current, result.redesigned
    assert current is not None
    # Today: registration (1 day), then the slowest follow-up (the bank, 2 days).
    assert current.days == Spread(50, 3.0, 3.0, 3.0)
    assert (current.committed_limit, current.on_time_rate, current.trips) == (3, 1.0, 0)
    # All at once: the slowest of all, the bank's 2 days, within the new promise of 2.
    assert redesigned.days == Spread(50, 2.0, 2.0, 2.0)
    assert (redesigned.version, redesigned.committed_limit, redesigned.on_time_rate) == (9, 2, 1.0)
    # No food business in the recorded forms: the food licence never ran, nothing assumed.
    assert redesigned.assumed == []


def test_items_without_a_record_use_their_share_and_are_named() -> None:
    cases = [recorded_case("c1", food=True)]
    result = compare(CURRENT, None, ITEMS, cases, calendars, "2025Q3", runs=10)
    # The food licence (its share: 2 days) is slower than nothing else in the stage.
    assert result.redesigned.assumed == ["YZ-SCJG-XK-0002"]
    assert result.redesigned.days == Spread(10, 3.0, 3.0, 3.0)
    assert result.current is None


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 3.5), min_size=1, max_size=6), st.integers(0, 2**16))
def test_predictions_stay_within_what_was_recorded(banks: list[float], seed: int) -> None:
    cases = [recorded_case(f"c{i}", bank=b) for i, b in enumerate(banks)]
    result = compare(all_at_once(CURRENT), CURRENT, ITEMS, cases, calendars, "P", 40, seed)
    current, redesigned = result.current, result.redesigned
    assert current is not None
    assert current.days is not None
    assert redesigned.days is not None
    # Each run: registration then max(follow-ups) today; max of everything redesigned. The
    # legal clock counts whole seconds: allow a second's worth of slack.
    second = 1 / 86_400
    low, high = 1.0 + max(1.5, min(banks)) - second, 1.0 + max(1.5, max(banks)) + second
    assert low <= current.days.p50 <= current.days.p90 <= high
    # Never slower redesigned than today, run by run, so not in distribution either.
    assert redesigned.days.p90 <= current.days.p90
    assert redesigned.days.mean <= current.days.mean
