"""Record transactions per second with concurrent writers, while a reader pages the feed.

    .venv/bin/python -m bench.feed --writers 1,4,16 --seconds 20

A database of its own (``onetrip_feed`` on the local PostgreSQL, dropped and made again).
Each writer is a process of its own (as workers are) writing cases with the store's own
writer (:func:`store.writes.record`), one record transaction after another, each the events
of one person's action with the case, task and clock rows they change — batches cut from
cases run offline by the engine's rules (services.history). Every case number is new, so
writers never touch the same rows: whatever makes them wait for each other is the store's
own coordination.

Beside them a reader pages the supervision feed (:func:`store.queries.events_after`) all the
time, 500 events a page, and after the writers stop reads on to the end. Every event written
must be read exactly once, in increasing feed order; the bench prints the counts and fails
otherwise. Feed numbers that skip are counted as gaps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Event as StopFlag
from typing import Any

from sqlalchemy import text

from bench.pg import SERVER, fresh_database, scratch_store
from core.settings import get_settings
from definitions.validate import validate_paths
from services.history import run_case
from store import queries
from store.db import Store
from store.writes import publish_catalog, record
from workflows.contracts import RecordInput

TEMPLATE_ID = "FEEDTPL-0000"
"""The case number of every template batch, replaced by each copy's own."""
EVENTS_PER_BATCH = 5
"""Events a person's action writes at a time (submission, claim, decision with its clock
events …): the template cases are cut into batches of this size."""
PAGE = 500
"""Events per feed page the reader asks for."""


def batches(count: int, seed: int) -> list[list[str]]:
    """Record transactions cut from ``count`` cases run offline by the rules, case by case, as
    JSON with the case number :data:`TEMPLATE_ID`: each batch carries its events, the case row
    as of its last event, and the task and clock rows last changed within it."""
    scratch, snaps, calendars = scratch_store()
    rng = random.Random(seed)
    start = dt.datetime(2026, 9, 7, 1, 30, tzinfo=dt.UTC)
    out: list[list[str]] = []
    for index in range(count):
        snap = snaps[index % len(snaps)]
        case = run_case(snap, TEMPLATE_ID, start, rng, calendars, index)
        whole = case.record()
        events = whole.events
        out.append([])
        for first in range(0, len(events), EVENTS_PER_BATCH):
            chunk = events[first : first + EVENTS_PER_BATCH]
            low, high = chunk[0].seq, chunk[-1].seq
            last = first + EVENTS_PER_BATCH >= len(events)
            part = RecordInput(
                events=chunk,
                case=whole.case.model_copy(update={"last_seq": high}),
                tasks=[
                    t.model_copy(update={"last_seq": high})
                    for t in whole.tasks
                    if last or low <= _first_seq(events, t.task_key) <= high
                ],
                clocks=[c for c in whole.clocks if last],
                sanitize=True,
            )
            out[-1].append(part.model_dump_json())
    scratch.dispose()
    return out


def _first_seq(events: Sequence[Any], task_key: str) -> int:
    return next((e.seq for e in events if e.task_key == task_key), 0)


@dataclass(frozen=True)
class WriterResult:
    transactions: int
    events: int
    latencies_ms: list[float]


