"""The engine's failure scenarios, run by the pure rules (no server), instants by hand.

November and December 2025 hold no holiday: weekdays count, weekends do not. Each scenario
named after the numbered list it comes from failed on the first edition of the engine.
"""

from __future__ import annotations

from typing import Any

from activities.clock import Calendars
from definitions.models import CalendarYear, JoinPolicy
from tests.fixtures_temporal import catalog
from tests.rules.sim import APPLICANT, DESK, SUPERVISOR, Sim, caseworker, sh
from workflows.case import guards, rules, timing
from workflows.contracts import (
    SYSTEM,
    AcceptInput,
    Clock,
    DecideInput,
    DeliverInput,
    EventType,
    ReassignInput,
    RecalculateInput,
    ReturnInput,
    StepInput,
    SupplementInput,
    TaskInput,
    TaskState,
    UrgeInput,
    WithdrawInput,
)

GH, ZJ, SCJG = caseworker("YZ-GH"), caseworker("YZ-ZJ"), caseworker("YZ-SCJG")
GH_2, SCJG_2 = caseworker("YZ-GH", "2"), caseworker("YZ-SCJG", "2")
FORM = {
    "project_name": "云州科创园一期",
    "builder": "云州建设有限公司",
    "district": "云城区",
    "total_investment": 50000.0,
    "floor_area": 120000.0,
    "special_project": True,
}
"""A special construction project: planning permit and fire design review in parallel."""
PLANNING, FIRE = "building_planning_joint", "fire_design_review"


def claim(sim: Sim, task: str, who: Any) -> None:
    sim.act(guards.claim, rules.claim, TaskInput(actor=who, task_key=task))


def approve(sim: Sim, task: str, who: Any) -> None:
    claim(sim, task, who)
    sim.act(guards.decide, rules.decide, DecideInput(actor=who, task_key=task, approve=True))


def construction(**kwargs: Any) -> Sim:
    """Accepted Monday 3 Nov 2025, land use approved: both reviews are open since 09:10."""
    sim = Sim("YZ-GCJS-SGXK", at=sh("2025-11-03 09:00"), form=FORM, **kwargs)
    sim.act(guards.accept, rules.accept, AcceptInput(actor=DESK))
    sim.until(sh("2025-11-03 09:10"))
    approve(sim, "land_use_planning", GH)
    assert sim.task(PLANNING).state is TaskState.open
    return sim


def step(sim: Sim, action: str, task: str = PLANNING, key: str = "expert_review") -> None:
    guard = guards.start_step if action == "start" else guards.finish_step
    rule = rules.start_step if action == "start" else rules.finish_step
    sim.act(guard, rule, StepInput(actor=GH, task_key=task, step_key=key))


def urge(sim: Sim, task: str | None, days: int) -> None:
    sim.act(guards.urge, rules.urge, UrgeInput(actor=SUPERVISOR, task_key=task, days=days))


# ------------------------------------------------------------------ 2. urge, step, return


def test_2_urge_on_a_task_in_expert_review_then_a_return_and_a_supplement() -> None:
    sim = construction()
    sim.until(sh("2025-11-07 10:00"))
    claim(sim, PLANNING, GH)
    step(sim, "start")
    sim.until(sh("2025-11-10 10:00"))
    urge(sim, PLANNING, 3)
    sim.until(sh("2025-11-11 10:00"))
    claim(sim, FIRE, ZJ)
    sim.act(
        guards.return_for_supplement,
        rules.return_for_supplement,
        ReturnInput(actor=ZJ, task_key=FIRE, missing=["fire_design_docs"], reason="图纸不全"),
    )
    sim.until(sh("2025-11-13 10:00"))
    # The first edition asked the calendar for a deadline with a suspension still open here,
    # failed on every retry and never answered the supplement.
    sim.act(
        guards.supplement,
        rules.supplement,
        SupplementInput(actor=APPLICANT, materials=["fire_design_docs"]),
    )
    assert sim.failures == []
    assert sim.clock("urge:1").status is Clock.suspended  # still waiting for the step
    assert sim.clock(f"task:{PLANNING}").status is Clock.suspended
    assert sim.clock(f"task:{FIRE}").status is Clock.running
    sim.until(sh("2025-11-17 10:00"))
    step(sim, "finish")
    # (10 Nov, 17 Nov] did not count: 3 working days from 18 Nov, due at the end of 20 Nov.
    assert sim.clock("urge:1").due_at == sh("2025-11-21 00:00")
    assert sim.task(PLANNING).urge_due_at == sh("2025-11-21 00:00")
    # The task: 4, 5, 6, 7 Nov, then 18 to 21 and 24, 25 Nov: 10 working days.
    assert sim.task(PLANNING).deadline_at == sh("2025-11-26 00:00")


