"""record() and publish(): idempotent, ordered by last_seq, all-or-nothing."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor, wait

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from definitions.validate import validate_paths
from definitions.versioning import snapshot
from store import queries
from store.db import Store
from store.writes import PublishConflict, publish, publish_catalog, record
from tests.conftest import CATALOG
from tests.store.factories import T0, event, procedure_snapshot, record_input, task_row
from workflows.contracts import CaseState, RecordInput, TaskRow, TaskState


def test_record_twice_inserts_events_once(store: Store) -> None:
    data = record_input("C-1", range(1, 4), tasks=[task_row("C-1", "review", last_seq=3)])

    assert record(store, data).inserted == 3
    assert record(store, data).inserted == 0

    assert queries.count_events(store, "C-1") == 3
    assert [e.seq for e in queries.timeline(store, "C-1")] == [1, 2, 3]
    assert queries.get_case(store, "C-1") == data.case
    assert queries.case_tasks(store, "C-1") == data.tasks


def test_record_in_a_callers_session(store: Store) -> None:
    data = record_input("C-1", range(1, 3))
    with store.session() as session:
        assert record(session, data).inserted == 2
        assert queries.count_events(session, "C-1") == 2
    assert queries.get_case(store, "C-1") == data.case


def test_older_write_after_newer_keeps_newer_rows_but_adds_its_events(store: Store) -> None:
    newer = RecordInput(
        events=[event("C-1", 1), event("C-1", 4), event("C-1", 5)],
        case=record_input("C-1", range(1, 6), state=CaseState.in_progress).case,
        tasks=[task_row("C-1", "review", last_seq=5, state=TaskState.claimed, assignee="u-1")],
    )
    older = RecordInput(
        events=[event("C-1", s) for s in (1, 2, 3)],
        case=record_input("C-1", range(1, 4), state=CaseState.intake).case,
        tasks=[
            task_row("C-1", "review", last_seq=3, state=TaskState.open),
            task_row("C-1", "license", last_seq=3),
        ],
    )

    assert record(store, newer).inserted == 3
    assert record(store, older).inserted == 2  # seq 2 and 3 were missing

    assert [e.seq for e in queries.timeline(store, "C-1")] == [1, 2, 3, 4, 5]
    case = queries.get_case(store, "C-1")
    assert case is not None
    assert (case.state, case.last_seq) == (CaseState.in_progress, 5)
    tasks = {t.task_key: t for t in queries.case_tasks(store, "C-1")}
    assert (tasks["review"].state, tasks["review"].assignee) == (TaskState.claimed, "u-1")
    assert tasks["license"].last_seq == 3  # a row that did not exist is written


def test_newer_write_overwrites_and_equal_last_seq_does_not(store: Store) -> None:
    record(store, record_input("C-1", range(1, 3), state=CaseState.intake))
    same_seq = record_input("C-1", range(1, 3), state=CaseState.refused)
    record(store, same_seq)
    case = queries.get_case(store, "C-1")
    assert case is not None
    assert case.state == CaseState.intake

    record(store, record_input("C-1", range(3, 4), state=CaseState.in_progress))
    case = queries.get_case(store, "C-1")
    assert case is not None
    assert (case.state, case.last_seq) == (CaseState.in_progress, 3)


def test_same_seq_in_different_cases(store: Store) -> None:
    assert record(store, record_input("C-1", range(1, 3))).inserted == 2
    assert record(store, record_input("C-2", range(1, 3))).inserted == 2
    assert queries.count_events(store, "C-1") == queries.count_events(store, "C-2") == 2


def test_failure_mid_record_writes_nothing(store: Store) -> None:
    broken = TaskRow.model_construct(**(task_row("C-1", "bad").model_dump() | {"department": None}))
    data = RecordInput.model_construct(
        events=[event("C-1", s) for s in (1, 2)],
        case=record_input("C-1", range(1, 3)).case,
        tasks=[task_row("C-1", "good"), broken],
    )
    with pytest.raises(IntegrityError):
        record(store, data)

    assert queries.count_events(store, "C-1") == 0
    assert queries.get_case(store, "C-1") is None
    assert queries.case_tasks(store, "C-1") == []


def test_naive_datetime_is_refused(store: Store) -> None:
    data = record_input("C-1", range(1, 2))
    naive = data.model_copy(
        update={"case": data.case.model_copy(update={"submitted_at": T0.replace(tzinfo=None)})}
    )
    with pytest.raises(StatementError, match="naive datetime"):
        record(store, naive)
    assert queries.count_events(store, "C-1") == 0


def test_concurrent_records_of_different_cases(store: Store) -> None:
    def run(case: int) -> int:
        inserted = 0
        for last in range(1, 6):
            seqs = range(max(1, last - 1), last + 1)  # overlaps the previous call: a retry
            tasks = [task_row(f"C-{case}", "review", last_seq=last)]
            inserted += record(store, record_input(f"C-{case}", seqs, tasks=tasks)).inserted
        return inserted

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(run, range(12))) == [5] * 12

    rows, _ = queries.events_after(store, 0, limit=1000)
    assert len(rows) == 60
    for case in range(12):
        case_row = queries.get_case(store, f"C-{case}")
        assert case_row is not None
        assert case_row.last_seq == 5


def test_datetimes_round_trip_aware_utc(store: Store) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    local = dt.datetime(2026, 3, 2, 23, 59, 59, 123456, tzinfo=shanghai)
    data = RecordInput(
        events=[event("C-1", 1, at=local)],
        case=record_input(
            "C-1", range(1, 2), submitted_at=local, deadline_date=dt.date(2026, 3, 9)
        ).case,
        tasks=[task_row("C-1", "review", created_at=local, deadline_at=local)],
    )
    record(store, data)

    case = queries.get_case(store, "C-1")
    (task,) = queries.case_tasks(store, "C-1")
    (ev,) = queries.timeline(store, "C-1")
    for value in (case and case.submitted_at, task.created_at, task.deadline_at, ev.at):
        assert value == local
        assert isinstance(value, dt.datetime)
        assert value.tzinfo is not None
        assert value.utcoffset() == dt.timedelta(0)
        assert value.astimezone(dt.UTC).date() == dt.date(2026, 3, 2)
    assert case is not None
    assert case.deadline_date == dt.date(2026, 3, 9)


def test_publish_created_unchanged_conflict(store: Store) -> None:
    snap = procedure_snapshot()
    assert publish(store, snap) == "created"
    assert publish(store, snap) == "unchanged"

    other = snap.model_copy(update={"content_hash": "sha256:" + "0" * 64})
    with pytest.raises(PublishConflict) as caught:
        publish(store, other)
    message = str(caught.value)
    for part in (snap.code, str(snap.version), snap.content_hash, other.content_hash, "bump"):
        assert part in message
    assert "已发布" in message
    assert isinstance(caught.value, ValueError)
    assert queries.get_procedure(store, snap.code) == snap


def test_a_write_committed_late_is_read_after_never_skipped(store: Store) -> None:
    """A writer that inserted first but commits last does not hold the others back, and a
    reader that has already paged past the later writers' events still gets its events."""
    with store.session() as session:
        record(session, record_input("C-1", range(1, 3)))
        if store.dialect == "postgresql":
            # Writers do not wait for each other: the second commits while the first is open.
            assert record(store, record_input("C-2", range(1, 3))).inserted == 2
            rows, cursor = queries.events_after(store, 0)
            assert [(e.case_id, e.seq) for _, e in rows] == [("C-2", 1), ("C-2", 2)]
        else:
            # SQLite has one writer at a time: the second waits for the first to commit.
            with ThreadPoolExecutor(max_workers=1) as pool:
                later = pool.submit(record, store, record_input("C-2", range(1, 3)))
                done, _ = wait([later], timeout=0.3)
                assert not done
                assert queries.events_after(store, 0)[0] == []
                session.commit()
                assert later.result(timeout=10).inserted == 2
            rows, cursor = queries.events_after(store, 0, limit=2)
            assert [(e.case_id, e.seq) for _, e in rows] == [("C-1", 1), ("C-1", 2)]

    rest, end = queries.events_after(store, cursor)
    everything = rows + rest
    assert sorted((e.case_id, e.seq) for _, e in everything) == [
        ("C-1", 1),
        ("C-1", 2),
        ("C-2", 1),
        ("C-2", 2),
    ]
    # Positions are 1, 2, 3, 4: gap-free, in the order read.
    assert [position for position, _ in everything] == [1, 2, 3, 4]
    assert end == 4
    assert queries.events_after(store, end) == ([], end)


def test_a_catalog_is_published_whole_or_not_at_all(store: Store) -> None:
    catalog = validate_paths([CATALOG]).catalog
    startup = catalog.procedure("YZ-YJS-KBQY")
    newborn = catalog.procedure("YZ-YJS-XSECS")
    assert startup is not None
    assert newborn is not None
    other = snapshot(catalog, newborn).model_copy(update={"content_hash": "sha256:other"})
    publish(store, other)  # the same version with other content, published before
    with pytest.raises(PublishConflict):
        publish_catalog(store, catalog, [startup, newborn])
    assert queries.get_procedure(store, "YZ-YJS-KBQY") is None  # nothing half-published
    published = publish_catalog(store, catalog, [startup])
    assert [(s.code, outcome) for s, outcome in published] == [("YZ-YJS-KBQY", "created")]
