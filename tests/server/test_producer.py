"""relay.Producer: the direct-to-Redis producer takes the same options as the HTTP clients."""

from __future__ import annotations

import pytest

from relay import Broker, ConfigError, Producer, QueueFull


async def test_producer_enqueues_with_job_options(broker: Broker, queue: str) -> None:
    p = Producer(broker)
    r = await p.enqueue(queue, "email", {"to": "x"}, priority=9, idempotency_key="k")
    again = await p.enqueue(queue, "email", {"to": "x"}, priority=9, idempotency_key="k")
    assert again.id == r.id and again.duplicate
    ids = await p.enqueue_many(queue, [p.job("t", i, delay_ms=60_000) for i in range(3)])
    stats = await broker.stats(queue)
    assert (stats.counts.ready, stats.counts.delayed, len(ids)) == (1, 3, 3)
    assert (await broker.get_job(queue, r.id)).priority == 9
    with pytest.raises(ConfigError):
        p.job("t", None, priority=10)
    await broker.set_max_depth(queue, 4)
    with pytest.raises(QueueFull):
        await p.enqueue(queue, "t")
    await p.close()  # not its broker: left open for the fixture


async def test_producer_from_url_owns_its_connection(redis_url: str, queue: str) -> None:
    async with Producer.from_url(redis_url) as p:
        await p.enqueue(queue, "t")
        assert (await p.broker.stats(queue)).counts.ready == 1
        await p.broker.redis.delete(*await p.broker.redis.keys(f"relay:{{{queue}}}:*"))
        await p.broker.redis.srem("relay:queues", queue)