# ------------------------------------------------------------------ 3. 或签 and a running step


def test_3_an_any_stage_decided_while_another_task_is_in_expert_review() -> None:
    base = catalog().procedure("YZ-GCJS-SGXK")
    assert base is not None
    stages = [
        s.model_copy(update={"join": JoinPolicy.any}) if s.key == "design_review" else s
        for s in base.stages
    ]
    sim = construction(procedure=base.model_copy(update={"stages": stages}))
    sim.until(sh("2025-11-04 10:00"))
    claim(sim, PLANNING, GH)
    step(sim, "start")
    sim.until(sh("2025-11-05 10:00"))
    approve(sim, FIRE, ZJ)  # decides the stage: the planning task is no longer needed
    assert sim.task(PLANNING).state is TaskState.cancelled
    assert sim.s.active_step(PLANNING) is None
    assert sim.clock("step:building_planning_joint:expert_review:1").status is Clock.ended
    assert sim.s.active == {}
    urge(sim, None, 2)  # a case urge on Wednesday: Thursday and Friday
    # Only 5 Nov was held by the step: 20 working days from 3 Nov end with 2 Dec.
    assert sim.clock("case").due_at == sh("2025-12-03 00:00")
    sim.until(sh("2025-12-03 00:00"))
    assert [e.payload["scope"] for e in sim.of(EventType.deadline_escalated)] == ["case"]
    assert sim.of(EventType.deadline_escalated)[0].at == sh("2025-11-08 00:00")
    warning, overdue = (
        [e for e in sim.of(kind) if e.payload["scope"] == "case"]
        for kind in (EventType.deadline_warning, EventType.deadline_overdue)
    )
    assert [e.at for e in warning] == [sh("2025-11-28 00:00")]  # 3 working days before
    assert [e.at for e in overdue] == [sh("2025-12-03 00:00")]


# ------------------------------------------------------------------ 4. one step, another's urge


def test_4_a_step_of_one_department_never_moves_another_departments_urge() -> None:
    sim = construction()
    sim.until(sh("2025-11-04 10:00"))
    claim(sim, PLANNING, GH)
    step(sim, "start")
    sim.until(sh("2025-12-01 10:00"))
    urge(sim, FIRE, 3)  # 2, 3 and 4 Dec
    assert sim.task(FIRE).urge_due_at == sh("2025-12-05 00:00")
    sim.until(sh("2025-12-03 10:00"))
    step(sim, "finish")
    assert sim.clock("urge:1").due_at == sh("2025-12-05 00:00")
    assert sim.task(FIRE).urge_due_at == sh("2025-12-05 00:00")
    sim.until(sh("2025-12-05 00:00"))
    [escalated] = sim.of(EventType.deadline_escalated)
    assert (escalated.task_key, escalated.at) == (FIRE, sh("2025-12-05 00:00"))
    assert sim.task(FIRE).escalated


