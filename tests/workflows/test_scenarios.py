"""The engine's failure scenarios on the time-skipping server, with the store on each backend.

Each test is one of the numbered scenarios the first edition failed (it froze, fired nothing,
or fired at the wrong instant); instants are computed by hand (no holiday in November and
December 2025). The pure rules are tested the same way without a server in tests/rules.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from temporalio import activity
from temporalio.client import WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.clock import Calendars, ClockActivities, Loaded
from activities.record import RecordActivities
from definitions.calendar import WorkingCalendar
from definitions.models import CalendarYear, JoinPolicy
from definitions.versioning import snapshot
from services.calendars import publish_year
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
from tests.rules.test_scenarios import FIRE, FORM, PLANNING
from tests.workflows.test_case_flow import approve
from worker.temporal import WORKFLOWS
from workflows.case import CaseWorkflow
from workflows.contracts import (
    RECORD_ACTIVITY,
    STORE_REJECTED,
    AcceptInput,
    CaseInput,
    CaseState,
    DecideInput,
    EventType,
    IncidentKind,
    RecordInput,
    RecordResult,
    ResolveIncidentInput,
    ReturnInput,
    StepInput,
    SupplementInput,
    TaskInput,
    TaskState,
    UrgeInput,
)

GH, ZJ, SCJG = caseworker("YZ-GH"), caseworker("YZ-ZJ"), caseworker("YZ-SCJG")


async def construction(h: Harness, **kwargs: Any) -> str:
    """Accepted Monday 3 Nov 2025 09:00, land use approved: both reviews open."""
    case_id = await h.start("YZ-GCJS-SGXK", form=FORM, **kwargs)
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    await approve(h, case_id, "land_use_planning", "YZ-GH")
    return case_id


def row(h: Harness, case_id: str, task: str) -> Any:
    [found] = [t for t in queries.case_tasks(h.store, case_id) if t.task_key == task]
    return found


async def step(h: Harness, case_id: str, action: str, key: str = "expert_review") -> None:
    update = CaseWorkflow.start_step if action == "start" else CaseWorkflow.finish_step
    await h.act(case_id, update, StepInput(actor=GH, task_key=PLANNING, step_key=key))


# ------------------------------------------------------------------ 2–5: steps, urges, joins


@pytest.mark.start_at(sh("2025-11-03 09:00"))
async def test_2_a_supplement_answers_while_an_urged_task_is_in_expert_review(
    harness: Harness,
) -> None:
    h = harness
    case_id = await construction(h)
    await h.sleep_until(sh("2025-11-07 10:00"))
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=GH, task_key=PLANNING))
    await step(h, case_id, "start")
    await h.sleep_until(sh("2025-11-10 10:00"))
    await h.act(case_id, CaseWorkflow.urge, UrgeInput(actor=SUPERVISOR, task_key=PLANNING, days=3))
    await h.sleep_until(sh("2025-11-11 10:00"))
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=ZJ, task_key=FIRE))
    await h.act(
        case_id,
        CaseWorkflow.return_for_supplement,
        ReturnInput(actor=ZJ, task_key=FIRE, missing=["fire_design_docs"], reason="图纸不全"),
    )
    await h.sleep_until(sh("2025-11-13 10:00"))
    await h.act(
        case_id,
        CaseWorkflow.supplement,
        SupplementInput(actor=APPLICANT, materials=["fire_design_docs"]),
    )
    # And the case goes on: the step ends, the urge's period is known again.
    await h.sleep_until(sh("2025-11-17 10:00"))
    await step(h, case_id, "finish")
    planning = row(h, case_id, PLANNING)
    assert planning.urge_due_at == sh("2025-11-21 00:00")
    assert planning.deadline_at == sh("2025-11-26 00:00")
    assert queries.incidents(h.store) == []


@pytest.mark.start_at(sh("2025-11-03 09:00"))
async def test_3_an_any_stage_decided_during_another_tasks_step_keeps_the_clocks_running(
    harness: Harness,
) -> None:
    h = harness
    base = catalog().procedure("YZ-GCJS-SGXK")
    assert base is not None
    stages = [
        s.model_copy(update={"join": JoinPolicy.any}) if s.key == "design_review" else s
        for s in base.stages
    ]
    case_id = await construction(h, procedure=base.model_copy(update={"stages": stages}))
    await h.sleep_until(sh("2025-11-04 10:00"))
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=GH, task_key=PLANNING))
    await step(h, case_id, "start")
    await h.sleep_until(sh("2025-11-05 10:00"))
    await approve(h, case_id, FIRE, "YZ-ZJ")
    assert row(h, case_id, PLANNING).state is TaskState.cancelled
    await h.env.sleep(dt.timedelta(days=60))
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert (case.overdue, case.deadline_at) == (True, sh("2025-12-03 00:00"))
    [overdue] = [e for e in h.of_type(case_id, EventType.deadline_overdue) if e.task_key is None]
    assert abs(overdue.at - sh("2025-12-03 00:00")) < dt.timedelta(seconds=1)


@pytest.mark.start_at(sh("2025-11-03 09:00"))
async def test_4_one_departments_step_does_not_move_anothers_urge(harness: Harness) -> None:
    h = harness
    case_id = await construction(h)
    await h.sleep_until(sh("2025-11-04 10:00"))
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=GH, task_key=PLANNING))
    await step(h, case_id, "start")
    await h.sleep_until(sh("2025-12-01 10:00"))
    await h.act(case_id, CaseWorkflow.urge, UrgeInput(actor=SUPERVISOR, task_key=FIRE, days=3))
    await h.sleep_until(sh("2025-12-03 10:00"))
    await step(h, case_id, "finish")
    assert row(h, case_id, FIRE).urge_due_at == sh("2025-12-05 00:00")
    escalated = await h.event_at(case_id, EventType.deadline_escalated, sh("2025-12-05 00:00"))
    assert escalated.task_key == FIRE
    assert row(h, case_id, FIRE).escalated


@pytest.mark.start_at(sh("2025-11-03 09:00"))
async def test_5_a_step_is_late_on_its_own_limit_and_cannot_be_restarted(
    harness: Harness,
) -> None:
    h = harness
    case_id = await construction(h)
    await h.sleep_until(sh("2025-11-04 10:00"))
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=GH, task_key=PLANNING))
    await step(h, case_id, "start")
    assert row(h, case_id, PLANNING).step == "expert_review"
    warning = await h.event_at(case_id, EventType.deadline_warning, sh("2025-11-14 00:00"))
    assert (warning.task_key, warning.payload["scope"]) == (PLANNING, "step")
    overdue = await h.event_at(case_id, EventType.deadline_overdue, sh("2025-11-19 00:00"))
    assert (overdue.task_key, overdue.payload["scope"]) == (PLANNING, "step")
    [clock] = [c for c in queries.case_clocks(h.store, case_id) if c.key.startswith("step:")]
    assert (clock.overdue, clock.label, clock.days) == (True, "设计方案专家评审", 10)
    await step(h, case_id, "finish")
    refusal = await h.refused(
        case_id,
        CaseWorkflow.start_step,
        StepInput(actor=GH, task_key=PLANNING, step_key="expert_review"),
    )
    assert (refusal.kind, "cannot start again" in refusal.message) == ("conflict", True)


# ------------------------------------------------------------------ 6 and 9: calendars


TEST_2027 = CalendarYear.model_validate(
    {
        "year": 2027,
        "source": "测试用安排（非官方）/ test arrangement, not official",
        "holidays": [{"from": "2027-02-05", "to": "2027-02-12", "name": "春节"}],
    }
)


@pytest.mark.start_at(sh("2027-02-03 09:00"))
async def test_6_9_a_published_year_moves_a_running_cases_provisional_deadline(
    harness: Harness,
) -> None:
    h = harness
    case_id = await h.start()
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert (case.deadline_at, case.provisional) == (sh("2027-02-13 00:00"), True)
    assert row(h, case_id, "company_registration").provisional
    await h.event_at(case_id, EventType.deadline_overdue, sh("2027-02-13 00:00"))
    await h.sleep_until(sh("2027-02-13 10:00"))
    publication = await publish_year(h.client, h.store, TEST_2027, published_by="admin-1")
    assert publication.outcome == "created"
    # Against the statutory fallback: 11 and 12 Feb are off now; the other statutory days
    # (and their compensation days) are working days in this test arrangement.
    assert publication.changed == [
        dt.date(2027, m, d)
        for m, d in [
            (1, 1),
            (2, 11),
            (2, 12),
            (4, 5),
            (5, 3),
            (5, 4),
            (6, 9),
            (9, 15),
            (10, 1),
            (10, 4),
            (10, 5),
        ]
    ]
    assert publication.cases == [case_id]
    assert [(m.case_id, m.clock, m.before, m.after) for m in publication.moved] == [
        (case_id, "case", sh("2027-02-13 00:00"), sh("2027-02-17 00:00"))
    ]
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert (case.deadline_at, case.provisional, case.overdue) == (
        sh("2027-02-17 00:00"),
        False,
        False,
    )
    assert case.calendar_revision == publication.revision
    [moved] = queries.moved_by_revision(h.store, publication.revision)
    assert moved.payload["derivation"]["sources"][0]["notice"] == TEST_2027.source
    withdrawn = h.of_type(case_id, EventType.card_withdrawn)
    assert [e.payload["card"] for e in withdrawn] == ["warning", "overdue"]
    again = await h.event_at(case_id, EventType.deadline_overdue, sh("2027-02-17 00:00"))
    assert again.payload["provisional"] is False
    # Publishing the same year again changes nothing and moves nothing.
    repeat = await publish_year(h.client, h.store, TEST_2027)
    assert (repeat.outcome, repeat.revision, repeat.moved) == (
        "unchanged",
        publication.revision,
        [],
    )


# ------------------------------------------------------------------ 7: arrival


@pytest.mark.start_at(sh("2025-09-19 09:00"))
async def test_7_the_arrival_is_when_the_application_came_not_when_a_worker_ran_it(
    env: WorkflowEnvironment, store: Store
) -> None:
    # Arrived on Friday; the first workflow task runs on Monday noon (a worker backlog).
    h = Harness(env, env.client, store, f"late-{uuid.uuid4().hex[:8]}")
    arrived = await h.now()
    cat = catalog()
    proc = cat.procedure("YZ-YJS-KBQY")
    assert proc is not None
    case_id = f"YZ-{uuid.uuid4().hex[:10]}"
    data = CaseInput(
        case_id=case_id,
        snapshot=snapshot(cat, proc),
        applicant=APPLICANT,
        form={"company_name": "云州示范科技有限公司"},
    )
    handle = await env.client.start_workflow(
        CaseWorkflow.run,
        data,
        id=case_id,
        task_queue=h.task_queue,
        start_delay=dt.timedelta(days=3, hours=3),
    )
    async with Worker(
        env.client,
        task_queue=h.task_queue,
        workflows=WORKFLOWS,
        activities=[
            RecordActivities(store).record_case_events,
            ClockActivities(Calendars([], store)).compute_deadlines,
        ],
        activity_executor=ThreadPoolExecutor(4),
    ):
        await env.sleep(dt.timedelta(days=3, hours=4))
        await h.wait_recorded(case_id)
        first_run = (await handle.query(CaseWorkflow.view)).case
        assert first_run.submitted_at is not None
        case = queries.get_case(store, case_id)
        assert case is not None
        assert abs(case.submitted_at - arrived) < dt.timedelta(seconds=5)
        # 1 working day after Friday: the end of Monday, not of Tuesday.
        assert case.intake_due_at == sh("2025-09-23 00:00")


# ------------------------------------------------------------------ 8: the front desk


async def test_8_the_front_desk_finds_new_applications_and_deliveries(harness: Harness) -> None:
    h = harness
    case_id = await h.start("YZ-DX-GTHDJ", form={"operator": "李四", "district": "云城区"})
    [new] = queries.inbox(h.store, "YZ-ZWFW")
    assert (new.case_id, new.task_key, new.kind.value) == (case_id, "@intake", "intake")
    assert new.deadline_at is not None
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    assert queries.inbox(h.store, "YZ-ZWFW") == []
    [task] = h.review(case_id)
    await approve(h, case_id, task.task_key, task.department)
    [ready] = queries.inbox(h.store, "YZ-ZWFW")
    assert (ready.task_key, ready.kind.value) == ("@delivery", "delivery")
    assert ready.deadline_at is not None


# ------------------------------------------------------------------ incidents: never frozen


async def test_1_a_nul_character_never_freezes_a_case(harness: Harness) -> None:
    h = harness
    name = "云州示范科技有限公司\x00"
    case_id = await h.start(form={"company_name": name})  # sent past the API's checks
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    await h.act(case_id, CaseWorkflow.claim, TaskInput(actor=SCJG, task_key="company_registration"))
    open_ = queries.incidents(h.store)
    await h.act(
        case_id,
        CaseWorkflow.decide,
        DecideInput(
            actor=SCJG, task_key="company_registration", approve=False, reason="名称含\x00字符"
        ),
    )
    case = queries.get_case(h.store, case_id)
    assert case is not None
    assert case.state is CaseState.rejected
    events = h.events(case_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # nothing lost
    closed = queries.incidents(h.store, resolved=True)
    if h.store.dialect == "postgresql":
        # PostgreSQL refuses NUL: written cleaned, once, and a supervisor sees why while the
        # case is open; once it is closed the incident is closed with it, still listed.
        assert case.form["company_name"] == "云州示范科技有限公司\ufffd"
        assert [(i.kind, c.id) for i, c in open_] == [(IncidentKind.store_rejected, case_id)]
        assert "UntranslatableCharacter" in open_[0][0].message
        assert [i.resolution for i, _ in closed] == ["办件已结束 / the case ended"]
    else:
        assert case.form["company_name"] == name
        assert open_ == closed == []


class StrictStore(RecordActivities):
    """A store that refuses NUL characters as PostgreSQL does, whichever backend runs."""

    @activity.defn(name=RECORD_ACTIVITY)
    def record_case_events(self, data: RecordInput) -> RecordResult:
        if not data.sanitize and "\\u0000" in data.model_dump_json():
            raise ApplicationError(
                "UntranslatableCharacter: \\u0000 cannot be converted to text",
                type=STORE_REJECTED,
                non_retryable=True,
            )
        return super().record_case_events(data)


# On PostgreSQL the store itself refuses NUL (test_1 above): the stand-in is for SQLite.
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_a_refused_write_is_an_incident_a_supervisor_closes(harness: Harness) -> None:
    records = StrictStore(harness.store)
    clock = ClockActivities(Calendars([], harness.store)).compute_deadlines
    async with worker(harness, records.record_case_events, clock) as h:
        case_id = await h.start(form={"company_name": "云州示范科技有限公司\x00"})
        [(incident, case)] = await h.until(lambda: queries.incidents(h.store), "the incident")
        assert (incident.kind, case.id) == (IncidentKind.store_rejected, case_id)
        assert case.form["company_name"] == "云州示范科技有限公司\ufffd"  # written cleaned
        # The case stays workable; only a supervisor closes the incident.
        await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
        close = ResolveIncidentInput(actor=FRONT_DESK, number=incident.number, note="已核实")
        assert (await h.refused(case_id, CaseWorkflow.resolve_incident, close)).kind == "forbidden"
        supervisor = close.model_copy(update={"actor": SUPERVISOR})
        await h.act(case_id, CaseWorkflow.resolve_incident, supervisor)
        assert queries.incidents(h.store) == []
        [(closed, _)] = queries.incidents(h.store, resolved=True)
        assert (closed.resolved_by, closed.resolution) == (SUPERVISOR.id, "已核实")
        again = await h.refused(case_id, CaseWorkflow.resolve_incident, supervisor)
        assert again.kind == "conflict"
        case = queries.get_case(h.store, case_id)
        assert case is not None
        assert (case.state, case.incidents) == (CaseState.in_progress, 0)


@asynccontextmanager
async def worker(h: Harness, *activities: Any) -> AsyncIterator[Harness]:
    queue = f"custom-{uuid.uuid4().hex[:8]}"
    async with Worker(
        h.client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=list(activities),
        activity_executor=ThreadPoolExecutor(4),
    ):
        # Sharing the handles records these cases' histories with the test's (make histories).
        yield Harness(h.env, h.client, h.store, queue, h.handles, h.followups)


class BrokenCalendar(WorkingCalendar):
    def deadline(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("节假日数据损坏 / holiday data unreadable")


class FlakyCalendars(Calendars):
    broken = True

    def current(self) -> Loaded:
        if self.broken:
            return Loaded(self.revision, (), {"national": BrokenCalendar()})
        return super().current()


@pytest.mark.start_at(sh("2025-11-03 09:00"))
async def test_a_calendar_error_is_an_incident_and_the_case_stays_workable(
    harness: Harness,
) -> None:
    calendars = FlakyCalendars([], harness.store)
    records = RecordActivities(harness.store)
    async with worker(
        harness, records.record_case_events, ClockActivities(calendars).compute_deadlines
    ) as h:
        case_id = await h.start("YZ-DX-GTHDJ", form={"operator": "李四", "district": "云城区"})
        await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
        [task] = h.review(case_id)
        await approve(h, case_id, task.task_key, task.department)
        [(incident, case)] = queries.incidents(h.store)
        assert (incident.kind, case.id, case.state) == (
            IncidentKind.clock_failed,
            case_id,
            CaseState.delivering,
        )
        assert "holiday data unreadable" in incident.message
        assert case.deadline_at is None
        assert case.incidents == 1
        # Four attempts failed (submission, acceptance, claim, decision): the next one is
        # 8 minutes after the last. Once the calendar is readable again, it goes through.
        calendars.broken = False
        await h.env.sleep(dt.timedelta(minutes=10))
        await h.until(lambda: not queries.incidents(h.store), "the incident resolved")
        case = queries.get_case(h.store, case_id)
        assert case is not None
        assert case.delivery_due_at is not None
        assert case.incidents == 0
        [(resolved, _)] = queries.incidents(h.store, resolved=True)
        assert resolved.resolved_by == "system"


class DownStore(RecordActivities):
    """The store is unreachable while ``down`` is set."""

    down = False
    calls = 0

    @activity.defn(name=RECORD_ACTIVITY)
    def record_case_events(self, data: RecordInput) -> RecordResult:
        self.calls += 1
        if self.down:
            raise OperationalError("INSERT", {}, Exception("could not connect to server"))
        return super().record_case_events(data)


async def test_a_store_outage_is_an_incident_and_every_action_applies_once(
    harness: Harness,
) -> None:
    records = DownStore(harness.store)
    clock = ClockActivities(Calendars([], harness.store)).compute_deadlines
    async with worker(harness, records.record_case_events, clock) as h:
        case_id = await h.start()
        await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
        records.down = True
        handle = h.handles[case_id]
        claim = TaskInput(actor=SCJG, task_key="company_registration", request_id="claim-1")
        pending = await handle.start_update(
            CaseWorkflow.claim, claim, id="claim-1", wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        await h.env.sleep(dt.timedelta(minutes=3))  # several rounds of retries
        view = await handle.query(CaseWorkflow.view)
        assert [(i.kind, i.resolved_at) for i in view.incidents] == [
            (IncidentKind.store_unavailable, None)
        ]
        assert records.calls > 6
        records.down = False
        await h.env.sleep(dt.timedelta(minutes=15))
        result = await asyncio.wait_for(pending.result(), 30)
        assert result.task is not None
        assert result.task.assignee == SCJG.id
        again = await handle.execute_update(CaseWorkflow.claim, claim, id="claim-1")
        assert again == result  # the same request, the same answer: applied once
        await h.until(lambda: queries.incidents(h.store, resolved=True), "incident recorded")
        events = h.events(case_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.type for e in events].count(EventType.task_claimed) == 1
        [(incident, _)] = queries.incidents(h.store, resolved=True)
        assert incident.kind is IncidentKind.store_unavailable
        assert incident.resolved_at is not None
        await h.act(
            case_id,
            CaseWorkflow.decide,
            DecideInput(
                actor=SCJG, task_key="company_registration", approve=False, reason="名称重复"
            ),
        )
        final = await handle.result()
        assert final.state is CaseState.rejected
        assert final.incidents == 0
