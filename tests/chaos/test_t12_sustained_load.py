"""T12: sustained load with retention on: Redis memory and worker RSS stay flat, counters add up."""

from __future__ import annotations

import asyncio
import time

import pytest

from relay import Broker
from relay.keys import QueueKeys
from tests.chaos.checker import check, final_state
from tests.chaos.harness import (
    Run,
    drained,
    enqueue_recorded,
    record_figures,
    rss_kib,
    size,
    specs_of,
    wait_for,
)
from tests.chaos.history import read_history

RATE, TICK_S = 500, 0.1
DURATION_S = size(30.0, 1800.0)
KEEP = 1000  # the default retention: completed jobs and events are trimmed as they go


def slope_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) samples, per minute."""
    n = len(samples)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mv = sum(v for _, v in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    cov = sum((t - mt) * (v - mv) for t, v in samples)
    return cov / var * 60 if var else 0.0


@pytest.mark.timeout(int(DURATION_S * 1.5) + 300)  # the long run checks ~4M events
async def test_t12_sustained_load_keeps_memory_flat_and_counters_exact(
    run: Run, broker: Broker
) -> None:
    for _ in range(2):
        run.start_worker(concurrency=16, visibility="5s", keep_completed=KEEP)
    await asyncio.gather(*(w.started() for w in run.workers))
    per_tick = int(RATE * TICK_S)
    mem: list[tuple[float, float]] = []
    rss: dict[int, list[tuple[float, float]]] = {w.pid: [] for w in run.workers}
    start = time.monotonic()
    next_sample = start
    sent = 0
    while (now := time.monotonic()) - start < DURATION_S:
        await enqueue_recorded(broker, run, specs_of("work", per_tick, {"s": 0.005}))
        sent += per_tick
        if now >= next_sample:
            info = await broker.redis.info("memory")
            mem.append((now - start, int(info["used_memory"]) / 2**20))
            for pid, series in rss.items():
                series.append((now - start, rss_kib(pid) / 1024))
            next_sample += 1.0
        await asyncio.sleep(max(0.0, start + sent / RATE - time.monotonic()))
    elapsed = time.monotonic() - start
    await wait_for(lambda: drained(broker, run.queue), 60, run.logs)
    await run.stop_all()

    events = read_history(run.history_dir)
    report = check(events, await final_state(broker.redis, run.queue))
    stats = await broker.stats(run.queue)
    k = QueueKeys.for_queue(run.queue)
    warm = DURATION_S / 4
    steady = [(t, v) for t, v in mem if t >= warm]
    growth = []
    for series in rss.values():
        base = next((v for t, v in series if t >= warm), 0.0)
        growth.append((series[-1][1] - base) / base * 100 if base else 0.0)
    figures = {
        **report.figures(),
        "duration_s": round(elapsed, 1),
        "rate_per_s": round(sent / elapsed, 1),
        "redis_memory_mib_start_end": [round(steady[0][1], 2), round(steady[-1][1], 2)],
        "redis_memory_slope_mib_per_min": round(slope_per_min(steady), 3),
        "worker_rss_growth_pct": [round(g, 1) for g in growth],
        "totals": {"enqueued": stats.totals.enqueued, "completed": stats.totals.completed},
        "job_records_left": int(await broker.redis.hlen(k.jobs)),
        "events_len": int(await broker.redis.xlen(k.events)),
    }
    record_figures("T12", figures)
    report.assert_correct()
    assert stats.totals.enqueued == stats.totals.completed == report.enqueued == sent, figures
    assert report.completed == sent and report.duplicates == 0, figures
    assert figures["job_records_left"] <= KEEP, figures
    assert figures["redis_memory_slope_mib_per_min"] <= 1.0, figures
    assert max(growth) <= 10.0, figures
