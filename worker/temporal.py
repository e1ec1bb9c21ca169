"""Temporal wiring: the client, search-attribute registration and the worker."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.clock import Calendars, ClockActivities
from activities.record import RecordActivities
from core.settings import Settings
from definitions.loader import calendar_years
from evaluation import rollups
from store.db import Store
from store.sessions import forget_expired
from worker.feed import keep_delivering, keep_sequencing
from worker.followups import keep_starting
from worker.notify import keep_sending, sender_from
from workflows import search
from workflows.case import CaseWorkflow
from workflows.case_v1 import CaseWorkflowV1
from workflows.client import connect
from workflows.contracts import TASK_QUEUE
from workflows.followup import FollowUpWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS = [CaseWorkflow, CaseWorkflowV1, FollowUpWorkflow]
"""Both case editions (new cases start on the second; the first runs its cases to their end)
and the follow-up of a bad rating."""


async def register_search_attributes(client: Client) -> list[str]:
    """Add OneTrip's search attributes that the client's namespace lacks; returns the names
    added."""
    namespace = client.namespace
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as err:
        # The time-skipping test server cannot list them; adding is idempotent there.
        if err.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    missing: dict[str, IndexedValueType.ValueType] = {}
    for key in search.ALL:
        if key.name not in known:
            # The SDK's enum carries the proto's numbers.
            missing[key.name] = IndexedValueType.ValueType(key.indexed_value_type.value)
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


def build_worker(
    client: Client,
    store: Store,
    calendars: Calendars,
    *,
    task_queue: str = TASK_QUEUE,
    threads: int = 16,
    grace: float = 30.0,
    sandbox: bool = True,
) -> Worker:
    """The case worker: both case workflows, the record activity (threads) and the clock.

    ``sandbox=False`` runs workflow code without Temporal's sandbox: about a third more cases
    per second on 2 cores (bench/cases.py), at the price of the run-time guard against wall
    clock and I/O in workflow code. The test suite always runs sandboxed and replays the
    recorded histories, which is what keeps the workflow code deterministic.
    """
    record = RecordActivities(store)
    clock = ClockActivities(calendars)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            record.record_case_events,
            record.record_followup_events,
            clock.compute_deadlines,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=threads),
        max_concurrent_activities=threads,
        graceful_shutdown_timeout=timedelta(seconds=grace),
        workflow_runner=SandboxedWorkflowRunner() if sandbox else UnsandboxedWorkflowRunner(),
    )


def calendars_from_settings(store: Store, settings: Settings) -> Calendars:
    """The catalog's calendar years, overlaid by those published to the store."""
    calendars = Calendars(calendar_years(settings.catalog), store)
    calendars.refresh()
    return calendars


async def keep_calendars_fresh(calendars: Calendars, every: float) -> None:
    """Poll the store for newly published calendar years (runs until cancelled)."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(calendars.refresh_if_newer)
        except Exception as error:  # the store may be down for a while: try again later
            log.warning("calendar refresh failed", error=str(error)[:200])


async def keep_projecting(store: Store, calendars: Calendars, idle: float = 1.0) -> None:
    """Keep the figures' month tallies up to date with the feed (evaluation.rollups), so that
    a report finds little left to measure (runs until cancelled)."""
    while True:
        try:
            await asyncio.to_thread(
                rollups.catch_up,
                store,
                calendars.get,
                budget=idle * 10,
                refresh=calendars.refresh_if_newer,
            )
        except Exception as error:  # the store may be down for a while: try again later
            log.warning("figures projection failed", error=str(error)[:200])
        await asyncio.sleep(idle)


async def keep_tidy(store: Store, window: dt.timedelta, every: float = 600.0) -> None:
    """Remove ended page sessions and stale failed sign-ins (runs until cancelled)."""
    while True:
        try:
            await asyncio.to_thread(forget_expired, store, dt.datetime.now(dt.UTC), window)
        except Exception as error:  # the store may be down for a while: try again later
            log.warning("tidying sessions failed", error=str(error)[:200])
        await asyncio.sleep(every)


def worker_from_settings(
    client: Client, store: Store, settings: Settings, calendars: Calendars | None = None
) -> Worker:
    """The case worker as configured by ``ONETRIP_*``."""
    return build_worker(
        client,
        store,
        calendars or calendars_from_settings(store, settings),
        task_queue=settings.task_queue,
        threads=settings.worker_threads,
        grace=settings.shutdown_grace_seconds,
        sandbox=settings.workflow_sandbox,
    )


@contextlib.asynccontextmanager
async def serving(client: Client, store: Store, settings: Settings) -> AsyncIterator[Worker]:
    """A running case worker with what a worker process keeps doing beside it: refreshing the
    calendar years, sending the applicants' notifications, pushing the event feed to its
    subscribers (numbering its events first), keeping the figures' tallies up to date,
    starting follow-ups and removing ended page sessions. Leaving it lets in-flight activities finish (graceful shutdown) and stops the
    background loops."""
    added = await register_search_attributes(client)
    if added:
        log.info("search attributes registered", names=added)
    calendars = calendars_from_settings(store, settings)
    worker = worker_from_settings(client, store, settings, calendars)
    sender = sender_from(settings.notify_webhook_url, settings.notify_webhook_secret)
    loops = [
        asyncio.create_task(keep_calendars_fresh(calendars, settings.calendar_refresh_seconds)),
        asyncio.create_task(keep_sending(store, sender, settings.notify_interval_seconds)),
        asyncio.create_task(keep_sequencing(store)),
        asyncio.create_task(keep_projecting(store, calendars)),
        asyncio.create_task(keep_delivering(store, settings.feed_interval_seconds)),
        asyncio.create_task(
            keep_starting(client, store, settings.task_queue, settings.notify_interval_seconds)
        ),
        asyncio.create_task(
            keep_tidy(store, dt.timedelta(minutes=settings.sign_in_window_minutes))
        ),
    ]
    try:
        async with worker:
            yield worker
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then let in-flight activities finish (graceful shutdown)."""
    store = Store(settings.database_url)
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serving(client, store, settings):
        log.info(
            "worker started",
            task_queue=settings.task_queue,
            address=client.service_client.config.target_host,
            namespace=client.namespace,
        )
        await stop.wait()
        log.info("worker stopping; waiting for in-flight activities")
    store.dispose()
    log.info("worker stopped")
