"""Throughput of the case engine against the floor, on the local dev server, in one run.

    .venv/bin/python -m bench.cases --cases 300 --concurrency 40

Runs the business start-up bundle (开办企业一件事) with simulated caseworkers: submission,
acceptance at the front desk, claim and approval by every department, delivery and rating.
Then the floor: a bare workflow doing the same number of updates, activities and local
activities with no domain logic. Prints cases per second, events per case and history length
per case for both, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.clock import Calendars
from bench.floor import FloorInput, FloorWorkflow, noop
from cli.demo import DEMO_FOLLOW_UP, DEMO_FORM, DEMO_PROCEDURE
from core.settings import DEFAULT_CATALOG
from definitions.validate import validate_paths
from services.cases import start_case
from store import queries
from store.db import Store, migrate
from store.writes import publish_catalog
from worker.temporal import build_worker, register_search_attributes
from workflows import search
from workflows.case import CaseWorkflow
from workflows.client import Done, send
from workflows.contracts import (
    AcceptInput,
    Actor,
    DecideInput,
    DeliverInput,
    RateInput,
    Role,
    TaskInput,
)

CODE = DEMO_PROCEDURE
FOLLOW_UP = {task: user.upper() for task, user in DEMO_FOLLOW_UP.items()}
"""The six follow-up tasks and their departments (the demo users are named after them)."""
WAIT = dt.timedelta(minutes=5)
"""How long one action may take under the bench's load before the run fails."""


def worker_of(department: str) -> Actor:
    return Actor(id=f"{department.lower()}-bench", role=Role.caseworker, department=department)


APPLICANT = Actor(id="bench-applicant", role=Role.applicant)
FRONT = worker_of("YZ-ZWFW")


FORM = DEMO_FORM


async def one_case(client: Client, store: Store, queue: str) -> str:
    case_id = f"BENCH-{uuid.uuid4().hex[:12]}"
    snap = queries.get_procedure(store, CODE)
    assert snap is not None
    handle = await start_case(
        client,
        store,
        case_id=case_id,
        code=CODE,
        applicant=APPLICANT,
        form=FORM,
        materials=snap.required_keys(FORM),
        task_queue=queue,
    )

    async def act(update: Any, data: Any) -> None:
        name = update.__name__
        outcome = await send(client, case_id, name, data, uid=uuid.uuid4().hex, wait=WAIT)
        if not isinstance(outcome, Done):
            raise RuntimeError(f"{case_id}: {name} → {outcome}")

    await act(CaseWorkflow.accept, AcceptInput(actor=FRONT))
    scjg = worker_of("YZ-SCJG")
    await act(CaseWorkflow.claim, TaskInput(actor=scjg, task_key="company_registration"))
    await act(
        CaseWorkflow.decide,
        DecideInput(actor=scjg, task_key="company_registration", approve=True),
    )

    async def follow_up(task: str, department: str) -> None:
        w = worker_of(department)
        await act(CaseWorkflow.claim, TaskInput(actor=w, task_key=task))
        await act(CaseWorkflow.decide, DecideInput(actor=w, task_key=task, approve=True))

    if PARALLEL:  # departments act at the same moment, as they may in a merged procedure
        await asyncio.gather(*(follow_up(t, d) for t, d in FOLLOW_UP.items()))
    else:
        for t, d in FOLLOW_UP.items():
            await follow_up(t, d)
    await act(CaseWorkflow.deliver, DeliverInput(actor=FRONT))
    await act(CaseWorkflow.rate, RateInput(actor=APPLICANT, score=5))
    await handle.result()
    return case_id


PARALLEL = True
"""Whether the six follow-up departments act on a case at the same moment."""
UPDATES = 3 + 2 * len(FOLLOW_UP) + 2
"""accept, claim + decide registration, claim + decide six follow-ups, deliver, rate."""


async def one_floor(client: Client, queue: str, local_writes: bool) -> str:
    """The same sequence of updates as ``one_case``, with the same clock and write counts."""
    wf_id = f"FLOOR-{uuid.uuid4().hex[:12]}"
    handle = await client.start_workflow(
        FloorWorkflow.run,
        FloorInput(updates=UPDATES, local_writes=local_writes),
        id=wf_id,
        task_queue=queue,
    )

    async def act(clocks: int) -> None:
        await handle.execute_update(FloorWorkflow.act, clocks, id=uuid.uuid4().hex)

    await act(1)  # accept: deadlines of the case and the first task
    await act(0)  # claim
    await act(1)  # decide: the second stage opens
    if PARALLEL:
        await asyncio.gather(*(act(0) for _ in range(2 * len(FOLLOW_UP) - 1)))
    else:
        for _ in range(2 * len(FOLLOW_UP) - 1):
            await act(0)
    await act(1)  # the last decision: delivery due
    await act(1)  # deliver: rating window
    await act(0)  # rate
    await handle.result()
    return wf_id


