"""T21: cancel running jobs while their workers are SIGSTOPped, killed and restarted.

Every job is running (a long sleep) when the cancels go out. One worker is frozen (SIGSTOP)
and one killed (SIGKILL) just before, so their jobs' flags are met by the reaper when their
leases expire; one is restarted (SIGTERM, then a new one) just after, so its handlers are
cancelled while it stops; the others learn the flags from their next heartbeat reply. The
frozen worker is thawed once its leases are long gone. Every job must end `cancelled`, none
may be claimed again after its cancel was acknowledged, and none may stay in flight.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import pytest

from relay import Broker
from relay.keys import QueueKeys
from tests.chaos.harness import (
    LONG,
    Run,
    enqueue_recorded,
    record_figures,
    size,
    specs_of,
    wait_for,
)
from tests.chaos.history import read_history

WORKERS, CONCURRENCY = 5, size(40, 120)
JOBS = size(150, 500)
VISIBILITY_S = 2.0


async def _redis_ms(broker: Broker) -> int:
    sec, usec = await broker.redis.time()
    return int(sec) * 1000 + int(usec) // 1000


@pytest.mark.timeout(size(120, 300))
async def test_t21_cancels_are_durable_across_stop_kill_restart(
    run: Run, big_broker: Broker
) -> None:
    specs = specs_of("work", JOBS, {"s": 600})
    await enqueue_recorded(big_broker, run, specs)
    vis = f"{VISIBILITY_S}s"
    workers = [
        run.start_worker(concurrency=CONCURRENCY, visibility=vis, grace="1s")
        for _ in range(WORKERS)
    ]
    await asyncio.gather(*(w.started(60) for w in workers))
    k = QueueKeys.for_queue(run.queue)

    async def all_running() -> bool:
        return int(await big_broker.redis.zcard(k.inflight)) == JOBS

    await wait_for(all_running, 60, run.logs)
    frozen, killed, restarted = workers[0], workers[1], workers[2]
    frozen.send(signal.SIGSTOP)
    run.fault("sigstop", pid=frozen.pid)
    killed.kill()
    run.fault("kill", pid=killed.pid)

    acked_at: dict[str, int] = {}
    acked_wall: dict[str, float] = {}
    states: Counter[str] = Counter()
    t0 = time.monotonic()
    for s in specs:
        assert s.id is not None
        states[(await big_broker.cancel(run.queue, s.id)).state] += 1
        acked_at[s.id] = await _redis_ms(big_broker)
        acked_wall[s.id] = time.time()
    cancel_s = time.monotonic() - t0
    run.fault("cancelled_all")
    await restarted.stop()
    run.fault("restart", pid=restarted.pid)
    run.start_worker(concurrency=CONCURRENCY, visibility=vis, grace="1s")

    async def thaw_later() -> None:
        await asyncio.sleep(3 * VISIBILITY_S)  # its leases are long gone by then
        frozen.send(signal.SIGCONT)
        run.fault("sigcont", pid=frozen.pid)

    thaw = asyncio.create_task(thaw_later())

    async def settled() -> bool:
        c = (await big_broker.stats(run.queue)).counts
        return c.cancelled == JOBS and c.inflight + c.ready + c.delayed == 0

    settle_s = await wait_for(settled, 60, run.logs)
    await thaw
    await asyncio.sleep(VISIBILITY_S)  # the thawed worker's heartbeat and acks come back
    await run.stop_all()

    events = read_history(run.history_dir)
    rerun = [e for e in events if e.kind == "claim" and e.redis_ms > acked_at.get(e.job, 1 << 62)]
    started = [e for e in events if e.kind == "exec_start" and e.t > acked_wall.get(e.job, 1e18)]
    by_worker = sum(
        1 for e in events if e.kind == "nack_ok" and e.extra.get("outcome") == "cancelled"
    )
    final = {s.id: (await big_broker.get_job(run.queue, s.id or "")).state for s in specs}
    stats = await big_broker.stats(run.queue)
    figures = {
        "jobs": JOBS,
        "workers": WORKERS,
        "concurrency": CONCURRENCY,
        "visibility_s": VISIBILITY_S,
        "answered_cancelling": states["cancelling"],
        "answered_cancelled": states["cancelled"],
        "cancel_calls_s": round(cancel_s, 3),
        "all_cancelled_s_after_last_cancel": round(settle_s, 2),
        "ended_cancelled": sum(1 for v in final.values() if v == "cancelled"),
        "claims_after_cancel_ack": len(rerun),
        "handler_starts_after_cancel_ack": len(started),
        "ended_by_worker_nack": by_worker,
        "ended_by_reaper_or_ack": JOBS - by_worker,
        "inflight_at_end": stats.counts.inflight,
        "totals_cancelled": stats.totals.cancelled,
        "long": LONG,
    }
    record_figures("T21", figures)
    assert figures["ended_cancelled"] == JOBS, figures
    assert not rerun and not started, figures
    assert stats.counts.inflight == 0 and stats.totals.cancelled == JOBS, figures
