"""A Redis that cannot be reached is RedisUnavailable from every Broker call, startup ones too.

Regression (found by the chaos battery, T4): `check_eviction_policy` let redis-py's raw
ConnectionError out, so a worker whose first command met a reset or a Redis still starting
lost its claim loop and exited 1 instead of retrying.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from relay import Broker
from relay.errors import RedisUnavailable
from tests.integration.worker_apps.harness import WorkerProcess, eventually, parse_log
from tests.support.redis_server import RedisServer, free_port


async def test_check_eviction_policy_on_an_unreachable_redis_is_redis_unavailable() -> None:
    broker = Broker.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(RedisUnavailable):
            await broker.check_eviction_policy()
    finally:
        await broker.close()


async def test_a_worker_started_before_redis_waits_for_it_and_then_works() -> None:
    server = RedisServer()
    w = WorkerProcess.start(server.url, "q", concurrency=1, visibility="2s")
    try:
        await w.started()
        await asyncio.sleep(1.0)  # its first commands find nothing listening
        assert w.proc.poll() is None, w.output()
        server.start()
        broker = Broker.from_url(server.url)
        try:
            await broker.enqueue("q", "record", {"log": "log"})

            async def ran() -> bool:
                return len(parse_log(await broker.redis.lrange("log", 0, -1))) == 1

            await eventually(ran, 20, w.output)
        finally:
            await broker.close()
        w.signal(signal.SIGTERM)
        assert await w.exited() == 0
    finally:
        w.kill()
        server.stop()
