"""Producer: enqueue straight into Redis from Python services inside the cluster (no HTTP hop)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from relay.broker import Broker
from relay.config import BrokerSettings
from relay.job import EnqueueResult, JsonValue
from relay.wire import JobSpec


class Producer:
    """The producing half of the broker, with the same calls as `relay.client.AsyncClient`.

    Jobs take the same options (`JobOptions`) whichever way they travel, so moving a service
    from HTTP to direct Redis (or back) changes one constructor.

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
        self, queue: str, job_type: str, payload: JsonValue = None, **options: Any
    ) -> EnqueueResult:
        """Enqueue one job; options are JobOptions' (priority, delay_ms, idempotency_key, ...)."""
        spec = JobSpec.of(job_type, payload, **options)
        [result] = await self.broker.enqueue_many(queue, [spec])
        return result

    async def enqueue_many(self, queue: str, specs: Sequence[JobSpec]) -> list[str]:
        """Enqueue jobs in one round trip per 1000 (each chunk atomic); the ids in order."""
        return [r.id for r in await self.broker.enqueue_many(queue, specs)]

    @staticmethod
    def job(job_type: str, payload: JsonValue = None, **options: Any) -> JobSpec:
        """A JobSpec for enqueue_many, validated now (ConfigError on a bad option)."""
        return JobSpec.of(job_type, payload, **options)
