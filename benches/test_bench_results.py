"""What keeping handler results costs a worker: the same drain with handlers that return None
(no result: the baseline of this run) and with handlers that return ~100 bytes.

Each round drains JOBS no-op jobs through one in-process Worker (concurrency 64): the jobs are
enqueued on a paused queue, the worker is left idle, then the queue is resumed and the clock
runs until Redis counts them completed. Run with `make bench`; compare the two rows' jobs/s.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benches.worker_drain import until_completed, until_idle
from relay import Broker, Job, JobSpec, Registry, Worker
from relay.keys import QueueKeys

JOBS = 20_000
PAYLOAD = {"user": 12345, "email": "someone@example.com", "note": "x" * 50}
RESULT = {"id": 12345, "status": "sent", "provider": "smtp.example.com", "note": "y" * 30}
_names = itertools.count()

registry = Registry()


@registry.task("none")
async def none(job: Job) -> None:
    """No result."""


@registry.task("result")
async def result(job: Job) -> dict[str, object]:
    """About 100 bytes of JSON, kept with the completed job."""
    return RESULT


@pytest.mark.benchmark(group=f"worker drain, results ({JOBS} jobs)")
@pytest.mark.parametrize("kind", ["none", "result"], ids=["results-off", "result-100B"])
def test_drain_with_results(benchmark: BenchmarkFixture, bench_redis_url: str, kind: str) -> None:
    loop = asyncio.new_event_loop()
    broker = Broker.from_url(bench_redis_url)
    state: dict[str, object] = {}

    async def start() -> None:
        await stop()
        queue = f"bench-results-{next(_names)}"
        await broker.pause(queue)
        await broker.enqueue_many(queue, [JobSpec.of(kind, PAYLOAD) for _ in range(JOBS)])
        worker = Worker(registry, [queue], redis_url=bench_redis_url, concurrency=64)
        state.update(queue=queue, worker=worker, task=asyncio.create_task(worker.run()))
        await until_idle(broker, worker)

    async def stop() -> None:
        if "worker" in state:
            state["worker"].stop()  # type: ignore[attr-defined]
            await state["task"]  # type: ignore[misc]

    async def drain() -> None:
        queue = str(state["queue"])
        await broker.resume(queue)
        await broker.redis.rpush(QueueKeys.for_queue(queue).wake, b"1")
        await until_completed(broker, [queue], JOBS)

    benchmark.extra_info["jobs_per_round"] = JOBS
    benchmark.pedantic(
        lambda: loop.run_until_complete(drain()),
        setup=lambda: loop.run_until_complete(start()),
        rounds=5,
        iterations=1,
        warmup_rounds=1,
    )
    loop.run_until_complete(stop())
    loop.run_until_complete(broker.close())
    loop.close()
