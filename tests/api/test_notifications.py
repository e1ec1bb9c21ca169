"""Applicants are told when they must act or can collect: the outbox and its senders."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from store import outbox
from store.outbox import NotificationRow
from tests.api.conftest import Api
from worker.notify import WebhookSender, send_due, signature


class Collect:
    def __init__(self, fail: int = 0) -> None:
        self.sent: list[NotificationRow] = []
        self.fail = fail

    async def send(self, message: NotificationRow) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("gateway down")
        self.sent.append(message)


async def test_a_return_is_told_once_with_the_list_and_retried_until_sent(api: Api) -> None:
    case = await api.submit()
    await api.ok(
        "desk-1",
        "POST",
        f"/cases/{case}/intake",
        {"decision": "return", "missing": ["company_articles"], "reason": "章程缺签字"},
    )
    [told] = await api.ok("applicant-1", "GET", f"/cases/{case}/notifications")
    assert (told["kind"], told["title_zh"], told["sent_at"]) == ("returned", "请补正材料", None)
    # The applicant reads the message, not its delivery bookkeeping; the desk sees both.
    assert not {"state", "attempts", "last_error", "applicant_id"} & set(told)
    [desk_view] = await api.ok("desk-1", "GET", f"/cases/{case}/notifications")
    assert (desk_view["state"], desk_view["attempts"]) == ("pending", 0)
    assert "公司章程" in told["text"]
    assert "章程缺签字" in told["text"]
    assert told["data"] == {"missing": ["company_articles"]}
    assert (await api.call("applicant-2", "GET", f"/cases/{case}/notifications")).status_code == 404

    store = api.harness.store
    gateway = Collect(fail=1)
    now = dt.datetime.now(dt.UTC)
    assert await send_due(store, gateway, now) == 0  # the gateway is down: retried later
    [waiting] = outbox.of_case(store, case)
    assert (waiting.state, waiting.attempts, waiting.last_error) == ("pending", 1, "gateway down")
    assert await send_due(store, gateway, now) == 0  # not due before the backoff
    assert await send_due(store, gateway, now + dt.timedelta(minutes=1)) == 1
    assert await send_due(store, gateway, now + dt.timedelta(hours=1)) == 0  # once
    assert [m.id for m in gateway.sent] == [told["id"]]
    [done] = await api.ok("applicant-1", "GET", f"/cases/{case}/notifications")
    assert done["sent_at"] is not None
    [done] = await api.ok("desk-1", "GET", f"/cases/{case}/notifications")
    assert (done["state"], done["attempts"], done["last_error"]) == ("sent", 2, None)

    await api.ok(
        "applicant-1", "POST", f"/cases/{case}/supplement", {"materials": ["company_articles"]}
    )
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    kinds = [n["kind"] for n in await api.ok("applicant-1", "GET", f"/cases/{case}/notifications")]
    assert kinds == ["returned", "accepted"]


async def test_two_senders_never_take_the_same_message(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    now = dt.datetime.now(dt.UTC)
    first = outbox.take(api.harness.store, now)
    second = outbox.take(api.harness.store, now)
    assert [m.case_id for m in first] == [case]
    assert second == []
    # A sender that died holding it: after its lease another one takes it.
    later = outbox.take(api.harness.store, now + dt.timedelta(seconds=outbox.LEASE_SECONDS + 1))
    assert [m.id for m in later] == [first[0].id]


async def test_the_webhook_is_signed_and_names_the_message() -> None:
    seen: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204 if len(seen) == 1 else 500)

    client = httpx.AsyncClient(transport=httpx.MockTransport(gateway))
    sender = WebhookSender("http://gateway/sms", "s3cret", client=client)
    message = NotificationRow(
        id="OT-1/7",
        case_id="OT-1",
        applicant_id="u-1",
        kind="returned",
        title_zh="请补正材料",
        title_en="materials to supplement",
        text="请补交公司章程",
        data={"missing": ["company_articles"]},
        created_at=dt.datetime(2025, 9, 15, tzinfo=dt.UTC),
        state="pending",
        attempts=1,
    )
    await sender.send(message)
    [request] = seen
    body = request.content
    assert request.headers["X-OneTrip-Delivery"] == "OT-1/7"
    assert request.headers["X-OneTrip-Signature"] == signature("s3cret", body)
    assert json.loads(body)["text"] == "请补交公司章程"
    with pytest.raises(RuntimeError, match="500"):  # a failure to retry
        await sender.send(message)
    await sender.close()