def test_4_a_moved_urge_is_written_to_its_task() -> None:
    sim = construction()
    sim.until(sh("2025-11-04 10:00"))
    claim(sim, FIRE, ZJ)
    urge(sim, FIRE, 3)  # 5, 6, 7 Nov
    assert sim.task(FIRE).urge_due_at == sh("2025-11-08 00:00")
    sim.act(
        guards.return_for_supplement,
        rules.return_for_supplement,
        ReturnInput(actor=ZJ, task_key=FIRE, missing=["fire_design_docs"], reason="图纸不全"),
    )
    sim.until(sh("2025-11-06 10:00"))
    sim.act(
        guards.supplement,
        rules.supplement,
        SupplementInput(actor=APPLICANT, materials=["fire_design_docs"]),
    )
    # 5 and 6 Nov did not count: 7, 10, 11 Nov.
    assert sim.task(FIRE).urge_due_at == sh("2025-11-12 00:00")
    [moved] = [e for e in sim.of(EventType.deadline_moved) if e.payload["clock"] == "urge:1"]
    assert moved.payload["before"] == sh("2025-11-08 00:00").isoformat()


# ------------------------------------------------------------------ 5. a step has a limit


def test_5_a_step_has_its_own_limit_and_does_not_start_again() -> None:
    sim = construction()
    sim.until(sh("2025-11-04 10:00"))
    claim(sim, PLANNING, GH)
    step(sim, "start")
    # Expert review: 10 working days, 5 Nov to 18 Nov; 黄牌 3 days before, on 14 Nov.
    key = "step:building_planning_joint:expert_review:1"
    assert sim.clock(key).due_at == sh("2025-11-19 00:00")
    sim.until(sh("2025-11-20 10:00"))
    [warning] = [e for e in sim.of(EventType.deadline_warning) if e.payload["clock"] == key]
    [overdue] = [e for e in sim.of(EventType.deadline_overdue) if e.payload["clock"] == key]
    assert (warning.at, warning.task_key, warning.payload["scope"]) == (
        sh("2025-11-14 00:00"),
        PLANNING,
        "step",
    )
    assert overdue.at == sh("2025-11-19 00:00")
    step(sim, "finish")
    assert sim.of(EventType.task_step_finished)[0].payload["overdue"] is True
    refusal = sim.refused(
        guards.start_step, StepInput(actor=GH, task_key=PLANNING, step_key="expert_review")
    )
    assert (refusal.kind, "cannot start again" in refusal.message) == ("conflict", True)
    step(sim, "start", key="public_notice")  # another step of the item may follow
    assert sim.clock("step:building_planning_joint:public_notice:1").days == 7


# ------------------------------------------------------------------ 6. cards withdrawn, re-armed


OFFICIAL_LIKE_2027 = CalendarYear.model_validate(
    {
        "year": 2027,
        "source": "测试用安排（非官方）/ test arrangement, not official",
        "holidays": [{"from": "2027-02-05", "to": "2027-02-12", "name": "春节"}],
    }
)


def test_6_a_red_card_is_withdrawn_when_a_published_calendar_moves_its_deadline() -> None:
    calendars = Calendars()
    sim = Sim(at=sh("2027-02-03 09:00"), calendars=calendars)
    sim.act(guards.accept, rules.accept, AcceptInput(actor=DESK))
    # The fallback: 4 Feb, then 5 to 10 Feb off (除夕 to 初三, two compensation days), 11, 12.
    assert (sim.s.case.deadline_at, sim.s.case.provisional) == (sh("2027-02-13 00:00"), True)
    assert sim.task("company_registration").provisional
    sim.until(sh("2027-02-13 01:00"))
    assert sim.s.case.overdue
    calendars.reload([OFFICIAL_LIKE_2027], revision=1)
    moved = sim.act(
        guards.recalculate,
        timing.recalculate,
        RecalculateInput(actor=SYSTEM, revision=1),
        reason="calendar",
    )
    # 5 to 12 Feb off, then the weekend: 4, 15, 16 Feb.
    assert [(m.clock, m.before, m.after) for m in moved] == [
        ("case", sh("2027-02-13 00:00"), sh("2027-02-17 00:00"))
    ]
    assert not sim.s.case.overdue
    assert not sim.s.case.provisional
    withdrawn = sim.of(EventType.card_withdrawn)
    assert [(e.payload["clock"], e.payload["card"]) for e in withdrawn] == [
        ("case", "warning"),  # 80%: 09:36 on 12 Feb, now on 16 Feb
        ("case", "overdue"),
    ]
    [event] = sim.of(EventType.deadline_moved)
    assert (event.payload["revision"], event.payload["reason"]) == (1, "calendar")
    assert event.payload["derivation"]["sources"][0]["source"] == "override"
    # The registration task's red card (due 5 Feb) stands: that day is still past.
    assert sim.task("company_registration").overdue
    sim.until(sh("2027-02-17 00:01"))
    overdue = [e for e in sim.of(EventType.deadline_overdue) if e.payload["scope"] == "case"]
    assert [e.at for e in overdue] == [sh("2027-02-13 00:00"), sh("2027-02-17 00:00")]


