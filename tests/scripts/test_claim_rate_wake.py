"""claim.lua: a batch the rate limit cuts short passes the wake-up on.

Regression (found by the chaos battery, T13): a claim that got fewer jobs than it asked for
because the bucket ran dry looked, to the worker, like a drained queue, so every worker went
idle on the wake-up list (for seconds) while ready jobs waited: 4 workers under a 50/s limit
started ~1 job/s. Now such a claim pushes a wake-up, and the next claimer learns from the
limiter when the next token is due.
"""

from __future__ import annotations

from relay import Broker, JobSpec
from relay.keys import QueueKeys


async def test_a_claim_cut_short_by_the_rate_limit_leaves_a_wake_up(
    broker: Broker, queue: str
) -> None:
    wake = QueueKeys.for_queue(queue).wake
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(5)])
    await broker.set_rate_limit(queue, 1.0, 2)
    await broker.redis.delete(wake)
    got = await broker.claim(queue, 10, 10_000)
    assert len(got.jobs) == 2
    assert await broker.redis.llen(wake) == 1
    await broker.redis.delete(wake)
    limited = await broker.claim(queue, 10, 10_000)
    assert limited.jobs == [] and limited.wait_ms > 0  # the limiter says when, no wake-up
    assert await broker.redis.llen(wake) == 0


async def test_a_claim_that_empties_the_queue_leaves_no_wake_up(broker: Broker, queue: str) -> None:
    wake = QueueKeys.for_queue(queue).wake
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(3)])
    await broker.set_rate_limit(queue, 100.0, 10)
    await broker.redis.delete(wake)
    got = await broker.claim(queue, 10, 10_000)
    assert len(got.jobs) == 3 and await broker.redis.llen(wake) == 0
