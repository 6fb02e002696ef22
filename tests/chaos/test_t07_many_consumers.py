"""T7: many consumers: hundreds of slots per process on one queue; few connections, idle quiet."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from relay import Broker
from tests.chaos.checker import check, final_state
from tests.chaos.conftest import BIG
from tests.chaos.harness import (
    Run,
    drained,
    enqueue_recorded,
    record_figures,
    size,
    specs_of,
    wait_for,
)
from tests.chaos.history import read_history
from tests.support.redis_server import RedisServer

WORKERS, CONCURRENCY, JOBS = size(2, 4), size(200, 500), size(10_000, 100_000)
IDLE_S = 5.0


@pytest.mark.timeout(size(120, 600))
async def test_t7_many_consumers_no_duplicates_bounded_clients_quiet_when_idle(
    private_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = private_redis()
    run = Run(dir=tmp_path, redis_url=server.url, queue="t7")
    broker = Broker.from_url(server.url, BIG)
    peak = 0
    try:
        for _ in range(WORKERS):
            run.start_worker(concurrency=CONCURRENCY, visibility="10s")
        await asyncio.gather(*(w.started(40) for w in run.workers))
        await enqueue_recorded(broker, run, specs_of("work", JOBS), chunk=1000)

        async def done() -> bool:
            nonlocal peak
            peak = max(peak, int((await broker.redis.info("clients"))["connected_clients"]))
            return await drained(broker, run.queue)

        await wait_for(done, size(90, 500), run.logs)
        await asyncio.sleep(1.0)  # let the last acks land, then listen to the idle workers
        before = int((await broker.redis.info("stats"))["total_commands_processed"])
        await asyncio.sleep(IDLE_S)
        after = int((await broker.redis.info("stats"))["total_commands_processed"])
        clients = int((await broker.redis.info("clients"))["connected_clients"])
        await run.stop_all()
        report = check(read_history(run.history_dir), await final_state(broker.redis, run.queue))
    finally:
        run.cleanup(keep=True)
        await broker.close()
    idle_rate = (after - before - 2) / IDLE_S / WORKERS  # minus our own INFO
    figures = {
        **report.figures(),
        "workers": WORKERS,
        "concurrency": CONCURRENCY,
        "peak_redis_clients": peak,
        "redis_clients_idle": clients,
        "idle_commands_per_s_per_worker": round(idle_rate, 2),
    }
    record_figures("T7", figures)
    report.assert_correct()
    assert report.duplicates == 0 and report.completed == JOBS, figures
    assert peak <= 256, figures
    assert idle_rate <= 10, figures
