"""T2: SIGKILL redis-server (AOF, appendfsync everysec) three times under load, restart it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from relay import Broker, SyncProducer
from relay.errors import ScriptError
from tests.chaos.checker import check, final_state
from tests.chaos.conftest import BIG
from tests.chaos.harness import (
    Run,
    drained,
    enqueue_recorded,
    record_figures,
    restart_redis,
    size,
    specs_of,
    wait_for,
)
from tests.chaos.history import Event, read_history
from tests.support.redis_server import RedisServer

JOBS, CHUNK, PAUSE_S = size(3000, 20_000), 30, 0.08
CRASHES, EVERY_S, DOWN_S = 3, size(2.0, 6.0), 0.5


def _resume_times(events: list[Event], restarts_ms: list[int]) -> list[float]:
    """Seconds from each restart to the first claim any worker made after it."""
    claims = sorted(e.redis_ms for e in events if e.kind == "claim")
    out = []
    for at in restarts_ms:
        first = next((c for c in claims if c >= at), None)
        out.append(round((first - at) / 1000, 3) if first is not None else float("inf"))
    return out


@pytest.mark.timeout(size(120, 600))
async def test_t2_redis_crash_with_aof_loses_no_acknowledged_enqueue(
    private_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = private_redis("--appendonly", "yes", "--appendfsync", "everysec")
    run = Run(dir=tmp_path, redis_url=server.url, queue="t2")
    broker = Broker.from_url(server.url, BIG)
    noscript: list[str] = []
    try:
        for _ in range(2):
            run.start_worker(concurrency=8, visibility="2s")
        await asyncio.gather(*(w.started() for w in run.workers))
        specs = specs_of("work", JOBS, {"s": 0.02})

        async def produce() -> None:
            for i in range(0, JOBS, CHUNK):
                try:
                    await enqueue_recorded(broker, run, specs[i : i + CHUNK], chunk=CHUNK)
                except ScriptError as exc:  # NOSCRIPT would surface here
                    noscript.append(str(exc))
                await asyncio.sleep(PAUSE_S)

        producer = asyncio.create_task(produce())
        restarts_ms: list[int] = []
        for _ in range(CRASHES):
            await asyncio.sleep(EVERY_S)
            server.kill()
            run.fault("redis_kill")
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(restart_redis, server)
            restarts_ms.append(time.time_ns() // 1_000_000)
            run.fault("redis_restart")
        await producer
        await wait_for(lambda: drained(broker, run.queue), 60, run.logs)
        survived = [w.alive() for w in run.workers]  # no worker died or was restarted
        await run.stop_all()
        events = read_history(run.history_dir)
        report = check(events, await final_state(broker.redis, run.queue))
        resume = _resume_times(events, restarts_ms)
        logs = run.logs()
        noscript += [line for line in logs.splitlines() if "NOSCRIPT" in line]
        figures = {
            **report.figures(),
            "crashes": CRASHES,
            "appendfsync": "everysec",
            "noscript_seen_by_callers": len(noscript),
            "workers_resumed_s": resume,
            "workers_alive_after_crashes": f"{sum(survived)}/{len(survived)}",
            "worker_exit_codes_after_sigterm": [w.proc.returncode for w in run.workers],
            "enqueue_calls_failed_then_resent": len(
                {e.job for e in events if e.kind == "enqueue_unknown"}
            ),
        }
        record_figures("T2", figures)
    finally:
        run.cleanup(keep=True)
        await broker.close()
    report.assert_correct()
    assert report.enqueued == JOBS
    assert not noscript, noscript[:5]
    assert max(resume) <= 5.0, figures
    assert all(survived), logs


@pytest.mark.timeout(30)
async def test_t2_the_first_enqueue_after_a_redis_restart_succeeds(
    private_redis: Callable[..., RedisServer],
) -> None:
    server = private_redis("--appendonly", "yes")
    broker = Broker.from_url(server.url)
    try:
        await broker.enqueue("t2-restart", "work")
        server.kill()
        await asyncio.to_thread(restart_redis, server)
        await broker.enqueue("t2-restart", "work")  # Redis is up and answering by now
    finally:
        await broker.close()


@pytest.mark.timeout(30)
async def test_t2_a_sync_producers_first_enqueue_after_a_redis_restart_succeeds(
    private_redis: Callable[..., RedisServer],
) -> None:
    server = private_redis("--appendonly", "yes")
    with SyncProducer.from_url(server.url) as producer:
        first = producer.enqueue("t2-restart-sync", "work")
        server.kill()
        await asyncio.to_thread(restart_redis, server)
        second = producer.enqueue("t2-restart-sync", "work")  # one stale pooled socket
        assert not second.duplicate and second.id != first.id
        assert producer.redis.llen("relay:{t2-restart-sync}:ready:5") == 2
