"""What workflows cost a worker (issue 15): 1,000 flows of 1 parent + 10 children against 11,000
plain jobs, in the same run, through one in-process Worker (concurrency 64) serving both queues.

Each round enqueues on paused queues (flows: parents `waiting` in one queue, children ready in
another; plain: 1,000 + 10,000 jobs in the same two queues), lets the worker go idle, resumes
both queues and runs the clock until Redis counts all 11,000 completed. A flow's parent reads its
children's results (`children_results()`), so fan-in is measured whole. Goal: flows at >= 70 %
of plain throughput. Run with `make bench`; compare the two rows' jobs/s.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benches.worker_drain import until_completed, until_idle
from relay import Broker, Flow, Job, JobSpec, Producer, Registry, Worker
from relay.keys import QueueKeys

FLOWS, CHILDREN = 1_000, 10
JOBS = FLOWS * (CHILDREN + 1)
PAYLOAD = {"user": 12345, "note": "x" * 50}
_names = itertools.count()

registry = Registry()


@registry.task("child")
async def child(job: Job) -> int:
    """A small result for the parent to gather."""
    return 1


@registry.task("parent")
async def parent(job: Job) -> int:
    """Fan-in: reads every child's result."""
    return sum((await job.children_results()).values())


@registry.task("plain")
async def plain(job: Job) -> int:
    return 1


async def _load(broker: Broker, kind: str, parents: str, kids: str) -> None:
    if kind == "plain":
        await broker.enqueue_many(parents, [JobSpec.of("plain", PAYLOAD) for _ in range(FLOWS)])
        specs = [JobSpec.of("plain", PAYLOAD) for _ in range(FLOWS * CHILDREN)]
        for i in range(0, len(specs), 1000):
            await broker.enqueue_many(kids, specs[i : i + 1000])
        return
    producer = Producer(broker)
    for _ in range(FLOWS):
        children = [Flow(kids, "child", PAYLOAD) for _ in range(CHILDREN)]
        await producer.enqueue_flow(Flow(parents, "parent", PAYLOAD, children=children))


@pytest.mark.benchmark(group=f"worker drain, flows vs plain ({JOBS} jobs)")
@pytest.mark.parametrize("kind", ["plain", "flows"], ids=["plain-11000", "flows-1000x10"])
def test_drain_flows_vs_plain(benchmark: BenchmarkFixture, bench_redis_url: str, kind: str) -> None:
    loop = asyncio.new_event_loop()
    broker = Broker.from_url(bench_redis_url)
    state: dict[str, object] = {}

    async def start() -> None:
        await stop()
        n = next(_names)
        queues = [f"bench-flows-{n}-parents", f"bench-flows-{n}-kids"]
        for q in queues:
            await broker.pause(q)
        await _load(broker, kind, *queues)
        worker = Worker(registry, queues, redis_url=bench_redis_url, concurrency=64)
        state.update(queues=queues, worker=worker, task=asyncio.create_task(worker.run()))
        await until_idle(broker, worker)

    async def stop() -> None:
        if "worker" in state:
            state["worker"].stop()  # type: ignore[attr-defined]
            await state["task"]  # type: ignore[misc]

    async def drain() -> None:
        queues: list[str] = state["queues"]  # type: ignore[assignment]
        for q in queues:
            await broker.resume(q)
            await broker.redis.rpush(QueueKeys.for_queue(q).wake, b"1")
        await until_completed(broker, queues, JOBS)

    benchmark.extra_info["jobs_per_round"] = JOBS
    benchmark.pedantic(
        lambda: loop.run_until_complete(drain()),
        setup=lambda: loop.run_until_complete(start()),
        rounds=3,
        iterations=1,
        warmup_rounds=1,
    )
    loop.run_until_complete(stop())
    loop.run_until_complete(broker.close())
    loop.close()
