"""T5: workers with clocks 120 s slow and 120 s fast (libfaketime; Redis keeps true time).

Every decision comes from Redis TIME, so: no lease looks expired early or late (no premature
re-claim of a long job), and delayed jobs start on time by Redis' clock. Rate limits under the
same skew are T13.
"""

from __future__ import annotations

import asyncio

import pytest

from relay import Broker
from relay.keys import QueueKeys
from tests.chaos.checker import check, final_state
from tests.chaos.harness import (
    Run,
    StallWatch,
    drained,
    enqueue_recorded,
    faketime_env,
    id_of,
    idle_waiters,
    record_figures,
    size,
    specs_of,
    wait_for,
)
from tests.chaos.history import read_history

SKEWS = ("-120s", "+120s")
DEBUG_LOG = {"RELAY_CHAOS_LOG_LEVEL": "DEBUG"}  # a failure's log shows each wait and promote


@pytest.mark.timeout(size(90, 300))
async def test_t5_skewed_workers_make_no_premature_reclaims_and_start_delayed_jobs_on_time(
    run: Run, big_broker: Broker
) -> None:
    envs = [faketime_env(s) for s in SKEWS]
    if not all(envs):
        pytest.skip("libfaketime is not installed (apt-get install -y faketime)")
    long_jobs = specs_of("work", 8, {"s": 4.0})  # fewer than the slots: delays wait for none
    delayed = [
        s for ms in range(500, size(3500, 20_500), 250) for s in specs_of("work", 1, delay_ms=ms)
    ]
    for env in envs:
        run.start_worker(concurrency=8, visibility="3s", env={**env, **DEBUG_LOG})
    await asyncio.gather(*(w.started() for w in run.workers))
    await idle_waiters(big_broker, len(run.workers))  # connected and waiting, not just started
    with StallWatch(run.redis_url) as stalls:
        await enqueue_recorded(big_broker, run, long_jobs + delayed)
        key = QueueKeys.for_queue(run.queue).delayed
        run_at = {id_of(s): await big_broker.redis.zscore(key, id_of(s)) for s in delayed}
        await wait_for(lambda: drained(big_broker, run.queue), 60, run.logs)
    await run.stop_all()
    events = read_history(run.history_dir)
    report = check(events, await final_state(big_broker.redis, run.queue))
    first_claim: dict[str, int] = {}
    for e in events:
        if e.kind == "claim":
            first_claim.setdefault(e.job, e.redis_ms)
    lateness = [first_claim[j] - at for j, at in run_at.items() if at is not None]
    enqueued_at = min(at for at in run_at.values() if at is not None) - 500
    figures = {
        **report.figures(),
        "skews": list(SKEWS),
        "premature_reclaims": report.duplicates,
        "delayed_jobs": len(delayed),
        "delayed_start_late_ms_min_max": [min(lateness), max(lateness)],
        "long_jobs_claimed_after_ms_max": max(first_claim[id_of(s)] for s in long_jobs)
        - enqueued_at,
        "redis_time_gaps_seen_by_the_test_ms": [b - a for a, b in stalls.gaps],
        "wall_clock_seen_by_workers": sorted(
            {round(e.t - e.redis_ms / 1000) for e in events if e.kind == "claim"}
        ),
    }
    record_figures("T5", figures)
    report.assert_correct()
    assert report.duplicates == 0 and report.stale_acks_refused == 0, figures
    assert None not in run_at.values() and len(lateness) == len(delayed)
    assert min(lateness) >= 0 and max(lateness) <= 1000, f"{figures}\n{run.logs()}"
