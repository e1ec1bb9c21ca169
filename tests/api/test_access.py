"""The access matrix: every role against every endpoint, and data scope per user."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

ROLES = ["applicant-1", "desk-1", "scjg-1", "supervisor-1", "admin-1"]
"""One user per role (the caseworkers: the front desk and a reviewing department)."""

YAML = """\
kind: Procedure
code: YZ-DX-GTHDJ
name: 个体工商户设立登记
version: 1
items: [YZ-SCJG-XK-0003]
committed_limit: 1
trips: 0
intake: {department: YZ-ZWFW, acceptance_days: 1}
delivery: {method: post, days: 1}
stages:
  - key: registration
    name: 登记
    tasks: [{key: registration, item: YZ-SCJG-XK-0003}]
"""


def endpoints(case: str) -> list[tuple[str, str, Any, set[str]]]:
    """(method, path, body, users allowed past authorisation).

    Intake and delivery belong to the front desk's department, the task to 市场监管: the other
    caseworker is refused (403) by the department check.
    """
    caseworkers = {"desk-1", "scjg-1"}
    desk, reviewer = {"desk-1"}, {"scjg-1"}
    supervisors = {"supervisor-1", "admin-1"}
    task = f"/cases/{case}/tasks/company_registration"
    return [
        ("GET", "/procedures", None, set(ROLES) | {"anonymous"}),
        ("GET", "/procedures/YZ-YJS-KBQY", None, set(ROLES) | {"anonymous"}),
        ("GET", "/public/statistics?period=2025H2", None, set(ROLES) | {"anonymous"}),
        ("POST", "/cases", {"procedure": "YZ-YJS-KBQY", "form": {}}, {"applicant-1"}),
        ("GET", "/cases", None, {"applicant-1"}),
        ("GET", f"/cases/{case}", None, set(ROLES)),
        ("GET", f"/cases/{case}/notifications", None, set(ROLES)),
        ("POST", f"/cases/{case}/supplement", {"materials": ["x"]}, {"applicant-1"}),
        ("POST", f"/cases/{case}/rating", {"score": 5}, {"applicant-1"}),
        ("GET", "/inbox", None, caseworkers),
        ("POST", f"/cases/{case}/intake", {"decision": "refuse", "reason": "x"}, desk),
        ("POST", f"{task}/claim", None, reviewer),
        ("POST", f"{task}/decision", {"decision": "reject"}, reviewer),
        ("POST", f"{task}/reassign", {"assignee": "scjg-2"}, reviewer | supervisors),
        ("POST", f"{task}/steps/review/start", None, reviewer),
        ("POST", f"/cases/{case}/delivery", {}, desk),
        ("GET", "/supervision/tasks?severity=warning", None, {"supervisor-1", "admin-1"}),
        ("GET", "/supervision/cases", None, {"supervisor-1", "admin-1"}),
        ("GET", f"/cases/{case}/timeline", None, caseworkers | supervisors),
        ("POST", f"/cases/{case}/urge", {"days": 2}, {"supervisor-1", "admin-1"}),
        ("GET", "/events?after=0", None, {"supervisor-1", "admin-1"}),
        ("GET", "/supervision/figures?period=2025", None, {"supervisor-1", "admin-1"}),
        ("GET", "/supervision/reengineering?period=2025", None, {"supervisor-1", "admin-1"}),
        ("GET", "/supervision/report?period=2025", None, {"supervisor-1", "admin-1"}),
        ("GET", "/admin/users", None, {"admin-1"}),
        ("GET", "/admin/subscribers", None, {"admin-1"}),
        ("GET", "/admin/calendars/sources", None, {"admin-1"}),
        ("GET", "/admin/procedures/YZ-YJS-KBQY", None, {"admin-1"}),
        ("GET", "/admin/sign-in-locks", None, {"admin-1"}),
        (
            "POST",
            "/admin/users",
            {"id": "new-user", "name": "新用户", "role": "applicant"},
            {"admin-1"},
        ),
        ("POST", "/admin/users/applicant-2/tokens", {"label": "x"}, {"admin-1"}),
        ("GET", "/admin/users/applicant-2", None, {"admin-1"}),
        ("PATCH", "/admin/users/applicant-2", {"name": "申请人二"}, {"admin-1"}),
        ("POST", "/admin/procedures", YAML, {"admin-1"}),
        ("POST", f"/cases/{case}/withdraw", {}, {"applicant-1"}),
    ]


async def test_every_role_against_every_endpoint(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    seen: list[tuple[str, str, str, int]] = []
    for method, path, body, allowed in endpoints(case):
        for user in [*ROLES, "anonymous"]:
            response = await api.call(None if user == "anonymous" else user, method, path, body)
            seen.append((method, path, user, response.status_code))
            if user in allowed:
                assert response.status_code not in (401, 403), (method, path, user, response.text)
                assert response.status_code < 500, (method, path, user, response.text)
            elif user == "anonymous":
                assert response.status_code == 401, (method, path, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
            else:
                assert response.status_code == 403, (method, path, user, response.text)
    assert len(seen) == len(endpoints(case)) * (len(ROLES) + 1)


async def test_bad_and_revoked_tokens(api: Api) -> None:
    response = await api.http.get("/inbox", headers={"Authorization": "Bearer ot_not-a-token"})
    assert response.status_code == 401
    issued = await api.ok("admin-1", "POST", "/admin/users/sw-1/tokens", {"label": "tmp"})
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert (await api.http.get("/inbox", headers=headers)).status_code == 200
    await api.ok("admin-1", "DELETE", f"/admin/tokens/{issued['token_id']}")
    assert (await api.http.get("/inbox", headers=headers)).status_code == 401


async def test_applicants_see_only_their_own_cases(api: Api) -> None:
    mine = await api.submit("applicant-1")
    theirs = await api.submit("applicant-2")
    assert [c["case_id"] for c in await api.ok("applicant-1", "GET", "/cases")] == [mine]
    assert (await api.call("applicant-1", "GET", f"/cases/{theirs}")).status_code == 404
    assert (
        await api.call("applicant-1", "POST", f"/cases/{theirs}/withdraw", {})
    ).status_code == 404
    # A department the case does not involve cannot read it either.
    await api.ok(
        "admin-1",
        "POST",
        "/admin/users",
        {"id": "wj-1", "name": "卫健", "role": "caseworker", "department": "YZ-WJ"},
    )
    token = (await api.ok("admin-1", "POST", "/admin/users/wj-1/tokens", {}))["token"]
    api.tokens["wj-1"] = token
    assert (await api.call("wj-1", "GET", f"/cases/{mine}")).status_code == 404
    assert (await api.call("wj-1", "GET", f"/cases/{mine}/timeline")).status_code == 404
    assert (await api.call("scjg-1", "GET", f"/cases/{mine}")).status_code == 200


@pytest.mark.parametrize(
    ("body", "department"),
    [
        ({"id": "cw", "name": "x", "role": "caseworker"}, None),
        ({"id": "ap", "name": "x", "role": "applicant", "department": "YZ-SW"}, "YZ-SW"),
    ],
)
async def test_department_only_for_caseworkers(
    api: Api, body: dict[str, Any], department: str | None
) -> None:
    response = await api.call("admin-1", "POST", "/admin/users", body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "department"]
