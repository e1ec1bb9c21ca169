"""One fault run: the stack up, fault-free cases for the expected records, the load with four
faults in it, then the checks, as one :class:`Report`.

The faults come in turn, each when the load has done a share of its actions (so each hits
a load in full swing, however fast the machine), the next only once the load has made
progress again after the last. The answers are counted per phase, by when they came: before
the first fault, and from each fault's start to the next one's (its aftermath included:
retries, a client reconnecting, cases catching up):

1. the worker is killed (SIGKILL) and started again;
2. PostgreSQL is stopped (``immediate``: a crash, recovered from its WAL) for
   ``outage_seconds``, then started again;
3. the Temporal dev server is stopped for ``temporal_down_seconds`` and started again on its
   state file;
4. a second worker joins, and the first is killed for good.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.faults import checks
from bench.faults.load import (
    END_STATE,
    NO_ANSWER,
    PATHS,
    Answer,
    Case,
    Driver,
    actions_per_case,
    run_case,
    statuses,
)
from bench.faults.stack import Stack, wait_until
from cli.demo import demo_materials
from store.db import Store
from workflows.client import connect

SETTLE_SECONDS = 300.0
"""How long the cases and workflows may take to settle after the load before the run fails."""


@dataclass(frozen=True)
class Plan:
    """What a run does; the defaults are the full local run."""

    cases: int = 300
    returns_every: int = 4
    """One case in this many is returned for supplement once."""
    concurrency: int = 32
    """Requests in flight at once (every case is in flight from the start)."""
    outage_seconds: float = 30.0
    """How long PostgreSQL stays stopped."""
    temporal_down_seconds: float = 15.0
    """How long the Temporal dev server stays stopped before it starts again."""
    baseline: int = 2
    """Fault-free cases of each path run first: their records are what every case must match."""
    latency_bound: float = 25.0
    """Seconds within which every request must be answered. The API waits at most 10 s
    (``ONETRIP_UPDATE_TIMEOUT_SECONDS``) for each call to Temporal: an action on a case whose
    first write is still on its way reads the case from its workflow, then sends the update,
    so 20 s and the store's share; a hang (gRPC's own 30 s deadline) is beyond it."""
    at: tuple[float, float, float, float] = (0.10, 0.30, 0.50, 0.70)
    """The share of the load's actions done when each fault begins."""

    @property
    def recovered(self) -> int:
        """Actions answered after a fault ended that show the load is moving again."""
        return max(20, self.concurrency)


@dataclass
class Window:
    """A fault, and the answers that came from its start to the next fault's (or the end)."""

    name: str
    started: float
    recovered: float = 0.0
    """When the load had moved again after it."""
    until: float = float("inf")
    detail: str = ""
    answers: list[Answer] = field(default_factory=list)


