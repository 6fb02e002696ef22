"""extend.lua: a held lease moves to Redis now + lease; a lost one stays lost."""

from __future__ import annotations

import asyncio

from relay import Broker
from relay.broker import Code
from relay.keys import QueueKeys
from tests.scripts.helpers import redis_ms, state


async def test_extend_pushes_the_deadline(broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    [job] = (await broker.claim(queue, 1, 40)).jobs
    assert await broker.extend(queue, [(job.id, job.token)], 10_000) == [Code.OK]
    now = await redis_ms(broker.redis)
    deadline = await broker.redis.zscore(QueueKeys.for_queue(queue).inflight, job.id)
    assert now + 9_000 < deadline <= now + 10_000
    await asyncio.sleep(0.08)
    assert (await broker.reap(queue)).requeued == 0  # still held
    assert (await state(broker, queue))["inflight"] == [job.id]


async def test_extend_with_a_stale_token_is_refused(broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    [job] = (await broker.claim(queue, 1, 20)).jobs
    await asyncio.sleep(0.05)
    await broker.reap(queue)
    assert await broker.extend(queue, [(job.id, job.token)], 10_000) == [Code.STALE]
    assert (await state(broker, queue))["ready"] == [job.id]