def test_6_a_supplement_at_intake_withdraws_the_intake_cards() -> None:
    sim = Sim(at=sh("2025-11-03 09:00"))
    sim.until(sh("2025-11-04 20:00"))  # the intake 黄牌: 80% of Tuesday, 19:12
    assert sim.task("@intake").warned
    sim.act(
        guards.return_for_supplement,
        rules.return_for_supplement,
        ReturnInput(actor=DESK, missing=["company_articles"], reason="缺章程"),
    )
    sim.until(sh("2025-11-06 10:00"))
    sim.act(
        guards.supplement,
        rules.supplement,
        SupplementInput(actor=APPLICANT, materials=["company_articles"]),
    )
    [withdrawn] = sim.of(EventType.card_withdrawn)
    assert withdrawn.payload["card"] == "warning"
    assert not sim.task("@intake").warned
    assert sim.task("@intake").deadline_at == sh("2025-11-08 00:00")  # Friday 7 Nov


# ------------------------------------------------------------------ 7. the arrival instant


def test_7_intake_counts_from_the_arrival_not_from_when_a_worker_ran() -> None:
    # Arrived Friday 10:00; the worker first ran the case on Monday.
    sim = Sim(at=sh("2025-11-10 10:00"), submitted_at=sh("2025-11-07 10:00"))
    assert sim.s.case.submitted_at == sh("2025-11-07 10:00")
    assert sim.task("@intake").deadline_at == sh("2025-11-11 00:00")  # end of Monday
    sim.until(sh("2025-11-11 00:00"))
    [deemed] = sim.of(EventType.case_deemed_accepted)
    assert deemed.payload["accepted_at"] == sh("2025-11-07 10:00").isoformat()


# ------------------------------------------------------------------ 8. the front desk's queue


def test_8_the_desk_has_new_applications_supplements_and_deliveries() -> None:
    sim = Sim("YZ-DX-GTHDJ", at=sh("2025-11-03 09:00"), form={})
    intake = sim.task("@intake")
    assert (intake.kind.value, intake.state, intake.department) == (
        "intake",
        TaskState.open,
        "YZ-ZWFW",
    )
    assert intake.deadline_at == sh("2025-11-04 00:00")  # 即办: the same day
    sim.act(
        guards.return_for_supplement,
        rules.return_for_supplement,
        ReturnInput(actor=DESK, missing=["id_card_operator"], reason="缺身份证明"),
    )
    assert sim.task("@intake").clock is Clock.suspended
    sim.until(sh("2025-11-06 15:00"))
    sim.act(
        guards.supplement,
        rules.supplement,
        SupplementInput(actor=APPLICANT, materials=["id_card_operator"]),
    )
    # Back in the desk's queue with a new period, from the day the supplement came in.
    assert sim.task("@intake").clock is Clock.running
    assert sim.task("@intake").deadline_at == sh("2025-11-07 00:00")
    sim.act(guards.accept, rules.accept, AcceptInput(actor=DESK))
    assert sim.task("@intake").state is TaskState.approved
    [review] = [t for t in sim.s.tasks.values() if t.kind.value == "review"]
    approve(sim, review.task_key, caseworker(review.department))
    delivery = sim.task("@delivery")
    assert (delivery.state, delivery.deadline_at) == (TaskState.open, sh("2025-11-07 00:00"))