@dataclass
class Report:
    plan: Plan
    folder: Path
    seconds: float = 0.0
    load_seconds: float = 0.0
    load_started: float = 0.0
    expected: dict[str, int] = field(default_factory=dict)
    """Events of each path, fault-free."""
    windows: list[Window] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    retried: int = 0
    cases: checks.CaseFindings | None = None
    feed: checks.FeedFindings | None = None
    incidents: dict[str, tuple[int, int]] = field(default_factory=dict)
    running: int = -1
    crashed: list[str] = field(default_factory=list)
    """Processes that ended without the harness ending them."""
    failures: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def render(self) -> str:
        """The counts, as the bench prints them and the test reports them."""
        p = self.plan
        returns = len([i for i in range(p.cases) if i % p.returns_every == 0])
        lines = [
            f"OneTrip faults: {p.cases} cases ({p.cases - returns} approved straight,"
            f" {returns} returned for supplement once), {p.concurrency} requests at once;"
            " own PostgreSQL 15 store, Temporal dev server on a SQLite file, `onetrip worker`,"
            " `onetrip api`",
            f"run {self.seconds:.0f} s (load {self.load_seconds:.0f} s); fault-free events"
            f" per case: {', '.join(f'{k} {v}' for k, v in self.expected.items())}",
            "",
            "answers per phase, by when they came (a fault's phase lasts until the next"
            " fault begins):",
        ]
        first = min((w.started for w in self.windows), default=float("inf"))
        calm = [a for a in self.answers if a.sent + a.seconds < first]
        lines.append(f"  before the faults: {len(calm)} answers: {_counts(statuses(calm))}")
        for n, w in enumerate(self.windows, 1):
            worst = max((a.seconds for a in w.answers), default=0.0)
            lines.append(
                f"  {n}. {w.name}: {w.detail}; load moving again after"
                f" {w.recovered - w.started:.1f} s; {len(w.answers)} answers, max {worst:.1f} s"
            )
            lines.append(f"     {_counts(statuses(w.answers))}")
        times = sorted(a.seconds for a in self.answers)
        if times:
            p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
            lines.append(
                f"all answers: {len(times)}, {_counts(statuses(self.answers))};"
                f" latency median {statistics.median(times) * 1000:.0f} ms, p99 {p99:.1f} s,"
                f" max {times[-1]:.1f} s (bound {p.latency_bound:.0f} s)"
            )
        if self.answers:
            slowest = max(self.answers, key=lambda a: a.seconds)
            phase = next(
                (f"phase {n}" for n, w in enumerate(self.windows, 1) if _within(slowest, w)),
                "before the faults",
            )
            lines.append(
                f"slowest: {slowest.route} {slowest.status} {slowest.code or ''} after"
                f" {slowest.seconds:.1f} s, {phase}, {slowest.sent - self.load_started:.0f} s"
                " into the load"
            )
        lines.append(
            f"actions sent more than once (same key): {self.retried}; each acted once if the"
            " records below match"
        )
        if self.cases is not None:
            c = self.cases
            lines += [
                f"cases: {c.total}, ended {_counts(c.ended)}; records matching the fault-free"
                f" path {c.matching}, events lost {c.lost}, duplicated {c.duplicated},"
                f" reordered cases {c.reordered}",
                f"  half-written cases (last_seq vs events) {c.half_written}, notifications"
                f" off {c.notifications_off}, open incidents {c.open_incidents}",
                f"  outage incidents (opened + resolved events, by design after a minute of"
                f" retries): {c.outage_events} events in {c.outage_cases} cases; clocks' cards"
                f" raised meanwhile {c.cards}, repeated {c.cards_repeated}",
                *[f"  ! {e}" for e in c.examples],
            ]
        kinds = ", ".join(f"{k} {n} opened / {r} resolved" for k, (n, r) in self.incidents.items())
        lines.append(f"incidents: {kinds or 'none'}")
        if self.feed is not None:
            f = self.feed
            lines.append(
                f"feed: {f.events} events in {f.pages} pages for {f.stored} stored; missing"
                f" {f.missing}, duplicated {f.duplicated}, unknown {f.unknown}, out of order"
                f" {f.out_of_order}; ids {f.first_id}..{f.last_id} with {f.gaps} gaps"
                f" (GAP_FREE_FEED {'on: gaps fail' if checks.GAP_FREE_FEED else 'off: counted'})"
            )
        lines.append(
            f"workflows still running: {self.running}; processes that died on their own:"
            f" {', '.join(self.crashed) or 'none'}"
        )
        lines.append("result: " + ("PASS" if not self.failures else f"FAIL ({len(self.failures)})"))
        lines += [f"  - {f}" for f in self.failures]
        return "\n".join(lines)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in sorted(counter.items())) or "none"


def _within(answer: Answer, window: Window) -> bool:
    answered = answer.sent + answer.seconds
    return window.started <= answered < window.until


async def run(plan: Plan, folder: Path) -> Report:
    """Everything, in ``folder``; the processes are stopped whatever happens."""
    report = Report(plan, folder)
    began = time.monotonic()
    stack = Stack(folder)
    try:
        await stack.start()
        limits = httpx.Limits(max_connections=plan.concurrency + 8)
        async with httpx.AsyncClient(
            base_url=stack.base_url, timeout=NO_ANSWER, limits=limits
        ) as http:
            driver = Driver(http, stack.tokens, plan.concurrency)
            expected = await _baseline(plan, stack, driver, report)
            if expected is not None:
                cases = await _load(plan, stack, driver, report)
                await _check(plan, stack, http, cases, expected, report)
            report.answers = driver.answers
            report.retried = driver.retried
        report.crashed = stack.crashed()
    finally:
        await stack.close()
        report.seconds = time.monotonic() - began
    for w in report.windows:
        w.answers = [a for a in report.answers if _within(a, w)]
    _judge_answers(report)
    if report.crashed:
        report.fail(f"died on their own: {', '.join(report.crashed)}")
    return report


Expected = dict[str, tuple[list[checks.Sign], int]]
"""Per path: the events' signs and the number of notifications of a fault-free case."""


