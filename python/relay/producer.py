"""Producer: enqueue straight into Redis from Python services inside the cluster (no HTTP hop)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from relay.broker import Broker, calls
from relay.broker.ops import Steps
from relay.config import BrokerSettings
from relay.job import JsonValue
from relay.wire import DeadPage, EnqueueResult, JobInfo, JobSpec, QueueStats

T = TypeVar("T")
P = ParamSpec("P")


class Producer:
    """Jobs straight into Redis, asyncio: the same calls as `SyncProducer`, `Client` and
    `AsyncClient` (README, "One API, four faces"), each defined once in `relay.broker.calls`.

    Jobs take the same options (`JobOptions`) whichever way they travel, and every call takes
    the same arguments and raises the same errors, so moving a service from HTTP to direct
    Redis (or back) changes one constructor.

    Args:
        broker: The broker to enqueue through; see `from_url` to make one.
    """

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._owns = False

    @classmethod
    def from_url(cls, url: str | None = None, settings: BrokerSettings | None = None) -> Producer:
        """A producer on the Redis at `url` (default: RELAY_REDIS_URL, then localhost)."""
        producer = cls(Broker.from_url(url, settings))
        producer._owns = True
        return producer

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the Redis connections when this producer made them."""
        if self._owns:
            await self.broker.close()

    async def enqueue(
        self,
        queue: str,
        job_type: str,
        payload: JsonValue = None,
        *,
        wait_replicas: int | None = None,
        **options: Any,
    ) -> EnqueueResult:
        """Enqueue one job; options are JobOptions' (priority, delay_ms, idempotency_key, ...)."""
        spec = JobSpec.of(job_type, payload, **options)
        [result] = await self.broker.enqueue_many(queue, [spec], wait_replicas=wait_replicas)
        return result

    async def enqueue_many(
        self, queue: str, specs: Sequence[JobSpec], *, wait_replicas: int | None = None
    ) -> list[str]:
        """Enqueue jobs in one round trip per 1000 (each chunk atomic); the ids in order."""
        got = await self.broker.enqueue_many(queue, specs, wait_replicas=wait_replicas)
        return [r.id for r in got]

    @staticmethod
    def job(job_type: str, payload: JsonValue = None, **options: Any) -> JobSpec:
        """A JobSpec for enqueue_many, validated now (ConfigError on a bad option)."""
        return JobSpec.of(job_type, payload, **options)

    async def get_job(self, queue: str, job_id: str) -> JobInfo:
        """A job and its state; JobNotFound when unknown."""
        return await self.broker.perform(calls.get_job, queue, job_id)

    async def stats(self, queue: str) -> QueueStats:
        """One queue's counts, totals, rate limit and pause flag; JobNotFound when unknown."""
        return await self.broker.perform(calls.stats, queue)

    async def queues(self) -> list[QueueStats]:
        """Every queue's stats."""
        return await self.broker.perform(calls.queues)

    async def dead_jobs(self, queue: str, limit: int = 50, cursor: str | None = None) -> DeadPage:
        """A page of dead jobs, newest first; pass `next_cursor` for the next page."""
        return await self.broker.perform(calls.dead_jobs, queue, limit, cursor)

    async def requeue(self, queue: str, job_id: str | None = None) -> int:
        """Move one dead job (or every one, when job_id is None) back to ready; how many."""
        return await self.broker.perform(calls.requeue, queue, job_id)

    async def delete_dead(self, queue: str, job_id: str) -> None:
        """Delete one dead job for good; JobNotFound when it is not dead."""
        await self.broker.perform(calls.delete_dead, queue, job_id)

    async def pause(self, queue: str) -> QueueStats:
        """Stop claims from the queue (enqueues still land); its stats."""
        return await self.broker.perform(calls.pause, queue)

    async def resume(self, queue: str) -> QueueStats:
        """Let claims from the queue go on; its stats."""
        return await self.broker.perform(calls.resume, queue)

    async def set_rate_limit(self, queue: str, rate: float, burst: int) -> QueueStats:
        """Limit claims to `rate` jobs/s with bursts of `burst`; the queue's stats."""
        return await self.broker.perform(calls.set_rate_limit, queue, rate, burst)

    async def clear_rate_limit(self, queue: str) -> QueueStats:
        """Remove the queue's rate limit; the queue's stats."""
        return await self.broker.perform(calls.clear_rate_limit, queue)

    async def perform(
        self,
        op: Callable[Concatenate[BrokerSettings, P], Steps[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run one sans-I/O operation (relay.broker.ops, relay.broker.calls) on this Redis."""
        return await self.broker.perform(op, *args, **kwargs)

    async def health(self) -> bool:
        """True when Redis answers and has relay's scripts (over HTTP: the server too)."""
        return await self.broker.perform(calls.health)
