"""T13: a 50/s burst-10 limit holds across 4 workers, two of them with clocks 120 s off."""

from __future__ import annotations

import asyncio

import pytest

from relay import Broker
from tests.chaos.checker import check, final_state
from tests.chaos.harness import (
    Run,
    drained,
    enqueue_recorded,
    faketime_env,
    record_figures,
    size,
    specs_of,
    wait_for,
)
from tests.chaos.history import read_history

RATE, BURST = 50, 10
JOBS = size(300, 3000)


def worst_window_excess(starts_ms: list[int]) -> float:
    """max over windows [t_i, t_j] of starts - (burst + rate * T + 1); <= 0 means it held."""
    starts = sorted(starts_ms)
    worst = float("-inf")
    for i, ti in enumerate(starts):
        for j in range(i, len(starts)):
            allowed = BURST + RATE * (starts[j] - ti) / 1000 + 1
            worst = max(worst, (j - i + 1) - allowed)
    return worst


@pytest.mark.timeout(size(90, 300))
async def test_t13_rate_limit_holds_across_skewed_workers(run: Run, big_broker: Broker) -> None:
    skews = ["-120s", "+120s"]
    envs = [faketime_env(s) for s in skews]
    if not all(envs):
        pytest.skip("libfaketime is not installed (apt-get install -y faketime)")
    await big_broker.set_rate_limit(run.queue, RATE, BURST)
    await enqueue_recorded(big_broker, run, specs_of("work", JOBS))
    for env in [{}, {}, *envs]:
        run.start_worker(concurrency=8, visibility="5s", env=env)
    await asyncio.gather(*(w.started() for w in run.workers))
    await wait_for(lambda: drained(big_broker, run.queue), JOBS / RATE + 30, run.logs)
    await run.stop_all()
    events = read_history(run.history_dir)
    report = check(events, await final_state(big_broker.redis, run.queue))
    starts = [e.redis_ms for e in events if e.kind == "claim"]
    by_worker = {w.pid: 0 for w in run.workers}
    for e in events:
        if e.kind == "claim":
            by_worker[e.pid] += 1
    totals = (await big_broker.stats(run.queue)).totals
    span_s = (max(starts) - min(starts)) / 1000
    figures = {
        **report.figures(),
        "rate": RATE,
        "burst": BURST,
        "worst_window_excess": round(worst_window_excess(starts), 3),
        "observed_rate_per_s": round((len(starts) - BURST) / span_s, 2) if span_s else None,
        "claims_per_worker": list(by_worker.values()),
        "skews": ["0", "0", *skews],
        "failed_total": totals.failed,
        "nacks": sum(e.kind.startswith("nack") for e in events),
    }
    record_figures("T13", figures)
    report.assert_correct()
    assert figures["worst_window_excess"] <= 0, figures
    assert totals.failed == 0 and figures["nacks"] == 0, figures
    assert all(by_worker.values()), figures  # the skewed workers took their share