async def run_many(
    n: int, concurrency: int, make: Callable[[], Awaitable[str]]
) -> tuple[float, list[str]]:
    gate = asyncio.Semaphore(concurrency)
    ids: list[str] = []

    async def guarded() -> None:
        async with gate:
            ids.append(await make())

    start = time.perf_counter()
    await asyncio.gather(*(guarded() for _ in range(n)))
    return time.perf_counter() - start, ids


async def history_figures(client: Client, ids: list[str], sample: int = 10) -> dict[str, list[int]]:
    """Per case, from its history: events, activities (store writes) and local activities
    (clock computations)."""
    figures: dict[str, list[int]] = {"events": [], "writes": [], "clocks": []}
    for wf_id in ids[:sample]:
        history = await client.get_workflow_handle(wf_id).fetch_history()
        kinds = [e.WhichOneof("attributes") for e in history.events]
        figures["events"].append(len(kinds))
        figures["writes"].append(kinds.count("activity_task_scheduled_event_attributes"))
        figures["clocks"].append(kinds.count("marker_recorded_event_attributes"))
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--db-file", default=None, help="dev server state file (default: memory)")
    parser.add_argument(
        "--sequential-departments",
        action="store_true",
        help="the follow-up departments act one after another within a case",
    )
    parser.add_argument("--only-onetrip", action="store_true", help="skip the floor runs")
    args = parser.parse_args()
    global PARALLEL
    PARALLEL = not args.sequential_departments

    folder = Path(tempfile.mkdtemp(prefix="onetrip-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'store.db'}"
    migrate(url)
    store = Store(url)
    report = validate_paths([DEFAULT_CATALOG])
    proc = report.catalog.procedure(CODE)
    assert proc is not None
    publish_catalog(store, report.catalog, [proc])

    extra = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
    if args.db_file:
        extra += ["--db-filename", args.db_file]
    temporal = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal,
        dev_server_extra_args=extra,
        data_converter=pydantic_data_converter,
        search_attributes=list(search.ALL),
    ) as env:
        client = env.client
        await register_search_attributes(client)
        floor_worker = Worker(
            client,
            task_queue="bench-floor",
            workflows=[FloorWorkflow],
            activities=[noop],
            activity_executor=ThreadPoolExecutor(16),
        )
        case_worker = build_worker(client, store, Calendars(), task_queue="bench-cases")
        bare_worker = build_worker(
            client, store, Calendars(), task_queue="bench-cases-bare", sandbox=False
        )
        async with floor_worker, case_worker, bare_worker:
            # Warm every path up before measuring.
            for local in (False, True):
                await run_many(5, 5, functools.partial(one_floor, client, "bench-floor", local))
            await run_many(5, 5, lambda: one_case(client, store, "bench-cases"))
            results: dict[str, tuple[float, list[str]]] = {}
            floors = (
                ()
                if args.only_onetrip
                else (
                    ("floor, regular writes", False),
                    ("floor, local writes", True),
                )
            )
            for label, local in floors:
                results[label] = await run_many(
                    args.cases,
                    args.concurrency,
                    functools.partial(one_floor, client, "bench-floor", local),
                )
            results["onetrip"] = await run_many(
                args.cases, args.concurrency, lambda: one_case(client, store, "bench-cases")
            )
            results["onetrip, no sandbox"] = await run_many(
                args.cases, args.concurrency, lambda: one_case(client, store, "bench-cases-bare")
            )
            figures = {k: await history_figures(client, ids) for k, (_, ids) in results.items()}
    events = [queries.count_events(store, c) for c in results["onetrip"][1][:50]]
    rates = {k: args.cases / seconds for k, (seconds, _) in results.items()}
    print(
        f"cases: {args.cases}, concurrency: {args.concurrency}, store: {store.dialect},"
        f" departments: {'parallel' if PARALLEL else 'sequential'}"
    )
    print(f"per case: {UPDATES} updates; the floor does {UPDATES + 1} writes and 6 clock calls")
    for label, rate in rates.items():
        seconds = results[label][0]
        median = {k: statistics.median(v) for k, v in figures[label].items()}
        print(
            f"{label:<22}: {rate:6.2f} per second ({seconds:6.1f} s), history"
            f" {median['events']:.0f} events, {median['writes']:.0f} writes,"
            f" {median['clocks']:.0f} clock calls"
        )
    print(f"store events per case: {statistics.median(events):.0f}")
    for mine in [k for k in rates if k.startswith("onetrip")]:
        for label in [k for k in rates if k.startswith("floor")]:
            print(f"{mine} / {label}: {rates[mine] / rates[label]:.0%}")
    store.dispose()


if __name__ == "__main__":
    asyncio.run(main())
