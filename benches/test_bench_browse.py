"""Page latency of the job listing at 1,000,000 jobs: the first, a middle and the last page.

The issue-21 target is <= 10 ms at the server for each. The timings are of `Broker.list_jobs`
(one EVALSHA plus decoding 50 rows in Python) on a local Redis; `extra_info.redis_us_per_page`
is Redis's own mean time in the script (INFO commandstats), printed by benches/report.py.
Run with `make bench`, or `pytest benches/test_bench_browse.py --benchmark-only`;
RELAY_BENCH_BROWSE_JOBS shrinks the queue for a quick look.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from relay import Broker, JobSpec
from relay.browse import encode_cursor
from relay.keys import QueueKeys

JOBS = int(os.environ.get("RELAY_BENCH_BROWSE_JOBS", "1000000"))
LIMIT = 50
PAYLOAD = b'{"user": 12345, "action": "send-welcome-email", "locale": "en-GB"}'
POSITIONS = ("first", "middle", "last")
T = TypeVar("T")


class Seeded:
    """A queue of JOBS jobs in one state, and a loop to call the broker on."""

    def __init__(self, url: str, state: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.broker = Broker.from_url(url)
        self.queue = f"bench-browse-{state}"
        self.state = state
        self.keys = QueueKeys.for_queue(self.queue)
        self.run(self._seed())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def _seed(self) -> None:
        await self.broker.redis.unlink(*self.keys.all_fixed())
        delay = 86_400_000 if self.state == "delayed" else 0
        for start in range(0, JOBS, 1000):
            n = min(1000, JOBS - start)
            kind = ["a" if (start + i) % 10 == 0 else "b" for i in range(n)]
            specs = [JobSpec.of(k, None, delay_ms=delay) for k in kind]
            specs = [JobSpec(type=s.type, payload=PAYLOAD, options=s.options) for s in specs]
            await self.broker.enqueue_many(self.queue, specs)

    def cursor(self, position: str) -> str | None:
        """A cursor as the listing would give it to a reader at that position."""
        if position == "first":
            return None
        at = JOBS // 2 if position == "middle" else JOBS - LIMIT
        redis = self.broker.redis
        if self.state == "ready":
            key = self.keys.ready(5)
            anchor: bytes = self.run(redis.lindex(key, at - 1))
            return encode_cursor(["ready", 5, at, [anchor.decode()]])
        got = self.run(redis.zrange(self.keys.delayed, at - 1, at - 1, withscores=True))
        [(member, score)] = got
        return encode_cursor(["delayed", repr(int(score)), member.decode()])

    def script_us(self) -> tuple[int, int]:
        """Redis's own count of EVALSHA calls and the microseconds they took (commandstats)."""
        stats = self.run(self.broker.redis.info("commandstats"))
        evalsha = stats.get("cmdstat_evalsha", {"calls": 0, "usec": 0})
        return int(evalsha["calls"]), int(evalsha["usec"])

    def bench(self, benchmark: BenchmarkFixture, page: Callable[[], None]) -> None:
        """Time `page`; also record the mean time Redis spent in the script itself."""
        calls, usec = self.script_us()
        benchmark.pedantic(page, rounds=100, iterations=1, warmup_rounds=3)
        calls2, usec2 = self.script_us()
        if calls2 > calls:
            benchmark.extra_info["redis_us_per_page"] = round((usec2 - usec) / (calls2 - calls), 1)

    def close(self) -> None:
        self.run(self.broker.redis.unlink(*self.keys.all_fixed()))
        self.run(self.broker.close())
        self.loop.close()


@pytest.fixture(scope="module", params=["ready", "delayed"])
def seeded(request: pytest.FixtureRequest, bench_redis_url: str) -> Iterator[Seeded]:
    s = Seeded(bench_redis_url, str(request.param))
    yield s
    s.close()


@pytest.mark.benchmark(group=f"list a page of 50 of {JOBS:,} jobs")
@pytest.mark.parametrize("position", POSITIONS)
def test_page(benchmark: BenchmarkFixture, seeded: Seeded, position: str) -> None:
    cursor = seeded.cursor(position)

    def page() -> None:
        got = seeded.run(seeded.broker.list_jobs(seeded.queue, seeded.state, cursor=cursor))
        assert len(got.jobs) == LIMIT

    seeded.bench(benchmark, page)


@pytest.mark.benchmark(group=f"list a page of 50 of {JOBS:,} jobs")
def test_page_filtered_by_type(benchmark: BenchmarkFixture, seeded: Seeded) -> None:
    """One job in ten is of type `a`: a page of 50 examines about 500 jobs."""
    cursor = seeded.cursor("middle")

    def page() -> None:
        got = seeded.run(
            seeded.broker.list_jobs(seeded.queue, seeded.state, cursor=cursor, job_type="a")
        )
        assert len(got.jobs) == LIMIT

    seeded.bench(benchmark, page)
