"""The figures kept up to date: each case's measure and each month's tallies, read off the feed.

Figures over a half year of a city's cases cannot be worked out from the cases on every
request: the working days of each clock cost milliseconds a case. So the figures are a
projection of the event feed, as the case list is: the projector (:func:`catch_up`) reads the
feed after its cursor, measures every case whose events it finds (evaluation.measures) and
every case a newly published calendar year made stale (:func:`mark_stale`), and moves each
case's contribution in the month's tallies of its groups (evaluation.tally): the old measure
taken out, the new one put in — in one transaction with the new measure and the cursor, so a
crash half-way repeats the whole step and never counts a case twice. One projector runs at a
time (an advisory lock on PostgreSQL, the write lock on SQLite); workers run it in the
background and every reader of the figures catches up first, so figures include every event
committed before they were asked for.

A period's figures are then the sum of its months' tallies: a handful of rows whatever the
number of cases (:func:`period_tallies`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import Table, delete, select, text, update
from sqlalchemy.orm import Session

from definitions.calendar import SHANGHAI
from evaluation.facts import department_names, of_ids
from evaluation.measures import Calendars, Measure, measure
from evaluation.periods import Period
from evaluation.tally import GroupKey, Tally, contribute
from store import feed
from store.db import Store, StoreOrSession, transaction
from store.models import (
    Base,
    Case,
    CaseMeasureRecord,
    EventRecord,
    FigureTallyRecord,
    ProjectionRecord,
)
from store.writes import insert_statement

PROJECTION = "figures"
"""The projection's name in ``projections``."""
LOCK = 0x0E7E_0003
"""PostgreSQL advisory lock key held by the one projector at work."""
EVENTS_PER_STEP = 5000
"""Feed events read per step: a step measures their cases in one transaction."""
STALE_PER_STEP = 500
"""Cases a published calendar made stale, measured again per step."""

PROJECTIONS: Table = Base.metadata.tables["projections"]

MonthKey = tuple[str, str, str]
"""(kind, key, month) of one stored tally."""


def months(period: Period) -> list[str]:
    """The ``YYYY-MM`` months a period is made of."""
    out = []
    day = period.first
    while day < period.end:
        out.append(day.strftime("%Y-%m"))
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def brands_of(target: StoreOrSession) -> dict[str, str]:
    """Each department's service brand, as the newest published procedures name it."""
    return {code: brand for code, (_, brand) in department_names(target).items() if brand}


def catch_up(
    store: Store,
    calendars: Calendars,
    *,
    budget: float | None = None,
    refresh: Callable[[], object] | None = None,
) -> int:
    """Measure the cases the feed changed since the projection's cursor, and the stale ones,
    until none is left (or ``budget`` seconds have passed); returns how many were measured.

    ``refresh`` loads newly published calendar years first (a case is made stale because
    one was published: it must be measured with it).
    """
    if refresh is not None:
        refresh()
    feed.sequence(store)
    if not _behind(store):
        return 0  # nothing to do: no write, no lock
    known: list[dict[str, str]] = []

    def brands() -> dict[str, str]:
        if not known:  # read once per call, and only when there is a case to measure
            known.append(brands_of(store))
        return known[0]

    deadline = None if budget is None else time.monotonic() + budget
    total = 0
    while True:
        measured, more = step(store, calendars, brands)
        total += measured
        if not more or (deadline is not None and time.monotonic() > deadline):
            return total


def _behind(store: Store) -> bool:
    """Whether the feed holds events past the projection's cursor, or a case is stale (read
    only: an idle projector writes nothing)."""
    with store.session() as session:
        cursor = session.scalar(
            select(ProjectionRecord.cursor).where(ProjectionRecord.name == PROJECTION)
        )
        newer = session.scalar(
            select(EventRecord.position)
            .where(EventRecord.position > (cursor or 0))
            .order_by(EventRecord.position)
            .limit(1)
        )
        stale = session.scalar(
            select(CaseMeasureRecord.case_id).where(CaseMeasureRecord.stale).limit(1)
        )
    return newer is not None or stale is not None


