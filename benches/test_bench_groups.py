"""Claim + ack of 2,000 jobs spread over 1,000 groups against the same jobs without groups
(decision 0053), batch 100; and enqueue of the same. Run with `make bench`."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from relay import Broker, BrokerSettings, JobSpec
from relay.keys import QueueKeys

JOBS = 2000
PAYLOAD = b'{"user": 12345, "action": "send-welcome-email", "locale": "en-GB", "n": 1}'
_names = itertools.count()


def _specs(groups: int) -> list[JobSpec]:
    return [
        JobSpec.of("noop", None, group=f"tenant{i % groups}" if groups else None)
        for i in range(JOBS)
    ]


async def _drain(broker: Broker, queue: str) -> int:
    done = 0
    while got := (await broker.claim(queue, 100, 30_000)).jobs:
        await broker.ack(queue, [(j.id, j.token) for j in got])
        done += len(got)
    return done


@pytest.mark.benchmark(group="claim+ack over groups (2000 jobs, batch 100)")
@pytest.mark.parametrize("groups", [0, 1000], ids=["no-groups", "1000-groups"])
def test_claim_ack_groups(benchmark: BenchmarkFixture, bench_redis_url: str, groups: int) -> None:
    loop = asyncio.new_event_loop()
    broker = Broker.from_url(bench_redis_url, BrokerSettings(events_cap=1000))
    queue = f"bench-groups-{next(_names)}"
    specs = _specs(groups)

    def setup() -> None:
        loop.run_until_complete(broker.enqueue_many(queue, specs))

    def drain() -> None:
        assert loop.run_until_complete(_drain(broker, queue)) == JOBS

    benchmark.extra_info["jobs_per_round"] = JOBS
    benchmark.pedantic(drain, setup=setup, rounds=5, iterations=1, warmup_rounds=1)
    loop.run_until_complete(broker.redis.delete(*QueueKeys.for_queue(queue).all_fixed()))
    loop.run_until_complete(broker.close())
    loop.close()


@pytest.mark.benchmark(group="enqueue over groups (2000 jobs, bulk)")
@pytest.mark.parametrize("groups", [0, 1000], ids=["no-groups", "1000-groups"])
def test_enqueue_groups(benchmark: BenchmarkFixture, bench_redis_url: str, groups: int) -> None:
    loop = asyncio.new_event_loop()
    broker = Broker.from_url(bench_redis_url)
    queue = f"bench-genq-{next(_names)}"
    specs = _specs(groups)
    keys = QueueKeys.for_queue(queue)

    def cleanup() -> None:
        loop.run_until_complete(broker.redis.delete(*keys.all_fixed()))
        for g in range(groups):  # the group lists are not fixed keys
            loop.run_until_complete(broker.redis.delete(keys.group_ready(5, f"tenant{g}")))

    def go() -> None:
        loop.run_until_complete(broker.enqueue_many(queue, specs))

    benchmark.extra_info["jobs_per_round"] = JOBS
    benchmark.pedantic(go, setup=cleanup, rounds=5, iterations=1, warmup_rounds=1)
    cleanup()
    loop.run_until_complete(broker.close())
    loop.close()
