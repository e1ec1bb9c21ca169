"""Administrators manage people: edit, disable at once, enable again, never lock everyone out."""

from __future__ import annotations

from tests.api.conftest import Api

TASK = "company_registration"


async def test_disabling_stops_every_token_at_once_and_enabling_restores_them(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await api.ok("scjg-1", "POST", f"/cases/{case}/tasks/{TASK}/claim")
    second = await api.ok("admin-1", "POST", "/admin/users/scjg-1/tokens", {"label": "laptop"})
    detail = await api.ok("admin-1", "PATCH", "/admin/users/scjg-1", {"disabled": True})
    assert (detail["disabled"], detail["claimed_tasks"]) == (True, 1)
    assert [t["label"] for t in detail["tokens"]] == ["tests", "laptop"]
    assert "token" not in detail["tokens"][0]  # never the secret
    for token in (api.tokens["scjg-1"], second["token"]):
        response = await api.http.get("/inbox", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    # The supervisor hands the held task to a colleague.
    await api.ok(
        "supervisor-1", "POST", f"/cases/{case}/tasks/{TASK}/reassign", {"assignee": "scjg-2"}
    )
    assert (await api.ok("admin-1", "GET", "/admin/users/scjg-1"))["claimed_tasks"] == 0
    await api.ok("admin-1", "PATCH", "/admin/users/scjg-1", {"disabled": False})
    assert (await api.call("scjg-1", "GET", "/inbox")).status_code == 200


async def test_edits_are_checked_against_the_catalog(api: Api) -> None:
    renamed = await api.ok("admin-1", "PATCH", "/admin/users/sw-1", {"name": "税务 李四"})
    assert (renamed["name"], renamed["department"]) == ("税务 李四", "YZ-SW")
    for body in (
        {"department": "YZ-NOWHERE"},
        {"department": None},
        {"role": "supervisor"},
    ):
        response = await api.call("admin-1", "PATCH", "/admin/users/sw-1", body)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"] == ["body", "department"], body
    moved = await api.ok("admin-1", "PATCH", "/admin/users/sw-1", {"department": "YZ-GA"})
    assert moved["department"] == "YZ-GA"
    promoted = await api.ok(
        "admin-1", "PATCH", "/admin/users/sw-1", {"role": "supervisor", "department": None}
    )
    assert (promoted["role"], promoted["department"]) == ("supervisor", None)
    response = await api.call(
        "admin-1",
        "POST",
        "/admin/users",
        {"id": "cw-9", "name": "x", "role": "caseworker", "department": "YZ-NOWHERE"},
    )
    assert response.status_code == 422
    assert "YZ-NOWHERE" in response.text
    for body in ({"disabled": "true"}, {"disabled": 1}, {"nickname": "x"}):
        response = await api.call("admin-1", "PATCH", "/admin/users/sw-1", body)
        assert response.status_code == 422, body
    assert (await api.call("admin-1", "PATCH", "/admin/users/nobody", {})).status_code == 404
    assert (await api.call("admin-1", "GET", "/admin/users/nobody")).status_code == 404


async def test_the_last_usable_administrator_cannot_lock_everyone_out(api: Api) -> None:
    for body in ({"disabled": True}, {"role": "applicant"}):
        response = await api.call("admin-1", "PATCH", "/admin/users/admin-1", body)
        assert response.status_code == 409, body
    [token] = (await api.ok("admin-1", "GET", "/admin/users/admin-1"))["tokens"]
    assert (await api.call("admin-1", "DELETE", f"/admin/tokens/{token['id']}")).status_code == 409
    # An administrator without a token cannot act either: it does not count.
    await api.ok(
        "admin-1", "POST", "/admin/users", {"id": "admin-2", "name": "二", "role": "admin"}
    )
    response = await api.call("admin-1", "PATCH", "/admin/users/admin-1", {"disabled": True})
    assert response.status_code == 409
    issued = await api.ok("admin-1", "POST", "/admin/users/admin-2/tokens", {})
    api.tokens["admin-2"] = issued["token"]
    await api.ok("admin-1", "PATCH", "/admin/users/admin-1", {"disabled": True})
    assert (await api.call("admin-1", "GET", "/admin/users")).status_code == 401
    response = await api.call("admin-2", "DELETE", f"/admin/tokens/{issued['token_id']}")
    assert response.status_code == 409
    await api.ok("admin-2", "PATCH", "/admin/users/admin-1", {"disabled": False})
    assert (await api.call("admin-1", "GET", "/admin/users")).status_code == 200
    await api.ok("admin-1", "DELETE", f"/admin/tokens/{issued['token_id']}")


async def test_caseworkers_read_the_timeline_without_other_departments_people(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await api.ok("scjg-1", "POST", f"/cases/{case}/tasks/{TASK}/claim")
    await api.ok("scjg-1", "POST", f"/cases/{case}/tasks/{TASK}/reassign", {"assignee": "scjg-2"})
    own = await api.ok("scjg-2", "GET", f"/cases/{case}/timeline")
    [moved] = [e for e in own if e["type"] == "task.reassigned"]
    assert (moved["actor_id"], moved["payload"]["assignee"]) == ("scjg-1", "scjg-2")
    desk = await api.ok("desk-1", "GET", f"/cases/{case}/timeline")
    [moved] = [e for e in desk if e["type"] == "task.reassigned"]
    assert moved["actor_id"] == ""
    assert "assignee" not in moved["payload"]
    assert [e["seq"] for e in desk] == [e["seq"] for e in own]
    [accepted] = [e for e in desk if e["type"] == "case.accepted"]
    assert accepted["actor_id"] == "desk-1"  # the desk's own act
