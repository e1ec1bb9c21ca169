"""Starting the follow-up of each bad rating (store.followups opened it with the rating).

The worker process polls for follow-ups whose workflow has not started, starts each under its
fixed id (a second start finds the first), and marks it started; Temporal unreachable leaves
it to be tried again with backoff. A bad rating is thus followed up even if the worker was down
when it was given: nothing is started from the case workflow itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import structlog
from temporalio.client import Client

from store import followups
from store.db import Store
from workflows.client import start_followup
from workflows.contracts import TASK_QUEUE

log = structlog.get_logger("followups")


async def start_due(client: Client, store: Store, task_queue: str = TASK_QUEUE) -> int:
    """Start every follow-up due to be started; returns how many started."""
    now = dt.datetime.now(dt.UTC)
    due = await asyncio.to_thread(followups.due_to_start, store, now)
    count = 0
    for start in due:
        try:
            await start_followup(
                client, start, followups.workflow_id(start.id), task_queue=task_queue
            )
        except Exception as error:  # Temporal unreachable: try again later
            log.warning("follow-up not started", followup=start.id, error=str(error)[:200])
            await asyncio.to_thread(followups.start_failed, store, start.id, str(error), now)
            continue
        await asyncio.to_thread(followups.started, store, start.id, dt.datetime.now(dt.UTC))
        count += 1
    return count


async def keep_starting(
    client: Client, store: Store, task_queue: str = TASK_QUEUE, every: float = 5.0
) -> None:
    """Start due follow-ups every ``every`` seconds (runs until cancelled)."""
    while True:
        try:
            await start_due(client, store, task_queue)
        except Exception as error:  # the store may be down for a while: try again later
            log.warning("follow-up starter failed", error=str(error)[:200])
        await asyncio.sleep(every)
