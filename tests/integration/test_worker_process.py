"""Real `relay worker` processes: end to end, kill -9, SIGTERM, a second signal, crash loops."""

from __future__ import annotations

import asyncio
import functools
import signal
import urllib.request
from collections import Counter

from relay import Broker, JobSpec
from relay.broker.connection import is_cluster
from tests.integration.worker_apps.harness import (  # stop_stray_workers: autouse fixture
    WorkerProcess,
    eventually,
    parse_log,
    stop_stray_workers,  # noqa: F401
)
from tests.support.invariant import check_invariant
from tests.support.redis_server import free_port


async def _entries(broker: Broker, key: str) -> list[tuple[str, str, int, int]]:
    return parse_log(await broker.redis.lrange(key, 0, -1))


async def test_end_to_end_every_handler_runs_and_counters_reconcile(
    broker: Broker, queue: str, redis_url: str
) -> None:
    log = f"{queue}:log"
    specs = [JobSpec.of("record", {"log": log}) for _ in range(150)]
    specs += [JobSpec.of("record_sync", {"log": log}) for _ in range(50)]
    specs += [JobSpec.of("fail", {"log": log}, max_attempts=5) for _ in range(5)]
    specs += [JobSpec.of("fail_now", {"log": log}) for _ in range(5)]
    specs += [JobSpec.of("no.such.type") for _ in range(3)]
    ids = [r.id for r in await broker.enqueue_many(queue, specs)]
    port = free_port()
    w = WorkerProcess.start(redis_url, queue, extra=("--metrics-port", str(port)))
    try:
        await w.started()

        async def settled() -> bool:
            c = (await broker.stats(queue)).counts
            return (c.completed, c.dead, c.ready + c.delayed + c.inflight) == (200, 13, 0)

        await eventually(settled, 30, w.output)
        url = f"http://127.0.0.1:{port}/metrics"
        metrics = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
    finally:
        w.signal(signal.SIGTERM)
        assert await w.exited() == 0
    ran = Counter(job_id for event, job_id, _, _ in await _entries(broker, log) if event == "ran")
    assert {i: ran[i] for i in ids[:200]} == dict.fromkeys(ids[:200], 1)
    assert [ran[i] for i in ids[200:205]] == [2] * 5  # the task caps attempts at 2
    assert [ran[i] for i in ids[205:210]] == [1] * 5  # Fail: dead at once
    t = (await broker.stats(queue)).totals
    assert (t.enqueued, t.completed, t.dead) == (213, 200, 13)
    assert (t.failed, t.retried) == (5 * 2 + 5 + 3, 5)
    text = metrics.decode()
    assert f'relay_worker_jobs_completed_total{{queue="{queue}",type="record"}} 150.0' in text
    assert f'relay_worker_jobs_dead_total{{queue="{queue}",type="fail"}} 5.0' in text
    assert "payload" not in w.output()


async def test_kill_9_mid_batch_loses_nothing(broker: Broker, queue: str, redis_url: str) -> None:
    log = f"{queue}:log"
    specs = [JobSpec.of("sleep", {"log": log, "s": 0.3}) for _ in range(40)]
    ids = {r.id for r in await broker.enqueue_many(queue, specs)}
    a = WorkerProcess.start(redis_url, queue, concurrency=8, visibility="1s")

    async def some_started() -> bool:
        return sum(e == "start" for e, *_ in await _entries(broker, log)) >= 8

    try:
        await a.started()
        await eventually(some_started, 15, a.output)
    finally:
        a.kill()  # SIGKILL: no cleanup at all
    held = (await broker.stats(queue)).counts.inflight
    assert held > 0
    b = WorkerProcess.start(redis_url, queue, concurrency=8, visibility="1s")
    try:
        await b.started()

        async def all_done() -> bool:
            return (await broker.stats(queue)).counts.completed == len(ids)

        await eventually(all_done, 30, b.output)
    finally:
        b.signal(signal.SIGTERM)
        assert await b.exited() == 0
    entries = await _entries(broker, log)
    ended = Counter(job_id for e, job_id, _, _ in entries if e == "end")
    assert set(ended) == ids  # every job finished...
    started = Counter(job_id for e, job_id, _, _ in entries if e == "start")
    assert sum(started.values()) - len(ids) <= held  # ...and only the held ones ran twice
    states = await check_invariant(broker.redis, queue)
    assert (len(states["completed"]), states["inflight"]) == (len(ids), [])
    assert (await broker.stats(queue)).totals.reaped >= 1