def test_8_silence_is_still_deemed_acceptance() -> None:
    sim = Sim(at=sh("2025-11-03 09:00"))
    sim.until(sh("2025-11-06 00:00"))
    assert sim.s.case.deemed_accepted
    intake = sim.task("@intake")
    assert (intake.state, intake.reason) == (TaskState.approved, "视为受理 / deemed accepted")
    assert sim.of(EventType.finding)[0].payload["finding"] == "deemed_acceptance"


# ------------------------------------------------------------------ 9. 即办 on a day off


def test_9_immediate_delivery_decided_on_a_saturday_is_due_monday() -> None:
    # 个体工商户设立登记: results handed out 即办, the day of the decision.
    sim = Sim("YZ-DX-GTHDJ", at=sh("2025-11-07 09:00"), form={})
    sim.act(guards.accept, rules.accept, AcceptInput(actor=DESK))
    [review] = [t for t in sim.s.tasks.values() if t.kind.value == "review"]
    sim.until(sh("2025-11-08 10:00"))  # Saturday
    approve(sim, review.task_key, caseworker(review.department))
    assert sim.task("@delivery").deadline_at == sh("2025-11-11 00:00")  # end of Monday
    assert sim.clock("delivery").derivation is not None
    assert sim.clock("delivery").derivation["immediate_moved"] is True


# ------------------------------------------------------------------ 10. authority


def test_10_a_colleagues_task_is_released_or_reassigned_by_a_supervisor() -> None:
    sim = Sim(at=sh("2025-11-03 09:00"))
    sim.act(guards.accept, rules.accept, AcceptInput(actor=DESK))
    task = "company_registration"
    claim(sim, task, SCJG)
    take = ReassignInput(actor=SCJG_2, task_key=task, assignee=SCJG_2.id)
    refusal = sim.refused(guards.reassign, take)
    assert (refusal.kind, "release" in refusal.message) == ("conflict", True)
    disabled_elsewhere = ReassignInput(
        actor=SCJG, task_key=task, assignee="ga-1", assignee_department="YZ-GA"
    )
    assert sim.refused(guards.reassign, disabled_elsewhere).kind == "invalid"
    # The holder hands it over, or releases it; a supervisor may move it either way.
    sim.act(guards.release, rules.release, TaskInput(actor=SCJG, task_key=task))
    assert (sim.task(task).state, sim.task(task).assignee) == (TaskState.open, None)
    claim(sim, task, SCJG)
    by_supervisor = ReassignInput(
        actor=SUPERVISOR, task_key=task, assignee=SCJG_2.id, assignee_department="YZ-SCJG"
    )
    sim.act(guards.reassign, rules.reassign, by_supervisor)
    assert sim.task(task).assignee == SCJG_2.id
    assert sim.refused(guards.release, TaskInput(actor=SCJG, task_key=task)).kind == "conflict"


def test_10_another_department_learns_nothing() -> None:
    sim = Sim(at=sh("2025-11-03 09:00"))
    sim.act(guards.accept, rules.accept, AcceptInput(actor=DESK))
    claim(sim, "company_registration", SCJG)
    outsider = caseworker("YZ-SW")
    for guard, data in [
        (guards.claim, TaskInput(actor=outsider, task_key="company_registration")),
        (
            guards.decide,
            DecideInput(actor=outsider, task_key="company_registration", approve=True),
        ),
        (guards.release, TaskInput(actor=outsider, task_key="company_registration")),
    ]:
        refusal = sim.refused(guard, data)
        assert refusal.kind == "forbidden"
        assert "YZ-SCJG" not in refusal.message
        assert SCJG.id not in refusal.message
    sim.act(guards.withdraw, rules.withdraw, WithdrawInput(actor=APPLICANT))
    closed = sim.refused(guards.claim, TaskInput(actor=outsider, task_key="company_registration"))
    assert (closed.kind, "withdrawn" in closed.message) == ("forbidden", False)


