"""Outcomes of jobs run by an in-process Worker on real Redis: ack, retry, Retry, Fail, dead."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence

import pytest
from prometheus_client import generate_latest

from relay import Backoff, Broker, Fail, Job, JobSpec, Registry, Retry, Worker
from relay.keys import QueueKeys
from tests.integration.worker_apps.harness import eventually
from tests.support.invariant import check_invariant

FAST = Backoff("fixed", base=0.05)


@contextlib.asynccontextmanager
async def running(
    registry: Registry, queues: Sequence[str], redis_url: str, **options: float
) -> AsyncIterator[Worker]:
    """A Worker running on this loop; stopped (gracefully, exit code 0) afterwards."""
    worker = Worker(registry, queues, redis_url=redis_url, **options)  # type: ignore[arg-type]
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        assert await asyncio.wait_for(task, 20) == 0


async def settled(broker: Broker, queue: str, *, completed: int = 0, dead: int = 0) -> None:
    async def check() -> bool:
        c = (await broker.stats(queue)).counts
        return (c.completed, c.dead, c.ready, c.delayed, c.inflight) == (completed, dead, 0, 0, 0)

    await eventually(check, 10)


async def test_every_job_runs_once_and_counters_reconcile(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()
    ran: Counter[str] = Counter()

    @reg.task("async")
    async def a(job: Job) -> None:
        ran[job.id] += 1
        await asyncio.sleep(0.001)

    @reg.task("sync")
    def s(job: Job) -> None:
        ran[job.id] += 1

    ids = [
        r.id for r in await broker.enqueue_many(queue, [JobSpec.of("async", i) for i in range(300)])
    ]
    ids += [
        r.id for r in await broker.enqueue_many(queue, [JobSpec.of("sync", i) for i in range(100)])
    ]
    async with running(reg, [queue], redis_url, concurrency=16) as w:
        await settled(broker, queue, completed=400)
        text = generate_latest(w.metrics.registry).decode()
    assert ran == Counter(dict.fromkeys(ids, 1))
    t = (await broker.stats(queue)).totals
    assert (t.enqueued, t.completed, t.failed, t.retried, t.dead) == (400, 400, 0, 0, 0)
    assert f'relay_worker_jobs_completed_total{{queue="{queue}",type="async"}} 300.0' in text
    assert f'relay_worker_jobs_processed_total{{queue="{queue}",type="sync"}} 100.0' in text
    assert "relay_worker_job_duration_seconds_bucket" in text
    assert "relay_worker_job_wait_seconds_count" in text


async def test_a_failing_job_retries_with_backoff_then_dead_letters(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry(backoff=FAST)
    runs: list[float] = []

    @reg.task("boom")
    async def boom(job: Job) -> None:
        runs.append(time.monotonic())
        raise ValueError(f"attempt {job.attempts} failed")

    r = await broker.enqueue(queue, "boom", max_attempts=3)
    async with running(reg, [queue], redis_url):
        await settled(broker, queue, dead=1)
    assert len(runs) == 3 and all(b - a >= 0.04 for a, b in itertools.pairwise(runs))
    info = await broker.get_job(queue, r.id)
    assert info.attempts == 3 and info.last_error is not None
    assert info.last_error.startswith("ValueError: attempt 3 failed [at test_worker_outcomes.py:")
    t = (await broker.stats(queue)).totals
    assert (t.failed, t.retried, t.dead) == (3, 2, 1)


async def test_retry_after_reruns_later_without_spending_attempts(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()
    runs: list[tuple[int, float]] = []

    @reg.task("later")
    async def later(job: Job) -> None:
        runs.append((job.attempts, time.monotonic()))
        if len(runs) < 3:
            raise Retry(after=0.2)

    r = await broker.enqueue(queue, "later", max_attempts=1)
    async with running(reg, [queue], redis_url):
        await settled(broker, queue, completed=1)
    assert [a for a, _ in runs] == [1, 1, 1]  # the attempt was given back each time
    assert all(b[1] - a[1] >= 0.19 for a, b in itertools.pairwise(runs))
    t = (await broker.stats(queue)).totals
    assert (t.failed, t.dead, t.completed) == (0, 0, 1)
    assert (await broker.get_job(queue, r.id)).state == "completed"


async def test_fail_and_non_retryable_errors_dead_letter_at_once(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()
    runs: Counter[str] = Counter()

    @reg.task("fail")
    async def fail(job: Job) -> None:
        runs[job.type] += 1
        raise Fail("the input can never work")

    @reg.task("keyerror", non_retryable=(KeyError,))
    def keyerror(job: Job) -> None:
        runs[job.type] += 1
        raise KeyError("missing")

    a = await broker.enqueue(queue, "fail")
    b = await broker.enqueue(queue, "keyerror")
    async with running(reg, [queue], redis_url):
        await settled(broker, queue, dead=2)
    assert runs == Counter({"fail": 1, "keyerror": 1})
    err = (await broker.get_job(queue, a.id)).last_error
    assert err is not None and err.startswith("Fail: the input can never work [at ")
    err = (await broker.get_job(queue, b.id)).last_error
    assert err is not None and err.startswith("KeyError: 'missing'")


async def test_an_unknown_type_is_dead_lettered_with_the_reason(
    broker: Broker, queue: str, redis_url: str
) -> None:
    r = await broker.enqueue(queue, "nobody.handles.this")
    async with running(Registry(), [queue], redis_url):
        await settled(broker, queue, dead=1)
    info = await broker.get_job(queue, r.id)
    assert info.last_error == "no handler registered for type 'nobody.handles.this'"
    assert info.attempts == 1


async def test_a_job_past_its_timeout_is_cancelled_and_retried(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry(backoff=FAST)
    cancelled: list[int] = []
    released = threading.Event()

    @reg.task("slow_async", timeout=0.2)
    async def slow_async(job: Job) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(job.attempts)
            raise

    @reg.task("slow_sync")
    def slow_sync(job: Job) -> None:
        released.wait(10)

    a = await broker.enqueue(queue, "slow_async", max_attempts=2)
    b = await broker.enqueue(queue, "slow_sync", max_attempts=1, timeout_ms=200)
    t0 = time.monotonic()
    async with running(reg, [queue], redis_url, concurrency=4) as w:
        await settled(broker, queue, dead=2)
        assert time.monotonic() - t0 < 5
        assert w.runner.running() == 0  # the sync job is settled though its thread still runs
        released.set()
    assert cancelled == [1, 2]
    err_a = (await broker.get_job(queue, a.id)).last_error
    err_b = (await broker.get_job(queue, b.id)).last_error
    assert err_a and err_a.startswith("HandlerTimeout: handler ran past its 0.2 s timeout")
    assert err_b and "0.2 s timeout; its thread cannot be killed" in err_b


async def test_a_cancelled_error_raised_inside_a_handler_is_a_failure(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()

    @reg.task("inner_cancel")
    async def inner_cancel(job: Job) -> None:
        t = asyncio.create_task(asyncio.sleep(10))
        t.cancel()
        await t

    r = await broker.enqueue(queue, "inner_cancel", max_attempts=1)
    async with running(reg, [queue], redis_url):
        await settled(broker, queue, dead=1)
    err = (await broker.get_job(queue, r.id)).last_error
    assert err and err.startswith("CancelledError")


async def test_an_undecodable_record_is_dead_lettered_and_the_worker_goes_on(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()
    ran: list[str] = []

    @reg.task("ok")
    async def ok(job: Job) -> None:
        ran.append(job.id)

    k = QueueKeys.for_queue(queue)
    await broker.redis.hset(k.jobs, "badjob", b"\x01\x05garbage")
    await broker.redis.rpush(k.ready(5), "badjob")
    good = await broker.enqueue(queue, "ok")
    async with running(reg, [queue], redis_url):
        await settled(broker, queue, completed=1, dead=1)
    assert ran == [good.id]
    info = await broker.get_job(queue, "badjob")
    assert info.state == "dead" and info.last_error
    assert info.last_error.startswith("undecodable job record:")


async def test_queues_are_served_by_priority_then_round_robin(
    broker: Broker, redis_url: str, queue: str
) -> None:
    high, low_a, low_b = f"{queue}-high", f"{queue}-a", f"{queue}-b"
    reg = Registry()
    order: list[str] = []

    @reg.task("t")
    async def t(job: Job) -> None:
        order.append(job.queue)
        await asyncio.sleep(0.005)

    for q in (low_a, low_b, high):
        await broker.enqueue_many(q, [JobSpec.of("t") for _ in range(20)])
    async with running(reg, [high, f"{low_a},{low_b}"], redis_url, concurrency=2):
        for q in (high, low_a, low_b):
            await settled(broker, q, completed=20)
    assert order[:20] == [high] * 20
    rest = order[20:]
    assert Counter(rest[:20]) == Counter({low_a: 10, low_b: 10}) or (
        abs(Counter(rest[:20])[low_a] - 10) <= 2  # taking turns, not one after the other
    )
    for q in (high, low_a, low_b):
        await check_invariant(broker.redis, q)


@pytest.mark.parametrize("concurrency", [1, 50])
async def test_concurrency_bounds_the_jobs_running_at_once(
    broker: Broker, queue: str, redis_url: str, concurrency: int
) -> None:
    reg = Registry()
    now = peak = 0

    @reg.task("t")
    async def t(job: Job) -> None:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await asyncio.sleep(0.01)
        now -= 1

    await broker.enqueue_many(queue, [JobSpec.of("t") for _ in range(200)])
    async with running(reg, [queue], redis_url, concurrency=concurrency):
        await settled(broker, queue, completed=200)
    assert peak == concurrency


async def test_a_paused_queue_waits_and_a_rate_limit_is_kept(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()
    started: list[float] = []

    @reg.task("t")
    async def t(job: Job) -> None:
        started.append(time.monotonic())

    await broker.pause(queue)
    await broker.set_rate_limit(queue, rate=20, burst=1)
    await broker.enqueue_many(queue, [JobSpec.of("t") for _ in range(8)])
    async with running(reg, [queue], redis_url):
        await asyncio.sleep(0.3)
        assert started == []  # paused: nothing runs
        await broker.resume(queue)  # no wake-up is sent: the worker re-checks within 2 s
        await settled(broker, queue, completed=8)
    assert started[-1] - started[0] >= 7 / 20 - 0.05  # 20 jobs/s, one at a time


async def test_a_sync_handler_returning_a_coroutine_is_a_clear_failure(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()

    async def real(job: Job) -> None:
        pass

    reg.register("wrapped", lambda job: real(job))  # noqa: PLW0108 - a sync callable, on purpose
    r = await broker.enqueue(queue, "wrapped", max_attempts=1)
    async with running(reg, [queue], redis_url):
        await settled(broker, queue, dead=1)
    err = (await broker.get_job(queue, r.id)).last_error
    assert err and err.startswith("TypeError: a sync handler returned an awaitable")
