"""Small helpers for script tests: Redis time, raw seeding, state snapshots."""

from __future__ import annotations

from typing import Any

from relay import Broker
from relay.broker import Claimed
from tests.support.invariant import check_invariant


async def redis_ms(redis: Any) -> int:
    sec, usec = await redis.time()
    return int(sec) * 1000 + int(usec) // 1000


async def state(broker: Broker, queue: str) -> dict[str, list[str]]:
    """Ids per state, after asserting the invariant."""
    return await check_invariant(broker.redis, queue)


async def claim_all(broker: Broker, queue: str, lease_ms: int = 30_000) -> Claimed:
    return await broker.claim(queue, 1000, lease_ms)
