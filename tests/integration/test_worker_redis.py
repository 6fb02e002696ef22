"""The worker and its Redis: an idle worker stays quiet, a restarted Redis is ridden out."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aredis

from relay import Broker, JobSpec
from relay.worker.claimer import IDLE_WAIT
from tests.integration.worker_apps.harness import (  # stop_stray_workers: autouse fixture
    WorkerProcess,
    eventually,
    stop_stray_workers,  # noqa: F401
)
from tests.support.redis_server import RedisServer


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own (a fixed port, so it can be restarted in place)."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


async def _commands(r: aredis.Redis) -> tuple[float, int, dict[str, int]]:
    """Redis' own clock (s) and its command counters, read back to back in one round trip."""
    pipe = r.pipeline(transaction=False)
    pipe.time()
    pipe.info("stats")
    pipe.info("commandstats")
    (sec, usec), info, stats = await pipe.execute()
    calls = {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}
    return sec + usec / 1e6, int(info["total_commands_processed"]), calls


async def test_an_idle_worker_makes_at_most_10_commands_a_second(
    private_redis: RedisServer,
) -> None:
    w = WorkerProcess.start(private_redis.url, "idle", concurrency=64)
    r = aredis.Redis.from_url(private_redis.url)
    try:
        await w.started()
        await asyncio.sleep(1.0)  # past the start-up calls
        t0, total0, calls0 = await _commands(r)
        # The loops tick every 1 s and 4 s: over 8 s, a tick more or less at either edge of
        # the window moves the rate by ~1.5/s (over 3 s it was ~4/s, and failed at 10.9/s).
        await asyncio.sleep(2 * IDLE_WAIT)
        t1, total1, calls1 = await _commands(r)
    finally:
        w.signal(signal.SIGTERM)
        assert await w.exited() == 0
        await r.aclose()
    # The worker's commands come on its timers, so they are counted over the window Redis saw
    # (longer than asked for on a loaded machine). total_commands_processed counts the
    # commands scripts run too, and ours in the window: INFO, INFO, then the second TIME.
    window = t1 - t0
    rate = (total1 - total0 - 3) / window
    sent = {k: n - calls0.get(k, 0) for k, n in calls1.items() if n > calls0.get(k, 0)}
    assert rate <= 10, (rate, window, sent)
    assert sent.get("evalsha", 0) <= 3 * window and sent.get("blpop", 0) <= window, sent


async def test_the_worker_waits_for_redis_and_rides_out_a_restart() -> None:
    """Started before Redis is up, then Redis restarts (empty): it resumes by itself each time."""
    queue, log = "restart", "restart:log"
    server = RedisServer()  # not started yet
    w = WorkerProcess.start(server.url, queue, concurrency=8, visibility="2s")
    broker: Broker | None = None

    async def ran(n: int) -> bool:
        assert broker is not None
        return int(await broker.redis.llen(log)) == n

    try:
        await w.started()
        await eventually(lambda: _true("redis unreachable" in w.output()), 10, w.output)
        for _ in range(2):
            server.start()  # same port; no persistence, so every start is an empty Redis
            broker = Broker.from_url(server.url)
            await broker.enqueue_many(
                queue, [JobSpec.of("record", {"log": log}) for _ in range(20)]
            )
            await eventually(lambda: ran(20), 15, w.output)
            await broker.close()
            server.stop()
            await asyncio.sleep(1.0)  # a few failed retries on every loop
    finally:
        server.stop()
        w.signal(signal.SIGTERM)
        assert await w.exited() == 0
    out = w.output()
    assert out.count("redis unreachable, retrying") == 3 and out.count("redis back") == 2, out


async def test_a_job_that_ends_while_redis_is_away_is_acked_when_it_returns(
    private_redis: RedisServer,
) -> None:
    queue, log = "away", "away:log"
    w = WorkerProcess.start(private_redis.url, queue, concurrency=2, visibility="30s")
    broker = Broker.from_url(private_redis.url)
    try:
        await w.started()
        r = await broker.enqueue(queue, "nap", {"log": log, "s": 0.5})

        async def started() -> bool:
            return int(await broker.redis.llen(log)) == 1

        await eventually(started, 10, w.output)
        with contextlib.suppress(redis.exceptions.ConnectionError):
            await broker.redis.shutdown(save=True)  # keeps the data: a restart, not a wipe
        private_redis.stop()
        await asyncio.sleep(1.5)  # the job ends meanwhile; its ack waits in the buffer
        private_redis.start()
        await broker.close()
        broker = Broker.from_url(private_redis.url)

        async def acked() -> bool:
            return (await broker.stats(queue)).counts.completed == 1

        await eventually(acked, 10, w.output)
    finally:
        w.signal(signal.SIGTERM)
        assert await w.exited() == 0
    t = (await broker.stats(queue)).totals
    assert (t.completed, t.failed, t.reaped) == (1, 0, 0)
    assert (await broker.get_job(queue, r.id)).attempts == 1
    assert int(await broker.redis.llen(log)) == 1
    assert "redis unreachable" in w.output() and "redis back" in w.output()
    await broker.close()


async def _true(value: bool) -> bool:
    return value
