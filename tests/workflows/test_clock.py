"""The legal clock inside cases: instants computed by hand from the official arrangements.

The time-skipping server starts at the date each test names, so the 2025 National Day break
(1–8 Oct off, Sunday 28 Sep and Saturday 11 Oct worked) is on the calendar.
"""

from __future__ import annotations

import datetime as dt

import pytest

from definitions.calendar import SHANGHAI
from store import queries
from store.queries import OPEN_CASES, CaseFilter
from tests.fixtures_temporal import APPLICANT, FRONT_DESK, SUPERVISOR, Harness, caseworker
from workflows.case import CaseWorkflow
from workflows.contracts import (
    AcceptInput,
    CaseState,
    Clock,
    DecideInput,
    EventType,
    ReturnInput,
    StepInput,
    SupplementInput,
    TaskInput,
    UrgeInput,
    VisitInput,
)

OVERDUE = CaseFilter(states=OPEN_CASES, overdue=True)


def sh(text: str) -> dt.datetime:
    """An instant written in Asia/Shanghai time."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


SCJG = caseworker("YZ-SCJG")


@pytest.mark.start_at(sh("2025-09-26 10:00"))
async def test_warning_overdue_and_escalation_over_national_day(harness: Harness) -> None:
    h = harness
    case_id = await h.start()
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))

    # Business start-up: 3 working days, warning at 80%. 26 Sep (Friday) is not counted;
    # Sunday 28 Sep is a make-up working day, then 29 and 30 Sep: due at 24:00 on 30 Sep.
    # 80% of 3 days is 2.4: 0.4 of the third counted day, 09:36 on 30 Sep.
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.deadline_at == sh("2025-10-01 00:00")
    assert case.deadline_date == dt.date(2025, 9, 30)
    assert case.warning_at == sh("2025-09-30 09:36")
    # The registration task has 1 working day: 28 Sep; warned at 80%, 19:12.
    [task] = queries.inbox(h.store, "YZ-SCJG")
    assert task.deadline_at == sh("2025-09-29 00:00")
    assert task.warning_at == sh("2025-09-28 19:12")

    warning = await h.event_at(case_id, EventType.deadline_warning, sh("2025-09-28 19:12"))
    assert (warning.task_key, warning.payload["scope"]) == ("company_registration", "task")
    assert [t.task_key for t in queries.warning_tasks(h.store, department="YZ-SCJG")] == [
        "company_registration"
    ]
    overdue = await h.event_at(case_id, EventType.deadline_overdue, sh("2025-09-29 00:00"))
    assert overdue.task_key == "company_registration"
    assert [t.task_key for t in queries.overdue_tasks(h.store)] == ["company_registration"]

    # Urged on Monday 29 Sep 10:00 with 2 working days: 30 Sep, then 1–8 Oct are off, then
    # 9 Oct. Missing it escalates at 24:00 on 9 Oct.
    await h.sleep_until(sh("2025-09-29 10:00"))
    urged = await h.act(
        case_id,
        CaseWorkflow.urge,
        UrgeInput(actor=SUPERVISOR, task_key="company_registration", days=2, note="请尽快办结"),
    )
    assert urged.task is not None
    assert urged.task.urge_due_at == sh("2025-10-10 00:00")

    case_warning = await h.event_at(case_id, EventType.deadline_warning, sh("2025-09-30 09:36"))
    assert case_warning.payload["scope"] == "case"
    case_overdue = await h.event_at(case_id, EventType.deadline_overdue, sh("2025-10-01 00:00"))
    assert case_overdue.payload["scope"] == "case"
    [(overdue, _)] = queries.find_cases(h.store, OVERDUE, sort="deadline")[0]
    assert overdue.id == case_id
    escalation = await h.event_at(case_id, EventType.deadline_escalated, sh("2025-10-10 00:00"))
    assert (escalation.task_key, escalation.actor_id) == ("company_registration", "system")
    assert escalation.payload["urged_by"] == SUPERVISOR.id
    # Nothing fired twice.
    types = h.types(case_id)
    assert types.count(EventType.deadline_warning) == 2
    assert types.count(EventType.deadline_overdue) == 2
    assert types.count(EventType.deadline_escalated) == 1


@pytest.mark.start_at(sh("2025-09-19 09:00"))
async def test_return_for_supplement_across_a_weekend(harness: Harness) -> None:
    h = harness
    case_id = await h.start()
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    # Accepted Friday 19 Sep: the case is due at the end of Wed 24 Sep, the task of Mon 22.
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.deadline_at == sh("2025-09-25 00:00")
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=SCJG, task_key="company_registration"))
    assert queries.inbox(h.store, "YZ-SCJG")[0].deadline_at == sh("2025-09-23 00:00")

    await h.sleep_until(sh("2025-09-19 15:00"))
    await h.act(
        case_id,
        CaseWorkflow.return_for_supplement,
        ReturnInput(
            actor=SCJG,
            task_key="company_registration",
            missing=["company_articles", "lease_contract"],
            reason="章程未签字；住所证明不清晰",
        ),
    )
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert (case.clock, case.returns, case.missing) == (
        Clock.suspended,
        1,
        ["company_articles", "lease_contract"],
    )

    # Three calendar days later, Monday 15:00. Without the suspension the task would have
    # been warned at 19:12 on Monday; it was not.
    await h.sleep_until(sh("2025-09-22 15:00"))
    assert EventType.deadline_warning not in h.types(case_id)
    await h.act(
        case_id,
        CaseWorkflow.supplement,
        SupplementInput(actor=APPLICANT, materials=["company_articles", "lease_contract"]),
    )
    # Saturday, Sunday and Monday are removed; only Monday was a working day: every deadline
    # moves by exactly one working day, and the warnings with them.
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.clock is Clock.running
    assert case.deadline_at == sh("2025-09-26 00:00")
    assert case.warning_at == sh("2025-09-25 09:36")
    [task] = h.review(case_id)
    assert task.deadline_at == sh("2025-09-24 00:00")
    assert task.warning_at == sh("2025-09-23 19:12")
    await h.event_at(case_id, EventType.deadline_warning, sh("2025-09-23 19:12"))
    types = h.types(case_id)
    assert types.count(EventType.case_clock_suspended) == 1
    assert types.count(EventType.case_clock_resumed) == 1


@pytest.mark.start_at(sh("2025-09-15 09:00"))
async def test_intake_silence_is_deemed_acceptance(harness: Harness) -> None:
    h = harness
    case_id = await h.start()
    # Intake within 1 working day of Monday's submission: by 24:00 on Tuesday 16 Sep.
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.intake_due_at == sh("2025-09-17 00:00")
    deemed = await h.event_at(case_id, EventType.case_deemed_accepted, sh("2025-09-17 00:00"))
    case = queries.get_case(h.store, case_id)
    assert case is not None
    # 第三十二条: accepted from the instant the materials arrived (the case's arrival, recorded
    # when its execution started), so the 3 days run from Monday.
    assert deemed.payload["accepted_at"] == case.submitted_at.isoformat()
    assert case.submitted_at <= h.events(case_id)[0].at
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.deemed_accepted
    assert case.state is CaseState.in_progress
    assert case.deadline_at == sh("2025-09-19 00:00")
    findings = [e.payload["finding"] for e in h.of_type(case_id, EventType.finding)]
    assert findings == ["deemed_acceptance"]
    assert [t.task_key for t in queries.inbox(h.store, "YZ-SCJG")] == ["company_registration"]


@pytest.mark.start_at(sh("2025-09-15 09:00"))
async def test_intake_supplement_restarts_the_acceptance_period(harness: Harness) -> None:
    h = harness
    case_id = await h.start()
    await h.sleep_until(sh("2025-09-15 09:30"))
    ask = ReturnInput(actor=FRONT_DESK, missing=["company_articles"], reason="缺公司章程")
    await h.act(case_id, CaseWorkflow.return_for_supplement, ask)
    # Nobody is deemed to have accepted while the applicant is supplementing.
    await h.sleep_until(sh("2025-09-17 10:00"))
    assert EventType.case_deemed_accepted not in h.types(case_id)
    refusal = await h.refused(
        case_id,
        CaseWorkflow.supplement,
        SupplementInput(actor=APPLICANT, materials=["lease_contract"]),
    )
    # Something that was not asked for is no supplement (a part of what was asked would be).
    assert (
        refusal.kind,
        "none of the materials asked for: company_articles" in refusal.message,
    ) == (
        "invalid",
        True,
    )
    await h.act(
        case_id,
        CaseWorkflow.supplement,
        SupplementInput(actor=APPLICANT, materials=["company_articles"]),
    )
    # The applicant came to the window with it: the front desk records the visit.
    await h.act(
        case_id,
        CaseWorkflow.record_visit,
        VisitInput(actor=FRONT_DESK, reason="on_site_supplement"),
    )
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.intake_due_at == sh("2025-09-19 00:00")  # 1 working day after Wednesday
    assert case.trips == 1
    # A second return breaks 一次性告知: a supervision finding.
    await h.act(case_id, CaseWorkflow.return_for_supplement, ask)
    findings = [e.payload["finding"] for e in h.of_type(case_id, EventType.finding)]
    assert "repeated_return" in findings
    assert "trips_exceeded" in findings  # an on-site supplement against a zero-trip promise


@pytest.mark.start_at(sh("2025-09-15 09:00"))
async def test_tolerated_materials_not_supplied_terminate_the_case(harness: Harness) -> None:
    h = harness
    case_id = await h.start()
    refusal = await h.refused(
        case_id,
        CaseWorkflow.accept,
        AcceptInput(actor=FRONT_DESK, tolerated=["company_articles"], tolerance_days=1),
    )
    assert "not tolerable materials: company_articles" in refusal.message
    # The lease belongs to registration, whose own committed limit is 1 working day.
    refusal = await h.refused(
        case_id,
        CaseWorkflow.accept,
        AcceptInput(actor=FRONT_DESK, tolerated=["lease_contract"], tolerance_days=2),
    )
    assert "may not exceed the items' committed limit of 1" in refusal.message
    await h.act(
        case_id,
        CaseWorkflow.accept,
        AcceptInput(actor=FRONT_DESK, tolerated=["lease_contract"], tolerance_days=1),
    )
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.missing == ["lease_contract"]
    assert case.tolerance_due_at == sh("2025-09-17 00:00")
    await h.event_at(case_id, EventType.case_terminated, sh("2025-09-17 00:00"))
    final = await h.handles[case_id].result()
    assert final.state is CaseState.terminated


@pytest.mark.start_at(sh("2025-09-15 09:00"))
async def test_tolerated_materials_supplied_in_time(harness: Harness) -> None:
    h = harness
    case_id = await h.start()
    await h.act(
        case_id,
        CaseWorkflow.accept,
        AcceptInput(actor=FRONT_DESK, tolerated=["lease_contract"], tolerance_days=1),
    )
    await h.sleep_until(sh("2025-09-16 11:00"))
    await h.act(
        case_id,
        CaseWorkflow.supplement,
        SupplementInput(actor=APPLICANT, materials=["lease_contract"]),
    )
    await h.sleep_until(sh("2025-09-17 01:00"))
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert (case.state, case.missing, case.tolerance_due_at) == (CaseState.in_progress, [], None)


@pytest.mark.start_at(sh("2025-09-15 09:00"))
async def test_expert_review_stops_only_the_task_clock(harness: Harness) -> None:
    h = harness
    case_id = await h.start(
        "YZ-GCJS-SGXK", form={"project_name": "云州示范厂房", "special_project": False}
    )
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    planner = caseworker("YZ-GH")
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=planner, task_key="land_use_planning"))
    await h.act(
        case_id,
        CaseWorkflow.decide,
        DecideInput(actor=planner, task_key="land_use_planning", approve=True),
    )
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=planner, task_key="building_planning"))
    # 10 working days from Monday 15 Sep: 16–19, 22–26 and Sunday 28 (a make-up day).
    [task] = queries.inbox(h.store, "YZ-GH")
    assert task.deadline_at == sh("2025-09-29 00:00")
    # The case: 20 working days from Monday 15 Sep, due at the end of Friday 17 Oct.
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.deadline_at == sh("2025-10-18 00:00")
    await h.sleep_until(sh("2025-09-16 10:00"))
    step = StepInput(actor=planner, task_key="building_planning", step_key="expert_review")
    refusal = await h.refused(
        case_id, CaseWorkflow.start_step, step.model_copy(update={"step_key": "review"})
    )
    assert "not a not-counted step" in refusal.message
    await h.act(case_id, CaseWorkflow.start_step, step)
    await h.sleep_until(sh("2025-09-23 10:00"))
    await h.act(case_id, CaseWorkflow.finish_step, step)
    # 17, 18, 19, 22 and 23 Sep are removed: 16, 24, 25, 26, 28, 29, 30 Sep, 9, 10 Oct and
    # the make-up Saturday 11 Oct are the ten counted days.
    [task] = queries.inbox(h.store, "YZ-GH")
    assert task.deadline_at == sh("2025-10-12 00:00")
    assert task.clock is Clock.running
    # Expert review does not count for the case either (第四十五条): its deadline moves by the
    # same five working days, to the end of Friday 24 Oct; other departments went on working.
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.deadline_at == sh("2025-10-25 00:00")
    assert case.clock is Clock.running
    assert EventType.case_clock_suspended not in h.types(case_id)


@pytest.mark.start_at(sh("2025-09-15 09:00"))
async def test_tolerance_and_urge_periods_wait_while_the_case_is_suspended(
    harness: Harness,
) -> None:
    h = harness
    case_id = await h.start()
    await h.act(
        case_id,
        CaseWorkflow.accept,
        AcceptInput(actor=FRONT_DESK, tolerated=["lease_contract"], tolerance_days=1),
    )
    await h.sleep_until(sh("2025-09-15 09:20"))
    task = "company_registration"
    urged = await h.act(
        case_id, CaseWorkflow.urge, UrgeInput(actor=SUPERVISOR, task_key=task, days=2)
    )
    assert urged.task is not None
    assert urged.task.urge_due_at == sh("2025-09-18 00:00")
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=SCJG, task_key=task))
    await h.sleep_until(sh("2025-09-15 09:30"))
    await h.act(
        case_id,
        CaseWorkflow.return_for_supplement,
        ReturnInput(actor=SCJG, task_key=task, missing=["company_articles"], reason="缺章程"),
    )
    # The department's own request must not cost the applicant the 容缺 period: nothing
    # fires while the case waits, though both original instants pass.
    await h.sleep_until(sh("2025-09-18 10:00"))
    types = h.types(case_id)
    assert EventType.case_terminated not in types
    assert EventType.deadline_escalated not in types
    await h.act(
        case_id,
        CaseWorkflow.supplement,
        SupplementInput(actor=APPLICANT, materials=["company_articles"]),
    )
    # 16, 17 and 18 Sep are removed: 1 working day runs to the end of Friday 19 Sep, 2 to the
    # end of Monday 22 Sep.
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert (case.missing, case.tolerance_due_at) == (["lease_contract"], sh("2025-09-20 00:00"))
    [row] = h.review(case_id)
    assert row.urge_due_at == sh("2025-09-23 00:00")
    await h.event_at(case_id, EventType.case_terminated, sh("2025-09-20 00:00"))
