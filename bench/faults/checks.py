"""What a fault run proves afterwards, each check a count that a failure names.

- **Cases**: every case ended where its path ends, and recorded exactly the events a
  fault-free case of the same path records (``type`` and task, in order): none lost, none
  twice (clocks' cards raised in wall time are compared apart: each at most once). A store
  outage longer than the record activity's retries (about a minute) makes the case open
  a ``store_unavailable`` incident and resolve it with the write, by design: those two events
  are counted apart, and each such incident must have been resolved.
- **Feed**: ``GET /events`` paged to its end holds every stored event once, each
  case's events in their order; gaps between feed ids are counted (a hard failure with
  :data:`GAP_FREE_FEED`).
- **Nothing half-written**: each ``cases`` row reflects exactly its events (``last_seq`` =
  number of events = highest ``seq``), each case has the applicant's notifications of its path
  once, no workflow is left running.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from store.db import Store

GAP_FREE_FEED = True
"""Whether a gap between consecutive feed ids fails the run: each event's feed id is its
position, given after commit without gaps (store.feed), whatever retried or rolled-back
writes did to the table's own ids."""
OUTAGE_INCIDENTS_FAIL = True
"""Whether a ``store_unavailable`` incident fails the run. The case engine opens one on purpose
when a write outlasts the record activity's retries (about a minute), and resolves it with the
write; an outage as short as the run's (30 s) must leave no trace."""
OUTAGE_KIND = "store_unavailable"
TIMED = frozenset({"deadline.warning", "deadline.overdue", "deadline.escalated"})
"""Cards raised by a clock running out in wall time, not by an action: a 即办 task opened late
in a Shanghai evening is warned minutes later, whatever the faults. A fault-free case run
earlier cannot predict them, so they are compared apart: each at most once per clock."""

Sign = tuple[str, str | None]
"""What the check compares of an event: its type and its task."""


@dataclass
class Stored:
    """One case as the store holds it."""

    state: str
    last_seq: int
    open_incidents: int
    events: list[tuple[int, str, str | None, dict[str, Any]]] = field(default_factory=list)
    notifications: int = 0

    def signs(self) -> tuple[list[Sign], int]:
        """The events' signs without the outage incidents and the timed cards; how many
        outage incident events there were."""
        kept: list[Sign] = []
        outage = 0
        for _, kind, task, payload in self.events:
            if kind.startswith("incident.") and payload.get("kind") == OUTAGE_KIND:
                outage += 1
            elif kind not in TIMED:
                kept.append((kind, task))
        return kept, outage

    def cards(self) -> Counter[tuple[str, str]]:
        """The timed cards, by type and clock."""
        return Counter(
            (kind, str(payload.get("clock")))
            for _, kind, _, payload in self.events
            if kind in TIMED
        )


def read_store(store: Store, case_ids: list[str]) -> dict[str, Stored]:
    """The cases, their events and their notifications, in three queries."""
    wanted = set(case_ids)
    cases: dict[str, Stored] = {}
    with store.session() as session:
        for row in session.execute(text("SELECT id, state, last_seq, incidents FROM cases")):
            if row.id in wanted:
                cases[row.id] = Stored(row.state, row.last_seq, row.incidents)
        events = session.execute(
            text("SELECT case_id, seq, type, task_key, payload FROM events ORDER BY case_id, seq")
        )
        for row in events:
            if row.case_id in cases:
                cases[row.case_id].events.append((row.seq, row.type, row.task_key, row.payload))
        notes = session.execute(text("SELECT case_id, count(*) AS n FROM notifications GROUP BY 1"))
        for row in notes:
            if row.case_id in cases:
                cases[row.case_id].notifications = row.n
    return cases


@dataclass
class CaseFindings:
    total: int = 0
    ended: Counter[str] = field(default_factory=Counter)
    matching: int = 0
    lost: int = 0
    """Events a fault-free case of the path has and this one lacks, over all cases."""
    duplicated: int = 0
    """Events this case has more often than a fault-free one, over all cases."""
    reordered: int = 0
    """Cases with the right events in another order."""
    half_written: int = 0
    """Cases whose row does not reflect exactly their events."""
    notifications_off: int = 0
    """Cases with more or fewer notifications than a fault-free case of their path."""
    outage_events: int = 0
    outage_cases: int = 0
    cards: int = 0
    """Timed cards (warnings, overdue) raised while the run lasted."""
    cards_repeated: int = 0
    open_incidents: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(message)


