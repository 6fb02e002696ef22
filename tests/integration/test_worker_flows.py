"""Workflows through in-process Workers on real Redis (decision 0050): fan-out/fan-in with the
parent reading its children's results from async and sync handlers, a chain, and a child whose
failure kills the parent."""

from __future__ import annotations

import threading

import pytest

from relay import Broker, Flow, Job, JobFailed, JobOptions, Producer, Registry
from tests.integration.test_worker_outcomes import running


async def test_fan_out_fan_in_across_queues(broker: Broker, queue: str, redis_url: str) -> None:
    images, album = f"{queue}-img", queue
    reg = Registry()

    @reg.task("resize")
    async def resize(job: Job) -> object:
        return job.payload * 10

    @reg.task("album")
    async def build(job: Job) -> object:
        return sorted((await job.children_results()).values())

    @reg.task("album-sync")
    def build_sync(job: Job) -> object:
        assert threading.current_thread() is not threading.main_thread()
        return sum(job.children_results_sync().values())

    producer = Producer(broker)
    async with running(reg, [album, images], redis_url):
        kids = [Flow(images, "resize", i) for i in range(5)]
        one = await producer.enqueue_flow(Flow(album, "album", children=kids))
        two = await producer.enqueue_flow(Flow(album, "album-sync", children=kids))
        assert await producer.result(album, one.id, timeout=20) == [0, 10, 20, 30, 40]
        assert await producer.result(album, two.id, timeout=20) == 100


async def test_a_chain_and_a_failing_child(broker: Broker, queue: str, redis_url: str) -> None:
    other = f"{queue}-b"
    order: list[str] = []
    reg = Registry()

    @reg.task("step")
    async def step(job: Job) -> object:
        order.append(job.payload)
        return job.payload

    @reg.task("boom")
    async def boom(job: Job) -> object:
        raise ValueError("no")

    producer = Producer(broker)
    async with running(reg, [queue, other], redis_url):
        chain = Flow.chain(
            Flow(other, "step", "a"), Flow(queue, "step", "b"), Flow(other, "step", "c")
        )
        out = await producer.enqueue_flow(chain)
        assert await producer.result(other, out.id, timeout=20) == "c"
        assert order == ["a", "b", "c"]
        bad = Flow(other, "boom", options=JobOptions(max_attempts=1))
        failed = await producer.enqueue_flow(Flow(queue, "step", "p", children=[bad]))
        with pytest.raises(JobFailed) as got:
            await producer.result(queue, failed.id, timeout=20)
        assert failed.jobs[1].id in (got.value.last_error or "")
