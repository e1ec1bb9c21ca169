"""A business start-up case through the HTTP API, and the answers to bad requests."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from definitions.calendar import SHANGHAI
from store import queries
from tests.api.conftest import STARTUP_FORM, Api

FOLLOW_UP = {
    "seal_filing": "yz-ga-1",
    "tax_package": "sw-1",
    "social_insurance": "yz-rs-1",
    "medical_insurance": "yz-yb-1",
    "housing_fund": "yz-gjj-1",
    "bank_account": "yz-rmyh-1",
}


async def decide(api: Api, user: str, case: str, task: str, decision: str = "approve") -> None:
    await api.ok(user, "POST", f"/cases/{case}/tasks/{task}/claim")
    await api.ok(user, "POST", f"/cases/{case}/tasks/{task}/decision", {"decision": decision})


async def test_business_startup_through_the_api(api: Api) -> None:
    case = await api.submit()
    detail = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert (detail["audience"], detail["state"]) == ("applicant", "intake")
    accepted = await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    assert accepted["state"] == "in_progress"
    inbox = await api.ok("scjg-1", "GET", "/inbox")
    assert [t["task_key"] for t in inbox] == ["company_registration"]
    assert inbox[0]["deadline_at"] is not None
    await decide(api, "scjg-1", case, "company_registration")
    for task, user in FOLLOW_UP.items():
        assert [t["task_key"] for t in await api.ok(user, "GET", "/inbox")] == [task]
        await decide(api, user, case, task)
    delivered = await api.ok("desk-1", "POST", f"/cases/{case}/delivery", {})
    assert delivered["state"] == "rating"
    rated = await api.ok("applicant-1", "POST", f"/cases/{case}/rating", {"score": 5})
    assert rated["state"] == "completed"
    # The answer came after the store was written: read-your-writes.
    row = queries.get_case(api.harness.store, case)
    assert row is not None
    assert (row.state.value, row.rating) == ("completed", 5)
    timeline = await api.ok("supervisor-1", "GET", f"/cases/{case}/timeline")
    assert timeline[0]["type"] == "case.submitted"
    assert timeline[-1]["type"] == "case.completed"


async def test_double_submit_makes_one_case(api: Api) -> None:
    body = {"procedure": "YZ-YJS-KBQY", "form": STARTUP_FORM, "materials": []}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first, second = await asyncio.gather(
        api.call("applicant-1", "POST", "/cases", body, **key),
        api.call("applicant-1", "POST", "/cases", body, **key),
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["case_id"] == second.json()["case_id"]
    case = first.json()["case_id"]
    api.harness.handles[case] = api.harness.client.get_workflow_handle(case)
    await api.harness.wait_recorded(case)
    # After a withdrawal the same key still names the same (closed) case.
    await api.ok("applicant-1", "POST", f"/cases/{case}/withdraw", {"reason": "重复提交"})
    third = await api.call("applicant-1", "POST", "/cases", body, **key)
    assert third.json()["case_id"] == case
    assert [c["case_id"] for c in await api.ok("applicant-1", "GET", "/cases")] == [case]
    assert first.json()["missing_materials"]  # nothing was handed in


async def test_bad_input_answers_4xx_with_field_paths(api: Api) -> None:
    response = await api.call(
        "applicant-1",
        "POST",
        "/cases",
        {
            "procedure": "YZ-YJS-KBQY",
            "form": {**STARTUP_FORM, "employees": "many"},
            "materials": ["no_such_material"],
        },
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "form", "employees"]
    response = await api.call("applicant-1", "POST", "/cases", {"procedure": 7, "extra": 1})
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["detail"]} >= {
        ("body", "procedure"),
        ("body", "extra"),
    }
    response = await api.call(
        "applicant-1",
        "POST",
        "/cases",
        {"procedure": "YZ-YJS-KBQY", "form": STARTUP_FORM, "materials": ["no_such_material"]},
    )
    assert response.json()["detail"][0]["loc"] == ["body", "materials", 0]
    assert (
        await api.call("applicant-1", "POST", "/cases", {"procedure": "NOPE"})
    ).status_code == 404
    assert (await api.call("supervisor-1", "GET", "/cases/OT-NOTHING")).status_code == 404
    response = await api.call("scjg-1", "POST", "/cases/OT-NOTHING/tasks/x/claim")
    assert response.status_code == 404


async def test_conflicts_answer_409(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await api.ok("scjg-1", "POST", f"/cases/{case}/tasks/company_registration/claim")
    taken = await api.call("scjg-2", "POST", f"/cases/{case}/tasks/company_registration/claim")
    assert taken.status_code == 409
    assert "claimed by scjg-1" in taken.json()["detail"]
    path = f"/cases/{case}/tasks/company_registration/decision"
    await api.ok("scjg-1", "POST", path, {"decision": "approve"})
    again = await api.call("scjg-1", "POST", path, {"decision": "reject", "reason": "x"})
    assert again.status_code == 409
    no_reason = await api.call(
        "sw-1", "POST", f"/cases/{case}/tasks/tax_package/decision", {"decision": "return"}
    )
    assert no_reason.status_code == 422
    await api.ok("applicant-1", "POST", f"/cases/{case}/withdraw", {})
    closed = await api.call("applicant-1", "POST", f"/cases/{case}/withdraw", {})
    assert closed.status_code == 409


async def test_a_retried_request_acts_once(api: Api) -> None:
    case = await api.submit()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    path = f"/cases/{case}/intake"
    first = await api.call("desk-1", "POST", path, {"decision": "accept"}, **key)
    second = await api.call("desk-1", "POST", path, {"decision": "accept"}, **key)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    types = [e.type.value for e in queries.timeline(api.harness.store, case)]
    assert types.count("case.accepted") == 1


async def test_publish_yaml_reports_lines(api: Api) -> None:
    good = (
        "kind: Procedure\ncode: YZ-DX-GTHDJ\nname: 个体工商户设立登记（新版）\nversion: 2\n"
        "items: [YZ-SCJG-XK-0003]\ncommitted_limit: 1\ntrips: 0\n"
        "intake: {department: YZ-ZWFW, acceptance_days: 1}\ndelivery: {method: post, days: 1}\n"
        "stages: [{key: r, name: 登记, tasks: [{key: r, item: YZ-SCJG-XK-0003}]}]\n"
    )
    # Every problem of the document at once: a schema error in the first, an unknown item
    # (line 5 of the second document, line 10 of the text) in the second.
    bad = "kind: Procedure\ncode: YZ-NEW\nname: 新流程\nversion: 1\n---\n" + good.replace(
        "items: [YZ-SCJG-XK-0003]", "items: [YZ-NOPE]"
    ).replace("version: 2", "version: 3")
    response = await api.call("admin-1", "POST", "/admin/procedures", bad)
    assert response.status_code == 422
    findings = response.json()["detail"]
    assert ("schema", 1) in {(f["code"], f["line"]) for f in findings}
    assert ("unknown-item", 10) in {(f["code"], f["line"]) for f in findings}
    assert all(f["file"] == "request.yaml" for f in findings)
    [published] = await api.ok("admin-1", "POST", "/admin/procedures", good)
    assert (published["version"], published["outcome"]) == (2, "created")
    [again] = await api.ok("admin-1", "POST", "/admin/procedures", good)
    assert again["outcome"] == "unchanged"
    changed = good.replace("新版", "再版")
    conflict = await api.call("admin-1", "POST", "/admin/procedures", changed)
    assert conflict.status_code == 409
    listed = {p["code"]: p["version"] for p in await api.ok(None, "GET", "/procedures")}
    assert listed["YZ-DX-GTHDJ"] == 2
    # Both versions with their analysis, oldest first.
    v1, v2 = await api.ok("admin-1", "GET", "/admin/procedures/YZ-DX-GTHDJ")
    assert (v1["version"], v2["version"]) == (1, 2)
    assert (v2["critical_path"], v2["critical_path_names"]) == (["r"], ["登记"])
    assert (v2["before"]["applications"], v2["after"]["applications"]) == (1, 1)
    assert v2["committed_limit"] == 1
    assert v2["cases"] == v2["open_cases"] == 0
    missing = await api.call("admin-1", "GET", "/admin/procedures/YZ-NOPE")
    assert missing.status_code == 404


async def test_a_version_counts_the_cases_that_run_on_it(api: Api) -> None:
    await api.submit()
    [*_, latest] = await api.ok("admin-1", "GET", "/admin/procedures/YZ-YJS-KBQY")
    assert (latest["cases"], latest["open_cases"]) == (1, 1)
    assert latest["after"]["trips"] <= latest["before"]["trips"]
    assert latest["reduction_percent"]["applications"] > 0


async def test_event_feed_pages_with_a_cursor(api: Api) -> None:
    first = await api.submit()
    second = await api.submit("applicant-2")
    page = await api.ok("supervisor-1", "GET", "/events?after=0&limit=1")
    assert len(page["events"]) == 1
    seen = list(page["events"])
    while True:
        page = await api.ok("supervisor-1", "GET", f"/events?after={page['next']}&limit=2")
        if not page["events"]:
            break
        seen += page["events"]
    assert {e["case_id"] for e in seen} == {first, second}
    assert [e["id"] for e in seen] == sorted(e["id"] for e in seen)


async def test_every_response_carries_a_request_id(api: Api) -> None:
    response = await api.call(None, "GET", "/procedures", **{"X-Request-ID": "req-42"})
    assert response.headers["x-request-id"] == "req-42"
    assert (await api.call(None, "GET", "/procedures")).headers["x-request-id"]


async def test_warnings_and_red_cards_for_supervisors(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    # Accepted Monday 15 Sep 2025 09:00; registration has 1 working day (Tuesday), warned at
    # 80% (Tuesday 19:12), overdue at 24:00 on Tuesday.
    await api.harness.sleep_until(dt.datetime(2025, 9, 16, 19, 30, tzinfo=SHANGHAI))
    flagged = await api.harness.until(lambda: queries.warning_tasks(api.harness.store), "a warning")
    assert [t.task_key for t in flagged] == ["company_registration"]
    path = "/supervision/tasks?severity=warning&department=YZ-SCJG"
    [task] = await api.ok("supervisor-1", "GET", path)
    assert task["task_key"] == "company_registration"
    # The yellow card can be read: 1 working day from Monday, Tuesday counted, official data.
    why = task["derivation"]
    assert (why["start_date"], why["days"], why["due_date"]) == ("2025-09-15", 1, "2025-09-16")
    assert why["sources"] == [
        {"year": 2025, "source": "chinesecalendar", "notice": why["sources"][0]["notice"]}
    ]
    inside = "&since=2025-09-16T00:00:00%2B08:00&until=2025-09-18T00:00:00%2B08:00"
    assert len(await api.ok("supervisor-1", "GET", path + inside)) == 1
    outside = "&since=2025-09-20T00:00:00%2B08:00"
    assert await api.ok("supervisor-1", "GET", path + outside) == []
    assert await api.ok("supervisor-1", "GET", "/supervision/tasks?severity=overdue") == []
    naive = await api.call("supervisor-1", "GET", path + "&since=2025-09-16T00:00:00")
    assert naive.status_code == 422


async def test_lists_page_by_cursor(api: Api) -> None:
    """The inbox and the card lists give the next page's cursor in a header; a cursor of
    another list, or no cursor at all, is refused naming the parameter."""
    for _ in range(3):
        await api.submit()
    first = await api.call("desk-1", "GET", "/inbox?limit=2")
    assert first.status_code == 200
    cursor = first.headers["X-Next-Cursor"]
    assert 'rel="next"' in first.headers["Link"]
    rest = await api.call("desk-1", "GET", f"/inbox?limit=2&cursor={cursor}")
    assert rest.status_code == 200
    assert "X-Next-Cursor" not in rest.headers  # the last page
    seen = [r["case_id"] for r in first.json() + rest.json()]
    assert len(seen) == len(set(seen)) == 3
    for bad in ("not-a-cursor", "W10", cursor[:-4]):
        refused = await api.call("desk-1", "GET", f"/inbox?cursor={bad}")
        assert refused.status_code == 422, bad
        assert refused.json()["detail"][0]["loc"] == ["query", "cursor"]
    # A case finder's cursor is not a task list's.
    found = await api.ok("supervisor-1", "GET", "/supervision/cases?limit=1")
    other = await api.call("supervisor-1", "GET", f"/supervision/tasks?cursor={found['next']}")
    assert other.status_code == 422


async def test_one_key_for_two_actions_acts_twice(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    key = {"Idempotency-Key": "same-key"}
    task = f"/cases/{case}/tasks/company_registration"
    claimed = await api.call("scjg-1", "POST", f"{task}/claim", None, **key)
    decided = await api.call("scjg-1", "POST", f"{task}/decision", {"decision": "approve"}, **key)
    assert claimed.json()["task"]["state"] == "claimed"
    assert decided.json()["task"]["state"] == "approved"


async def test_a_key_reused_for_another_application_is_refused(api: Api) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"procedure": "YZ-YJS-KBQY", "form": STARTUP_FORM}
    first = await api.call("applicant-1", "POST", "/cases", body, **key)
    case = first.json()["case_id"]
    api.harness.handles[case] = api.harness.client.get_workflow_handle(case)
    await api.harness.wait_recorded(case)
    other = {**body, "form": {**STARTUP_FORM, "company_name": "另一家公司"}}
    response = await api.call("applicant-1", "POST", "/cases", other, **key)
    assert response.status_code == 422


async def test_out_of_range_numbers_answer_422(api: Api) -> None:
    huge = str(10**20)
    for user, path in [
        (None, f"/procedures/YZ-YJS-KBQY?version={huge}"),
        ("supervisor-1", f"/events?after={huge}"),
        ("applicant-1", f"/cases?offset={huge}"),
        ("applicant-1", "/cases?limit=-5"),
        ("scjg-1", "/inbox?limit=0"),
    ]:
        response = await api.call(user, "GET", path)
        assert response.status_code == 422, (path, response.text)
    body = {"procedure": "YZ-YJS-KBQY", "version": 10**20, "form": STARTUP_FORM}
    assert (await api.call("applicant-1", "POST", "/cases", body)).status_code == 422
