"""T22: group caps and rate limits under kill -9 (decision 0053).

Groups with max_inflight 2 (two of them also rate limited), 4 workers, one killed with SIGKILL
every 2 s and replaced. Sampled from Redis all along: the jobs in flight of each group never
exceed its cap. After the last kill: every job finishes (no group is stuck below its cap once
the dead workers' leases expire), and the counters reconcile with the in-flight set.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from relay import Broker
from relay.keys import QueueKeys
from relay.wire import GroupLimits
from tests.chaos.checker import check, final_state
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
from tests.support.invariant import check_invariant

WORKERS, CONCURRENCY, VISIBILITY_S = 4, 8, 2.0
GROUPS, CAP = 6, 2
RATED = {"g0": (8.0, 2), "g1": (5.0, 1)}  # jobs/s, burst
PER_GROUP, JOB_S = size(100, 600), 0.2
KILLS, EVERY_S = size(6, 30), 2.0


async def _in_flight_per_group(broker: Broker, queue: str) -> Counter[str]:
    """Jobs in flight per group, read from the in-flight set itself (not the counters)."""
    k = QueueKeys.for_queue(queue)
    pipe = broker.redis.pipeline(transaction=True)  # one snapshot
    pipe.zrange(k.inflight, 0, -1)
    pipe.hgetall(k.group_of)
    ids, groups = await pipe.execute()
    return Counter(groups[i].decode() for i in ids if i in groups)


@pytest.mark.timeout(size(180, 900))
async def test_t22_group_limits_hold_under_kill_9(run: Run, big_broker: Broker) -> None:
    rng = random.Random(22)
    for g in range(GROUPS):
        rate, burst = RATED.get(f"g{g}", (None, None))
        await big_broker.set_group(
            run.queue, f"g{g}", GroupLimits(max_inflight=CAP, rate=rate, burst=burst)
        )
    specs = []
    for g in range(GROUPS):
        specs += specs_of("work", PER_GROUP, {"s": JOB_S}, group=f"g{g}")
    rng.shuffle(specs)
    await enqueue_recorded(big_broker, run, specs)

    worst: Counter[str] = Counter()
    samples = 0
    stop = asyncio.Event()

    async def sample() -> None:
        nonlocal samples
        while not stop.is_set():
            for g, n in (await _in_flight_per_group(big_broker, run.queue)).items():
                worst[g] = max(worst[g], n)
            samples += 1
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    vis = f"{VISIBILITY_S}s"
    for _ in range(WORKERS):
        run.start_worker(concurrency=CONCURRENCY, visibility=vis)
    await asyncio.gather(*(w.started() for w in run.workers))
    for _ in range(KILLS):
        await asyncio.sleep(EVERY_S)
        live = [w for w in run.workers if w.alive() and w.is_started()]
        if len(live) >= 2:
            victim = rng.choice(live)
            victim.kill()
            run.fault("kill", pid=victim.pid)
        run.start_worker(concurrency=CONCURRENCY, visibility=vis)
    budget = GROUPS * PER_GROUP * JOB_S / CAP + PER_GROUP / 10 + 60  # the slowest group's pace
    recovery = await wait_for(lambda: drained(big_broker, run.queue), budget, run.logs)
    stop.set()
    await sampler
    await run.stop_all()

    events = read_history(run.history_dir)
    report = check(events, await final_state(big_broker.redis, run.queue))
    k = QueueKeys.for_queue(run.queue)
    page = await big_broker.groups(run.queue)
    figures = {
        **report.figures(),
        "groups": GROUPS,
        "max_inflight": CAP,
        "rated": RATED,
        "kills": KILLS,
        "worst_in_flight_per_group": dict(sorted(worst.items())),
        "samples": samples,
        "drained_s_after_last_kill": round(recovery, 2),
        "counters_left": {
            g.decode(): int(n) for g, n in (await big_broker.redis.hgetall(k.group_counts)).items()
        },
        "ledger_left": await big_broker.redis.hlen(k.group_inflight),
        "parked_left": [g.name for g in page.groups if g.capped or g.limited_until],
    }
    record_figures("T22", figures)
    report.assert_correct()
    # A job whose workers were all killed crash_limit times is quarantined (dead) by design.
    assert report.completed + report.dead == GROUPS * PER_GROUP, figures
    assert samples > 100 and max(worst.values()) <= CAP, figures
    assert figures["counters_left"] == {} and figures["ledger_left"] == 0, figures
    assert figures["parked_left"] == [], figures
    await check_invariant(big_broker.redis, run.queue)  # counters reconcile with flight
