"""T4: worker-Redis partitions through the fault proxy: blackhole, reset, drop the reply."""

from __future__ import annotations

import asyncio

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
from tests.chaos.proxy import FaultProxy, Mode

VISIBILITY_S = size(2.0, 5.0)


async def _redis_ms(broker: Broker) -> int:
    sec, usec = await broker.redis.time()
    return int(sec) * 1000 + int(usec) // 1000


@pytest.mark.timeout(size(90, 300))
async def test_t4_blackhole_jobs_are_reclaimed_and_late_acks_refused(
    run: Run, big_broker: Broker, proxy: FaultProxy
) -> None:
    vis = f"{VISIBILITY_S}s"
    cut = run.start_worker(concurrency=4, visibility=vis, redis_url=proxy.url)
    other = run.start_worker(concurrency=4, visibility=vis)
    await asyncio.gather(cut.started(), other.started())
    await enqueue_recorded(big_broker, run, specs_of("work", 8, {"s": 1.5}))

    async def all_running() -> bool:
        starts = {e.job for e in read_history(run.history_dir) if e.kind == "exec_start"}
        return len(starts) == 8

    await wait_for(all_running, 20, run.logs)
    proxy.set(Mode.BLACKHOLE)
    t0 = await _redis_ms(big_broker)
    run.fault("blackhole", worker=cut.pid)
    await asyncio.sleep(2 * VISIBILITY_S + 1)
    proxy.set(Mode.OPEN)
    run.fault("heal")
    await wait_for(lambda: drained(big_broker, run.queue), 60, run.logs)

    async def cut_reported_back() -> bool:
        return any(
            e.pid == cut.pid and e.kind.startswith("ack") for e in read_history(run.history_dir)
        )

    await wait_for(cut_reported_back, 30, run.logs)
    await run.stop_all()
    events = read_history(run.history_dir)
    report = check(events, await final_state(big_broker.redis, run.queue))
    held = {e.job: e.token for e in events if e.kind == "claim" and e.pid == cut.pid}
    reclaims = [
        e.redis_ms - t0
        for e in events
        if e.kind == "claim" and e.pid == other.pid and e.job in held and e.token > held[e.job]
    ]
    figures = {
        **report.figures(),
        "visibility_s": VISIBILITY_S,
        "held_by_cut_worker": len(held),
        "reclaim_after_partition_ms_max": max(reclaims, default=-1),
        "late_acks_from_cut_worker_refused": sum(
            e.kind == "ack_stale" and e.pid == cut.pid for e in events
        ),
    }
    record_figures("T4_blackhole", figures)
    report.assert_correct()
    assert len(reclaims) == len(held) > 0, figures
    assert max(reclaims) <= VISIBILITY_S * 1000 + 2000, figures
    assert figures["late_acks_from_cut_worker_refused"] == len(held), figures


@pytest.mark.timeout(size(90, 300))
async def test_t4_connection_resets_lose_nothing(
    run: Run, big_broker: Broker, proxy: FaultProxy
) -> None:
    n = size(2000, 10_000)
    await enqueue_recorded(big_broker, run, specs_of("work", n, {"s": 0.01}))
    for _ in range(2):
        run.start_worker(concurrency=8, visibility=f"{VISIBILITY_S}s", redis_url=proxy.url)
    await asyncio.gather(*(w.started() for w in run.workers))
    resets = size(5, 20)
    for _ in range(resets):
        await asyncio.sleep(0.7)
        proxy.set(Mode.RESET)
        run.fault("reset")
        await asyncio.sleep(0.3)
        proxy.set(Mode.OPEN)
    await wait_for(lambda: drained(big_broker, run.queue), 60, run.logs)
    await run.stop_all()
    report = check(read_history(run.history_dir), await final_state(big_broker.redis, run.queue))
    record_figures("T4_reset", {**report.figures(), "reset_bursts": resets})
    report.assert_correct()
    assert report.completed == n


@pytest.mark.timeout(size(120, 300))
async def test_t4_dropped_replies_leave_exactly_the_jobs_enqueued(
    run: Run, big_broker: Broker, proxy: FaultProxy
) -> None:
    n = 1000
    proxy.set(Mode.DROP_REPLY, drop=0.2)
    via_proxy = Broker.from_url(proxy.url, BIG)
    try:
        specs = specs_of("work", n, {"s": 0.005})
        await enqueue_recorded(via_proxy, run, specs, chunk=1, pause=0.001)
    finally:
        await via_proxy.close()
    dropped_enqueue_replies = proxy.dropped
    records = {i.decode() for i in await big_broker.redis.hkeys(f"relay:{{{run.queue}}}:jobs")}
    assert records == {s.id for s in specs}  # exactly the 1000 jobs, each once

    proxy.set(Mode.DROP_REPLY, drop=0.02)  # the workers' claims, extends and acks too
    for _ in range(2):
        run.start_worker(concurrency=8, visibility="1s", redis_url=proxy.url)
    await asyncio.gather(*(w.started(40) for w in run.workers))
    await wait_for(lambda: drained(big_broker, run.queue), size(90, 240), run.logs)
    await run.stop_all()
    report = check(read_history(run.history_dir), await final_state(big_broker.redis, run.queue))
    figures = {
        **report.figures(),
        "jobs_in_redis_after_1000_enqueues": len(records),
        "enqueue_replies_dropped": dropped_enqueue_replies,
        "replies_dropped_total": proxy.dropped,
    }
    record_figures("T4_drop_reply", figures)
    report.assert_correct()
    assert report.completed == n
