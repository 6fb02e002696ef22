"""The worker's side of schedules: fire due ticks from the promoter loop, sync declared ones.

The promote script the promoter already runs also peeks at the queue's earliest schedule tick
(`note`), so an idle worker pays no extra call for schedules, however many there are. When a
tick is due, `fire(queue)` reads the due ticks and fires them (two calls); the promoter then
sleeps no longer than the ms `fire` returns, so a tick starts within the promoter's wake-up
latency of its time while any worker serves the queue.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from relay.errors import RedisUnavailable, ScheduleNotFound
from relay.schedules.model import Cron, Every, Schedule

if TYPE_CHECKING:
    from relay.broker import Broker

log = logging.getLogger("relay.schedules")

MAX_SLEEP_MS = 1000


@dataclass(frozen=True, slots=True)
class Declared:
    """A schedule declared in code: `@registry.task("t", schedule=relay.Cron(...))`."""

    job_type: str
    when: Cron | Every

    def schedule(self, default_queue: str) -> tuple[str, Schedule]:
        w = self.when
        return w.queue or default_queue, Schedule(
            name=w.name or self.job_type,
            type=self.job_type,
            payload=w.payload,
            group=w.group,
            **w.fields(),
        )


class ScheduleFiring:
    """Fires the due ticks of a worker's queues; counts fired and missed ticks."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.fired: Counter[str] = Counter()
        self.missed: Counter[str] = Counter()
        self._due_at: dict[str, float] = {}  # queue -> loop time of its next tick (inf: none)
        self._pending: list[tuple[str, Schedule]] = []
        self._removals: list[tuple[str, str]] = []

    def declare(
        self, declared: Iterable[Declared], removed: Iterable[tuple[str | None, str]], queue: str
    ) -> None:
        """Schedules to create or update (and names to delete) before the first firing pass."""
        self._pending = [d.schedule(queue) for d in declared]
        self._removals = [(q or queue, name) for q, name in removed]

    def note(self, queue: str, tick_ms: int) -> None:
        """The promote script's word on `queue`'s next tick: ms from now, -1 none."""
        now = asyncio.get_running_loop().time()
        self._due_at[queue] = math.inf if tick_ms < 0 else now + tick_ms / 1000

    async def fire(self, queue: str) -> int:
        """Fire what is due in `queue`; ms until its next tick (1..MAX_SLEEP_MS).

        RedisUnavailable goes to the caller (the promoter's outage handling); any other error
        is logged and retried on the next pass: a schedule bug must not stop promotion."""
        try:
            return await self._fire(queue)
        except RedisUnavailable:
            raise
        except Exception:
            log.exception("firing the schedules of queue %s failed; retrying", queue)
            return MAX_SLEEP_MS

    async def _fire(self, queue: str) -> int:
        if self._pending or self._removals:
            await self._sync()
            self._due_at.clear()  # what the promote saw predates the sync: look now
        left = self._due_at.get(queue, 0.0) - asyncio.get_running_loop().time()
        if left > 0:  # not due yet (as of the last promote): no call
            return MAX_SLEEP_MS if left * 1000 > MAX_SLEEP_MS else max(1, math.ceil(left * 1000))
        got = await self._broker.fire_schedules(queue)
        self._due_at[queue] = 0.0 if got.wait_ms == 0 else math.inf
        self.fired[queue] += got.enqueued
        self.missed[queue] += got.missed
        if got.wait_ms < 0:
            return MAX_SLEEP_MS
        return max(1, min(got.wait_ms, MAX_SLEEP_MS))

    async def _sync(self) -> None:
        while self._pending:
            queue, s = self._pending[0]
            _, created = await self._broker.upsert_schedule(queue, s)
            log.info(
                "schedule %s of queue %s %s", s.name, queue, "created" if created else "synced"
            )
            self._pending.pop(0)
        while self._removals:
            queue, name = self._removals[0]
            try:
                await self._broker.delete_schedule(queue, name)
                log.info("schedule %s of queue %s removed (the app said so)", name, queue)
            except ScheduleNotFound:
                pass
            self._removals.pop(0)

    def collector(self) -> Collector:
        return _Collector(self)


class _Collector(Collector):
    def __init__(self, firing: ScheduleFiring) -> None:
        self._f = firing

    def collect(self) -> Iterator[Metric]:
        fired = CounterMetricFamily(
            "relay_worker_schedule_ticks_fired",
            "Schedule ticks whose job this worker enqueued.",
            labels=["queue"],
        )
        missed = CounterMetricFamily(
            "relay_worker_schedule_ticks_missed",
            "Schedule ticks that got no job of their own (no worker ran then, or queue full).",
            labels=["queue"],
        )
        for queue, n in dict(self._f.fired).items():
            fired.add_metric([queue], n)
        for queue, n in dict(self._f.missed).items():
            missed.add_metric([queue], n)
        yield from (fired, missed)


def declared_of(items: Sequence[tuple[str, Cron | Every]]) -> list[Declared]:
    return [Declared(t, w) for t, w in items]
