"""The supervision feed's order: every event gets its feed position once it has committed.

Writers append events without waiting for each other. An event's ``id`` comes from a
sequence drawn inside its transaction, so ids are neither gap-free (a rolled-back or
conflicting insert burns one) nor in commit order (a transaction that drew id 10 may commit
after the one that drew id 11): a consumer paging by id could read 11, move its cursor past
10, and never see 10. Taking one lock around every write would fix the order at the cost of
queueing every writer of every worker behind it.

Instead, positions are given after commit, by a sequencer (:func:`sequence`): it takes the
committed events that have no position yet, in id order, and numbers them on from the
highest position given so far, in one short transaction. Sequencers exclude each other with
a transaction-scoped advisory lock, and each starts from the previous one's committed
result, so positions are gap-free (1, 2, 3 …) and committed in increasing order: an event
committed late is simply numbered later, never behind a cursor a reader has already passed.
Consumers page by position (:func:`store.queries.events_after`). Only sequencers wait for
each other, never writers; a sequencing pass costs one index probe when nothing is pending.

Who sequences: on PostgreSQL every reader of the feed first (so an event committed before a
read is in it), and each worker in the background (:func:`worker.feed.keep_sequencing`), so
the backlog stays short. SQLite has one writer at a time anyway: there the writer numbers its
own events inside its transaction and readers never write.

This is the log-sequencer design of event stores that number events after the fact; the
alternative of paging by (transaction id, id) below ``pg_snapshot_xmin`` keeps no gap-free
number and holds every reader back behind the oldest transaction still running.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from store.db import StoreOrSession, transaction
from store.models import EventRecord

SEQUENCER_LOCK = 0x0E7E_0002
"""PostgreSQL advisory lock key that sequencers take (writers never take it)."""

BATCH = 10_000
"""Events numbered per sequencing pass at most: a pass stays short however far behind."""

_NUMBER = text(
    """
    WITH head AS (SELECT coalesce(max(position), 0) AS top FROM events),
    pending AS (
        SELECT id, row_number() OVER (ORDER BY id) AS n
        FROM (SELECT id FROM events WHERE position IS NULL ORDER BY id LIMIT :limit) AS q
    )
    UPDATE events SET position = head.top + pending.n
    FROM head, pending
    WHERE events.id = pending.id
    """
)


def number_pending(session: Session, limit: int = BATCH) -> int:
    """Number the committed events without a position, in id order, after the highest
    position so far; the caller holds the sequencer's exclusion (the advisory lock on
    PostgreSQL, the write lock on SQLite). Returns how many were numbered."""
    result = session.execute(_NUMBER, {"limit": limit})
    return int(getattr(result, "rowcount", 0) or 0)


def sequence(target: StoreOrSession, limit: int = BATCH) -> int:
    """One sequencing pass (see the module): returns how many events it numbered.

    On SQLite this is a no-op outside a writer's transaction: writers number their own
    events there.
    """
    with transaction(target) as session:
        if session.get_bind().dialect.name != "postgresql":
            return 0
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK})
        return number_pending(session, limit)


def pending(target: StoreOrSession) -> int:
    """Committed events still waiting for a position."""
    with transaction(target) as session:
        query = select(func.count()).select_from(EventRecord).where(EventRecord.position.is_(None))
        return int(session.scalar(query) or 0)


def head(target: StoreOrSession) -> int:
    """The position of the newest event committed so far (0: an empty feed); the pending
    ones are sequenced first."""
    with transaction(target) as session:
        sequence(session)
        return int(session.scalar(select(func.max(EventRecord.position))) or 0)


__all__ = ["BATCH", "SEQUENCER_LOCK", "head", "number_pending", "pending", "sequence"]
