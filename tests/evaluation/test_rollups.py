"""The figures kept as month tallies add up to what the cases give when measured afresh.

Cases are written as the engine writes them (services.history), some first half-way and
later whole, so that the projection has to take a case's old measure out before putting its
new one in; a calendar year published later changes closed cases' working days; a step that
fails half-way leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from typing import Any

import pytest
from sqlalchemy import func, select

from activities.clock import Calendars
from definitions.models import CalendarYear
from definitions.versioning import ProcedureSnapshot, snapshot
from evaluation import rollups
from evaluation.facts import cohort, department_names
from evaluation.figures import as_data, compute, figures
from evaluation.periods import Period
from evaluation.reengineering import achieved, achieved_in, newest_snapshots
from evaluation.tally import Spread
from services.calendars import record_year
from services.history import run_case
from store.db import Store
from store.models import CaseMeasureRecord, FigureTallyRecord
from store.queries import CaseFilter, count_cases
from store.writes import publish_catalog, record
from tests.fixtures_temporal import catalog
from workflows.contracts import CaseState, RecordInput, TaskState

PERIOD = Period.parse("2026H1")
START = dt.datetime(2026, 1, 5, 1, 30, tzinfo=dt.UTC)


def same(a: Any, b: Any, where: str = "") -> None:
    """Equal, floats to 1e-9."""
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), where
    elif isinstance(a, dict):
        assert isinstance(b, dict), where
        assert sorted(a) == sorted(b), where
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list), where
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def snapshots() -> list[ProcedureSnapshot]:
    cat = catalog()
    return [snapshot(cat, p) for p in cat.latest_procedures()]


def cases(count: int, seed: int) -> list[RecordInput]:
    """Cases run to their end by the rules, submitted over the half year."""
    rng = random.Random(seed)
    calendars = Calendars()
    snaps = snapshots()
    out = []
    for i in range(count):
        submitted = START + dt.timedelta(days=rng.randrange(0, 150), hours=rng.randrange(0, 8))
        case = run_case(snaps[i % len(snaps)], f"R{seed}-{i:03d}", submitted, rng, calendars, i)
        out.append(case.record())
    return out


def half_way(data: RecordInput) -> RecordInput:
    """The same case as it stood half-way: early events only, nothing decided yet."""
    events = data.events[: max(1, len(data.events) // 2)]
    seq = events[-1].seq
    return RecordInput(
        events=events,
        case=data.case.model_copy(
            update={
                "last_seq": seq,
                "state": CaseState.in_progress,
                "decided_at": None,
                "delivered_at": None,
                "closed_at": None,
                "rating": None,
                "overdue": False,
            }
        ),
        tasks=[
            t.model_copy(
                update={
                    "last_seq": seq,
                    "state": TaskState.open,
                    "claimed_at": None,
                    "decided_at": None,
                }
            )
            for t in data.tasks
        ],
        sanitize=True,
    )


def agree(store: Store, calendars: Calendars) -> None:
    """Every grouping of the stored tallies equals the cases measured afresh."""
    names = department_names(store)
    for by in ("all", "procedure", "department", "brand"):
        stored = figures(store, PERIOD, by, calendars.get, names)  # type: ignore[arg-type]
        fresh = compute(cohort(store, PERIOD), PERIOD, by, calendars.get, names)  # type: ignore[arg-type]
        same(as_data(stored), as_data(fresh), by)
    # The case finder's counts by state, from the tallies, are the cases' own.
    for procedure in (None, *(s.code for s in snapshots())):
        assert rollups.state_counts(store, procedure) == count_cases(
            store, CaseFilter(procedure=procedure)
        )
    stored_achieved = achieved_in(store, PERIOD, calendars.get)
    newest = newest_snapshots(store, rollups.period_tallies(store, PERIOD, ["procedure"]))
    fresh_achieved = achieved(list(cohort(store, PERIOD)), newest, calendars.get)
    assert [a.code for a in stored_achieved] == [a.code for a in fresh_achieved]
    for x, y in zip(stored_achieved, fresh_achieved, strict=True):
        same(
            [x.cases, x.decided, _plain(x.days), x.on_time_rate, x.trips_mean],
            [y.cases, y.decided, _plain(y.days), y.on_time_rate, y.trips_mean],
            x.code,
        )
        same(
            [[s.stage_key, s.department, s.tasks, _plain(s.waiting)] for s in x.stages],
            [[s.stage_key, s.department, s.tasks, _plain(s.waiting)] for s in y.stages],
            x.code,
        )


def _plain(value: Spread | None) -> list[float] | None:
    return None if value is None else [value.n, value.mean, value.p50, value.p90]


def test_cases_changing_after_they_were_counted_add_up_to_a_fresh_count(store: Store) -> None:
    publish_catalog(store, catalog())
    calendars = Calendars()
    first, second = cases(12, seed=1), cases(12, seed=2)
    for data in first:
        record(store, half_way(data), notify=False)
    agree(store, calendars)  # counted half-way
    for data in first + second:
        record(store, data, notify=False)
    agree(store, calendars)  # the first dozen counted again, whole
    with store.session() as session:
        measured = session.scalar(select(func.count()).select_from(CaseMeasureRecord))
    assert measured == 24
    [group] = figures(store, PERIOD, "all", calendars.get).groups
    assert group.figures["received"] == 24
    assert group.figures["days_used"] is not None


def test_a_failed_step_leaves_the_tallies_as_they_were(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_catalog(store, catalog())
    calendars = Calendars()
    for data in cases(4, seed=3):
        record(store, data, notify=False)

    def broken(*args: Any) -> None:
        raise RuntimeError("the store went away")

    with monkeypatch.context() as patched:
        patched.setattr(rollups, "apply", broken)
        with pytest.raises(RuntimeError):
            rollups.catch_up(store, calendars.get)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(FigureTallyRecord)) == 0
        assert session.scalar(select(func.count()).select_from(CaseMeasureRecord)) == 0
    assert rollups.catch_up(store, calendars.get) == 4
    assert rollups.catch_up(store, calendars.get) == 0  # nothing twice
    agree(store, calendars)


def test_a_published_calendar_year_counts_closed_cases_again(store: Store) -> None:
    publish_catalog(store, catalog())
    calendars = Calendars(store=store)
    for data in cases(10, seed=4):
        record(store, data, notify=False)
    [before] = figures(store, PERIOD, "all", calendars.get).groups
    # Every weekday of March 2026 off: the cases that ran then used fewer working days.
    days = [dt.date(2026, 3, d) for d in range(2, 28) if dt.date(2026, 3, d).weekday() < 5]
    year = CalendarYear.model_validate(
        {
            "kind": "CalendarYear",
            "year": 2026,
            "source": "测试 / test",
            "holidays": [
                {"from": d.isoformat(), "to": d.isoformat(), "name": "测试"} for d in days
            ],
        }
    )
    publication = asyncio.run(record_year(store, year, base=[]))
    assert publication.changed
    with store.session() as session:
        stale = session.scalar(
            select(func.count()).select_from(CaseMeasureRecord).where(CaseMeasureRecord.stale)
        )
    assert stale
    calendars.refresh()
    [after] = figures(store, PERIOD, "all", calendars.get).groups
    assert after.figures["days_used"] != before.figures["days_used"]
    agree(store, calendars)


def test_the_report_names_the_oldest_overdue_cases_and_counts_them_all(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evaluation import report

    publish_catalog(store, catalog())
    calendars = Calendars()
    for data in cases(16, seed=5):
        late = data.case.model_copy(update={"overdue": True})
        record(store, data.model_copy(update={"case": late}), notify=False)
    monkeypatch.setattr(report, "OVERDUE_LISTED", 3)
    page = report.build(store, PERIOD, calendars.get, overdue_listed=3)
    assert page.overall.figures["overdue"] == 16
    assert len(page.overdue) == 3
    oldest = sorted(c.submitted_at for c in page.overdue)
    assert [c.submitted_at for c in page.overdue] == oldest
    text = report.html(page)
    assert "(16)" in text
    assert "完整名单见 CSV" in text
    whole = report.build(store, PERIOD, calendars.get, overdue_listed=None)
    assert len(report.tables(whole)["overdue"]) == 1 + 16
    assert {c.id for c in page.overdue} <= {c.id for c in whole.overdue}
    assert whole.overdue[:3] == page.overdue
