"""Schedules: the cost of next-fire arithmetic per tick, and the idle cost per promoter pass.

Run: `pytest benches/test_bench_schedules.py --benchmark-only`.
- next-fire: `CronTiming.next_after` (pure Python on zoneinfo, docs/decisions/0038) for a few
  expressions and zones, and the whole plan of one due tick (decode, next fire, job id,
  envelope) — beside the per-tick budget: a tick must start within 1 s, and one promote round
  trip costs ~100 µs.
- idle cost: the promote call an idle worker makes every pass, with no schedules and with a
  million (none due): the script peeks at the earliest tick (ZRANGE 0 0), so the cost does not
  grow with the number of schedules, and no other call is made.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from relay import Broker, Schedule
from relay.keys import QueueKeys
from relay.schedules import engine
from relay.schedules.timing import CronTiming, EveryTiming

START_MS = int(datetime(2026, 3, 28, 12, tzinfo=UTC).timestamp() * 1000)  # DST nights ahead
_names = itertools.count()


@pytest.mark.benchmark(group="schedules: next fire (one tick)")
@pytest.mark.parametrize(
    ("cron", "zone"),
    [
        ("*/5 * * * *", "UTC"),
        ("0 6 * * *", "Europe/Paris"),
        ("30 2 * * *", "Europe/Paris"),  # crosses the spring-forward gap
        ("*/20 * * * * *", "Australia/Lord_Howe"),
        ("0 9 * * mon-fri", "America/New_York"),
    ],
)
def test_cron_next_fire(benchmark: BenchmarkFixture, cron: str, zone: str) -> None:
    timing = CronTiming.of(cron, zone)
    ticks = [START_MS]
    for _ in range(50):  # a walk over consecutive ticks, DST nights included
        ticks.append(timing.next_after(ticks[-1]))

    def walk() -> None:
        for t in ticks:
            timing.next_after(t)

    benchmark.extra_info["ticks_per_round"] = len(ticks)
    benchmark(walk)


@pytest.mark.benchmark(group="schedules: next fire (one tick)")
def test_every_next_fire(benchmark: BenchmarkFixture) -> None:
    timing = EveryTiming(1500)
    ticks = [START_MS + i * 1500 for i in range(51)]

    def walk() -> None:
        for t in ticks:
            timing.next_after(t)

    benchmark.extra_info["ticks_per_round"] = len(ticks)
    benchmark(walk)


@pytest.mark.benchmark(group="schedules: plan one due tick")
def test_plan_one_tick(benchmark: BenchmarkFixture) -> None:
    s = Schedule(name="report", cron="0 6 * * *", timezone="Europe/Paris", payload={"k": 1})
    tick = engine.Tick("report", START_MS, engine.record(s))
    benchmark(engine.plan, tick, START_MS + 3)


@pytest.mark.benchmark(group="schedules: idle promote call")
@pytest.mark.parametrize("schedules", [0, 1_000_000])
def test_idle_promote_call(
    benchmark: BenchmarkFixture, bench_redis_url: str, schedules: int
) -> None:
    loop = asyncio.new_event_loop()
    broker = Broker.from_url(bench_redis_url)
    queue = f"bench-sched-{next(_names)}"
    due = QueueKeys.for_queue(queue).schedules_due
    far = 4_000_000_000_000  # year 2096: none due

    async def seed() -> None:
        for start in range(0, schedules, 10_000):
            members = {f"s{i}": far + i for i in range(start, min(start + 10_000, schedules))}
            await broker.redis.zadd(due, members)

    loop.run_until_complete(seed())
    benchmark.extra_info["schedules"] = schedules
    got = benchmark(lambda: loop.run_until_complete(broker.promote(queue)))
    assert got.moved == 0 and (got.tick_ms == -1) == (schedules == 0)
    loop.run_until_complete(broker.redis.delete(due))
    loop.run_until_complete(broker.close())
    loop.close()
