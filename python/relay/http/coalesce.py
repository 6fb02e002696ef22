"""Group commit: concurrent single-job enqueues coalesced into one script call per loop turn.

On an idle queue (no call of its own in flight, no batch open) a job is sent at once, alone, as
without group commit: a lone request waits for nothing. Otherwise it joins the open batch of
its queue (and `wait_replicas`); the first job of a batch schedules its flush with `call_soon`,
so the batch is sent on the next turn of the event loop with every request whose handler ran in
this turn. No timer anywhere. Each request still gets its own answer: its
id and duplicate flag, in its place of the script's reply.

A batch is at most `batch_limit` jobs, so it is one script call and atomic: a server killed
mid-call leaves each of its jobs wholly stored or absent. The script refuses a batch as a whole
(an idempotency key reused with another payload, a full queue, a payload over the limit); then
each job of the batch is sent again on its own, so it gets the answer it would have got alone
and one bad job never fails its neighbours. Nothing was written by the refused call, so no job
is stored twice. A Redis outage or a replication timeout is every request's answer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiohttp import web

from relay.broker import Broker
from relay.errors import ConfigError, IdempotencyConflict, PayloadTooLarge, QueueFull
from relay.job import EnqueueResult
from relay.wire import JobSpec

log = logging.getLogger("relay.http")

# The script's refusals of a whole batch: a job alone may fare otherwise, so each is retried alone.
_BATCH_REFUSALS = (IdempotencyConflict, QueueFull, PayloadTooLarge, ConfigError)


@dataclass
class _Batch:
    specs: list[JobSpec] = field(default_factory=list)
    waiters: list[asyncio.Future[EnqueueResult]] = field(default_factory=list)
    sent: bool = False


class Coalescer:
    """Enqueue one job, sharing a script call with the jobs enqueued in the same loop turn."""

    def __init__(self, broker: Broker, enabled: bool = True) -> None:
        self._broker = broker
        self._enabled = enabled
        self._open: dict[tuple[str, int | None], _Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: dict[tuple[str, int | None], int] = {}  # calls in flight per key
        self.calls = 0  # script calls sent (for tests and benchmarks)
        self.jobs = 0  # jobs sent in them

    async def enqueue(self, queue: str, spec: JobSpec, wait_replicas: int | None) -> EnqueueResult:
        """Enqueue `spec` on `queue`; raises what enqueueing it alone would raise."""
        if not self._enabled:
            self.calls += 1
            self.jobs += 1
            [got] = await self._broker.enqueue_many(queue, [spec], wait_replicas=wait_replicas)
            return got
        loop = asyncio.get_running_loop()
        key = (queue, wait_replicas)
        batch = self._open.get(key)
        if batch is None and not self._busy.get(key):  # idle: no reason to wait for company
            self.calls += 1
            self.jobs += 1
            self._busy[key] = 1
            try:
                [got] = await self._broker.enqueue_many(queue, [spec], wait_replicas=wait_replicas)
            finally:
                self._done(key)
            return got
        if batch is None:
            batch = self._open[key] = _Batch()
            loop.call_soon(self._flush, key, batch)
        batch.specs.append(spec)
        fut: asyncio.Future[EnqueueResult] = loop.create_future()
        batch.waiters.append(fut)
        if len(batch.specs) >= self._broker.settings.batch_limit:
            self._flush(key, batch)  # full: send it now, the next job opens a new one
        return await fut

    def _flush(self, key: tuple[str, int | None], batch: _Batch) -> None:
        if self._open.get(key) is batch:
            del self._open[key]
        if batch.sent:  # a full batch went at once; its call_soon finds it sent
            return
        batch.sent = True
        task = asyncio.get_running_loop().create_task(self._send(key, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _done(self, key: tuple[str, int | None]) -> None:
        left = self._busy.get(key, 1) - 1
        if left:
            self._busy[key] = left
        else:
            self._busy.pop(key, None)

    async def _send(self, key: tuple[str, int | None], batch: _Batch) -> None:
        self._busy[key] = self._busy.get(key, 0) + 1
        try:
            await self._send_batch(key, batch)
        finally:
            self._done(key)

    async def _send_batch(self, key: tuple[str, int | None], batch: _Batch) -> None:
        queue, replicas = key
        self.calls += 1
        self.jobs += len(batch.specs)
        try:
            results = await self._broker.enqueue_many(queue, batch.specs, wait_replicas=replicas)
        except _BATCH_REFUSALS as exc:
            if len(batch.specs) == 1:
                _settle(batch.waiters[0], exc)
                return
            pairs = zip(batch.specs, batch.waiters, strict=True)
            await asyncio.gather(*(self._alone(queue, s, replicas, f) for s, f in pairs))
            return
        except BaseException as exc:  # an outage, a replication timeout: everyone's answer
            for fut in batch.waiters:
                _settle(fut, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for fut, got in zip(batch.waiters, results, strict=True):
            if not fut.done():
                fut.set_result(got)

    async def _alone(
        self, queue: str, spec: JobSpec, replicas: int | None, fut: asyncio.Future[EnqueueResult]
    ) -> None:
        self.calls += 1
        self.jobs += 1
        try:
            [got] = await self._broker.enqueue_many(queue, [spec], wait_replicas=replicas)
        except Exception as exc:
            _settle(fut, exc)
        else:
            if not fut.done():
                fut.set_result(got)


def _settle(fut: asyncio.Future[EnqueueResult], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


COALESCER = web.AppKey("relay_coalescer", Coalescer)
