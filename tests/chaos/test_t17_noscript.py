"""T17: SCRIPT FLUSH every half second under load, then a Redis restart: no caller sees
NOSCRIPT."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from relay import Broker
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
from tests.chaos.history import read_history
from tests.support.redis_server import RedisServer

FLUSHES, EVERY_S = size(12, 120), size(0.5, 5.0)
PAUSE_S = size(0.02, 0.1)  # between producer batches of 20: ~1,000 or ~200 jobs/s


@pytest.mark.timeout(size(90, 1500))
async def test_t17_script_flushes_and_a_restart_are_invisible_to_callers(
    private_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = private_redis("--appendonly", "yes")
    run = Run(dir=tmp_path, redis_url=server.url, queue="t17")
    broker = Broker.from_url(server.url, BIG)
    seen: list[str] = []
    done = asyncio.Event()
    try:
        for _ in range(2):
            run.start_worker(concurrency=8, visibility="2s")
        await asyncio.gather(*(w.started() for w in run.workers))

        async def produce() -> None:
            while not done.is_set():
                try:
                    await enqueue_recorded(broker, run, specs_of("work", 20, {"s": 0.01}))
                except ScriptError as exc:
                    seen.append(str(exc))
                await asyncio.sleep(PAUSE_S)

        producer = asyncio.create_task(produce())
        admin = Broker.from_url(server.url)
        try:
            for _ in range(FLUSHES):
                await asyncio.sleep(EVERY_S)
                await admin.redis.script_flush()
                run.fault("script_flush")
        finally:
            await admin.close()
        server.kill()
        run.fault("redis_kill")
        await asyncio.to_thread(restart_redis, server)
        await asyncio.sleep(1.0)
        done.set()
        await producer
        await wait_for(lambda: drained(broker, run.queue), size(60, 300), run.logs)
        await run.stop_all()
        report = check(read_history(run.history_dir), await final_state(broker.redis, run.queue))
        seen += [line for line in run.logs().splitlines() if "NOSCRIPT" in line]
        figures = {**report.figures(), "script_flushes": FLUSHES, "noscript_seen": len(seen)}
        record_figures("T17", figures)
    finally:
        run.cleanup(keep=True)
        await broker.close()
    report.assert_correct()
    assert not seen, seen[:5]
