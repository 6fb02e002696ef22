"""The queue registry (`relay:queues`) heals when lost: on later enqueues and on lookups.

Also in the engine suite on the cluster, where the registry lives in a slot of its own."""

from __future__ import annotations

import os

from relay import Broker, SyncProducer
from relay.broker.registry import Registrations
from relay.keys import QUEUES_KEY

ON_CLUSTER = "+cluster" in os.environ.get("RELAY_TEST_REDIS_URL", "")


async def test_enqueues_register_again_once_the_refresh_passed(
    broker: Broker, redis_url: str, queue: str
) -> None:
    await broker.enqueue(queue, "t")
    await broker.redis.delete(QUEUES_KEY)
    broker._registered = Registrations(refresh_s=0.0)  # every enqueue is past the refresh
    await broker.enqueue(queue, "t")
    assert await broker.redis.sismember(QUEUES_KEY, queue)
    await broker.redis.delete(QUEUES_KEY)
    assert await broker.has_queue(queue), "a lookup registers a queue whose keys exist"
    assert await broker.redis.sismember(QUEUES_KEY, queue)
    assert not await broker.has_queue(f"never-{queue}")
    assert not await broker.redis.sismember(QUEUES_KEY, f"never-{queue}")
    if not ON_CLUSTER:  # SyncProducer is for one Redis
        await broker.redis.delete(QUEUES_KEY)
        with SyncProducer.from_url(redis_url) as producer:
            producer._registered = Registrations(refresh_s=0.0)
            producer.enqueue(queue, "t")
            await broker.redis.delete(QUEUES_KEY)
            producer.enqueue(queue, "t")
        assert await broker.redis.sismember(QUEUES_KEY, queue)


def test_a_registration_is_good_for_its_refresh_time_only() -> None:
    r = Registrations(refresh_s=3600.0)
    assert r.due("q")
    r.done("q")
    assert not r.due("q") and r.due("other")
    assert Registrations(refresh_s=0.0).due("q")