async def _baseline(plan: Plan, stack: Stack, driver: Driver, report: Report) -> Expected | None:
    """Fault-free cases of each path: what every case of the load must record."""
    materials = demo_materials()
    cases = [Case(path, n) for path in PATHS for n in range(plan.baseline)]
    for case in cases:  # one at a time: nothing else is going on
        await run_case(driver, case, materials)
    if failed := [c for c in cases if c.error]:
        report.fail(f"fault-free cases failed: {failed[0].error}")
        return None
    store = Store(stack.postgres.url())
    try:
        stored = checks.read_store(store, [c.id for c in cases if c.id])
    finally:
        store.dispose()
    expected: Expected = {}
    for path in PATHS:
        records = {
            (tuple(stored[c.id].signs()[0]), stored[c.id].notifications)
            for c in cases
            if c.path == path and c.id
        }
        if len(records) != 1:
            report.fail(f"fault-free cases of the {path} path recorded different events")
            return None
        [(signs, notes)] = records
        expected[path] = (list(signs), notes)
        report.expected[path] = len(signs)
    return expected


async def _load(plan: Plan, stack: Stack, driver: Driver, report: Report) -> list[Case]:
    """The cases, all at once, with the faults in turn."""
    materials = demo_materials()
    cases = [
        Case("return" if n % plan.returns_every == 0 else "approve", n) for n in range(plan.cases)
    ]
    total = sum(actions_per_case(c.path) for c in cases)
    first = driver.done
    started = report.load_started = time.monotonic()
    load = asyncio.ensure_future(asyncio.gather(*(run_case(driver, c, materials) for c in cases)))

    async def progress(share: float) -> None:
        async def reached() -> bool:
            if load.done():
                raise RuntimeError(f"the load ended before {share:.0%} of it")
            return driver.done - first >= share * total

        await wait_until(reached, f"{share:.0%} of the load's actions", within=1800)

    async def recovered() -> bool:
        return load.done() or driver.done >= mark + plan.recovered

    faults: list[tuple[str, Callable[[], Awaitable[str]]]] = [
        ("worker killed (SIGKILL) and restarted", lambda: _kill_and_restart(stack)),
        (
            f"PostgreSQL stopped (immediate) {plan.outage_seconds:.0f} s",
            lambda: _store_outage(stack, plan.outage_seconds),
        ),
        (
            f"Temporal dev server stopped {plan.temporal_down_seconds:.0f} s and restarted",
            lambda: _temporal_restart(stack, plan.temporal_down_seconds),
        ),
        ("second worker, first killed (SIGKILL) for good", lambda: _lose_a_worker(stack)),
    ]
    try:
        for share, (name, fault) in zip(plan.at, faults, strict=True):
            if name.startswith("second worker"):
                await stack.add_worker()  # joins the load before the first one dies
            await progress(share)
            window = Window(name, time.monotonic())
            if report.windows:
                report.windows[-1].until = window.started
            report.windows.append(window)
            window.detail = await fault()
            mark = driver.done
            await wait_until(recovered, f"the load moving again after: {name}", within=900)
            window.recovered = time.monotonic()
    except Exception as error:
        report.fail(f"fault schedule: {error}")
    await load
    report.load_seconds = time.monotonic() - started
    for case in cases:
        if case.error:
            report.fail(f"case {case.number} ({case.path}, {case.id}): {case.error}")
    return cases


async def _kill_and_restart(stack: Stack) -> str:
    worker = stack.workers[0]
    killed = time.monotonic()
    await worker.kill()
    await stack.restart(worker)
    return f"polling again after {time.monotonic() - killed:.1f} s"


async def _store_outage(stack: Stack, seconds: float) -> str:
    await asyncio.to_thread(stack.postgres.stop, "immediate")
    await asyncio.sleep(seconds)  # the fault's length, not a wait for anything
    started = time.monotonic()
    await asyncio.to_thread(stack.postgres.start)
    return f"accepting connections {time.monotonic() - started:.1f} s after its start"


async def _temporal_restart(stack: Stack, seconds: float) -> str:
    stopped = time.monotonic()
    await stack.temporal.stop()
    await asyncio.sleep(seconds)  # the fault's length, not a wait for anything
    await stack.temporal.start(again=True)
    return f"answering again after {time.monotonic() - stopped:.1f} s"