def _claim(session: Session, now: dt.datetime) -> int:
    """Become the one projector at work; returns the cursor."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK})
    # The projection's row, made on first use; on SQLite this write also takes the write
    # lock before anything is read, so two projectors never read the same cursor.
    session.execute(
        insert_statement(session, PROJECTIONS)
        .values(name=PROJECTION, cursor=0, updated_at=now)
        .on_conflict_do_update(index_elements=["name"], set_={"updated_at": now})
    )
    cursor = session.scalar(
        select(ProjectionRecord.cursor).where(ProjectionRecord.name == PROJECTION)
    )
    return int(cursor or 0)


def step(
    store: Store, calendars: Calendars, brands: Callable[[], dict[str, str]]
) -> tuple[int, bool]:
    """One step of the projector in one transaction; returns (cases measured, more to do)."""
    now = dt.datetime.now(dt.UTC)
    with store.session() as session:
        cursor = _claim(session, now)
        events = session.execute(
            select(EventRecord.position, EventRecord.case_id)
            .where(EventRecord.position > cursor)
            .order_by(EventRecord.position)
            .limit(EVENTS_PER_STEP)
        ).all()
        stale = list(
            session.scalars(
                select(CaseMeasureRecord.case_id)
                .where(CaseMeasureRecord.stale)
                .limit(STALE_PER_STEP)
            )
        )
        ids = list(dict.fromkeys([*(case_id for _, case_id in events), *stale]))
        if ids:
            remeasure(session, ids, calendars, brands(), now)
        if events:
            session.execute(
                update(ProjectionRecord)
                .where(ProjectionRecord.name == PROJECTION)
                .values(cursor=int(events[-1][0] or cursor), updated_at=now)
            )
    return len(ids), len(events) == EVENTS_PER_STEP or len(stale) == STALE_PER_STEP


def remeasure(
    session: Session,
    ids: Sequence[str],
    calendars: Calendars,
    brands: dict[str, str],
    now: dt.datetime,
) -> None:
    """Measure these cases again and move their contributions in the month tallies."""
    old = {
        r.case_id: r
        for r in session.scalars(
            select(CaseMeasureRecord).where(CaseMeasureRecord.case_id.in_(list(ids)))
        )
    }
    deltas: dict[MonthKey, Tally] = {}
    for facts in of_ids(session, ids):
        m = measure(facts, calendars, brands)
        before = old.pop(facts.id, None)
        if before is not None:
            _move(deltas, Measure.model_validate(before.measure), -1)
            before.measure = m.model_dump(mode="json")
            before.month = m.month
            before.last_seq = facts.last_seq
            before.stale = False
            before.updated_at = now
        else:
            session.add(
                CaseMeasureRecord(
                    case_id=facts.id,
                    month=m.month,
                    measure=m.model_dump(mode="json"),
                    last_seq=facts.last_seq,
                    stale=False,
                    updated_at=now,
                )
            )
        _move(deltas, m, 1)
    for gone in old.values():  # no such case any more (retention): its figures go with it
        _move(deltas, Measure.model_validate(gone.measure), -1)
        session.delete(gone)
    apply(session, deltas, now)


def _move(deltas: dict[MonthKey, Tally], m: Measure, sign: int) -> None:
    month = m.month

    def into(group: GroupKey) -> Tally:
        where = (group[0], group[1], month)
        t = deltas.get(where)
        if t is None:
            t = deltas[where] = Tally()
        return t

    contribute(m, into, sign)


def apply(session: Session, deltas: dict[MonthKey, Tally], now: dt.datetime) -> None:
    """Add ``deltas`` to the stored month tallies; a tally that comes to nothing is removed."""
    touched = sorted({month for _, _, month in deltas})
    stored = {
        (r.kind, r.key, r.month): r
        for r in session.scalars(
            select(FigureTallyRecord).where(FigureTallyRecord.month.in_(touched))
        )
        if (r.kind, r.key, r.month) in deltas
    }
    for where, delta in sorted(deltas.items()):
        row = stored.get(where)
        t = Tally.from_json(row.tally) if row is not None else Tally()
        t.add(delta)
        t.prune()
        if t.empty:
            if row is not None:
                session.delete(row)
        elif row is not None:
            row.tally = t.to_json()
            row.updated_at = now
        else:
            kind, key, month = where
            session.add(
                FigureTallyRecord(
                    kind=kind, key=key, month=month, tally=t.to_json(), updated_at=now
                )
            )


def period_tallies(
    target: StoreOrSession, period: Period, kinds: Iterable[str], key: str | None = None
) -> dict[GroupKey, Tally]:
    """Each group's tally over the period (of one group when ``key`` is given): the sum of
    its months'."""
    total: dict[GroupKey, Tally] = {}
    query = select(FigureTallyRecord.kind, FigureTallyRecord.key, FigureTallyRecord.tally).where(
        FigureTallyRecord.kind.in_(list(kinds)),
        FigureTallyRecord.month.in_(months(period)),
    )
    if key is not None:
        query = query.where(FigureTallyRecord.key == key)
    with transaction(target) as session:
        rows = session.execute(query)
        for kind, key, tally in rows:
            total.setdefault((kind, key), Tally()).add(Tally.from_json(tally))
    return total


