"""The demo's history: cases run offline by the engine's rules, written by the store's writer."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from activities.clock import Calendars
from definitions.calendar import SHANGHAI
from definitions.versioning import snapshot
from evaluation.figures import figures
from evaluation.periods import Period
from services.history import OFFICE, later, write_history
from store import followups, outbox, queries
from store.db import Store
from store.writes import publish_catalog
from tests.fixtures_temporal import catalog
from workflows.contracts import FOLLOWUP_SEQ, TERMINAL_STATES, CaseState

END = dt.datetime(2026, 11, 22, 4, tzinfo=dt.UTC)
NATIONAL = Calendars().get("national")


def snapshots() -> list:  # type: ignore[type-arg]
    cat = catalog()
    return [snapshot(cat, p) for p in cat.latest_procedures()]


def test_a_half_year_of_closed_cases_as_the_engine_records_them(store: Store) -> None:
    publish_catalog(store, catalog())
    written = write_history(store, snapshots(), Calendars(), end=END, cases=40, seed=3)
    assert written.cases + written.skipped == 40
    assert written.cases >= 35
    found, _ = queries.find_cases(store, queries.CaseFilter(text="demo-h-"), limit=200)
    assert len(found) == written.cases
    for case, _ in found:
        assert case.state in TERMINAL_STATES
        assert END - dt.timedelta(days=183) <= case.submitted_at <= END - dt.timedelta(days=30)
        timeline = queries.timeline(store, case.id)
        seqs = [e.seq for e in timeline if e.seq < FOLLOWUP_SEQ]
        assert seqs == list(range(1, len(seqs) + 1))
        assert case.last_seq == seqs[-1]
        # Each bad rating's follow-up numbers its events on from its own base.
        for f in followups.of_case(store, case.id):
            base = FOLLOWUP_SEQ * f.rating_seq
            own = [e.seq - base for e in timeline if base < e.seq < base + FOLLOWUP_SEQ]
            assert own == list(range(1, len(own) + 1))
            assert f.last_seq == base + own[-1]
    # Nobody is told about history.
    assert outbox.counts(store) == {}
    # Enough happened for every kind of figure to show something.
    [group] = figures(store, Period.parse("2026"), "all", Calendars().get).groups
    f = group.figures
    assert f["received"] == written.cases
    assert f["approved"] > 0
    assert f["days_used"] is not None
    assert f["rated"] > 0
    assert 0 < f["online_rate"] < 1
    assert f["followups"] > 0
    assert f["callback_rate"] is not None


def test_the_same_seed_writes_the_same_history(store: Store, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures_store import make_sqlite_store

    other = make_sqlite_store(tmp_path_factory.mktemp("again"))
    try:
        for target in (store, other):
            publish_catalog(target, catalog())
            write_history(target, snapshots(), Calendars(), end=END, cases=10, seed=5)

        def states(target: Store) -> list[tuple[str, CaseState, int]]:
            found, _ = queries.find_cases(target, queries.CaseFilter(text="demo-h-"), limit=50)
            return sorted((c.id, c.state, c.last_seq) for c, _ in found)

        assert states(store) == states(other)
    finally:
        other.dispose()


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2026, 12, 20)),
    st.floats(0, 20, allow_nan=False),
)
def test_office_time_passes_only_on_working_days_in_office_hours(
    start: dt.datetime, days: float
) -> None:
    begin = start.replace(tzinfo=SHANGHAI)
    end = later(NATIONAL, begin, days).astimezone(SHANGHAI)
    assert end >= begin
    if days > 0:
        assert NATIONAL.is_working_day(end.date())
        assert dt.time(OFFICE[0]) <= end.time() <= dt.time(OFFICE[1])