async def _lose_a_worker(stack: Stack) -> str:
    first, second = stack.workers
    await first.kill()
    return f"{first.name} killed, {second.name} carries on"


async def _check(
    plan: Plan,
    stack: Stack,
    http: httpx.AsyncClient,
    cases: list[Case],
    expected: Expected,
    report: Report,
) -> None:
    paths = {c.id: c.path for c in cases if c.id}
    store = Store(stack.postgres.url())
    try:

        async def settled() -> bool:
            stored = await asyncio.to_thread(checks.read_store, store, list(paths))
            return all(s.state == END_STATE for s in stored.values()) and len(stored) == len(paths)

        try:
            await wait_until(settled, "every case completed in the store", SETTLE_SECONDS)
        except Exception as error:
            report.fail(str(error))
        stored = await asyncio.to_thread(checks.read_store, store, list(paths))
        found = checks.check_cases(
            stored,
            paths,
            {p: e[0] for p, e in expected.items()},
            {p: e[1] for p, e in expected.items()},
            END_STATE,
        )
        report.cases = found
        entries, pages = await checks.read_feed(http, stack.tokens["supervisor"])
        identities = await asyncio.to_thread(checks.stored_identities, store)
        report.feed = checks.check_feed(entries, identities)
        report.feed.pages = pages
        report.incidents = await asyncio.to_thread(checks.incidents_by_kind, store)
    finally:
        store.dispose()
    client = await connect(stack.temporal.address, "default", environment=False)

    async def none_running() -> bool:
        report.running = (await client.count_workflows("ExecutionStatus='Running'")).count
        return report.running == 0

    try:
        await wait_until(none_running, "no workflow left running", SETTLE_SECONDS)
    except Exception as error:
        report.fail(str(error))
    _judge_records(report)


def _judge_records(report: Report) -> None:
    c, f = report.cases, report.feed
    assert c is not None
    assert f is not None
    if c.ended.get(END_STATE, 0) != c.total:
        report.fail(f"cases not {END_STATE}: {dict(c.ended)}")
    for what, n in (
        ("events lost", c.lost),
        ("events duplicated", c.duplicated),
        ("cases with events reordered", c.reordered),
        ("clocks' cards raised twice", c.cards_repeated),
        ("half-written cases", c.half_written),
        ("cases with notifications lost or repeated", c.notifications_off),
        ("incidents left open", c.open_incidents),
        ("feed: stored events missing", f.missing),
        ("feed: events given twice", f.duplicated),
        ("feed: entries that are no stored event", f.unknown),
        ("feed: out of order", f.out_of_order),
    ):
        if n:
            report.fail(f"{what}: {n}")
    if checks.GAP_FREE_FEED and f.gaps:
        report.fail(f"feed: {f.gaps} gaps between ids")
    for kind, (opened, resolved) in report.incidents.items():
        if kind != checks.OUTAGE_KIND:
            report.fail(f"incidents of kind {kind}: {opened} (an outage must only be retried)")
        elif opened != resolved:
            report.fail(f"{kind} incidents: {opened} opened, {resolved} resolved")
        elif checks.OUTAGE_INCIDENTS_FAIL:
            report.fail(f"{kind} incidents: {opened}")


def _judge_answers(report: Report) -> None:
    """No hang, no 5xx but 503, every 503 with Retry-After, every answer within the bound."""
    bound = report.plan.latency_bound
    wrong: dict[str, list[Answer]] = {}
    for a in report.answers:
        if a.status is None:
            wrong.setdefault("no answer", []).append(a)
        elif a.status >= 500 and a.status != 503:
            wrong.setdefault(f"{a.status} answers", []).append(a)
        elif a.status == 503 and not a.retry_after:
            wrong.setdefault("503 without Retry-After", []).append(a)
        if a.seconds > bound:
            wrong.setdefault(f"answers slower than {bound:.0f} s", []).append(a)
    for what, answers in wrong.items():
        a = answers[0]
        report.fail(
            f"{what}: {len(answers)} (first: {a.route}, {a.status or a.error}, {a.seconds:.1f} s)"
        )
    for w in report.windows:
        if not any(a.sent + a.seconds <= w.recovered for a in w.answers):
            report.fail(f"no load during the fault: {w.name}")
    outage = next((w for w in report.windows if w.name.startswith("PostgreSQL")), None)
    if outage is not None and not any(a.code == "store_unavailable" for a in outage.answers):
        report.fail("the store outage was never answered 503 store_unavailable")
