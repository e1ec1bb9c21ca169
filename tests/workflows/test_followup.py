"""The follow-up of a bad rating, on the time-skipping server: call-back and rectification
deadlines with their cards, the verdicts, the appeal, the urge, publication."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from services.calendars import publish_year
from store import followups, outbox, queries
from tests.fixtures_temporal import (
    ACT_TIMEOUT,
    APPLICANT,
    FRONT_DESK,
    SUPERVISOR,
    Harness,
    caseworker,
)
from tests.rules.sim import sh
from tests.workflows.test_case_flow import approve
from tests.workflows.test_scenarios import TEST_2027
from worker.followups import start_due
from workflows import client as cases
from workflows.case import CaseWorkflow
from workflows.contracts import (
    FOLLOWUP_SEQ,
    AcceptInput,
    AppealDecisionInput,
    ClockKind,
    DeliverInput,
    EventType,
    FollowUpResult,
    FollowUpRow,
    FollowUpState,
    FollowUpUrgeInput,
    PartState,
    RateInput,
    RecalculateInput,
    RectifyInput,
    RevisitInput,
    TaskKind,
    TaskState,
    Verdict,
    VerifyInput,
    VisitInput,
    VisitRating,
)
from workflows.followup import FollowUpWorkflow

pytestmark = pytest.mark.usefixtures("store")


async def rated(h: Harness, score: int, comment: str = "等了太久") -> tuple[str, str]:
    """A one-department case delivered and rated ``score``; its department."""
    case_id = await h.start("YZ-DX-GTHDJ", form={})
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))
    [task] = h.review(case_id)
    await approve(h, case_id, task.task_key, task.department)
    await h.act(case_id, CaseWorkflow.deliver, DeliverInput(actor=FRONT_DESK))
    await h.act(
        case_id, CaseWorkflow.rate, RateInput(actor=APPLICANT, score=score, comment=comment)
    )
    return case_id, task.department


async def started(h: Harness, case_id: str) -> FollowUpRow:
    """The worker starts the follow-up the rating opened; wait for its first write."""
    [opened] = followups.of_case(h.store, case_id)
    assert await start_due(h.client, h.store, h.task_queue) == 1
    handle = h.client.get_workflow_handle_for(
        FollowUpWorkflow.run, followups.workflow_id(opened.id)
    )
    h.followups[opened.id] = handle

    def recorded() -> FollowUpRow | None:
        row = followups.get(h.store, opened.id)
        return row if row and row.parts and all(p.due_at for p in row.parts) else None

    row: FollowUpRow = await h.until(recorded, "the follow-up's first deadlines")
    return row


async def send(h: Harness, followup_id: str, update: Any, data: Any) -> cases.Outcome:
    uid = uuid.uuid4().hex
    return await cases.send(
        h.client,
        followups.workflow_id(followup_id),
        update.__name__,
        data.model_copy(update={"request_id": uid}),
        uid=uid,
        wait=dt.timedelta(seconds=ACT_TIMEOUT),
        result_type=FollowUpResult,
    )


async def act(h: Harness, followup_id: str, update: Any, data: Any) -> FollowUpRow:
    outcome = await send(h, followup_id, update, data)
    assert isinstance(outcome, cases.Done), outcome
    result: FollowUpResult = outcome.result
    return result.followup


def events(h: Harness, case_id: str) -> list[Any]:
    return [e for e in h.events(case_id) if e.seq > FOLLOWUP_SEQ]


async def test_a_justified_bad_rating_is_called_back_rectified_and_published(
    harness: Harness,
) -> None:
    h = harness
    case_id, dept = await rated(h, 1)
    worker = caseworker(dept)
    row = await started(h, case_id)
    [part] = row.parts
    assert (row.score, row.source, part.state) == (1, "case", PartState.callback)

    # The call-back is a task in the department's inbox, due in 3 working days, with a 黄牌
    # before its end.
    [callback] = [t for t in queries.inbox(h.store, dept) if t.kind is TaskKind.callback]
    assert (callback.case_id, callback.days, callback.state) == (case_id, 3, TaskState.open)
    [clock] = [c for c in queries.case_clocks(h.store, case_id) if c.kind is ClockKind.callback]
    assert clock.due_at == callback.deadline_at == part.due_at
    assert clock.warning_at is not None
    assert clock.warning_at < clock.due_at
    assert clock.derivation
    assert clock.derivation.get("days") == 3

    warning = await h.event_at(case_id, EventType.deadline_warning, clock.warning_at)
    assert warning.task_key == callback.task_key
    assert warning.department == dept
    overdue = await h.event_at(case_id, EventType.deadline_overdue, clock.due_at)
    assert overdue.payload["scope"] == "callback"
    late = next(t for t in queries.case_tasks(h.store, case_id) if t.id == callback.id)
    assert late.overdue
    assert late.warned
    assert followups.get(h.store, row.id).parts[0].overdue  # type: ignore[union-attr]

    # Only the department answers; a supervisor cannot give the verdict.
    refused = await send(
        h,
        row.id,
        FollowUpWorkflow.verify,
        VerifyInput(actor=SUPERVISOR, department=dept, verdict=Verdict.justified, finding="x"),
    )
    assert isinstance(refused, cases.Refused)
    assert refused.kind == "forbidden"
    after = await act(
        h,
        row.id,
        FollowUpWorkflow.verify,
        VerifyInput(
            actor=worker,
            department=dept,
            verdict=Verdict.justified,
            finding="窗口引导不清，申请人往返两次",
        ),
    )
    assert after.parts[0].state is PartState.rectifying
    [rectification] = [t for t in queries.inbox(h.store, dept) if t.kind is TaskKind.rectification]
    assert rectification.days == 15
    [rclock] = [
        c for c in queries.case_clocks(h.store, case_id) if c.kind is ClockKind.rectification
    ]
    assert rclock.due_at == rectification.deadline_at

    done = await act(
        h,
        row.id,
        FollowUpWorkflow.rectify,
        RectifyInput(actor=worker, department=dept, measures="增设导办员，更新办事指南"),
    )
    assert done.parts[0].rectified_on_time is True
    assert done.parts[0].state is PartState.revisit
    final = await act(
        h,
        row.id,
        FollowUpWorkflow.revisit,
        RevisitInput(actor=worker, department=dept, satisfaction=4),
    )
    assert final.state is FollowUpState.concluded
    assert final.parts[0].satisfaction == 4
    assert final.summary
    assert "增设导办员" in final.summary
    assert worker.id not in final.summary
    result = await h.followups[row.id].result()
    assert result.state is FollowUpState.concluded

    # Every step is an event of the case's feed, after the case's own.
    kinds = [e.type for e in events(h, case_id)]
    for kind in (
        EventType.followup_opened,
        EventType.followup_verified,
        EventType.followup_rectified,
        EventType.followup_revisited,
        EventType.followup_concluded,
    ):
        assert kind in kinds
    assert min(e.seq for e in events(h, case_id)) == FOLLOWUP_SEQ * row.rating_seq + 1
    # Nothing is left in the inbox, and the applicant was told each step.
    assert not [t for t in queries.inbox(h.store, dept) if t.stage_key == "followup"]
    told = [n.kind for n in outbox.of_case(h.store, case_id)]
    assert {"followup_opened", "followup_rectified", "followup_concluded"} <= set(told)


async def test_rectification_late_is_overdue_and_counted_late(harness: Harness) -> None:
    h = harness
    case_id, dept = await rated(h, 2)
    worker = caseworker(dept)
    row = await started(h, case_id)
    await act(
        h,
        row.id,
        FollowUpWorkflow.verify,
        VerifyInput(actor=worker, department=dept, verdict=Verdict.justified, finding="属实"),
    )
    [rclock] = [
        c for c in queries.case_clocks(h.store, case_id) if c.kind is ClockKind.rectification
    ]
    assert rclock.due_at is not None
    await h.event_at(case_id, EventType.deadline_overdue, rclock.due_at)
    done = await act(
        h,
        row.id,
        FollowUpWorkflow.rectify,
        RectifyInput(actor=worker, department=dept, measures="已整改"),
    )
    assert done.parts[0].rectified_on_time is False
    assert done.parts[0].state is PartState.revisit  # its card stays in the feed
    # The applicant could not be reached about the rectification: the part ends all the same.
    final = await act(
        h,
        row.id,
        FollowUpWorkflow.revisit,
        RevisitInput(actor=worker, department=dept, note="三次电话未接通"),
    )
    assert (final.state, final.parts[0].state) == (FollowUpState.concluded, PartState.rectified)
    assert final.parts[0].satisfaction is None
    [revisited] = [e for e in events(h, case_id) if e.type is EventType.followup_revisited]
    assert revisited.payload["reached"] is False
    assert final.summary is not None
    assert "逾期" in final.summary


async def test_an_unjustified_rating_is_explained_to_the_applicant(harness: Harness) -> None:
    h = harness
    case_id, dept = await rated(h, 2, "材料要求太多")
    worker = caseworker(dept)
    row = await started(h, case_id)
    missing = await send(
        h,
        row.id,
        FollowUpWorkflow.verify,
        VerifyInput(actor=worker, department=dept, verdict=Verdict.unjustified, finding="无"),
    )
    assert isinstance(missing, cases.Refused)
    assert missing.kind == "invalid"
    final = await act(
        h,
        row.id,
        FollowUpWorkflow.verify,
        VerifyInput(
            actor=worker,
            department=dept,
            verdict=Verdict.unjustified,
            finding="所需材料均为法定材料",
            explanation="所列材料均为法规规定，已向您说明依据",
        ),
    )
    assert (final.state, final.parts[0].state) == (FollowUpState.concluded, PartState.explained)
    [told] = [n for n in outbox.of_case(h.store, case_id) if n.kind == "followup_explained"]
    assert "法规规定" in told.text


async def test_a_granted_appeal_leaves_the_rating_out_and_a_refused_one_rectifies(
    harness: Harness,
) -> None:
    h = harness
    case_id, dept = await rated(h, 1, "随便打的")
    worker = caseworker(dept)
    row = await started(h, case_id)
    appealed = await act(
        h,
        row.id,
        FollowUpWorkflow.verify,
        VerifyInput(
            actor=worker, department=dept, verdict=Verdict.mistaken, finding="申请人称误点"
        ),
    )
    assert appealed.parts[0].state is PartState.appealed
    # The department cannot decide its own appeal.
    own = await send(
        h,
        row.id,
        FollowUpWorkflow.decide_appeal,
        AppealDecisionInput(actor=worker, department=dept, granted=True, reason="误评"),
    )
    assert isinstance(own, cases.Refused)
    assert own.kind == "forbidden"
    granted = await act(
        h,
        row.id,
        FollowUpWorkflow.decide_appeal,
        AppealDecisionInput(
            actor=SUPERVISOR, department=dept, granted=True, reason="申请人确认误评"
        ),
    )
    assert granted.excluded
    assert granted.state is FollowUpState.concluded
    assert granted.parts[0].state is PartState.excluded
    stored = followups.get(h.store, row.id)
    assert stored is not None
    assert stored.excluded
    assert (
        next(e for e in h.events(case_id) if e.type is EventType.case_rated).payload["score"] == 1
    )

    # Another bad rating whose appeal is refused goes to rectification.
    case_2, _ = await rated(h, 2)
    row_2 = await started(h, case_2)
    await act(
        h,
        row_2.id,
        FollowUpWorkflow.verify,
        VerifyInput(actor=worker, department=dept, verdict=Verdict.malicious, finding="恶意"),
    )
    refused = await act(
        h,
        row_2.id,
        FollowUpWorkflow.decide_appeal,
        AppealDecisionInput(actor=SUPERVISOR, department=dept, granted=False, reason="证据不足"),
    )
    assert not refused.excluded
    assert refused.parts[0].state is PartState.rectifying


async def test_an_urged_callback_escalates_when_missed(harness: Harness) -> None:
    h = harness
    case_id, dept = await rated(h, 1)
    row = await started(h, case_id)
    urged = await act(
        h,
        row.id,
        FollowUpWorkflow.urge,
        FollowUpUrgeInput(actor=SUPERVISOR, department=dept, days=1, note="今日回访"),
    )
    assert urged.parts[0].state is PartState.callback

    def urge_clock() -> Any:
        return next(
            (
                c
                for c in queries.case_clocks(h.store, case_id)
                if c.kind is ClockKind.urge and c.key.startswith("urge:followup:") and c.due_at
            ),
            None,
        )

    clock = await h.until(urge_clock, "the urge's deadline")
    escalated = await h.event_at(case_id, EventType.deadline_escalated, clock.due_at)
    assert escalated.department == dept
    stored = followups.get(h.store, row.id)
    assert stored is not None
    assert stored.parts[0].escalated


async def test_a_bad_visit_rating_is_followed_up_by_the_desk_during_the_case(
    harness: Harness,
) -> None:
    h = harness
    case_id = await h.start("YZ-DX-GTHDJ", form={})
    await h.act(
        case_id,
        CaseWorkflow.record_visit,
        VisitInput(actor=FRONT_DESK, reason="other", rating=VisitRating(score=2, comment="排队久")),
    )
    row = await started(h, case_id)
    assert (row.source, row.departments) == ("visit", ["YZ-ZWFW"])
    [callback] = [t for t in queries.inbox(h.store, "YZ-ZWFW") if t.kind is TaskKind.callback]
    assert callback.case_id == case_id
    # The case goes on meanwhile.
    await h.act(case_id, CaseWorkflow.accept, AcceptInput(actor=FRONT_DESK))


async def test_good_and_defaulted_ratings_open_no_follow_up(harness: Harness) -> None:
    h = harness
    case_id, _ = await rated(h, 3, "还行")
    assert followups.of_case(h.store, case_id) == []
    assert await start_due(h.client, h.store, h.task_queue) == 0


@pytest.mark.start_at(sh("2027-02-03 09:00"))
async def test_a_published_year_moves_a_running_followups_provisional_deadline(
    harness: Harness,
) -> None:
    """2027's arrangement is not out yet: the call-back's deadline is provisional (statutory
    fallback) until the year is published, then it moves, with an event, like a case's, and
    the cards it fired on the provisional deadline are withdrawn."""
    h = harness
    case_id, dept = await rated(h, 1)
    row = await started(h, case_id)
    [clock] = [c for c in queries.case_clocks(h.store, case_id) if c.kind is ClockKind.callback]
    assert (clock.due_at, clock.provisional) == (sh("2027-02-13 00:00"), True)
    await h.event_at(case_id, EventType.deadline_overdue, sh("2027-02-13 00:00"))
    await h.sleep_until(sh("2027-02-13 10:00"))
    publication = await publish_year(h.client, h.store, TEST_2027, published_by="admin-1")
    assert publication.followups == [row.id]
    moved = [m for m in publication.moved if m.clock == clock.key]
    assert [(m.before, m.after) for m in moved] == [
        (sh("2027-02-13 00:00"), sh("2027-02-17 00:00"))
    ]
    [after] = [c for c in queries.case_clocks(h.store, case_id) if c.kind is ClockKind.callback]
    assert (after.due_at, after.provisional) == (sh("2027-02-17 00:00"), False)
    stored = followups.get(h.store, row.id)
    assert stored is not None
    assert stored.parts[0].due_at == sh("2027-02-17 00:00")
    assert EventType.deadline_moved in [e.type for e in events(h, case_id)]
    withdrawn = [e for e in events(h, case_id) if e.type is EventType.card_withdrawn]
    assert [e.payload["card"] for e in withdrawn] == ["warning", "overdue"]
    assert not stored.parts[0].overdue
    # Only the system or an admin recalculates.
    refused = await send(
        h, row.id, FollowUpWorkflow.recalculate, RecalculateInput(actor=SUPERVISOR, revision=1)
    )
    assert isinstance(refused, cases.Refused)
    assert refused.kind == "forbidden"
    assert dept
