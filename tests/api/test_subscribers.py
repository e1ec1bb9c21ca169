"""Admins subscribe external supervision systems to the event feed, and see how far behind
each one is."""

from __future__ import annotations

import httpx

from tests.api.conftest import Api
from tests.worker.test_feed import SECRET, Receiver
from worker.feed import deliver_due


async def test_an_admin_subscribes_a_receiver_that_gets_a_case_as_it_happens(api: Api) -> None:
    receiver = Receiver()
    receiver.up()
    try:
        body = {"url": receiver.url, "secret": SECRET, "types": ["case.submitted", "case.accepted"]}
        sub = await api.ok("admin-1", "POST", "/admin/subscribers", body)
        assert (sub["lag"], sub["failures"], sub["active"]) == (0, 0, True)
        assert "secret" not in sub
        case = await api.submit()
        await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
        [listed] = await api.ok("admin-1", "GET", "/admin/subscribers")
        assert listed["lag"] > 0
        async with httpx.AsyncClient(timeout=5) as http:
            assert await deliver_due(api.harness.store, http) == 2
        assert [(e["case_id"], e["type"]) for e in receiver.events] == [
            (case, "case.submitted"),
            (case, "case.accepted"),
        ]
        assert (await api.ok("admin-1", "GET", f"/admin/subscribers/{sub['id']}"))["lag"] == 0
        # Resume from the start: everything again.
        changed = await api.ok("admin-1", "PATCH", f"/admin/subscribers/{sub['id']}", {"cursor": 0})
        assert changed["lag"] > 0
        await api.ok("admin-1", "DELETE", f"/admin/subscribers/{sub['id']}")
        gone = await api.call("admin-1", "GET", f"/admin/subscribers/{sub['id']}")
        assert gone.status_code == 404
    finally:
        receiver.down()


async def test_bad_subscriptions_are_refused_naming_the_field(api: Api) -> None:
    good = {"url": "https://supervision.yunzhou.gov/onetrip", "secret": SECRET}
    for change, field in [
        ({"url": "ftp://x"}, "url"),
        ({"secret": "short"}, "secret"),
        ({"types": ["case.exploded"]}, "types"),
        ({"start": -1}, "start"),
        ({"start": "yesterday"}, "start"),
        ({"extra": 1}, "extra"),
    ]:
        answer = await api.call("admin-1", "POST", "/admin/subscribers", good | change)
        assert answer.status_code == 422, (change, answer.text)
        assert field in {str(part) for e in answer.json()["detail"] for part in e["loc"]}, change
    assert (await api.call("supervisor-1", "POST", "/admin/subscribers", good)).status_code == 403
    assert (
        await api.call("admin-1", "PATCH", "/admin/subscribers/99", {"active": False})
    ).status_code == 404
