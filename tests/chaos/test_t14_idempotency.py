"""T14: one idempotency key, 50 concurrent enqueues: one job; a new one after the window;
the key survives a Redis restart (AOF)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from relay import Broker, BrokerSettings
from tests.chaos.harness import record_figures, restart_redis
from tests.support.redis_server import RedisServer


@pytest.mark.timeout(60)
async def test_t14_idempotency_under_concurrency_expiry_and_restart(
    private_redis: Callable[..., RedisServer],
) -> None:
    server = private_redis("--appendonly", "yes", "--appendfsync", "everysec")
    window_ms = 500
    brokers = [
        Broker.from_url(server.url, BrokerSettings(idempotency_window_ms=window_ms))
        for _ in range(5)
    ]
    q = "t14"
    try:
        calls = [
            brokers[i % 5].enqueue(q, "work", {"n": 1}, idempotency_key="order-42")
            for i in range(50)
        ]
        results = await asyncio.gather(*calls)
        ids = {r.id for r in results}
        firsts = sum(not r.duplicate for r in results)
        records = int(await brokers[0].redis.hlen(f"relay:{{{q}}}:jobs"))

        await asyncio.sleep(window_ms / 1000 + 0.2)
        after_window = await brokers[0].enqueue(q, "work", {"n": 1}, idempotency_key="order-42")

        day = BrokerSettings(idempotency_window_ms=86_400_000)
        before = Broker.from_url(server.url, day)
        try:
            kept = await before.enqueue(q, "work", {"n": 2}, idempotency_key="order-43")
        finally:
            await before.close()
        # With appendfsync everysec Redis may answer before it has written the AOF (it postpones
        # the write while a background fsync is busy: up to 2 s on a loaded disk), and a SIGKILL
        # then loses it. What T14 checks is that a key which reached the AOF survives: wait
        # until Redis has written its AOF buffer (into the page cache, which a kill keeps).
        await _aof_written(brokers[0])
        server.kill()  # SIGKILL: what reached the AOF (the page cache) survives
        await asyncio.to_thread(restart_redis, server)
        after = Broker.from_url(server.url, day)
        try:
            again = await after.enqueue(q, "work", {"n": 2}, idempotency_key="order-43")
        finally:
            await after.close()
    finally:
        for b in brokers:
            await b.close()
    figures = {
        "concurrent_enqueues": 50,
        "distinct_ids": len(ids),
        "first_enqueues": firsts,
        "job_records": records,
        "new_job_after_window": not after_window.duplicate and after_window.id not in ids,
        "duplicate_after_restart": again.duplicate and again.id == kept.id,
    }
    record_figures("T14", figures)
    assert (len(ids), firsts, records) == (1, 1, 1), figures
    assert figures["new_job_after_window"] and figures["duplicate_after_restart"], figures


async def _aof_written(broker: Broker) -> None:
    for _ in range(600):  # every 10 ms, 6 s at most (Redis forces the write after 2 s)
        info = await broker.redis.info("persistence")
        if int(info["aof_buffer_length"]) == 0 and int(info.get("aof_pending_bio_fsync", 0)) == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"Redis never wrote its AOF buffer: {info}")
