"""Caseworker actions: rejected synchronously when wrong, never applied twice, durable on answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from temporalio import activity
from temporalio.worker import Worker

from activities.clock import Calendars, ClockActivities
from activities.record import RecordActivities
from definitions.versioning import snapshot
from store import queries
from store.db import Store
from tests.fixtures_temporal import (
    APPLICANT,
    FRONT_DESK,
    SUPERVISOR,
    Harness,
    caseworker,
    catalog,
)
from tests.rules.sim import sh
from tests.workflows.test_case_flow import STARTUP_FOLLOW_UP, approve
from workflows.case import CaseWorkflow
from workflows.contracts import (
    RECORD_ACTIVITY,
    AcceptInput,
    CaseState,
    Channel,
    Clock,
    ClockKind,
    DecideInput,
    DeliverInput,
    EventType,
    RateInput,
    RatingDimension,
    ReassignInput,
    RecordInput,
    RecordResult,
    RefuseInput,
    ReturnInput,
    Role,
    SupplementInput,
    TaskInput,
    TaskState,
    UrgeInput,
    VisitInput,
    VisitRating,
)

SCJG = caseworker("YZ-SCJG")
SCJG_2 = caseworker("YZ-SCJG", "2")
TAX = caseworker("YZ-SW")
REGISTRATION = "company_registration"


async def accepted_and_claimed(h: Harness) -> str:
    case_id = await h.start()
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=SCJG, task_key=REGISTRATION))
    return case_id


async def test_second_decision_on_a_decided_task_is_rejected(harness: Harness) -> None:
    h = harness
    case_id = await accepted_and_claimed(h)
    approve = DecideInput(actor=SCJG, task_key=REGISTRATION, approve=True)
    await h.act(case_id, CaseWorkflow.decide, approve)
    before = queries.count_events(h.store, case_id)
    refusal = await h.refused(
        case_id, CaseWorkflow.decide, approve.model_copy(update={"approve": False, "reason": "x"})
    )
    assert refusal.kind == "conflict"
    assert "already approved" in refusal.message
    assert queries.count_events(h.store, case_id) == before  # nothing written
    [task] = [t for t in queries.case_tasks(h.store, case_id) if t.task_key == REGISTRATION]
    assert task.state is TaskState.approved


async def test_decision_by_the_wrong_department_is_rejected(harness: Harness) -> None:
    h = harness
    case_id = await accepted_and_claimed(h)
    before = queries.count_events(h.store, case_id)
    refusal = await h.refused(
        case_id, CaseWorkflow.decide, DecideInput(actor=TAX, task_key=REGISTRATION, approve=True)
    )
    assert refusal.kind == "forbidden"
    # Another department learns nothing of whose task it is or who holds it.
    assert "not a task of your department" in refusal.message
    assert "YZ-SCJG" not in refusal.message
    assert SCJG.id not in refusal.message
    refusal = await h.refused(
        case_id,
        CaseWorkflow.decide,
        DecideInput(actor=APPLICANT, task_key=REGISTRATION, approve=True),
    )
    assert refusal.kind == "forbidden"
    assert queries.count_events(h.store, case_id) == before


async def test_claims_and_decisions_belong_to_one_person(harness: Harness) -> None:
    h = harness
    case_id = await accepted_and_claimed(h)
    refusal = await h.refused(
        case_id, CaseWorkflow.claim, TaskInput(actor=SCJG_2, task_key=REGISTRATION)
    )
    assert (refusal.kind, "claimed by yz-scjg-1" in refusal.message) == ("conflict", True)
    refusal = await h.refused(
        case_id,
        CaseWorkflow.decide,
        DecideInput(actor=SCJG_2, task_key=REGISTRATION, approve=True),
    )
    assert refusal.kind == "conflict"
    refusal = await h.refused(
        case_id, CaseWorkflow.decide, DecideInput(actor=SCJG, task_key=REGISTRATION, approve=False)
    )
    assert (refusal.kind, "needs its reasons" in refusal.message) == ("invalid", True)
    refusal = await h.refused(
        case_id, CaseWorkflow.claim, TaskInput(actor=SCJG, task_key="no_such_task")
    )
    assert refusal.kind == "not_found"
    # Reassigned within the department, the new assignee decides.
    result = await h.act(
        case_id,
        CaseWorkflow.reassign,
        ReassignInput(
            actor=SCJG, task_key=REGISTRATION, assignee=SCJG_2.id, assignee_department="YZ-SCJG"
        ),
    )
    assert result.task is not None
    assert result.task.assignee == SCJG_2.id
    await h.refused(
        case_id, CaseWorkflow.decide, DecideInput(actor=SCJG, task_key=REGISTRATION, approve=True)
    )
    await h.act(
        case_id, CaseWorkflow.decide, DecideInput(actor=SCJG_2, task_key=REGISTRATION, approve=True)
    )


async def test_a_released_task_goes_back_to_the_inbox_for_a_colleague(harness: Harness) -> None:
    h = harness
    case_id = await accepted_and_claimed(h)
    refusal = await h.refused(
        case_id, CaseWorkflow.release, TaskInput(actor=SCJG_2, task_key=REGISTRATION)
    )
    assert (refusal.kind, "claimed by yz-scjg-1" in refusal.message) == ("conflict", True)
    released = await h.act(
        case_id, CaseWorkflow.release, TaskInput(actor=SCJG, task_key=REGISTRATION)
    )
    assert released.task is not None
    assert (released.task.state, released.task.assignee) == (TaskState.open, None)
    [row] = queries.inbox(h.store, "YZ-SCJG")
    assert (row.task_key, row.assignee) == (REGISTRATION, None)
    # Taken over by a colleague, who decides; the one who let it go no longer can.
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=SCJG_2, task_key=REGISTRATION))
    refusal = await h.refused(
        case_id, CaseWorkflow.decide, DecideInput(actor=SCJG, task_key=REGISTRATION, approve=True)
    )
    assert refusal.kind == "conflict"
    await h.act(
        case_id, CaseWorkflow.decide, DecideInput(actor=SCJG_2, task_key=REGISTRATION, approve=True)
    )
    [event] = h.of_type(case_id, EventType.task_released)
    assert (event.actor_id, event.task_key) == (SCJG.id, REGISTRATION)


def required(form: dict[str, Any]) -> list[str]:
    """The materials the business start-up bundle asks of that form."""
    proc = catalog().procedure("YZ-YJS-KBQY")
    assert proc is not None
    return snapshot(catalog(), proc).required_keys(form)


async def test_an_incomplete_application_is_returned_once_and_supplied_in_parts(
    harness: Harness,
) -> None:
    h = harness
    form = {"company_name": "云州示范科技有限公司"}
    keys = required(form)
    handed, missing = keys[:-2], keys[-2:]
    case_id = await h.start(form=form, materials=handed)
    # 一次性告知: a return at intake naming only part of what is missing is refused.
    refusal = await h.refused(
        case_id,
        CaseWorkflow.return_for_supplement,
        ReturnInput(actor=FRONT_DESK, missing=missing[:1], reason="材料不齐"),
    )
    assert (refusal.kind, missing[1] in refusal.message) == ("invalid", True)
    await h.act(
        case_id,
        CaseWorkflow.return_for_supplement,
        ReturnInput(actor=FRONT_DESK, missing=missing, reason="材料不齐"),
    )
    await h.act(
        case_id,
        CaseWorkflow.supplement,
        SupplementInput(actor=APPLICANT, materials=missing[:1], note="其余材料明日补交"),
    )
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert (case.clock, case.missing) == (Clock.suspended, missing[1:])
    await h.act(
        case_id, CaseWorkflow.supplement, SupplementInput(actor=APPLICANT, materials=missing[1:])
    )
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert (case.clock, case.missing) == (Clock.running, [])
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    [accepted] = h.of_type(case_id, EventType.case_accepted)
    assert accepted.payload["missing"] == []
    parts = h.of_type(case_id, EventType.case_supplemented)
    assert [e.payload.get("partial", False) for e in parts] == [True, False]
    assert parts[0].payload["note"] == "其余材料明日补交"


async def test_materials_brought_to_the_window_complete_the_application(harness: Harness) -> None:
    h = harness
    form = {"company_name": "云州示范科技有限公司"}
    keys = required(form)
    case_id = await h.start(form=form, materials=keys[:-1], channel=Channel.window)
    refusal = await h.refused(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    assert (refusal.kind, keys[-1] in refusal.message) == ("invalid", True)
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK, received=keys[-1:]))
    [accepted] = h.of_type(case_id, EventType.case_accepted)
    assert (accepted.payload["missing"], accepted.payload["tolerated"]) == ([], [])
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.state is CaseState.in_progress


async def test_concurrent_claims_one_wins(harness: Harness) -> None:
    h = harness
    case_id = await h.start()
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    results = await asyncio.gather(
        h.act(case_id, CaseWorkflow.claim, TaskInput(actor=SCJG, task_key=REGISTRATION)),
        h.act(case_id, CaseWorkflow.claim, TaskInput(actor=SCJG_2, task_key=REGISTRATION)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert h.types(case_id).count(EventType.task_claimed) == 1


async def test_a_retried_request_acts_once(harness: Harness) -> None:
    h = harness
    case_id = await accepted_and_claimed(h)
    request = DecideInput(
        actor=SCJG, task_key=REGISTRATION, approve=True, request_id=uuid.uuid4().hex
    )
    first = await h.act(case_id, CaseWorkflow.decide, request)
    again = await h.act(case_id, CaseWorkflow.decide, request)  # same update id
    assert again == first
    assert h.types(case_id).count(EventType.task_approved) == 1


async def test_refusal_at_intake(harness: Harness) -> None:
    h = harness
    case_id = await h.start()
    refusal = await h.refused(
        case_id, CaseWorkflow.refuse, RefuseInput(actor=SCJG, reason="不属于本机关职权")
    )
    assert refusal.kind == "forbidden"  # only the front desk takes intake decisions
    await h.act(
        case_id, CaseWorkflow.refuse, RefuseInput(actor=FRONT_DESK, reason="不属于本机关职权")
    )
    final = await h.handles[case_id].result()
    assert final.state is CaseState.refused
    [refused] = h.of_type(case_id, EventType.case_refused)
    assert refused.payload["reason"] == "不属于本机关职权"


async def test_rating_only_after_delivery_and_by_the_applicant(harness: Harness) -> None:
    h = harness
    case_id = await h.start("YZ-DX-GTHDJ", form={})
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    refusal = await h.refused(case_id, CaseWorkflow.rate, RateInput(actor=APPLICANT, score=1))
    assert refusal.kind == "conflict"
    [task] = h.review(case_id)
    await approve(h, case_id, task.task_key, task.department)
    await h.act(case_id, CaseWorkflow.deliver, DeliverInput(actor=FRONT_DESK))
    refusal = await h.refused(case_id, CaseWorkflow.rate, RateInput(actor=SUPERVISOR, score=5))
    assert refusal.kind == "forbidden"
    await h.act(case_id, CaseWorkflow.rate, RateInput(actor=APPLICANT, score=2, comment="等太久"))
    [rated] = h.of_type(case_id, EventType.case_rated)
    assert rated.payload == {"score": 2, "comment": "等太久", "bad": True}
    assert (await h.handles[case_id].result()).rating == 2


async def test_unrated_case_completes_when_the_window_closes(harness: Harness) -> None:
    h = harness
    case_id = await h.start("YZ-DX-GTHDJ", form={}, rating_window_days=3)
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    [task] = h.review(case_id)
    await approve(h, case_id, task.task_key, task.department)
    await h.act(case_id, CaseWorkflow.deliver, DeliverInput(actor=FRONT_DESK, method="window"))
    final = await h.handles[case_id].result()  # time skips to the end of the rating window
    assert (final.state, final.rating, final.trips) == (CaseState.completed, None, 1)
    [completed] = h.of_type(case_id, EventType.case_completed)
    assert completed.payload == {"rated": False}


async def test_where_silence_counts_as_satisfied_an_unrated_case_is_rated_4(
    harness: Harness,
) -> None:
    h = harness
    case_id = await h.start("YZ-DX-GTHDJ", form={}, desk_rating_default_days=5)
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    [task] = h.review(case_id)
    await approve(h, case_id, task.task_key, task.department)
    delivered = await h.act(case_id, CaseWorkflow.deliver, DeliverInput(actor=FRONT_DESK))
    # The desk's jurisdiction sets the window: five working days after delivery.
    [window] = [c for c in queries.case_clocks(h.store, case_id) if c.kind is ClockKind.rating]
    assert window.days == 5
    final = await h.handles[case_id].result()  # time skips to the end of the window
    assert (final.state, final.rating, delivered.state) == (
        CaseState.completed,
        4,
        CaseState.rating,
    )
    [rated] = h.of_type(case_id, EventType.case_rated)
    assert rated.payload == {
        "score": 4,
        "comment": None,
        "bad": False,
        "defaulted": True,
        "window_days": 5,
    }
    assert rated.actor_role is Role.system
    assert window.due_at is not None
    assert abs(rated.at - window.due_at) < dt.timedelta(seconds=1)
    [completed] = h.of_type(case_id, EventType.case_completed)
    assert completed.payload == {"rated": True, "defaulted": True}


async def test_ratings_carry_dimensions_and_each_visit_can_be_rated(harness: Harness) -> None:
    h = harness
    case_id = await h.start("YZ-DX-GTHDJ", form={})
    await h.act(
        case_id,
        CaseWorkflow.record_visit,
        VisitInput(
            actor=FRONT_DESK,
            reason="other",
            rating=VisitRating(
                score=2, comment="排队太久", dimensions={RatingDimension.attitude: 4}
            ),
        ),
    )
    [visit] = h.of_type(case_id, EventType.visit_rated)
    assert visit.payload == {
        "score": 2,
        "comment": "排队太久",
        "bad": True,
        "reason": "other",
        "recorded_by": FRONT_DESK.id,
        "dimensions": {"attitude": 4},
    }
    assert (visit.actor_id, visit.actor_role) == (APPLICANT.id, Role.applicant)
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    [task] = h.review(case_id)
    await approve(h, case_id, task.task_key, task.department)
    await h.act(case_id, CaseWorkflow.deliver, DeliverInput(actor=FRONT_DESK))
    await h.act(
        case_id,
        CaseWorkflow.rate,
        RateInput(
            actor=APPLICANT,
            score=5,
            dimensions={RatingDimension.efficiency: 5, RatingDimension.overall: 4},
        ),
    )
    [rated] = h.of_type(case_id, EventType.case_rated)
    assert rated.payload["dimensions"] == {"efficiency": 5, "overall": 4}


async def test_urge_satisfied_in_time_does_not_escalate(harness: Harness) -> None:
    h = harness
    case_id = await accepted_and_claimed(h)
    await h.act(
        case_id, CaseWorkflow.urge, UrgeInput(actor=SUPERVISOR, task_key=REGISTRATION, days=1)
    )
    refusal = await h.refused(
        case_id, CaseWorkflow.urge, UrgeInput(actor=SCJG, task_key=REGISTRATION, days=1)
    )
    assert refusal.kind == "forbidden"
    await h.act(
        case_id, CaseWorkflow.decide, DecideInput(actor=SCJG, task_key=REGISTRATION, approve=True)
    )
    await h.env.sleep(dt.timedelta(days=5))
    assert EventType.deadline_escalated not in h.types(case_id)


@pytest.mark.start_at(sh("2025-09-15 09:00"))
async def test_an_urge_on_the_whole_case_escalates_when_it_is_not_decided(
    harness: Harness,
) -> None:
    h = harness
    case_id = await accepted_and_claimed(h)
    await h.act(case_id, CaseWorkflow.urge, UrgeInput(actor=SUPERVISOR, days=1, note="加快办理"))
    # 1 working day after Monday: the end of Tuesday.
    escalated = await h.event_at(case_id, EventType.deadline_escalated, sh("2025-09-17 00:00"))
    assert (escalated.task_key, escalated.payload["scope"]) == (None, "case")
    assert escalated.payload["urged_by"] == SUPERVISOR.id
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.state is CaseState.in_progress  # escalated, still workable


# ------------------------------------------------------------------ the store goes down


class FlakyStore(RecordActivities):
    """The first write commits but its answer is lost; the second finds the store down."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.calls = 0

    @activity.defn(name=RECORD_ACTIVITY)
    def record_case_events(self, data: RecordInput) -> RecordResult:
        self.calls += 1
        if self.calls == 3:
            super().record_case_events(data)
            raise OperationalError("COMMIT", {}, Exception("connection lost after commit"))
        if self.calls == 4:
            raise OperationalError("INSERT", {}, Exception("could not connect to server"))
        return super().record_case_events(data)


