"""What the first edition let through at the edge: text the store refuses, unbounded input,
unbounded waits, reused keys, trips claimed by the applicant, authority over tasks, and what
a foreign department learns. Also the front desk's queue, calendars and incidents over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from temporalio import activity

from activities.clock import Calendars, ClockActivities
from activities.record import RecordActivities
from store import queries
from store.users import set_disabled
from tests.api.conftest import STARTUP_FORM, Api, serve
from tests.workflows.test_scenarios import FlakyCalendars, worker
from workflows.client import connect
from workflows.contracts import RECORD_ACTIVITY, EventType, RecordInput, RecordResult

TASK = "company_registration"


def names(response: Any) -> list[list[Any]]:
    return [e["loc"] for e in response.json()["detail"]]


# ------------------------------------------------------------------ 1. text the store refuses


@pytest.mark.parametrize("bad", ["云州\x00科技", "云州\ud800科技"])
async def test_1_text_no_store_can_keep_is_422_naming_the_field(api: Api, bad: str) -> None:
    body = {"procedure": "YZ-YJS-KBQY", "form": {**STARTUP_FORM, "company_name": bad}}
    response = await api.call("applicant-1", "POST", "/cases", body, **{"Idempotency-Key": "k1"})
    assert response.status_code == 422
    assert names(response) == [["body", "form", "company_name"]]
    assert queries.applicant_cases(api.harness.store, "applicant-1") == []
    case = await api.submit()
    for user, path, payload, field in [
        ("desk-1", "intake", {"decision": "refuse", "reason": bad}, "reason"),
        ("desk-1", "intake", {"decision": "return", "reason": "x", "missing": [bad]}, "missing"),
        ("applicant-1", "supplement", {"materials": [bad]}, "materials"),
        ("applicant-1", "withdraw", {"reason": bad}, "reason"),
        ("applicant-1", "rating", {"score": 1, "comment": bad}, "comment"),
    ]:
        response = await api.call(user, "POST", f"/cases/{case}/{path}", payload)
        assert response.status_code == 422, (path, response.text)
        assert names(response)[0][:2] == ["body", field]


# ------------------------------------------------------------------ 11. bounded input


async def test_11_bodies_lists_and_strings_are_bounded_and_never_echoed(api: Api) -> None:
    case = await api.submit()
    huge = "材" * 4_000_000  # 12 MB of UTF-8
    response = await api.call(
        "applicant-1", "POST", f"/cases/{case}/supplement", {"materials": [huge]}
    )
    assert response.status_code == 413
    assert len(response.content) < 500
    for body, field in [
        ({"materials": ["x" * 65]}, ["body", "materials", 0]),
        ({"materials": ["m"] * 201}, ["body", "materials"]),
    ]:
        response = await api.call("applicant-1", "POST", f"/cases/{case}/supplement", body)
        assert response.status_code == 422
        assert names(response) == [field]
        assert len(response.content) < 2000  # the 200 entries are not sent back
    long = {"decision": "refuse", "reason": "理" * 20_000}
    response = await api.call("desk-1", "POST", f"/cases/{case}/intake", long)
    assert (response.status_code, names(response)) == (422, [["body", "reason"]])
    assert "理理理理理" not in response.text
    response = await api.call("desk-1", "POST", "/cases/bad%00id/intake", {"decision": "accept"})
    assert (response.status_code, names(response)) == (422, [["path", "case_id"]])


async def test_11_a_reused_key_with_another_body_is_422(api: Api) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"procedure": "YZ-YJS-KBQY", "form": STARTUP_FORM}
    first = await api.call("applicant-1", "POST", "/cases", body, **key)
    assert first.status_code == 201
    other = {**body, "form": {**STARTUP_FORM, "company_name": "另一家公司"}}
    assert (await api.call("applicant-1", "POST", "/cases", other, **key)).status_code == 422
    again = await api.call("applicant-1", "POST", "/cases", body, **key)
    assert again.json()["case_id"] == first.json()["case_id"]
    case = first.json()["case_id"]
    api.harness.handles[case] = api.harness.client.get_workflow_handle(case)
    await api.harness.wait_recorded(case)
    urge = {"task_key": "@intake", "days": 2}
    ok = await api.call(
        "supervisor-1", "POST", f"/cases/{case}/urge", urge, **{"Idempotency-Key": "u"}
    )
    assert ok.status_code == 200
    changed = {**urge, "days": 3}
    response = await api.call(
        "supervisor-1", "POST", f"/cases/{case}/urge", changed, **{"Idempotency-Key": "u"}
    )
    assert response.status_code == 422
    retried = await api.call(
        "supervisor-1", "POST", f"/cases/{case}/urge", urge, **{"Idempotency-Key": "u"}
    )
    assert retried.json() == ok.json()
    assert len(queries.incidents(api.harness.store)) == 0
    urged = [e for e in api.harness.events(case) if e.type is EventType.case_urged]
    assert len(urged) == 1


class DownStore(RecordActivities):
    down = False

    @activity.defn(name=RECORD_ACTIVITY)
    def record_case_events(self, data: RecordInput) -> RecordResult:
        if self.down:
            raise OperationalError("INSERT", {}, Exception("could not connect to server"))
        return super().record_case_events(data)


async def test_11_a_busy_case_answers_503_and_the_action_applies_once(api: Api) -> None:
    records = DownStore(api.harness.store)
    clock = ClockActivities(Calendars([], api.harness.store)).compute_deadlines
    async with (
        worker(api.harness, records.record_case_events, clock) as h,
        serve(h, api.tokens, update_timeout_seconds=1) as busy,
    ):
        case = await busy.submit()
        await busy.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
        records.down = True
        key = {"Idempotency-Key": "claim-once"}
        response = await busy.call(
            "scjg-1", "POST", f"/cases/{case}/tasks/{TASK}/claim", None, **key
        )
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        records.down = False
        for _ in range(30):
            response = await busy.call(
                "scjg-1", "POST", f"/cases/{case}/tasks/{TASK}/claim", None, **key
            )
            if response.status_code == 200:
                break
            assert response.status_code == 503
            await asyncio.sleep(0.5)
        assert response.status_code == 200
        assert response.json()["task"]["assignee"] == "scjg-1"
        claimed = [e for e in h.events(case) if e.type is EventType.task_claimed]
        assert len(claimed) == 1


async def test_11_temporal_unreachable_is_503(api: Api) -> None:
    client = await connect("127.0.0.1:1", lazy=True)
    harness = api.harness.__class__(api.harness.env, client, api.harness.store, "nowhere")
    async with serve(harness, api.tokens) as down:
        body = {"procedure": "YZ-YJS-KBQY", "form": STARTUP_FORM}
        response = await down.call("applicant-1", "POST", "/cases", body)
        assert response.status_code == 503
        assert "Retry-After" in response.headers


# ------------------------------------------------------------------ 10. authority


async def test_10_reassigning_a_colleagues_task_needs_a_release_or_a_supervisor(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    task = f"/cases/{case}/tasks/{TASK}"
    await api.ok("scjg-1", "POST", f"{task}/claim")
    taken = await api.call("scjg-2", "POST", f"{task}/reassign", {"assignee": "scjg-2"})
    assert taken.status_code == 409
    assert "release" in taken.json()["detail"]
    set_disabled(api.harness.store, "scjg-2", True)
    response = await api.call("scjg-1", "POST", f"{task}/reassign", {"assignee": "scjg-2"})
    assert (response.status_code, names(response)) == (422, [["body", "assignee"]])
    response = await api.call("scjg-1", "POST", f"{task}/reassign", {"assignee": "sw-1"})
    assert response.status_code == 422  # another department's caseworker
    set_disabled(api.harness.store, "scjg-2", False)
    moved = await api.ok("supervisor-1", "POST", f"{task}/reassign", {"assignee": "scjg-2"})
    assert moved["task"]["assignee"] == "scjg-2"
    assert (await api.call("scjg-1", "POST", f"{task}/release")).status_code == 409
    released = await api.ok("scjg-2", "POST", f"{task}/release")
    assert (released["task"]["state"], released["task"]["assignee"]) == ("open", None)


async def test_10_trips_are_recorded_by_the_office_not_claimed_by_the_applicant(api: Api) -> None:
    body = {"procedure": "YZ-YJS-KBQY", "form": STARTUP_FORM, "channel": "window"}
    response = await api.call("applicant-1", "POST", "/cases", body)
    assert (response.status_code, names(response)) == (422, [["body", "channel"]])
    case = await api.submit()
    response = await api.call(
        "applicant-1", "POST", f"/cases/{case}/supplement", {"materials": ["x"], "on_site": True}
    )
    assert (response.status_code, names(response)) == (422, [["body", "on_site"]])
    visit = {"reason": "window_submission", "note": "申请人到窗口递交纸质材料"}
    assert (
        await api.call("applicant-1", "POST", f"/cases/{case}/visits", visit)
    ).status_code == 403
    assert (await api.call("scjg-1", "POST", f"/cases/{case}/visits", visit)).status_code == 403
    await api.ok("desk-1", "POST", f"/cases/{case}/visits", visit)
    detail = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert detail["trips"] == 1


async def test_10_another_department_learns_nothing(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await api.ok("scjg-1", "POST", f"/cases/{case}/tasks/{TASK}/claim")
    response = await api.call("sw-1", "POST", f"/cases/{case}/tasks/{TASK}/claim")
    assert response.status_code == 403
    assert "YZ-SCJG" not in response.text
    assert "scjg-1" not in response.text
    await api.ok(
        "admin-1",
        "POST",
        "/admin/users",
        {"id": "wj-2", "name": "卫健", "role": "caseworker", "department": "YZ-WJ"},
    )
    api.tokens["wj-2"] = (await api.ok("admin-1", "POST", "/admin/users/wj-2/tokens", {}))["token"]
    response = await api.call("wj-2", "POST", f"/cases/{case}/tasks/{TASK}/claim")
    assert response.status_code == 404  # a department the case does not involve


# ------------------------------------------------------------------ 8, 9 and incidents


async def test_8_the_desk_inbox_lists_new_applications(api: Api) -> None:
    case = await api.submit()
    [row] = await api.ok("desk-1", "GET", "/inbox")
    assert (row["case_id"], row["task_key"], row["kind"]) == (case, "@intake", "intake")
    assert row["deadline_at"] is not None
    # Submitted Monday 15 Sep 2025: 1 working day, Tuesday.
    assert (row["derivation"]["days"], row["derivation"]["due_date"]) == (1, "2025-09-16")
    detail = await api.ok("applicant-1", "GET", f"/cases/{case}")
    [intake] = [c for c in detail["deadlines"] if c["kind"] == "intake"]
    assert intake["derivation"]["days"] == 1
    assert intake["derivation"]["sources"][0]["source"] == "chinesecalendar"


YEAR = """\
kind: CalendarYear
year: 2027
source: 测试用安排（非官方）/ test arrangement, not official
holidays:
  - {from: 2027-02-05, to: 2027-02-12, name: 春节}
