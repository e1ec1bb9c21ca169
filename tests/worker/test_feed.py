"""The event feed pushed to an external supervision system, against a local receiver.

The receiver is a real HTTP server on localhost that can be down (nothing listening), failing
(500) or up. Whatever happens in between, it ends up with every event, in feed order (so in
order per case), each batch signed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from cli.dev import free_port
from store import queries, subscribers
from store.db import Store
from store.writes import record
from tests.store.factories import T0, record_input
from worker.feed import deliver_due

SECRET = "a-shared-secret-of-the-receiver"


class Receiver:
    """A supervision system's endpoint: checks each signature and keeps what it was sent."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/onetrip"
        self.batches: list[list[dict[str, Any]]] = []
        self.failing = 0
        self.server: ThreadingHTTPServer | None = None

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers["X-OneTrip-Timestamp"]
                expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
                assert self.headers["X-OneTrip-Signature"] == (
                    f"t={stamp},sha256={expected.hexdigest()}"
                )
                if receiver.failing:
                    receiver.failing -= 1
                    self.send_response(500)
                else:
                    receiver.batches.append(json.loads(body)["events"])
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for batch in self.batches for e in batch]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()


def write(store: Store, case_id: str, seqs: range) -> None:
    record(store, record_input(case_id, seqs=seqs))


def later(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def status(store: Store, subscriber_id: int) -> subscribers.SubscriberStatus:
    found = subscribers.status(store, subscriber_id)
    assert found is not None
    return found


async def test_a_receiver_down_for_a_while_gets_everything_in_order(
    store: Store, receiver: Receiver
) -> None:
    write(store, "C-1", range(1, 4))
    write(store, "C-2", range(1, 3))
    sub = subscribers.add(
        store, url=receiver.url, secret=SECRET, types=[], cursor=0, created_by="admin", now=T0
    )
    async with httpx.AsyncClient(timeout=5) as http:
        # Nothing listens: the batch waits, the failure shows.
        assert await deliver_due(store, http, now=later(0)) == 0
        s = status(store, sub.id)
        assert (s.cursor, s.failures, s.lag) == (0, 1, 5)
        assert s.last_error
        assert s.next_attempt_at == later(5)  # 5 s after the first failure
        assert await deliver_due(store, http, now=later(1)) == 0  # not due yet
        # Events keep coming while the receiver is down.
        write(store, "C-1", range(4, 7))
        receiver.up()
        receiver.failing = 1  # it comes back answering 500 once
        assert await deliver_due(store, http, now=later(6)) == 0
        assert status(store, sub.id).next_attempt_at == later(6 + 10)  # doubled
        assert await deliver_due(store, http, now=later(16)) == 8
        s = status(store, sub.id)
        assert (s.failures, s.lag, s.last_error) == (0, 0, None)
        # Nothing lost, nothing repeated here, feed order, so each case in its own order.
        feed = [i for i, _ in queries.events_after(store, 0, 1000)[0]]
        assert [e["id"] for e in receiver.events] == feed
        for case in ("C-1", "C-2"):
            seqs = [e["seq"] for e in receiver.events if e["case_id"] == case]
            assert seqs == sorted(seqs) == list(range(1, len(seqs) + 1))
        # Caught up: a round sends nothing.
        assert await deliver_due(store, http, now=later(17)) == 0
        assert len(receiver.batches) == 1


async def test_types_cursors_and_a_reset(store: Store, receiver: Receiver) -> None:
    write(store, "C-1", range(1, 4))
    receiver.up()
    only_submissions = subscribers.add(
        store,
        url=receiver.url,
        secret=SECRET,
        types=["case.submitted"],
        cursor=0,
        created_by="admin",
        now=T0,
    )
    from_now = subscribers.add(
        store, url=receiver.url, secret=SECRET, types=[], cursor=None, created_by="admin", now=T0
    )
    async with httpx.AsyncClient(timeout=5) as http:
        assert await deliver_due(store, http, now=later(1)) == 1
        assert [e["type"] for e in receiver.events] == ["case.submitted"]
        # The cursor moved past the events it does not want; the new subscriber starts now.
        assert status(store, only_submissions.id).lag == 0
        assert status(store, from_now.id).lag == 0
        write(store, "C-2", range(1, 3))
        receiver.batches.clear()
        assert await deliver_due(store, http, now=later(2)) == 3  # one + two
        # An admin resets a cursor: the subscriber gets the feed again from there.
        assert subscribers.change(store, from_now.id, cursor=0, now=later(3))
        receiver.batches.clear()
        assert await deliver_due(store, http, now=later(3)) == 5
        assert [e["case_id"] for e in receiver.events] == ["C-1"] * 3 + ["C-2"] * 2
        # A disabled subscriber gets nothing.
        subscribers.change(store, only_submissions.id, active=False, now=later(4))
        write(store, "C-3", range(1, 2))
        receiver.batches.clear()
        assert await deliver_due(store, http, now=later(5)) == 1


def test_a_lease_that_ran_out_or_was_revoked_moves_nothing(store: Store) -> None:
    write(store, "C-1", range(1, 4))
    sub = subscribers.add(
        store, url="http://127.0.0.1:9/x", secret=SECRET, types=[], cursor=0, created_by="a", now=T0
    )
    first = subscribers.lease(store, sub.id, T0)
    assert first is not None
    assert subscribers.lease(store, sub.id, later(30)) is None  # held
    # The first worker stalls past its lease; a second one takes over and moves on.
    second = subscribers.lease(store, sub.id, later(61))
    assert second is not None
    assert subscribers.acknowledged(store, second, 3, later(62))
    # The stalled worker's report changes nothing, and it cannot give the lease away.
    assert not subscribers.acknowledged(store, first, 1, later(63))
    subscribers.release(store, first)
    assert subscribers.lease(store, sub.id, later(64)) is None
    assert status(store, sub.id).cursor == 3
    # An admin's change revokes the lease at once: the holder's next report is refused.
    subscribers.change(store, sub.id, url="http://127.0.0.1:10/y", now=later(65))
    assert not subscribers.acknowledged(
        store, second.model_copy(update={"cursor": 3}), 3, later(66)
    )
    third = subscribers.lease(store, sub.id, later(67))
    assert third is not None
    assert third.url == "http://127.0.0.1:10/y"
