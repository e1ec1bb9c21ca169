"""The business start-up bundle end to end, rejections, join policies and withdrawal."""

from __future__ import annotations

from store import queries
from tests.fixtures_temporal import APPLICANT, FRONT_DESK, Harness, caseworker
from workflows.case import CaseWorkflow
from workflows.client import Closed
from workflows.contracts import (
    AcceptInput,
    CaseState,
    Channel,
    Clock,
    DecideInput,
    DeliverInput,
    EventType,
    RateInput,
    ReturnInput,
    TaskInput,
    TaskKind,
    TaskState,
    WithdrawInput,
)

STARTUP_FOLLOW_UP = {
    "seal_filing": "YZ-GA",
    "tax_package": "YZ-SW",
    "social_insurance": "YZ-RS",
    "medical_insurance": "YZ-YB",
    "housing_fund": "YZ-GJJ",
    "bank_account": "YZ-RMYH",
    "food_licence": "YZ-SCJG",
}


async def approve(h: Harness, case_id: str, task: str, department: str) -> None:
    worker = caseworker(department)
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=worker, task_key=task))
    await h.act(
        case_id, CaseWorkflow.decide, DecideInput(actor=worker, task_key=task, approve=True)
    )


async def test_business_startup_end_to_end(harness: Harness) -> None:
    h = harness
    case_id = await h.start(form={"company_name": "云州示范餐饮有限公司", "food_business": True})
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    inbox = queries.inbox(h.store, "YZ-SCJG")
    assert [t.task_key for t in inbox] == ["company_registration"]
    assert inbox[0].deadline_at is not None

    await approve(h, case_id, "company_registration", "YZ-SCJG")
    # All seven follow-up departments have the case in their inbox at once (parallel).
    for task, department in STARTUP_FOLLOW_UP.items():
        assert [t.task_key for t in queries.inbox(h.store, department)] == [task]
    for t, d in STARTUP_FOLLOW_UP.items():
        await approve(h, case_id, t, d)
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.state is CaseState.delivering

    await h.act(case_id, CaseWorkflow.deliver, DeliverInput(actor=FRONT_DESK))
    await h.act(case_id, CaseWorkflow.rate, RateInput(actor=APPLICANT, score=5, comment="很快"))
    final = await h.handles[case_id].result()
    assert final.state is CaseState.completed
    assert final.rating == 5
    assert final.trips == 0  # online submission, results by post: zero trips, as promised

    stored = queries.get_case(h.store, case_id)
    assert stored == final
    tasks = queries.case_tasks(h.store, case_id)
    assert [t.task_key for t in tasks if t.kind is not TaskKind.review] == ["@intake", "@delivery"]
    assert len(h.review(case_id)) == 8
    assert all(t.state is TaskState.approved for t in tasks)
    events = h.events(case_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # no gap, no duplicate
    types = [e.type for e in events]
    assert types[0] is EventType.case_submitted
    assert types[-2:] == [EventType.case_rated, EventType.case_completed]
    assert types.count(EventType.task_approved) == 8
    assert EventType.finding not in types


async def test_without_food_business_no_food_licence_task(harness: Harness) -> None:
    h = harness
    case_id = await h.start(form={"company_name": "云州示范科技有限公司", "food_business": False})
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    await approve(h, case_id, "company_registration", "YZ-SCJG")
    keys = {t.task_key for t in h.review(case_id)}
    assert "food_licence" not in keys
    assert len(keys) == 7


async def test_one_department_rejecting_ends_the_case_with_every_reason(harness: Harness) -> None:
    h = harness
    case_id = await h.start()
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    await approve(h, case_id, "company_registration", "YZ-SCJG")
    await approve(h, case_id, "seal_filing", "YZ-GA")
    tax = caseworker("YZ-SW")
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=tax, task_key="tax_package"))
    await h.act(
        case_id,
        CaseWorkflow.decide,
        DecideInput(actor=tax, task_key="tax_package", approve=False, reason="经营地址无法核实"),
    )
    final = await h.handles[case_id].result()
    assert final.state is CaseState.rejected
    [rejected] = h.of_type(case_id, EventType.case_rejected)
    decisions = {d["task"]: (d["decision"], d["reason"]) for d in rejected.payload["decisions"]}
    assert decisions == {
        "company_registration": ("approved", None),
        "seal_filing": ("approved", None),
        "tax_package": ("rejected", "经营地址无法核实"),
    }
    states = {t.task_key: t.state for t in queries.case_tasks(h.store, case_id)}
    assert states["bank_account"] is TaskState.cancelled
    assert queries.inbox(h.store, "YZ-RMYH") == []


