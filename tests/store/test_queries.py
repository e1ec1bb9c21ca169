"""Read-side queries: inboxes, supervision lists, timelines and the event feed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from store import queries
from store.db import Store
from store.queries import OPEN_CASES, CaseFilter
from store.writes import publish, record
from tests.store.factories import T0, case_row, event, procedure_snapshot, record_input, task_row
from workflows.contracts import (
    CaseState,
    Clock,
    ClockKind,
    ClockRow,
    EventType,
    RecordInput,
    TaskState,
)

DAY = dt.timedelta(days=1)


def test_procedures_latest_specific_and_listing(store: Store) -> None:
    assert queries.get_procedure(store, "YZ-YJS-KBQY") is None
    v1 = procedure_snapshot()
    n = v1.version
    procedure_v2 = v1.procedure.model_copy(update={"version": n + 1})
    v2 = v1.model_copy(update={"procedure": procedure_v2, "content_hash": "sha256:next"})
    publish(store, v1)
    publish(store, v2)

    assert queries.get_procedure(store, v1.code) == v2
    assert queries.get_procedure(store, v1.code, n) == v1
    assert queries.get_procedure(store, v1.code, n + 2) is None
    listing = queries.list_procedures(store)
    assert [(p.code, p.version, p.content_hash) for p in listing] == [
        (v1.code, n, v1.content_hash),
        (v1.code, n + 1, "sha256:next"),
    ]
    assert listing[0].name == v1.procedure.name
    assert listing[0].published_at.tzinfo is not None


def test_get_case_missing(store: Store) -> None:
    assert queries.get_case(store, "nope") is None
    assert queries.case_tasks(store, "nope") == []
    assert queries.timeline(store, "nope") == []
    assert queries.count_events(store, "nope") == 0


def test_inbox_order_filters_and_paging(store: Store) -> None:
    tasks = [
        task_row("C-1", "a", deadline_at=T0 + 3 * DAY),
        task_row("C-1", "b", deadline_at=None),
        task_row("C-1", "c", deadline_at=T0 + 1 * DAY, state=TaskState.claimed, assignee="u-1"),
        task_row("C-1", "d", deadline_at=T0 + 3 * DAY, created_at=T0 - DAY),
        task_row("C-1", "e", deadline_at=T0, state=TaskState.approved),
        task_row("C-1", "f", deadline_at=T0, department="YZ-SWJ"),
        task_row("C-1", "g", deadline_at=None, created_at=T0 - DAY),
    ]
    record(store, record_input("C-1", range(1, 2), tasks=tasks))

    keys = [t.task_key for t in queries.inbox(store, "YZ-SCJ")]
    assert keys == ["c", "d", "a", "g", "b"]
    assert [t.task_key for t in queries.inbox(store, "YZ-SWJ")] == ["f"]
    assert [t.task_key for t in queries.inbox(store, "YZ-SCJ", assignee="u-1")] == ["c"]
    assert [t.task_key for t in queries.inbox(store, "YZ-SCJ", states=["approved"])] == ["e"]
    assert queries.inbox(store, "YZ-OTHER") == []
    # Keyset pages of two: each page continues after the previous page's last row, through
    # the tasks with a deadline into those without one.
    pages: list[list[str]] = []
    after = None
    while True:
        page = queries.inbox(store, "YZ-SCJ", limit=2, after=after)
        if not page:
            break
        pages.append([t.task_key for t in page])
        after = queries.task_key(page[-1])
    assert pages == [["c", "d"], ["a", "g"], ["b"]]


def test_overdue_and_warning_lists(store: Store) -> None:
    record(
        store,
        record_input(
            "C-1",
            range(1, 2),
            procedure_code="P-1",
            overdue=True,
            tasks=[
                task_row("C-1", "late", overdue=True, warned=True, deadline_at=T0),
                task_row("C-1", "warn", warned=True, deadline_at=T0 + DAY),
                task_row("C-1", "done", overdue=True, state=TaskState.approved),
                task_row("C-1", "ok"),
            ],
        ),
    )
    record(
        store,
        record_input(
            "C-2",
            range(1, 2),
            procedure_code="P-2",
            overdue=True,
            tasks=[
                task_row("C-2", "late", overdue=True, department="YZ-SWJ", deadline_at=T0 - DAY),
                task_row("C-2", "warn", warned=True, state=TaskState.claimed, department="YZ-SWJ"),
            ],
        ),
    )
    record(store, record_input("C-3", range(1, 2), overdue=True, state=CaseState.completed))

    assert [t.id for t in queries.overdue_tasks(store)] == ["C-2/late", "C-1/late"]
    assert [t.id for t in queries.overdue_tasks(store, department="YZ-SCJ")] == ["C-1/late"]
    assert [t.id for t in queries.overdue_tasks(store, procedure="P-2")] == ["C-2/late"]
    assert [t.id for t in queries.warning_tasks(store)] == ["C-1/warn", "C-2/warn"]
    assert [t.id for t in queries.warning_tasks(store, department="YZ-SWJ")] == ["C-2/warn"]
    assert [t.id for t in queries.warning_tasks(store, procedure="P-1")] == ["C-1/warn"]
    # A page of one, then the next after it; deadlines from a given instant.
    [first] = queries.overdue_tasks(store, limit=1)
    after = queries.task_key(first)
    assert [t.id for t in queries.overdue_tasks(store, limit=1, after=after)] == ["C-1/late"]
    assert [t.id for t in queries.overdue_tasks(store, since=T0)] == ["C-1/late"]
    assert [t.id for t in queries.overdue_tasks(store, until=T0)] == ["C-2/late"]
    assert queries.flagged_counts(store) == {
        "YZ-SCJ": {"warning": 1, "overdue": 1},
        "YZ-SWJ": {"warning": 1, "overdue": 1},
    }

    def overdue(**criteria: str) -> list[str]:
        found = CaseFilter(states=OPEN_CASES, overdue=True, **criteria)
        return [c.id for c, _ in queries.find_cases(store, found, sort="deadline")[0]]

    assert overdue() == ["C-1", "C-2"]  # C-3 is closed
    assert overdue(department="YZ-SWJ") == ["C-2"]
    assert overdue(procedure="P-1") == ["C-1"]


def test_timeline_is_in_seq_order(store: Store) -> None:
    record(store, record_input("C-1", range(4, 6)))
    record(
        store,
        RecordInput(
            events=[event("C-1", 3), event("C-1", 1), event("C-1", 2)], case=record_input().case
        ),
    )
    timeline = queries.timeline(store, "C-1")
    assert [e.seq for e in timeline] == [1, 2, 3, 4, 5]
    assert timeline[0] == event("C-1", 1)
    assert queries.count_events(store, "C-1") == 5


def test_events_after_pages_over_two_cases(store: Store) -> None:
    record(store, record_input("C-1", range(1, 4)))
    record(store, record_input("C-2", range(1, 3)))
    record(store, record_input("C-1", range(4, 6)))

    seen: list[tuple[str, int]] = []
    cursor, pages = 0, 0
    while True:
        rows, next_cursor = queries.events_after(store, cursor, limit=3)
        if not rows:
            assert next_cursor == cursor
            break
        ids = [i for i, _ in rows]
        assert ids == sorted(ids)
        assert ids[0] > cursor
        assert next_cursor == ids[-1]
        seen += [(e.case_id, e.seq) for _, e in rows]
        cursor, pages = next_cursor, pages + 1

    assert pages == 3
    assert seen == [
        ("C-1", 1),
        ("C-1", 2),
        ("C-1", 3),
        ("C-2", 1),
        ("C-2", 2),
        ("C-1", 4),
        ("C-1", 5),
    ]

    record(store, record_input("C-2", range(3, 4)))
    rows, after = queries.events_after(store, cursor)
    assert [(e.case_id, e.seq) for _, e in rows] == [("C-2", 3)]
    assert after > cursor


def test_cases_to_recalculate_take_suspended_provisional_and_late_clocks(store: Store) -> None:
    def clock(case_id: str, status: Clock, due: dt.date, provisional: bool = False) -> ClockRow:
        return ClockRow(
            id=f"{case_id}/case",
            case_id=case_id,
            key="case",
            kind=ClockKind.case,
            status=status,
            start=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
            days=3,
            due_date=due,
            provisional=provisional,
            last_seq=1,
        )

    soon = dt.date(2026, 11, 25)
    for case_id, row in [
        ("C-RUNNING", clock("C-RUNNING", Clock.running, soon)),
        ("C-SUSPENDED", clock("C-SUSPENDED", Clock.suspended, soon)),
        ("C-PROVISIONAL", clock("C-PROVISIONAL", Clock.running, soon, provisional=True)),
        ("C-LATE", clock("C-LATE", Clock.running, dt.date(2027, 2, 1))),
        ("C-ENDED", clock("C-ENDED", Clock.ended, dt.date(2027, 2, 1))),
    ]:
        record(store, RecordInput(events=[event(case_id, 1)], case=case_row(case_id), clocks=[row]))
    found = queries.cases_to_recalculate(store, dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    assert found == ["C-LATE", "C-PROVISIONAL", "C-SUSPENDED"]


def test_moves_of_a_revision_are_those_the_calendar_caused(store: Store) -> None:
    def moved(seq: int, reason: str, revision: int) -> Any:
        return event(
            "C-1",
            seq,
            type=EventType.deadline_moved,
            payload={"clock": "case", "reason": reason, "revision": revision},
        )

    events = [moved(1, "calendar", 3), moved(2, "resumed", 3), moved(3, "calendar", 4)]
    record(store, RecordInput(events=events, case=case_row("C-1", last_seq=3)))
    assert [e.seq for e in queries.moved_by_revision(store, 3)] == [1]