def state_counts(target: StoreOrSession, procedure: str | None = None) -> dict[str, int]:
    """How many cases there are in each state, all of them or one procedure's: the figures'
    month tallies added up over every month (a few dozen rows, however many cases), as far
    as the projection has read the feed (states with none are left out)."""
    query = select(FigureTallyRecord.tally)
    if procedure is None:
        query = query.where(FigureTallyRecord.kind == "all")
    else:
        query = query.where(
            FigureTallyRecord.kind == "procedure", FigureTallyRecord.key == procedure
        )
    counts: dict[str, int] = {}
    with transaction(target) as session:
        for (tally,) in session.execute(query):
            for key, n in (tally.get("n") or {}).items():
                if key.startswith("state:") and n:
                    state = key[len("state:") :]
                    counts[state] = counts.get(state, 0) + int(n)
    return {state: n for state, n in sorted(counts.items()) if n}


def mark_stale(target: StoreOrSession, first: dt.date, last: dt.date) -> int:
    """Mark for measuring again every case that ran on a day from ``first`` to ``last``
    (Asia/Shanghai; a calendar year was published for them); returns how many."""
    start = dt.datetime.combine(first, dt.time(), SHANGHAI)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), SHANGHAI)
    ran = select(Case.id).where(
        Case.submitted_at < end, (Case.closed_at.is_(None)) | (Case.closed_at >= start)
    )
    with transaction(target) as session:
        result = session.execute(
            update(CaseMeasureRecord)
            .where(CaseMeasureRecord.case_id.in_(ran), CaseMeasureRecord.stale.is_(False))
            .values(stale=True)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def rebuild(store: Store, chunk: int = 20_000) -> int:
    """Add up every month tally again from the stored measures (after a bulk load, or to
    repair); returns how many measures were read."""
    totals: dict[MonthKey, Tally] = {}
    seen = 0
    last = ""
    while True:
        with store.session() as session:
            rows = session.execute(
                select(CaseMeasureRecord.case_id, CaseMeasureRecord.measure)
                .where(CaseMeasureRecord.case_id > last)
                .order_by(CaseMeasureRecord.case_id)
                .limit(chunk)
            ).all()
        if not rows:
            break
        for case_id, data in rows:
            _move(totals, Measure.model_validate(data), 1)
            last = case_id
        seen += len(rows)
    for t in totals.values():
        t.prune()
    now = dt.datetime.now(dt.UTC)
    with store.session() as session:
        session.execute(delete(FigureTallyRecord))
        session.add_all(
            FigureTallyRecord(kind=kind, key=key, month=month, tally=t.to_json(), updated_at=now)
            for (kind, key, month), t in sorted(totals.items())
            if not t.empty
        )
    return seen


__all__ = [
    "PROJECTION",
    "apply",
    "brands_of",
    "catch_up",
    "mark_stale",
    "months",
    "period_tallies",
    "rebuild",
    "remeasure",
    "state_counts",
    "step",
]