def test_every_clock_of_a_closed_case_has_ended() -> None:
    sim = construction()
    claim(sim, PLANNING, GH)
    step(sim, "start")
    urge(sim, FIRE, 2)
    sim.act(guards.withdraw, rules.withdraw, WithdrawInput(actor=APPLICANT))
    assert all(c.status is Clock.ended for c in sim.s.clocks.values())
    assert timing.next_instant(sim.s) is None
    assert sim.s.active == {}


# ------------------------------------------------------------------ found in review


def test_an_urge_on_the_desks_intake_ends_with_the_intake() -> None:
    sim = Sim(at=sh("2025-11-03 09:00"))
    urge(sim, "@intake", 1)
    sim.act(
        guards.return_for_supplement,
        rules.return_for_supplement,
        ReturnInput(actor=DESK, missing=["company_articles"], reason="缺章程"),
    )
    assert sim.clock("urge:1").status is Clock.suspended  # the applicant owes the supplement
    sim.until(sh("2025-11-05 10:00"))
    sim.act(
        guards.supplement,
        rules.supplement,
        SupplementInput(actor=APPLICANT, materials=["company_articles"]),
    )
    sim.act(guards.accept, rules.accept, AcceptInput(actor=DESK))
    assert sim.clock("urge:1").status is Clock.ended
    sim.until(sh("2025-11-20 00:00"))
    assert sim.of(EventType.deadline_escalated) == []


def test_delivery_waits_while_tolerated_materials_are_owed() -> None:
    sim = Sim(at=sh("2025-11-03 09:00"), form={"company_name": "云州示范", "food_business": False})
    accept = AcceptInput(actor=DESK, tolerated=["lease_contract"], tolerance_days=1)
    sim.act(guards.accept, rules.accept, accept)
    while open_ := [t for t in sim.s.tasks.values() if t.state is TaskState.open]:
        for task in open_:
            if task.kind.value == "review":
                approve(sim, task.task_key, caseworker(task.department))
        if sim.s.case.state.value != "in_progress":
            break
    assert sim.s.case.state.value == "delivering"
    assert sim.clock("delivery").status is Clock.suspended
    refusal = sim.refused(guards.deliver, DeliverInput(actor=DESK))
    assert refusal.kind == "conflict"
    sim.act(
        guards.supplement,
        rules.supplement,
        SupplementInput(actor=APPLICANT, materials=["lease_contract"]),
    )
    assert sim.clock("delivery").status is Clock.running
    assert sim.task("@delivery").deadline_at == sh("2025-11-05 00:00")  # 1 working day


def test_a_closed_case_closes_its_incidents() -> None:
    class Broken(Calendars):
        def current(self) -> Any:
            raise ValueError("holiday data unreadable")

    sim = Sim(at=sh("2025-11-03 09:00"), calendars=Broken())
    assert [i.kind.value for i in sim.s.open_incidents()] == ["clock_failed"]
    sim.act(guards.withdraw, rules.withdraw, WithdrawInput(actor=APPLICANT))
    assert sim.s.open_incidents() == []
    assert sim.s.incidents[0].resolution == "办件已结束 / the case ended"


def test_known_deadlines_keep_working_while_a_recalculation_fails() -> None:
    calendars = Calendars()
    sim = Sim(at=sh("2025-11-03 09:00"), calendars=calendars)
    sim.act(guards.accept, rules.accept, AcceptInput(actor=DESK))
    assert sim.s.case.deadline_at == sh("2025-11-07 00:00")

    def broken() -> Any:
        raise ValueError("holiday data unreadable")

    calendars.current = broken  # type: ignore[method-assign]
    sim.act(guards.recalculate, timing.recalculate, RecalculateInput(actor=SYSTEM, revision=1))
    assert sim.failures
    sim.until(sh("2025-11-07 00:01"))  # the red card still fires at the known instant
    assert sim.s.case.overdue
