"""External supervision systems subscribed to the event feed (推送): where, what, how far.

A subscriber is a URL with a shared secret, the event types it wants (none: every type) and
a cursor: the feed position of the last event it has acknowledged. Deliveries send the events after
the cursor in feed order, and the cursor only moves when the receiver answers 2xx, so nothing
is skipped and nothing arrives out of order; a batch that failed is sent again, whole, later
(at least once: receivers drop repeats by feed position, the events' ``id``). A lease keeps two workers from sending
to one subscriber at the same time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import or_, select, update

from store import feed
from store.db import StoreOrSession, transaction
from store.models import Subscriber

LEASE_SECONDS = 60
"""How long a worker owns a subscriber's delivery; longer than a batch's request timeout."""
MAX_BACKOFF = dt.timedelta(hours=1)


class SubscriberRow(BaseModel):
    """A subscriber as admins read it (the secret is never shown again)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    types: list[str]
    active: bool
    cursor: int
    """The feed position of the last event the receiver acknowledged."""
    created_at: dt.datetime
    created_by: str | None = None
    delivered_at: dt.datetime | None = None
    failures: int = 0
    """Failed attempts since the last success."""
    last_error: str | None = None
    next_attempt_at: dt.datetime


class SubscriberStatus(SubscriberRow):
    lag: int
    """How many feed events exist after the cursor (of any type): 0 when caught up."""


class Leased(BaseModel):
    """A subscriber a worker delivers to now, with its secret."""

    id: int
    url: str
    secret: str
    types: list[str]
    cursor: int
    failures: int
    token: str


def backoff(failures: int) -> dt.timedelta:
    """5 s doubling per failure, at most an hour: a receiver down for a day is tried every
    hour, and never given up (an external supervision system must get every event)."""
    return min(dt.timedelta(seconds=5 * 2 ** min(failures, 20)), MAX_BACKOFF)


def add(
    target: StoreOrSession,
    *,
    url: str,
    secret: str,
    types: Sequence[str],
    cursor: int | None,
    created_by: str | None,
    now: dt.datetime,
) -> SubscriberRow:
    """Register a subscriber; ``cursor`` None starts after the newest event (only what
    happens from now on), 0 from the feed's beginning."""
    with transaction(target) as session:
        start = cursor
        if start is None:
            start = feed.head(session)
        row = Subscriber(
            url=url,
            secret=secret,
            types=list(types),
            active=True,
            cursor=start,
            created_at=now,
            created_by=created_by,
            failures=0,
            next_attempt_at=now,
        )
        session.add(row)
        session.flush()
        return SubscriberRow.model_validate(row)


def _status(row: Subscriber, newest: int) -> SubscriberStatus:
    return SubscriberStatus.model_validate(
        {**SubscriberRow.model_validate(row).model_dump(), "lag": max(0, newest - row.cursor)}
    )


def all_status(target: StoreOrSession) -> list[SubscriberStatus]:
    with transaction(target) as session:
        newest = feed.head(session)
        rows = session.scalars(select(Subscriber).order_by(Subscriber.id))
        return [_status(r, newest) for r in rows]


def status(target: StoreOrSession, subscriber_id: int) -> SubscriberStatus | None:
    with transaction(target) as session:
        row = session.get(Subscriber, subscriber_id)
        if row is None:
            return None
        newest = feed.head(session)
        return _status(row, newest)


