"""What a worker adds for workflows (decision 0050): a parent's handler reads its children's
results through the worker's broker, from async handlers and from sync ones (threads).

Reads asked for within GATHER_S of each other go out together, one `flow_results` call per
queue: a worker running many parents at once pays one round trip for all of them, not one each."""

from __future__ import annotations

import asyncio

from relay.broker import Broker, flows
from relay.job import Job, JsonValue

Results = dict[str, JsonValue]
# Reads asked for within this long go out together: a claim's parents start over a few loop
# turns (the runner wakes its slots 1, 2, 4… at a time), so one loop turn alone would split them.
GATHER_S = 0.001


class ChildrenReader:
    """`job.children_results()` for the jobs of one worker."""

    def __init__(self, broker: Broker, loop: asyncio.AbstractEventLoop) -> None:
        self._broker = broker
        self._loop = loop
        self._pending: dict[str, list[tuple[str, asyncio.Future[Results]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def read(self, job: Job) -> Results:
        """{child id: result} of the job's completed children ({} for a job without)."""
        fut: asyncio.Future[Results] = self._loop.create_future()
        if not self._pending:
            self._loop.call_later(GATHER_S, self._flush)
        self._pending.setdefault(job.queue, []).append((job.id, fut))
        return await fut

    def read_blocking(self, job: Job) -> Results:
        """`read` from a sync handler's thread (never from the event loop's thread)."""
        return asyncio.run_coroutine_threadsafe(self.read(job), self._loop).result()

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for queue, asks in pending.items():
            task = self._loop.create_task(self._send(queue, asks))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, queue: str, asks: list[tuple[str, asyncio.Future[Results]]]) -> None:
        steps = flows.children_results_many(self._broker.settings, queue, [i for i, _ in asks])
        try:
            got = await self._broker.perform(steps)
        except Exception as exc:  # each handler sees the error, as from its own call
            for _, fut in asks:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (_, fut), results in zip(asks, got, strict=True):
            if not fut.done():
                fut.set_result(results)
