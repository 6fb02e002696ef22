"""Leases: long jobs keep theirs whatever the handler does; a stalled worker loses its own."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

from relay import Broker, JobSpec
from tests.integration.worker_apps.harness import (  # stop_stray_workers: autouse fixture
    WorkerProcess,
    eventually,
    parse_log,
    stop_stray_workers,  # noqa: F401
)


async def _events(broker: Broker, key: str) -> Counter[tuple[str, str]]:
    return Counter(
        (e, job_id) for e, job_id, _, _ in parse_log(await broker.redis.lrange(key, 0, -1))
    )


async def test_jobs_longer_than_the_lease_are_not_redelivered(
    broker: Broker, queue: str, redis_url: str
) -> None:
    """Visibility 1 s, jobs of 3.5 s: an async one, a CPU-bound sync one, and an async one that
    blocks its event loop. Two workers, so a lapsed lease would be picked up by the other."""
    log = f"{queue}:log"
    specs = [JobSpec.of(t, {"log": log, "s": 3.5}) for t in ("sleep", "spin", "block")]
    ids = [r.id for r in await broker.enqueue_many(queue, specs)]
    a = WorkerProcess.start(redis_url, queue, concurrency=4, visibility="1s")
    b = WorkerProcess.start(redis_url, queue, concurrency=4, visibility="1s")
    try:
        await a.started()
        await b.started()

        async def done() -> bool:
            return (await broker.stats(queue)).counts.completed == 3

        await eventually(done, 30, lambda: a.output() + b.output())
    finally:
        for w in (a, b):
            w.signal(signal.SIGTERM)
        assert [await a.exited(), await b.exited()] == [0, 0]
    events = await _events(broker, log)
    assert events == Counter({(e, i): 1 for i in ids for e in ("start", "end")})
    t = (await broker.stats(queue)).totals
    assert (t.reaped, t.completed, t.failed) == (0, 3, 0)
    assert "lease lost" not in a.output() + b.output()


async def test_a_stalled_worker_loses_its_lease_and_its_late_ack_is_stale(
    broker: Broker, queue: str, redis_url: str
) -> None:
    """SIGSTOP for twice the lease: exactly one redelivery, and the late ack changes nothing."""
    log = f"{queue}:log"
    r = await broker.enqueue(queue, "sleep", {"log": log, "s": 2.0})
    a = WorkerProcess.start(redis_url, queue, concurrency=1, visibility="1s")
    b = None
    try:
        await a.started()

        async def started() -> bool:
            return len(await _events(broker, log)) == 1

        await eventually(started, 15, a.output)
        a.signal(signal.SIGSTOP)
        b = WorkerProcess.start(redis_url, queue, concurrency=1, visibility="1s")

        async def redelivered() -> bool:
            return (await _events(broker, log))[("start", r.id)] == 2

        await eventually(redelivered, 20, b.output)
        a.signal(signal.SIGCONT)

        async def finished() -> bool:
            return (await broker.stats(queue)).counts.completed == 1 and "stale" in a.output()

        await eventually(finished, 15, lambda: a.output() + b.output() if b else "")
        await asyncio.sleep(0.1)
    finally:
        a.signal(signal.SIGCONT)
        for w in (a, b):
            if w is not None:
                w.signal(signal.SIGTERM)
                assert await w.exited() == 0
    events = await _events(broker, log)
    assert events == Counter({("start", r.id): 2, ("end", r.id): 2})
    t = (await broker.stats(queue)).totals
    assert (t.reaped, t.completed) == (1, 1)
    assert "ack rejected as stale" in a.output()