def _writer(
    url: str,
    number: int,
    templates: list[list[str]],
    go: StopFlag,
    stop: StopFlag,
    out: Any,
    ready: Any,
) -> None:
    store = Store(url)
    done = events = cases = 0
    latencies: list[float] = []
    ready.put(number)
    go.wait()  # every writer starts at once, when all are up
    while not stop.is_set():
        # One case at a time, each its batches in order, as a workflow writes them.
        template = templates[cases % len(templates)]
        case_id = f"FEED-W{number:02d}-{cases:07d}"
        cases += 1
        for batch in template:
            data = RecordInput.model_validate_json(batch.replace(TEMPLATE_ID, case_id))
            began = time.perf_counter()
            events += record(store, data).inserted
            latencies.append((time.perf_counter() - began) * 1000)
            done += 1
            if stop.is_set():
                break
    store.dispose()
    out.put((number, WriterResult(done, events, latencies[:: max(1, len(latencies) // 5000)])))


@dataclass(frozen=True)
class ReadResult:
    read: int
    duplicates: int
    out_of_order: int
    gaps: int
    pages: int


def _reader(url: str, stop: StopFlag, out: Any) -> None:
    """Page the feed until the writers have stopped, then on to its end; check what was
    read."""
    store = Store(url)
    cursor = 0
    seen: set[tuple[str, int]] = set()
    read = duplicates = out_of_order = gaps = pages = 0
    last_id = 0
    draining = False
    while True:
        rows, cursor = queries.events_after(store, cursor, PAGE)
        pages += 1
        for event_id, event in rows:
            key = (event.case_id, event.seq)
            if key in seen:
                duplicates += 1
            seen.add(key)
            if event_id <= last_id:
                out_of_order += 1
            elif last_id and event_id != last_id + 1:
                gaps += 1
            last_id = event_id
            read += 1
        if stop.is_set() and not draining:
            draining = True  # every writer has ended: read on to the end
            continue
        if draining and not rows:
            break
        if not rows:
            time.sleep(0.005)
    store.dispose()
    out.put(("reader", ReadResult(read, duplicates, out_of_order, gaps, pages)))


def run(url: str, writers: int, seconds: float, templates: list[list[str]]) -> dict[str, Any]:
    """One round on an emptied events table: ``writers`` processes for ``seconds``."""
    store = Store(url)
    with store.session() as session:
        session.execute(
            text("TRUNCATE events, tasks, clocks, incidents, notifications, followups, cases")
        )
    store.dispose()
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    stop = ctx.Event()
    ended = ctx.Event()
    results = ctx.Queue()
    ready = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(url, n, templates, go, stop, results, ready))
        for n in range(writers)
    ]
    reader = ctx.Process(target=_reader, args=(url, ended, results))
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    reader.start()
    began = time.perf_counter()
    go.set()
    time.sleep(seconds)
    stop.set()
    # Transactions under way when told to stop still count: the window ends as they end.
    collected: dict[Any, Any] = {}
    while len(collected) < writers:
        key, value = results.get(timeout=600)
        collected[key] = value
    spent = time.perf_counter() - began
    for p in procs:
        p.join(timeout=60)
    ended.set()
    key, value = results.get(timeout=600)
    collected[key] = value
    reader.join(timeout=60)
    read: ReadResult = collected.pop("reader")
    written: list[WriterResult] = list(collected.values())
    store = Store(url)
    with store.session() as session:
        stored = int(session.execute(text("SELECT count(*) FROM events")).scalar_one())
    store.dispose()
    latencies = sorted(x for w in written for x in w.latencies_ms)
    transactions = sum(w.transactions for w in written)
    return {
        "writers": writers,
        "seconds": spent,
        "transactions": transactions,
        "per_second": transactions / spent,
        "events_per_second": sum(w.events for w in written) / spent,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "stored": stored,
        "written": sum(w.events for w in written),
        "read": read,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", default="1,4,16", help="comma-separated writer counts")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--database", default=f"{SERVER}/onetrip_feed")
    parser.add_argument("--cases", type=int, default=12, help="template cases run offline")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    fresh_database(args.database, "onetrip_feed")
    store = Store(args.database)
    store.migrate()
    report = validate_paths(get_settings().catalog)
    assert report.catalog is not None
    publish_catalog(store, report.catalog)
    store.dispose()
    templates = batches(args.cases, args.seed)
    print(
        f"{sum(len(t) for t in templates)} record transactions from {args.cases} cases run by"
        " the rules"
    )
    print(
        f"{'writers':>7} {'tx/s':>8} {'events/s':>9} {'p50 ms':>7} {'p95 ms':>7}"
        f" {'written':>8} {'read':>8} {'dup':>4} {'order':>5} {'gaps':>5}"
    )
    failed = False
    for count in [int(x) for x in args.writers.split(",")]:
        r = run(args.database, count, args.seconds, templates)
        read: ReadResult = r["read"]
        print(
            f"{count:7d} {r['per_second']:8.1f} {r['events_per_second']:9.0f}"
            f" {r['p50_ms']:7.1f} {r['p95_ms']:7.1f} {r['stored']:8d} {read.read:8d}"
            f" {read.duplicates:4d} {read.out_of_order:5d} {read.gaps:5d}",
            flush=True,
        )
        failed |= read.read != r["stored"] or read.duplicates > 0 or read.out_of_order > 0
        failed |= r["written"] != r["stored"]
    if failed:
        raise SystemExit("the feed lost, repeated or reordered events")


if __name__ == "__main__":
    main()