@pytest.fixture
async def flaky(harness: Harness) -> AsyncIterator[tuple[Harness, FlakyStore]]:
    records = FlakyStore(harness.store)
    queue = f"flaky-{uuid.uuid4().hex[:8]}"
    async with Worker(
        harness.client,
        task_queue=queue,
        workflows=[CaseWorkflow],
        activities=[records.record_case_events, ClockActivities(Calendars()).compute_deadlines],
        activity_executor=ThreadPoolExecutor(4),
    ):
        # Sharing the handles records the case's history (its failed writes retried).
        h = Harness(
            harness.env, harness.client, harness.store, queue, harness.handles, harness.followups
        )
        yield h, records


async def test_store_failures_are_retried_without_duplicate_events(
    flaky: tuple[Harness, FlakyStore],
) -> None:
    h, records = flaky
    case_id = await h.start()  # call 1
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))  # call 2
    # Call 3 commits and then fails, call 4 fails before writing, call 5 succeeds: the claim
    # answers only once it is in the store, and nothing is written twice.
    result = await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=SCJG, task_key=REGISTRATION))
    assert records.calls == 5
    assert result.task is not None
    assert result.task.state is TaskState.claimed
    [stored] = [t for t in queries.case_tasks(h.store, case_id) if t.task_key == REGISTRATION]
    assert (stored.state, stored.assignee) == (TaskState.claimed, SCJG.id)
    events = h.events(case_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events].count(EventType.task_claimed) == 1


async def test_results_wait_for_tolerated_materials(harness: Harness) -> None:
    h = harness
    case_id = await h.start(form={"company_name": "云州示范科技有限公司", "food_business": False})
    await h.act(
        case_id,
        CaseWorkflow.accept,
        AcceptInput(actor=FRONT_DESK, tolerated=["lease_contract"], tolerance_days=1),
    )
    await approve(h, case_id, REGISTRATION, "YZ-SCJG")
    for task, department in STARTUP_FOLLOW_UP.items():
        if task != "food_licence":
            await approve(h, case_id, task, department)
    refusal = await h.refused(case_id, CaseWorkflow.deliver, DeliverInput(actor=FRONT_DESK))
    assert (refusal.kind, "still owed: lease_contract" in refusal.message) == ("conflict", True)
    await h.act(
        case_id,
        CaseWorkflow.supplement,
        SupplementInput(actor=APPLICANT, materials=["lease_contract"]),
    )
    await h.act(case_id, CaseWorkflow.deliver, DeliverInput(actor=FRONT_DESK))