async def newborn_at_the_social_card_stage(h: Harness) -> str:
    """A newborn case accepted and approved up to its 或签 stage (office or bank)."""
    case_id = await h.start(
        "YZ-YJS-XSECS",
        form={
            "newborn_name": "李小云",
            "birth_date": "2025-09-10",
            "district": "云城区",
            "registration_parent": "随父",
        },
    )
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    await approve(h, case_id, "birth_medical_certificate", "YZ-WJ")
    for task, dept in [
        ("birth_registration", "YZ-GA"),
        ("vaccination_certificate", "YZ-WJ"),
        ("resident_medical_insurance", "YZ-YB"),
    ]:
        await approve(h, case_id, task, dept)
    return case_id


async def test_any_join_first_approval_decides_the_stage(harness: Harness) -> None:
    h = harness
    case_id = await newborn_at_the_social_card_stage(h)
    # 或签: the bank branch or the social-security office; the bank is first.
    assert [t.task_key for t in queries.inbox(h.store, "YZ-HZYH")] == ["social_card_bank"]
    await approve(h, case_id, "social_card_bank", "YZ-HZYH")
    states = {t.task_key: t.state for t in queries.case_tasks(h.store, case_id)}
    assert states["social_card_bank"] is TaskState.approved
    assert states["social_card_hrss"] is TaskState.cancelled
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.state is CaseState.delivering


async def test_sequential_join_opens_tasks_in_order(harness: Harness) -> None:
    h = harness
    case_id = await h.start(
        "YZ-GCJS-SGXK", form={"project_name": "云州示范厂房", "special_project": False}
    )
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    await approve(h, case_id, "land_use_planning", "YZ-GH")
    # 依次: the construction permit waits until the planning permit is approved.
    assert [t.task_key for t in queries.inbox(h.store, "YZ-GH")] == ["building_planning"]
    assert queries.inbox(h.store, "YZ-ZJ") == []
    await approve(h, case_id, "building_planning", "YZ-GH")
    assert [t.task_key for t in queries.inbox(h.store, "YZ-ZJ")] == [
        "construction_permit_after_planning"
    ]
    await approve(h, case_id, "construction_permit_after_planning", "YZ-ZJ")
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.state is CaseState.delivering
    keys = {t.task_key for t in queries.case_tasks(h.store, case_id)}
    assert "fire_design_review" not in keys  # the other branch was not taken


async def test_withdraw(harness: Harness) -> None:
    h = harness
    case_id = await h.start(channel=Channel.window)
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    await h.act(case_id, CaseWorkflow.withdraw, WithdrawInput(actor=APPLICANT, reason="改期再办"))
    final = await h.handles[case_id].result()
    assert final.state is CaseState.withdrawn
    assert final.trips == 1  # the window submission
    # A window submission against a promise of zero trips is a supervision finding.
    [finding] = h.of_type(case_id, EventType.finding)
    assert finding.payload["finding"] == "trips_exceeded"
    assert [t.state for t in h.review(case_id)] == [TaskState.cancelled]
    # A closed case takes no more updates (the API answers 409 for this).
    outcome = await h.send(case_id, CaseWorkflow.withdraw, WithdrawInput(actor=APPLICANT))
    assert isinstance(outcome, Closed), outcome


async def test_only_the_applicant_withdraws(harness: Harness) -> None:
    h = harness
    case_id = await h.start()
    refusal = await h.refused(case_id, CaseWorkflow.withdraw, WithdrawInput(actor=FRONT_DESK))
    assert (refusal.kind, "only the applicant" in refusal.message) == ("forbidden", True)


async def test_a_return_by_a_task_no_longer_needed_ends_the_suspension(harness: Harness) -> None:
    h = harness
    case_id = await newborn_at_the_social_card_stage(h)
    office = caseworker("YZ-RS")
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=office, task_key="social_card_hrss"))
    await h.act(
        case_id,
        CaseWorkflow.return_for_supplement,
        ReturnInput(
            actor=office, task_key="social_card_hrss", missing=["newborn_photo"], reason="缺照片"
        ),
    )
    # 或签: the bank branch issues the card; the office's request is moot.
    await approve(h, case_id, "social_card_bank", "YZ-HZYH")
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert (case.state, case.clock, case.missing) == (CaseState.delivering, Clock.running, [])
    [resumed] = h.of_type(case_id, EventType.case_clock_resumed)
    assert resumed.payload == {"reason": "return_withdrawn"}
