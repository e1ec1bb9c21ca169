"""Pushing the event feed to external supervision systems (store.subscribers).

Each round, a worker leases the due subscribers and, for each, sends the events after its
cursor in feed order, in batches, until it has caught up or the receiver fails. A batch is a
JSON POST::

    {"subscriber": 3, "events": [{"id": 812, "case_id": …, "seq": …, "type": …, …}, …]}

signed with HMAC-SHA256 under the subscriber's secret over ``<timestamp>.<body>``
(``X-OneTrip-Timestamp``: Unix seconds; ``X-OneTrip-Signature: t=<timestamp>,sha256=<hex>``),
so a receiver can refuse a replayed old delivery. ``X-OneTrip-Delivery`` names the batch.
Only a 2xx answer moves the cursor: a receiver that is down gets the same batch again after a
backoff (5 s doubling, at most an hour), and nothing later before it. Delivery is at least
once (a receiver that took a batch but whose answer was lost gets it again): receivers drop
repeats by event id. Events of types a subscriber does not want are skipped, the cursor moving
past them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx
import structlog

from store import feed, queries, subscribers
from store.db import Store
from store.subscribers import Leased

log = structlog.get_logger("feed")

BATCH = 100
"""Events per request."""
ROUNDS = 50
"""Batches per subscriber per round, so that one far-behind subscriber does not starve the
others."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<timestamp>,sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},sha256={digest.hexdigest()}"


def _event(event_id: int, event: Any) -> dict[str, Any]:
    return {"id": event_id, **event.model_dump(mode="json")}


async def _deliver_one(
    store: Store, http: httpx.AsyncClient, leased: Leased, clock: Callable[[], dt.datetime]
) -> int:
    """Send what ``leased`` has not acknowledged; returns how many events it took. Stops as
    soon as the lease is no longer this worker's."""
    sent = 0
    for _ in range(ROUNDS):
        rows, after = await asyncio.to_thread(queries.events_after, store, leased.cursor, BATCH)
        if not rows:
            break
        wanted = [(i, e) for i, e in rows if not leased.types or e.type.value in leased.types]
        if wanted:
            try:
                await _post(http, leased, wanted)
            except Exception as error:  # down, slow, refusing: the same batch later
                reason = _redacted(str(error), leased.url)
                log.warning("feed not delivered", subscriber=leased.id, error=reason[:200])
                await asyncio.to_thread(subscribers.failed, store, leased, reason, clock())
                return sent
            sent += len(wanted)
        kept = await asyncio.to_thread(subscribers.acknowledged, store, leased, after, clock())
        if not kept:
            log.info("feed lease lost; another worker or a change takes over", subscriber=leased.id)
            return sent
        leased = leased.model_copy(update={"cursor": after, "failures": 0})
        if len(rows) < BATCH:
            break
    await asyncio.to_thread(subscribers.release, store, leased)
    return sent


def _redacted(text: str, url: str) -> str:
    """An error as it may be shown and stored: without credentials the URL may carry."""
    parts = httpx.URL(url)
    if parts.userinfo:
        text = text.replace(parts.userinfo.decode(errors="replace"), "***")
    return text


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _post(http: httpx.AsyncClient, leased: Leased, events: list[tuple[int, Any]]) -> None:
    body = json.dumps(
        {"subscriber": leased.id, "events": [_event(i, e) for i, e in events]},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    timestamp = int(dt.datetime.now(dt.UTC).timestamp())
    response = await http.post(
        leased.url,
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-OneTrip-Timestamp": str(timestamp),
            "X-OneTrip-Signature": sign(leased.secret, timestamp, body),
            "X-OneTrip-Delivery": f"{leased.id}-{events[0][0]}-{events[-1][0]}",
        },
    )
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"receiver answered {response.status_code}")


async def deliver_due(store: Store, http: httpx.AsyncClient, now: dt.datetime | None = None) -> int:
    """One round: every due subscriber, leased one at a time just before it is served, gets
    what it lacks; returns the events delivered. ``now`` stands still for the whole round
    (tests); otherwise each step reads the clock."""
    clock: Callable[[], dt.datetime] = (lambda: now) if now is not None else _now
    total = 0
    for subscriber_id in await asyncio.to_thread(subscribers.due, store, clock()):
        leased = await asyncio.to_thread(subscribers.lease, store, subscriber_id, clock())
        if leased is not None:
            total += await _deliver_one(store, http, leased, clock)
    return total


REQUEST_SECONDS = 10.0
"""How long a receiver may take to answer a batch (well within the lease)."""


async def keep_sequencing(store: Store, idle: float = 0.2) -> None:
    """Give committed events their feed positions as they come (store.feed; PostgreSQL only,
    where writers leave it to sequencers), so that readers find a short backlog. Runs until
    cancelled; passes follow each other at once while there is a backlog."""
    if store.dialect != "postgresql":
        return
    while True:
        try:
            numbered = await asyncio.to_thread(feed.sequence, store)
        except Exception as error:  # the store may be down for a while: try again later
            log.warning("feed sequencing failed", error=str(error)[:200])
            numbered = 0
        if numbered < feed.BATCH:
            await asyncio.sleep(idle)


async def keep_delivering(store: Store, every: float) -> None:
    """Deliver every ``every`` seconds (runs until cancelled)."""
    async with httpx.AsyncClient(timeout=REQUEST_SECONDS) as http:
        while True:
            try:
                await deliver_due(store, http)
            except Exception as error:  # the store may be down for a while: try again later
                log.warning("feed round failed", error=str(error)[:200])
            await asyncio.sleep(every)