async def test_sigterm_finishes_running_jobs_and_releases_the_rest_at_once(
    broker: Broker, queue: str, redis_url: str
) -> None:
    log = f"{queue}:log"
    await broker.enqueue_many(
        queue, [JobSpec.of("sleep", {"log": log, "s": 1.0}) for _ in range(12)]
    )
    w = WorkerProcess.start(redis_url, queue, concurrency=4, visibility="30s")
    await w.started()

    async def four_running() -> bool:
        return sum(e == "start" for e, *_ in await _entries(broker, log)) == 4

    await eventually(four_running, 15, w.output)
    w.signal(signal.SIGTERM)
    assert await w.exited(10) == 0
    entries = await _entries(broker, log)
    assert Counter(e for e, *_ in entries) == Counter({"start": 4, "end": 4})
    c = (await broker.stats(queue)).counts
    assert (c.completed, c.ready, c.inflight, c.delayed) == (4, 8, 0, 0)
    assert "stopping: waiting up to 30s for 4 jobs" in w.output()


async def _idle_wait_blocked(broker: Broker, pid: int) -> bool:
    """Whether worker `pid` sits in its idle wait: a BLPOP blocked in Redis. On a cluster the
    worker's connections carry no name (nothing tells its wait apart), so a started worker
    counts: the stop is still sent while its loops wait."""
    if is_cluster(broker.redis):
        return True
    listing = (await broker.redis.execute_command("CLIENT", "LIST")).decode()
    return any(
        f"name=relay-worker-{pid}-" in line and "cmd=blpop" in line for line in listing.splitlines()
    )


async def test_an_idle_worker_exits_promptly_on_sigterm(
    broker: Broker, queue: str, redis_url: str
) -> None:
    """Nothing to do, its loops all waiting (on Redis, on timers): SIGTERM ends it within a
    few seconds. A few rounds, since a stop that met a loop's timer used to get lost and leave
    the worker running for good."""
    for _ in range(3):
        w = WorkerProcess.start(redis_url, queue, concurrency=8)
        await w.started()
        await eventually(functools.partial(_idle_wait_blocked, broker, w.proc.pid), 15, w.output)
        w.signal(signal.SIGTERM)
        assert await w.exited(5) == 0
        assert "worker stopped" in w.output()


async def test_past_the_grace_period_running_jobs_go_back_with_their_attempt(
    broker: Broker, queue: str, redis_url: str
) -> None:
    log = f"{queue}:log"
    ids = [
        r.id
        for r in await broker.enqueue_many(
            queue, [JobSpec.of("sleep", {"log": log, "s": 30}) for _ in range(2)]
        )
    ]
    w = WorkerProcess.start(redis_url, queue, concurrency=2, grace="300ms")
    await w.started()

    async def both_running() -> bool:
        return len(await _entries(broker, log)) == 2

    await eventually(both_running, 15, w.output)
    w.signal(signal.SIGTERM)
    assert await w.exited(10) == 0
    assert "released 2 running jobs back to ready" in w.output()
    c = (await broker.stats(queue)).counts
    assert (c.ready, c.inflight) == (2, 0)
    assert [(await broker.get_job(queue, i)).attempts for i in ids] == [0, 0]


async def test_a_second_signal_exits_at_once(broker: Broker, queue: str, redis_url: str) -> None:
    log = f"{queue}:log"
    await broker.enqueue(queue, "block", {"log": log, "s": 3})
    w = WorkerProcess.start(redis_url, queue, concurrency=1, visibility="1s")
    try:
        await w.started()

        async def running() -> bool:
            return len(await _entries(broker, log)) == 1

        await eventually(running, 15, w.output)
        w.signal(signal.SIGTERM)
        await asyncio.sleep(0.2)
        w.signal(signal.SIGINT)
        assert await w.exited(1.5) == 128 + signal.SIGINT
    finally:
        w.kill()
    assert "received again: exiting now" in w.output()
    # Its job was neither acked nor released: it comes back when its lease runs out.
    c = (await broker.stats(queue)).counts
    assert (c.inflight, c.completed) == (1, 0)

    async def back() -> bool:
        return (await broker.reap(queue)).requeued == 1

    await eventually(back, 5)


async def test_a_job_that_kills_its_worker_is_quarantined_after_3_losses(
    broker: Broker, queue: str, redis_url: str
) -> None:
    log = f"{queue}:log"
    r = await broker.enqueue(queue, "crash", {"log": log}, max_attempts=100)
    good = await broker.enqueue(queue, "record", {"log": log})
    exits = []
    for _ in range(3):
        w = WorkerProcess.start(redis_url, queue, concurrency=1, visibility="300ms")
        exits.append(await w.exited(20))
        await asyncio.sleep(0.35)  # the lease runs out; the next worker's reaper takes it back
    assert exits == [3, 3, 3]

    async def quarantined() -> bool:  # the third loss: a fourth worker's reaper would do this
        reaped = await broker.reap(queue)
        assert reaped.requeued == 0
        return reaped.dead == 1

    await eventually(quarantined, 5)
    info = await broker.get_job(queue, r.id)
    assert info.state == "dead" and info.last_error
    assert info.last_error.startswith("quarantined: the worker running it was lost 3 times")
    # The other job is never lost: still waiting, or run by a worker that claimed it before
    # its reaper had taken the crashing job back.
    assert (await broker.get_job(queue, good.id)).state in ("ready", "completed")
    assert sum(e == "start" for e, *_ in await _entries(broker, log)) == 3