def check_cases(
    cases: dict[str, Stored],
    paths: dict[str, str],
    expected: dict[str, list[Sign]],
    notifications: dict[str, int],
    end_state: str,
) -> CaseFindings:
    """Each case against the fault-free record of its path."""
    found = CaseFindings(total=len(paths))
    for case_id, path in paths.items():
        stored = cases.get(case_id)
        if stored is None:
            found.ended["missing"] += 1
            found.note(f"{case_id}: no row in cases")
            continue
        found.ended[stored.state] += 1
        signs, outage = stored.signs()
        found.outage_events += outage
        found.outage_cases += outage > 0
        cards = stored.cards()
        found.cards += sum(cards.values())
        found.cards_repeated += sum(n - 1 for n in cards.values())
        found.open_incidents += stored.open_incidents
        want = expected[path]
        if signs == want:
            found.matching += 1
        else:
            lost = Counter(want) - Counter(signs)
            extra = Counter(signs) - Counter(want)
            found.lost += sum(lost.values())
            found.duplicated += sum(extra.values())
            if not lost and not extra:
                found.reordered += 1
            found.note(f"{case_id} ({path}): lost {dict(lost)}, extra {dict(extra)}")
        seqs = [seq for seq, *_ in stored.events]
        if not (stored.last_seq == len(seqs) == (seqs[-1] if seqs else 0)):
            found.half_written += 1
            found.note(f"{case_id}: last_seq {stored.last_seq}, {len(seqs)} events")
        if stored.notifications != notifications[path]:
            found.notifications_off += 1
            found.note(f"{case_id}: {stored.notifications} notifications")
    return found


@dataclass
class FeedFindings:
    events: int = 0
    pages: int = 0
    stored: int = 0
    missing: int = 0
    """Stored events the feed never gave."""
    duplicated: int = 0
    unknown: int = 0
    """Feed entries with no stored event."""
    out_of_order: int = 0
    """Events given before an earlier event of their case, or ids not increasing."""
    gaps: int = 0
    """Ids between the first and the last that the feed skipped."""
    first_id: int = 0
    last_id: int = 0


FEED_PATHS = ("/events",)
"""Where the feed is served: the supervisors' path, or the path it had first."""


async def read_feed(
    http: httpx.AsyncClient, token: str, page: int = 1000
) -> tuple[list[dict[str, Any]], int]:
    """The whole feed, paged with ``after`` until a page comes back empty; and the pages read."""
    headers = {"Authorization": f"Bearer {token}"}
    for path in FEED_PATHS:
        entries: list[dict[str, Any]] = []
        cursor = 0
        pages = 0
        while True:
            pages += 1
            params = {"after": cursor, "limit": page}
            response = await http.get(path, params=params, headers=headers)
            if response.status_code == 404 and pages == 1:
                break  # not served here: the next path
            response.raise_for_status()
            body = response.json()
            if not body["events"]:
                return entries, pages
            entries.extend(body["events"])
            cursor = body["next"]
    raise LookupError(f"no feed at any of {FEED_PATHS}")


def check_feed(entries: list[dict[str, Any]], stored: set[tuple[str, int]]) -> FeedFindings:
    """Every stored event once, in order, and the gaps between ids."""
    found = FeedFindings(events=len(entries), stored=len(stored))
    seen: Counter[tuple[str, int]] = Counter()
    last_seq: dict[str, int] = {}
    previous = 0
    for entry in entries:
        identity = (entry["case_id"], entry["seq"])
        seen[identity] += 1
        if entry["id"] <= previous or entry["seq"] <= last_seq.get(entry["case_id"], 0):
            found.out_of_order += 1
        previous = entry["id"]
        last_seq[entry["case_id"]] = entry["seq"]
    found.duplicated = sum(n - 1 for n in seen.values() if n > 1)
    found.missing = len(stored - set(seen))
    found.unknown = len(set(seen) - stored)
    if entries:
        found.first_id, found.last_id = entries[0]["id"], entries[-1]["id"]
        found.gaps = found.last_id - found.first_id + 1 - len({e["id"] for e in entries})
    return found


def stored_identities(store: Store) -> set[tuple[str, int]]:
    with store.session() as session:
        return {
            (r.case_id, r.seq) for r in session.execute(text("SELECT case_id, seq FROM events"))
        }


def incidents_by_kind(store: Store) -> dict[str, tuple[int, int]]:
    """Per kind: (opened, resolved)."""
    with store.session() as session:
        rows = session.execute(
            text("SELECT kind, count(*) AS n, count(resolved_at) AS r FROM incidents GROUP BY kind")
        )
        return {row.kind: (row.n, row.r) for row in rows}
