"""Broker.wait_then_claim: the idle wait with the claims pipelined behind its BLPOP."""

from __future__ import annotations

import asyncio
import time

import pytest

from relay import Broker, BrokerSettings, JobSpec
from relay.broker.connection import connect


@pytest.fixture(autouse=True)
async def _single_redis(broker: Broker, queue: str) -> None:
    if not broker.can_wait_then_claim:
        pytest.skip("a cluster waits first and claims after")
    await broker.claim(queue, 1, 1000)  # nothing to claim; makes sure Redis has the script


async def test_a_job_enqueued_during_the_wait_comes_back_claimed(
    broker: Broker, queue: str
) -> None:
    wait = asyncio.create_task(broker.wait_then_claim([queue], 5.0, [(queue, 10)], 30_000))
    await asyncio.sleep(0.2)
    assert not wait.done()
    [r] = await broker.enqueue_many(queue, [JobSpec.of("t", {"n": 1})])
    woke, [(q, got)] = await asyncio.wait_for(wait, 2.0)
    assert (woke, q) == (queue, queue)
    assert got is not None and [(j.id, j.payload, j.attempts) for j in got.jobs] == [
        (r.id, {"n": 1}, 1)
    ]
    assert (await broker.stats(queue)).counts.inflight == 1
    assert await broker.ack(queue, [(got.jobs[0].id, got.jobs[0].token)]) == [True]


async def test_claims_run_on_a_timeout_too_and_honour_pause(broker: Broker, queue: str) -> None:
    other = queue + "-b"
    await broker.enqueue_many(queue, [JobSpec.of("t")])  # a wake-up too: pop it first
    await broker.redis.delete(broker._ks(queue).keys.wake)
    await broker.enqueue_many(other, [JobSpec.of("t")])
    await broker.redis.delete(broker._ks(other).keys.wake)
    await broker.pause(other)
    t0 = time.monotonic()
    woke, claims = await broker.wait_then_claim(
        [queue, other], 0.1, [(queue, 5), (other, 5)], 30_000
    )
    assert woke is None and time.monotonic() - t0 >= 0.1
    (q1, got1), (q2, got2) = claims
    assert (q1, q2) == (queue, other)
    assert got1 is not None and len(got1.jobs) == 1
    assert got2 is not None and got2.paused and not got2.jobs
    await broker.ack(queue, [(got1.jobs[0].id, got1.jobs[0].token)])
    await broker.resume(other)
    [job] = (await broker.claim(other, 5, 30_000)).jobs
    await broker.ack(other, [(job.id, job.token)])


async def test_unblock_ends_the_wait_and_its_claims_still_come_back(
    redis_url: str, broker: Broker, queue: str
) -> None:
    waiter = Broker(connect(redis_url, client_name="relay-test-waiter"), BrokerSettings())
    try:
        wait = asyncio.create_task(waiter.wait_then_claim([queue], 30.0, [(queue, 5)], 30_000))
        await asyncio.sleep(0.2)
        await broker.enqueue_many(queue, [JobSpec.of("t")])  # claimed by the waiter's claim
        woke, [(_, got)] = await asyncio.wait_for(wait, 2.0)
        assert woke == queue and got is not None and len(got.jobs) == 1
        await broker.ack(queue, [(got.jobs[0].id, got.jobs[0].token)])

        wait2 = asyncio.create_task(waiter.wait_then_claim([queue], 30.0, [(queue, 5)], 30_000))
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        assert await broker.unblock_waiter("relay-test-waiter")
        woke, claims = await asyncio.wait_for(wait2, 2.0)
        [(_, got)] = claims
        assert woke is None and got is not None and not got.jobs
        assert time.monotonic() - t0 < 1.0
        assert not await broker.unblock_waiter("relay-test-waiter")  # nothing blocked now
    finally:
        await waiter.close()


async def test_a_script_flush_during_the_wait_leaves_the_claim_to_the_next_round(
    broker: Broker, queue: str
) -> None:
    await broker.redis.script_flush()
    woke, [(q, got)] = await broker.wait_then_claim([queue], 0.05, [(queue, 5)], 30_000)
    assert (woke, q, got) == (None, queue, None)
    assert (await broker.claim(queue, 5, 30_000)).jobs == []  # the usual path reloads it