def change(
    target: StoreOrSession,
    subscriber_id: int,
    *,
    now: dt.datetime,
    url: str | None = None,
    secret: str | None = None,
    types: Sequence[str] | None = None,
    active: bool | None = None,
    cursor: int | None = None,
) -> bool:
    """Edit a subscriber; a new cursor resumes delivery from there (events after it), at
    once. False if there is no such subscriber."""
    values: dict[str, object] = {}
    if url is not None:
        values["url"] = url
    if secret is not None:
        values["secret"] = secret
    if types is not None:
        values["types"] = list(types)
    if active is not None:
        values["active"] = active
    if cursor is not None:
        values["cursor"] = cursor
    if values:
        # Whatever changed, the next attempt is now, past failures no longer count, and a
        # worker delivering under the old settings loses its lease at its next report.
        values |= {"next_attempt_at": now, "failures": 0, "lease_until": None, "lease_token": None}
    with transaction(target) as session:
        if session.get(Subscriber, subscriber_id) is None:
            return False
        if values:
            session.execute(
                update(Subscriber).where(Subscriber.id == subscriber_id).values(**values)
            )
        return True


def remove(target: StoreOrSession, subscriber_id: int) -> bool:
    with transaction(target) as session:
        row = session.get(Subscriber, subscriber_id)
        if row is None:
            return False
        session.delete(row)
        return True


def due(target: StoreOrSession, now: dt.datetime) -> list[int]:
    """Active subscribers whose next attempt is due and that nobody holds."""
    query = (
        select(Subscriber.id)
        .where(
            Subscriber.active.is_(True),
            Subscriber.next_attempt_at <= now,
            or_(Subscriber.lease_until.is_(None), Subscriber.lease_until < now),
        )
        .order_by(Subscriber.id)
    )
    with transaction(target) as session:
        return list(session.scalars(query))


def lease(target: StoreOrSession, subscriber_id: int, now: dt.datetime) -> Leased | None:
    """Hold one subscriber for ``LEASE_SECONDS`` (each acknowledged batch renews it), reading
    its URL, secret, types and cursor as they are now; None if someone else holds it."""
    token = uuid.uuid4().hex
    with transaction(target) as session:
        won = session.execute(
            update(Subscriber)
            .where(
                Subscriber.id == subscriber_id,
                Subscriber.active.is_(True),
                or_(Subscriber.lease_until.is_(None), Subscriber.lease_until < now),
            )
            .values(lease_until=now + dt.timedelta(seconds=LEASE_SECONDS), lease_token=token)
        )
        if not won.rowcount:  # type: ignore[attr-defined]
            return None
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        session.refresh(row)
        return Leased(
            id=row.id,
            url=row.url,
            secret=row.secret,
            types=list(row.types),
            cursor=row.cursor,
            failures=row.failures,
            token=token,
        )


def _held(leased: Leased) -> Any:
    return (Subscriber.id == leased.id) & (Subscriber.lease_token == leased.token)


def acknowledged(target: StoreOrSession, leased: Leased, cursor: int, now: dt.datetime) -> bool:
    """The receiver took everything up to ``cursor``: move on and renew the lease. False when
    the lease is no longer this worker's (it ran out, or an admin changed the subscriber) or
    the cursor moved meanwhile: the worker stops, and nothing is overwritten."""
    with transaction(target) as session:
        done = session.execute(
            update(Subscriber)
            .where(_held(leased), Subscriber.cursor == leased.cursor)
            .values(
                cursor=cursor,
                failures=0,
                last_error=None,
                delivered_at=now,
                lease_until=now + dt.timedelta(seconds=LEASE_SECONDS),
            )
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]


def release(target: StoreOrSession, leased: Leased) -> None:
    """Give the lease back (caught up), if it is still this worker's."""
    with transaction(target) as session:
        session.execute(
            update(Subscriber).where(_held(leased)).values(lease_until=None, lease_token=None)
        )


def failed(target: StoreOrSession, leased: Leased, error: str, now: dt.datetime) -> None:
    """The receiver did not take the batch: the same events are sent again after the
    backoff (if the lease is still this worker's; otherwise its holder decides)."""
    with transaction(target) as session:
        session.execute(
            update(Subscriber)
            .where(_held(leased))
            .values(
                failures=Subscriber.failures + 1,
                last_error=error[:500],
                next_attempt_at=now + backoff(leased.failures),
                lease_until=None,
                lease_token=None,
            )
        )
