"""T15: an evicting Redis is warned about at start; a full one refuses enqueues cleanly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from relay import Broker
from relay.errors import RedisUnavailable
from relay.http import create_app
from tests.chaos.harness import Run, record_figures, specs_of
from tests.support.invariant import check_invariant
from tests.support.redis_server import RedisServer


@pytest.mark.timeout(60)
async def test_t15_an_evicting_redis_is_warned_about_at_start(
    private_redis: Callable[..., RedisServer], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = private_redis("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    run = Run(dir=tmp_path, redis_url=server.url, queue="t15")
    broker = Broker.from_url(server.url)
    try:
        with caplog.at_level(logging.WARNING, logger="relay.broker"):
            policy = await broker.check_eviction_policy()
        w = await run.start_worker().started()
        await asyncio.sleep(0.5)
        worker_warned = "not 'noeviction'" in w.output()
    finally:
        run.cleanup(keep=True)
        await broker.close()
    figures = {"policy": policy, "broker_warned": "noeviction" in caplog.text}
    figures["worker_warned"] = worker_warned
    record_figures("T15_warning", figures)
    assert policy == "allkeys-lru" and figures["broker_warned"] and worker_warned, figures


@pytest.mark.timeout(60)
async def test_t15_a_full_redis_refuses_enqueues_cleanly_and_acks_still_work(
    private_redis: Callable[..., RedisServer],
) -> None:
    server = private_redis()
    q = "t15"
    broker = Broker.from_url(server.url)
    client = TestClient(TestServer(create_app(broker)))
    await client.start_server()
    try:
        await broker.enqueue_many(q, specs_of("work", 20))
        held = await broker.claim(q, 10, 60_000)
        before = int(await broker.redis.hlen(f"relay:{{{q}}}:jobs"))
        await broker.redis.config_set("maxmemory", 1)  # far below what is used: full
        with pytest.raises(RedisUnavailable, match="OOM"):
            await broker.enqueue_many(q, specs_of("work", 5))
        resp = await client.post(f"/api/queues/{q}/jobs", json={"type": "work"})
        body = await resp.json()
        after = int(await broker.redis.hlen(f"relay:{{{q}}}:jobs"))
        acked = await broker.ack(q, [(j.id, j.token) for j in held.jobs])
        claimed_while_full = len((await broker.claim(q, 10, 60_000)).jobs)
        await broker.redis.config_set("maxmemory", 0)
        states = await check_invariant(broker.redis, q)
    finally:
        await client.close()
        await broker.close()
    figures = {
        "http_status": resp.status,
        "http_code": body["error"]["code"],
        "job_records_before_after": [before, after],
        "acks_accepted_while_full": sum(acked),
        "claimed_while_full": claimed_while_full,
        "completed": len(states["completed"]),
    }
    record_figures("T15_full", figures)
    assert (resp.status, body["error"]["code"]) == (503, "redis_unavailable"), figures
    assert before == after == 20, figures
    assert sum(acked) == 10 and claimed_while_full == 10, figures
