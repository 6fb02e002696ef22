"""A wake-up lost with a dead worker, on the cluster, where a worker's claim is a second call
after the wake-up it popped: a worker killed between the two took the only wake-up with it."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from relay import Broker, Job, Registry, Worker
from relay.keys import QueueKeys
from tests.chaos.harness import wait_for
from tests.cluster.cluster import Cluster

# Without the reaper's re-wake the job waited for the idle worker's 60 s safety poll.
PICKED_UP_WITHIN_S = 20.0


async def test_a_wake_up_a_dead_worker_took_delays_the_job_one_reap_at_most(
    broker: Broker, healthy_cluster: Cluster, queue: str
) -> None:
    wake = QueueKeys.for_queue(queue).wake
    port = healthy_cluster.master_of(wake)

    def blocked() -> int:
        return int(healthy_cluster.node(port).info("clients")["blocked_clients"])

    async def blocked_at_least(n: int) -> bool:
        return blocked() >= n

    ran = asyncio.Event()
    registry = Registry()

    @registry.task("t")
    async def t(job: Job) -> None:
        ran.set()

    before = blocked()
    # The worker that will die: it blocks first, so Redis hands it the wake-up, and never claims.
    doomed = aioredis.Redis(host="127.0.0.1", port=port)

    async def pop() -> object:
        return await doomed.blpop([wake], timeout=60)

    stolen = asyncio.create_task(pop())
    await wait_for(lambda: blocked_at_least(before + 1), 10)
    worker = Worker(registry, [queue], redis_url=healthy_cluster.url, concurrency=1)
    running = asyncio.create_task(worker.run())
    try:
        await wait_for(lambda: blocked_at_least(before + 2), 10)  # the live worker is idle
        await broker.enqueue(queue, "t")
        assert await stolen in ([wake.encode(), b"1"], (wake.encode(), b"1"))
        await asyncio.wait_for(ran.wait(), PICKED_UP_WITHIN_S)
    finally:
        worker.stop()
        await running
        await doomed.aclose()
