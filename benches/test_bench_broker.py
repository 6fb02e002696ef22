"""Claim + ack throughput through the real Lua scripts, by batch size; enqueue single and bulk.

Each round moves JOBS no-op jobs; pytest-benchmark reports seconds per round, and the summary
line printed at the end converts to jobs/s. Run with `make bench`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from relay import Broker, BrokerSettings, JobSpec, SyncProducer

JOBS = 2000
PAYLOAD = b'{"user": 12345, "action": "send-welcome-email", "locale": "en-GB", "n": 1}' + b" " * 30
_names = itertools.count()


def _runner() -> tuple[asyncio.AbstractEventLoop, Callable[[Coroutine[Any, Any, Any]], Any]]:
    loop = asyncio.new_event_loop()
    return loop, loop.run_until_complete


def _specs(n: int) -> list[JobSpec]:
    return [JobSpec(type="noop", payload=PAYLOAD) for _ in range(n)]


async def _drain(broker: Broker, queue: str, batch: int) -> int:
    done = 0
    while True:
        got = await broker.claim(queue, batch, 30_000)
        if not got.jobs:
            return done
        await broker.ack(queue, [(j.id, j.token) for j in got.jobs])
        done += len(got.jobs)


def _bench_drain(benchmark: BenchmarkFixture, url: str, batch: int, events: int) -> None:
    loop, run = _runner()
    broker = Broker.from_url(url, BrokerSettings(events_cap=events))
    queue = f"bench-drain-{next(_names)}"

    def setup() -> None:
        run(broker.enqueue_many(queue, _specs(JOBS)))

    def drain() -> None:
        assert run(_drain(broker, queue, batch)) == JOBS

    benchmark.extra_info["jobs_per_round"] = JOBS
    benchmark.pedantic(drain, setup=setup, rounds=5, iterations=1, warmup_rounds=1)
    run(broker.close())
    loop.close()


@pytest.mark.benchmark(group="claim+ack (2000 jobs)")
@pytest.mark.parametrize("batch", [1, 10, 100])
def test_claim_ack(benchmark: BenchmarkFixture, bench_redis_url: str, batch: int) -> None:
    _bench_drain(benchmark, bench_redis_url, batch, events=1000)


@pytest.mark.benchmark(group="events stream cost (batch 100)")
@pytest.mark.parametrize("events", [0, 1000], ids=["events-off", "events-on"])
def test_events_cost(benchmark: BenchmarkFixture, bench_redis_url: str, events: int) -> None:
    _bench_drain(benchmark, bench_redis_url, 100, events=events)


@pytest.mark.benchmark(group="enqueue (2000 jobs)")
@pytest.mark.parametrize("mode", ["single", "bulk", "sync-single", "sync-bulk"])
def test_enqueue(benchmark: BenchmarkFixture, bench_redis_url: str, mode: str) -> None:
    """Producer (asyncio) and SyncProducer (blocking), one job per call or 1000 per call."""
    loop, run = _runner()
    broker = Broker.from_url(bench_redis_url)
    sync = SyncProducer.from_url(bench_redis_url)
    queue = f"bench-enqueue-{next(_names)}"
    specs = _specs(JOBS)

    async def single() -> None:
        for s in specs:
            await broker.enqueue_many(queue, [s])

    def go() -> None:
        if mode == "sync-single":
            for s in specs:
                sync.enqueue_many(queue, [s])
        elif mode == "sync-bulk":
            sync.enqueue_many(queue, specs)
        else:
            run(single() if mode == "single" else broker.enqueue_many(queue, specs))

    def cleanup() -> None:
        run(broker.redis.delete(*broker._ks(queue).keys.all_fixed()))

    benchmark.extra_info["jobs_per_round"] = JOBS
    benchmark.pedantic(go, setup=cleanup, rounds=5, iterations=1, warmup_rounds=1)
    sync.close()
    run(broker.close())
    loop.close()
