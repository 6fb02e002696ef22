"""reap.lua: expired leases come back first in line, or dead when spent or crash-looping."""

from __future__ import annotations

import asyncio

from relay import Broker, BrokerSettings, JobSpec
from relay.keys import QueueKeys
from tests.scripts.helpers import state


async def test_expired_lease_returns_to_the_head_of_ready(broker: Broker, queue: str) -> None:
    first, second = await broker.enqueue_many(queue, [JobSpec.of("t", 1), JobSpec.of("t", 2)])
    [job] = (await broker.claim(queue, 1, 20)).jobs
    assert job.id == first.id
    await asyncio.sleep(0.05)
    r = await broker.reap(queue)
    assert (r.requeued, r.dead, r.more) == (1, 0, False)
    assert (await state(broker, queue))["ready"] == [first.id, second.id]
    info = await broker.get_job(queue, first.id)
    assert info.last_error is not None and "lease expired" in info.last_error
    assert (await broker.stats(queue)).totals.reaped == 1


async def test_unexpired_leases_are_left_alone(broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    await broker.claim(queue, 1, 60_000)
    assert (await broker.reap(queue)).requeued == 0
    assert len((await state(broker, queue))["inflight"]) == 1


async def test_expiry_on_the_last_attempt_dead_letters(broker: Broker, queue: str) -> None:
    r = await broker.enqueue(queue, "t", max_attempts=1)
    await broker.claim(queue, 1, 10)
    await asyncio.sleep(0.03)
    assert (await broker.reap(queue)).dead == 1
    assert (await state(broker, queue))["dead"] == [r.id]


async def test_a_crash_looping_job_is_quarantined(redis_url: str, queue: str) -> None:
    b = Broker.from_url(redis_url, BrokerSettings(crash_limit=3))
    try:
        r = await b.enqueue(queue, "t", max_attempts=100)
        for _ in range(3):
            assert len((await b.claim(queue, 1, 10)).jobs) == 1
            await asyncio.sleep(0.03)
            await b.reap(queue)
        assert (await state(b, queue))["dead"] == [r.id]
        info = await b.get_job(queue, r.id)
        assert info.last_error and "quarantined" in info.last_error
    finally:
        await b.close()


async def test_reap_works_in_bounded_batches(redis_url: str, queue: str) -> None:
    b = Broker.from_url(redis_url, BrokerSettings(batch_limit=100))
    try:
        await b.enqueue_many(queue, [JobSpec.of("t", i) for i in range(250)])
        for _ in range(3):
            await b.claim(queue, 100, 10)
        await asyncio.sleep(0.03)
        batches = []
        while True:
            r = await b.reap(queue)
            batches.append(r.requeued)
            if not r.more:
                break
        assert batches == [100, 100, 50]
        assert len((await state(b, queue))["ready"]) == 250
    finally:
        await b.close()


async def test_concurrent_reapers_requeue_each_job_once(broker: Broker, queue: str) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(300)])
    await broker.claim(queue, 300, 10)
    await asyncio.sleep(0.03)
    results = await asyncio.gather(*(broker.reap(queue) for _ in range(8)))
    assert sum(r.requeued for r in results) == 300
    assert len((await state(broker, queue))["ready"]) == 300


async def test_a_reap_pushes_a_wake_up_a_dead_worker_took_with_it(
    broker: Broker, queue: str
) -> None:
    """A worker that popped the wake-up and died before it claimed leaves a job ready and the
    other workers asleep; the next reap (every worker runs one each second) wakes them."""
    wake = QueueKeys.for_queue(queue).wake
    await broker.enqueue(queue, "t")
    assert await broker.redis.lpop(wake) == b"1"  # the dead worker's pop
    await broker.reap(queue)
    assert await broker.redis.lrange(wake, 0, -1) == [b"1"]
    await broker.reap(queue)  # one pending wake-up is enough: never a pile of them
    assert await broker.redis.llen(wake) == 1


async def test_a_reap_wakes_no_one_for_an_empty_or_paused_queue(broker: Broker, queue: str) -> None:
    wake = QueueKeys.for_queue(queue).wake
    await broker.reap(queue)
    assert await broker.redis.llen(wake) == 0
    await broker.enqueue(queue, "t")
    await broker.pause(queue)
    await broker.redis.delete(wake)
    await broker.reap(queue)
    assert await broker.redis.llen(wake) == 0
