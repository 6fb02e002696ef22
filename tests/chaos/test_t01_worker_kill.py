"""T1: kill -9 a random worker every few seconds under load; nothing is lost."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass

import pytest

from relay import Broker
from relay.keys import QueueKeys
from tests.chaos.checker import check, final_state
from tests.chaos.harness import (
    LONG,
    ChaosWorker,
    Run,
    drained,
    enqueue_recorded,
    record_figures,
    size,
    specs_of,
    wait_for,
)
from tests.chaos.history import Event, read_history

WORKERS, CONCURRENCY = 4, 8
VISIBILITY_S = size(2.0, 5.0)
JOBS, JOB_S = size(5000, 20_000), size(0.08, 0.1)
KILLS, EVERY_S = size(6, 30), 2.0


@dataclass
class Kill:
    pid: int
    at: float
    deadlines: dict[str, float]  # inflight job -> lease deadline (Redis ms) right after the kill


def _held_at_kill(events: list[Event], pid: int) -> dict[str, int]:
    """Jobs the killed worker had claimed and not yet settled: job -> its token."""
    held: dict[str, int] = {}
    for e in events:
        if e.pid != pid:
            continue
        if e.kind == "claim":
            held[e.job] = e.token
        elif e.kind in ("ack_ok", "ack_stale", "nack_ok", "nack_stale"):
            held.pop(e.job, None)
    return held


def _reclaim_delays(events: list[Event], kills: list[Kill]) -> tuple[int, list[float]]:
    """How many jobs the killed workers held, and ms from each one's deadline to its re-claim."""
    claims: defaultdict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.kind == "claim":
            claims[e.job].append(e)
    held_total, delays = 0, []
    for k in kills:
        held = _held_at_kill(events, k.pid)
        held_total += len(held)
        for job, token in held.items():
            deadline = k.deadlines.get(job)
            later = [c.redis_ms for c in claims[job] if c.token > token]
            if deadline is not None and later:
                delays.append(min(later) - deadline)
    return held_total, delays


async def _running(run: Run, at_least: int) -> list[ChaosWorker]:
    """The started, live workers, once there are `at_least` of them."""

    async def enough() -> bool:
        return len([w for w in run.workers if w.alive() and w.is_started()]) >= at_least

    await wait_for(enough, 60, run.logs)
    return [w for w in run.workers if w.alive() and w.is_started()]


@pytest.mark.timeout(size(180, 900))
async def test_t1_worker_sigkill_chaos_loses_nothing(run: Run, big_broker: Broker) -> None:
    rng = random.Random(1)
    specs = specs_of("work", JOBS, {"s": JOB_S})
    await enqueue_recorded(big_broker, run, specs)
    vis = f"{VISIBILITY_S}s"
    for _ in range(WORKERS):
        run.start_worker(concurrency=CONCURRENCY, visibility=vis)
    await asyncio.gather(*(w.started() for w in run.workers))
    inflight_key = QueueKeys.for_queue(run.queue).inflight
    kills: list[Kill] = []
    for _ in range(KILLS):
        await asyncio.sleep(EVERY_S)
        # A victim among the workers that run (one still booting holds nothing yet), and never
        # the last one: on a loaded box a restarted worker can take seconds to boot, and the
        # figure measured is how fast the survivors take the victim's jobs back.
        running = await _running(run, at_least=2)
        victim = rng.choice(running)
        victim.kill()
        at = time.monotonic()
        scores = await big_broker.redis.zrange(inflight_key, 0, -1, withscores=True)
        kills.append(Kill(victim.pid, at, {i.decode(): float(s) for i, s in scores}))
        run.fault("kill", pid=victim.pid)
        run.start_worker(concurrency=CONCURRENCY, visibility=vis)
    last_kill = time.monotonic()
    recovery = await wait_for(lambda: drained(big_broker, run.queue), 60, run.logs)
    await run.stop_all()

    events = read_history(run.history_dir)
    report = check(events, await final_state(big_broker.redis, run.queue))
    held, delays = _reclaim_delays(events, kills)
    figures = {
        **report.figures(),
        "workers": WORKERS,
        "concurrency": CONCURRENCY,
        "visibility_s": VISIBILITY_S,
        "kills": len(kills),
        "held_at_kills": held,
        "reclaim_after_deadline_ms_max": max(delays, default=0),
        "reclaim_after_deadline_ms_median": statistics.median(delays) if delays else 0,
        "drained_s_after_last_kill": round(recovery, 2),
        "total_s": round(time.monotonic() - last_kill + KILLS * EVERY_S, 1),
        "long": LONG,
    }
    record_figures("T1", figures)
    report.assert_correct()
    assert report.completed + report.dead == JOBS
    assert report.duplicates <= held, figures
    assert max(delays, default=0) <= 8000, figures
    assert recovery <= 60
