"""The floor: a bare workflow doing the same updates and activities with no domain logic."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow


class FloorInput(BaseModel):
    updates: int
    """Updates to wait for before completing."""
    local_writes: bool
    """Write as local activities (as OneTrip does) or as regular activities."""


@activity.defn(name="bench_noop")
async def noop(n: int) -> int:
    """Does nothing; stands for a store write or a clock computation."""
    return n


@workflow.defn(name="BenchFloorWorkflow")
class FloorWorkflow:
    """Per update: ``clocks`` local activities, then one write; one clock and write at start."""

    def __init__(self) -> None:
        self.done = 0
        self.lock = asyncio.Lock()
        self.local_writes = False

    async def _write(self) -> None:
        if self.local_writes:
            await workflow.execute_local_activity(
                noop, 1, start_to_close_timeout=timedelta(seconds=30)
            )
        else:
            await workflow.execute_activity(noop, 1, start_to_close_timeout=timedelta(seconds=30))

    @workflow.run
    async def run(self, data: FloorInput) -> int:
        self.local_writes = data.local_writes
        async with self.lock:
            await workflow.execute_local_activity(
                noop, 0, start_to_close_timeout=timedelta(seconds=10)
            )
            await self._write()
        await workflow.wait_condition(lambda: self.done >= data.updates)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.done

    @workflow.update
    async def act(self, clocks: int) -> int:
        async with self.lock:
            for i in range(clocks):
                await workflow.execute_local_activity(
                    noop, i, start_to_close_timeout=timedelta(seconds=10)
                )
            await self._write()
            self.done += 1
            return self.done
