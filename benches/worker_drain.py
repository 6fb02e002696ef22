"""Waits shared by the in-process worker drain benchmarks (results, flows)."""

from __future__ import annotations

import asyncio

from relay import Broker, Worker
from relay.keys import QueueKeys


async def until_idle(broker: Broker, worker: Worker) -> None:
    """Return once `worker` blocks on its wake-up list (it is idle); 20 s at most."""
    for _ in range(2000):
        clients = await broker.redis.client_list()
        if any(c.get("cmd") == "blpop" and c.get("name") == worker.wait_name for c in clients):
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the worker never went idle")


async def until_completed(broker: Broker, queues: list[str], n: int) -> None:
    """Return once Redis counts `n` completed jobs over `queues`; every 2 ms, 2 minutes at most."""
    keys = [QueueKeys.for_queue(q).stats for q in queues]
    for _ in range(60_000):
        if sum([int(await broker.redis.hget(k, "completed") or 0) for k in keys]) >= n:
            return
        await asyncio.sleep(0.002)
    raise TimeoutError("the drain made no progress in 2 minutes")
