"""The feed under concurrent writers: every event read exactly once, positions gap-free.

Writers commit in whatever order the database lets them, while readers page the feed all the
time; whatever the interleaving, a reader paging by cursor must never skip an event that
commits late, never see one twice, and positions must be 1, 2, 3 … in the order read.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from store import feed, queries
from store.db import Store
from store.writes import record
from tests.fixtures_store import clear
from tests.store.factories import record_input
from workflows.contracts import RecordInput

WRITERS = 8
CASES_PER_WRITER = 12
BATCHES_PER_CASE = 3
EVENTS_PER_BATCH = 4


def _batches(case_id: str) -> list[RecordInput]:
    out = []
    for b in range(BATCHES_PER_CASE):
        seqs = range(b * EVENTS_PER_BATCH + 1, (b + 1) * EVENTS_PER_BATCH + 1)
        out.append(record_input(case_id, seqs))
    return out


class Reader:
    """Pages the feed until told to stop, then once more to the end; keeps what it read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.read: list[tuple[int, str, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        cursor = 0
        final = False
        while True:
            rows, cursor = queries.events_after(self.store, cursor, limit=7)
            self.read += [(position, e.case_id, e.seq) for position, e in rows]
            if rows:
                continue
            if final:
                return
            final = self.stop.is_set()


def test_concurrent_writers_and_readers_each_event_read_once(store: Store) -> None:
    readers = [Reader(store), Reader(store)]
    threads = [threading.Thread(target=r.run) for r in readers]
    for t in threads:
        t.start()

    def write(writer: int) -> int:
        written = 0
        for n in range(CASES_PER_WRITER):
            for batch in _batches(f"W{writer}-C{n}"):
                written += record(store, batch).inserted
        return written

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        written = sum(pool.map(write, range(WRITERS)))
    for r in readers:
        r.stop.set()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive()

    expected = WRITERS * CASES_PER_WRITER * BATCHES_PER_CASE * EVENTS_PER_BATCH
    assert written == expected
    for r in readers:
        keys = [(case_id, seq) for _, case_id, seq in r.read]
        assert len(keys) == expected, "an event was skipped or read twice"
        assert len(set(keys)) == expected, "an event was read twice"
        assert [p for p, _, _ in r.read] == list(range(1, expected + 1)), "not gap-free"
        # Each case's events come in their own order: a case writes one batch after another.
        by_case: dict[str, list[int]] = {}
        for _, case_id, seq in r.read:
            by_case.setdefault(case_id, []).append(seq)
        assert all(seqs == sorted(seqs) for seqs in by_case.values())
    assert feed.pending(store) == 0
    assert feed.head(store) == expected


def test_rolled_back_and_repeated_writes_leave_no_gap(store: Store) -> None:
    record(store, record_input("C-1", range(1, 3)))

    def fails_after_inserting() -> None:
        with store.session() as session:
            record(session, record_input("C-2", range(1, 4)))
            raise RuntimeError("the transaction fails after inserting")

    with pytest.raises(RuntimeError):
        fails_after_inserting()
    record(store, record_input("C-1", range(1, 3)))  # a retried write: nothing new
    record(store, record_input("C-3", range(1, 2)))

    rows, end = queries.events_after(store, 0)
    assert [(p, e.case_id, e.seq) for p, e in rows] == [
        (1, "C-1", 1),
        (2, "C-1", 2),
        (3, "C-3", 1),
    ]
    assert end == 3


@pytest.mark.postgres
def test_sequencers_take_turns_and_number_on(postgres_store_url: str) -> None:
    """Two sequencers at once never give one position twice; the second numbers on from
    where the first ended, and an event committed meanwhile gets the next position."""
    store = Store(postgres_store_url)
    clear(store)
    record(store, record_input("C-1", range(1, 4)))
    with store.session() as first:
        assert feed.sequence(first) == 3
        # The second sequencer waits for the first one's lock, then numbers what is left.
        record(store, record_input("C-2", [1]))
        with ThreadPoolExecutor(max_workers=1) as pool:
            second = pool.submit(feed.sequence, store)
            with pytest.raises(TimeoutError):
                second.result(timeout=0.3)
            first.commit()
            assert second.result(timeout=10) == 1
    with store.session() as session:
        numbered = session.execute(
            text("SELECT case_id, seq, position FROM events ORDER BY position")
        ).all()
    store.dispose()
    assert [tuple(r) for r in numbered] == [
        ("C-1", 1, 1),
        ("C-1", 2, 2),
        ("C-1", 3, 3),
        ("C-2", 1, 4),
    ]
