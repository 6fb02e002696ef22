"""What a worker adds for workflows (decision 0050): a parent's handler reads its children's
results through the worker's broker, from async handlers and from sync ones (threads)."""

from __future__ import annotations

import asyncio

from relay.broker import Broker, flows
from relay.job import Job, JsonValue


class ChildrenReader:
    """`job.children_results()` for the jobs of one worker."""

    def __init__(self, broker: Broker, loop: asyncio.AbstractEventLoop) -> None:
        self._broker = broker
        self._loop = loop

    async def read(self, job: Job) -> dict[str, JsonValue]:
        """{child id: result} of the job's completed children ({} for a job without)."""
        steps = flows.children_results(self._broker.settings, job.queue, job.id)
        return await self._broker.perform(steps)

    def read_blocking(self, job: Job) -> dict[str, JsonValue]:
        """`read` from a sync handler's thread (never from the event loop's thread)."""
        return asyncio.run_coroutine_threadsafe(self.read(job), self._loop).result()