"""


async def test_9_calendar_years_are_published_and_listed(api: Api) -> None:
    [published] = await api.ok("admin-1", "POST", "/admin/calendars", YEAR)
    assert (published["year"], published["outcome"], published["moved"]) == (2027, "created", [])
    assert "2027-02-11" in published["changed"]
    [again] = await api.ok("admin-1", "POST", "/admin/procedures", YEAR)  # no longer dropped
    assert (again["kind"], again["outcome"]) == ("CalendarYear", "unchanged")
    [year] = await api.ok("admin-1", "GET", "/admin/calendars")
    assert (year["year"], year["revision"]) == (2027, published["revision"])
    assert await api.ok("admin-1", "GET", f"/admin/calendars/{published['revision']}/moved") == []
    response = await api.call(
        "admin-1", "POST", "/admin/calendars", YEAR.replace("2027-02-12", "2026-02-12")
    )
    assert response.status_code == 422
    assert (await api.call("supervisor-1", "POST", "/admin/calendars", YEAR)).status_code == 403


async def test_incidents_are_listed_for_supervisors_and_resolved_by_them(api: Api) -> None:
    calendars = FlakyCalendars([], api.harness.store)
    records = RecordActivities(api.harness.store)
    async with (
        worker(
            api.harness, records.record_case_events, ClockActivities(calendars).compute_deadlines
        ) as h,
        serve(h, api.tokens) as broken,
    ):
        case = await broken.submit()
        [attention] = await broken.ok("supervisor-1", "GET", "/supervision/incidents")
        assert (attention["incident"]["case_id"], attention["incident"]["kind"]) == (
            case,
            "clock_failed",
        )
        assert attention["state"] == "intake"
        assert (await broken.call("desk-1", "GET", "/supervision/incidents")).status_code == 403
        # The case is workable meanwhile: the desk accepts it.
        await broken.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
        detail = await broken.ok("supervisor-1", "GET", f"/cases/{case}")
        assert detail["case"]["deadline_at"] is None
        calendars.broken = False  # the holiday data is repaired; the supervisor closes it
        number = attention["incident"]["number"]
        resolved = await broken.ok(
            "supervisor-1",
            "POST",
            f"/cases/{case}/incidents/{number}/resolve",
            {"note": "已通知运维修复节假日数据"},
        )
        assert resolved["case_id"] == case
        assert await broken.ok("supervisor-1", "GET", "/supervision/incidents") == []
        detail = await broken.ok("supervisor-1", "GET", f"/cases/{case}")
        assert detail["case"]["deadline_at"] is not None
        [closed] = await broken.ok("supervisor-1", "GET", "/supervision/incidents?resolved=true")
        assert closed["incident"]["resolution"] == "已通知运维修复节假日数据"
        again = await broken.call(
            "supervisor-1", "POST", f"/cases/{case}/incidents/{number}/resolve", {}
        )
        assert again.status_code == 409


async def test_one_key_reused_on_one_endpoint_for_another_decision_is_422(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    task = f"/cases/{case}/tasks/{TASK}"
    await api.ok("scjg-1", "POST", f"{task}/claim")
    key = {"Idempotency-Key": "decide-once"}
    approve = {"decision": "approve"}
    back = {"decision": "return", "reason": "缺章程", "missing": ["company_articles"]}
    assert (await api.call("scjg-1", "POST", f"{task}/decision", approve, **key)).status_code == 200
    assert (await api.call("scjg-1", "POST", f"{task}/decision", back, **key)).status_code == 422


async def test_other_departments_see_a_case_without_who_handles_its_tasks(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await api.ok("scjg-1", "POST", f"/cases/{case}/tasks/{TASK}/claim")
    for user, expected in [("scjg-2", "scjg-1"), ("desk-1", None), ("supervisor-1", "scjg-1")]:
        detail = await api.ok(user, "GET", f"/cases/{case}")
        [task] = [t for t in detail["tasks"] if t["task_key"] == TASK]
        assert task["assignee"] == expected, user
    # The applicant sees each department's part, never who handles it.
    mine = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert "scjg-1" not in json.dumps(mine)
    assert "desk-1" not in json.dumps(mine)
    assert [t["status"]["zh"] for t in mine["tasks"]] == ["办理中"]
