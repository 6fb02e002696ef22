"""Results, progress and cancellation through an in-process Worker on real Redis."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from relay import Broker, BrokerSettings, Job, Registry
from relay.errors import JobCancelled
from relay.keys import QueueKeys
from tests.integration.test_worker_outcomes import running
from tests.integration.worker_apps.harness import eventually


async def _state(broker: Broker, queue: str, job_id: str, want: str) -> None:
    async def check() -> bool:
        return (await broker.get_job(queue, job_id)).state == want

    await eventually(check, 10)


async def test_handler_results_are_stored_and_waited_for(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()

    @reg.task("async")
    async def a(job: Job) -> object:
        return {"double": job.payload * 2}

    @reg.task("sync")
    def s(job: Job) -> object:
        return [job.payload, "sync"]

    @reg.task("none")
    async def n(job: Job) -> None:
        return None

    async with running(reg, [queue], redis_url):
        ids = [(await broker.enqueue(queue, t, 21)).id for t in ("async", "sync", "none")]
        got = [await broker.result(queue, i, timeout=10) for i in ids]
    assert got == [{"double": 42}, [21, "sync"], None]
    assert (await broker.get_job(queue, ids[2])).result_error is None


async def test_a_result_that_cannot_be_kept_completes_the_job(
    broker: Broker, queue: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    reg = Registry()

    @reg.task("big")
    async def big(job: Job) -> object:
        return "x" * 100

    @reg.task("odd")
    async def odd(job: Job) -> object:
        return object()

    settings = BrokerSettings(max_result_bytes=50)
    async with running(reg, [queue], redis_url, settings=settings):  # type: ignore[arg-type]
        ids = [(await broker.enqueue(queue, t)).id for t in ("big", "odd", "big")]
        for i in ids:
            assert await broker.result(queue, i, timeout=10) is None
    infos = [await broker.get_job(queue, i) for i in ids]
    assert [i.state for i in infos] == ["completed"] * 3
    assert infos[0].result_error and "over the limit of 50 bytes" in infos[0].result_error
    assert infos[1].result_error and "could not be encoded" in infos[1].result_error
    assert "result not kept" in caplog.text


async def test_a_running_async_handler_is_cancelled_and_never_retried(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()
    started, ran, stopped = asyncio.Event(), Counter[str](), asyncio.Event()

    @reg.task("wait")
    async def wait(job: Job) -> None:
        ran[job.id] += 1
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            stopped.set()
            raise

    async with running(reg, [queue], redis_url, visibility=0.6):
        job_id = (await broker.enqueue(queue, "wait", max_attempts=5)).id
        await asyncio.wait_for(started.wait(), 10)
        assert (await broker.cancel(queue, job_id)).state == "cancelling"
        with pytest.raises(JobCancelled):
            await broker.result(queue, job_id, timeout=10)
        assert stopped.is_set()
        await asyncio.sleep(0.5)  # a few more heartbeats and reaps: nothing brings it back
    info = await broker.get_job(queue, job_id)
    assert info.state == "cancelled" and ran[job_id] == 1
    stats = await broker.stats(queue)
    assert stats.counts.cancelled == 1 and stats.totals.retried == 0


async def test_a_sync_handler_sees_the_cancel(broker: Broker, queue: str, redis_url: str) -> None:
    reg = Registry()
    started, saw = threading.Event(), threading.Event()

    @reg.task("loop")
    def loop(job: Job) -> None:
        started.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if job.cancelled:
                saw.set()
            job.raise_if_cancelled()
            time.sleep(0.01)

    async with running(reg, [queue], redis_url, visibility=0.6):
        job_id = (await broker.enqueue(queue, "loop")).id
        assert await asyncio.to_thread(started.wait, 10)
        assert (await broker.cancel(queue, job_id)).state == "cancelling"
        info = await broker.wait_job(queue, job_id, 10_000)
    assert info.state == "cancelled" and saw.is_set()


async def test_a_job_cancelled_before_it_starts_never_runs(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()
    ran: list[str] = []

    @reg.task("t")
    async def t(job: Job) -> None:
        ran.append(job.id)

    job_id = (await broker.enqueue(queue, "t", delay_ms=60_000)).id
    assert (await broker.cancel(queue, job_id)).state == "cancelled"
    async with running(reg, [queue], redis_url):
        other = (await broker.enqueue(queue, "t")).id
        await _state(broker, queue, other, "completed")
    assert ran == [other]


async def test_progress_is_coalesced_and_stored(broker: Broker, queue: str, redis_url: str) -> None:
    reg = Registry()
    release = asyncio.Event()
    spent: list[float] = []

    @reg.task("p")
    async def p(job: Job) -> None:
        t0 = time.monotonic()
        for i in range(1001):
            job.progress(i / 10)
        job.progress({"stage": "done", "items": 1000})
        spent.append(time.monotonic() - t0)
        await release.wait()

    @reg.task("sync")
    def s(job: Job) -> None:
        job.progress(50)
        time.sleep(0.3)

    async with running(reg, [queue], redis_url):
        job_id = (await broker.enqueue(queue, "p")).id

        async def reported() -> bool:
            got = (await broker.get_job(queue, job_id)).progress
            return bool(got == {"stage": "done", "items": 1000})

        await eventually(reported, 10)
        release.set()
        sync_id = (await broker.enqueue(queue, "sync")).id
        await broker.result(queue, sync_id, timeout=10)
    events = await broker.redis.xrange(QueueKeys.for_queue(queue).events)
    writes = [f for _, f in events if f[b"k"] == b"progress" and job_id.encode() in f[b"ids"]]
    # 1002 reports in `spent` seconds: one write per 100 ms at most, plus the first at once.
    assert 1 <= len(writes) <= 2 + spent[0] / 0.1
    assert (await broker.get_job(queue, sync_id)).progress == 50


def _relay(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAY_REDIS_URL": redis_url}
    cmd = [sys.executable, "-m", "relay", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)


async def test_relay_cancel_from_the_command_line(
    broker: Broker, queue: str, redis_url: str
) -> None:
    job_id = (await broker.enqueue(queue, "t")).id
    done = await asyncio.to_thread(_relay, redis_url, "cancel", queue, job_id)
    assert done.returncode == 0 and done.stdout.strip() == f"{job_id}: cancelled"
    running_job = (await broker.enqueue(queue, "t")).id
    [job] = (await broker.claim(queue, 1, 30_000)).jobs
    done = await asyncio.to_thread(_relay, redis_url, "cancel", queue, running_job)
    assert done.returncode == 0 and "cancelling" in done.stdout
    await broker.ack(queue, [(job.id, job.token)])  # flagged: it ends cancelled
    finished = (await broker.enqueue(queue, "t")).id
    [job] = (await broker.claim(queue, 1, 30_000)).jobs
    await broker.ack(queue, [(job.id, job.token)])
    for bad, words in ((finished, "already completed"), ("nope", "no job 'nope'")):
        done = await asyncio.to_thread(_relay, redis_url, "cancel", queue, bad)
        assert done.returncode == 2 and words in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
