"""T6: handlers far longer than the lease keep it; a stopped worker loses it exactly once."""

from __future__ import annotations

import asyncio
import signal

import pytest

from relay import Broker
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

VISIBILITY_S = size(2.0, 3.0)
HANDLER_S = size(5.0, 10.0)


@pytest.mark.timeout(size(90, 180))
async def test_t6_long_handlers_are_never_redelivered_while_leases_are_extended(
    run: Run, big_broker: Broker
) -> None:
    specs = specs_of("work", 6, {"s": HANDLER_S}) + specs_of("spin", 1, {"s": HANDLER_S})
    await enqueue_recorded(big_broker, run, specs)
    for _ in range(2):
        run.start_worker(concurrency=4, visibility=f"{VISIBILITY_S}s")
    await asyncio.gather(*(w.started() for w in run.workers))
    await wait_for(lambda: drained(big_broker, run.queue), HANDLER_S * 3 + 30, run.logs)
    await run.stop_all()
    report = check(read_history(run.history_dir), await final_state(big_broker.redis, run.queue))
    totals = (await big_broker.stats(run.queue)).totals
    figures = {
        **report.figures(),
        "visibility_s": VISIBILITY_S,
        "handler_s": HANDLER_S,
        "redeliveries": report.duplicates,
        "reaped": totals.reaped,
        "leases_lost_logged": run.logs().count("lease lost"),
    }
    record_figures("T6_extend", figures)
    report.assert_correct()
    assert (report.duplicates, report.stale_acks_refused, totals.reaped) == (0, 0, 0), figures


@pytest.mark.timeout(size(90, 180))
async def test_t6_sigstop_for_twice_the_lease_gives_one_redelivery_and_a_stale_ack(
    run: Run, big_broker: Broker
) -> None:
    vis = f"{VISIBILITY_S}s"
    stopped = await run.start_worker(concurrency=1, visibility=vis).started()
    await enqueue_recorded(big_broker, run, specs_of("work", 1, {"s": 1.5 * VISIBILITY_S}))

    async def running() -> bool:
        return any(e.kind == "exec_start" for e in read_history(run.history_dir))

    await wait_for(running, 20, run.logs)
    stopped.send(signal.SIGSTOP)
    run.fault("sigstop", pid=stopped.pid)
    other = run.start_worker(concurrency=1, visibility=vis)
    await asyncio.sleep(2 * VISIBILITY_S)
    await other.started()

    async def redelivered() -> bool:
        h = read_history(run.history_dir)
        return any(e.kind == "exec_start" and e.pid == other.pid for e in h)

    await wait_for(redelivered, 20, run.logs)
    stopped.send(signal.SIGCONT)
    run.fault("sigcont", pid=stopped.pid)

    async def both_reported() -> bool:
        h = read_history(run.history_dir)
        return {e.pid for e in h if e.kind.startswith("ack")} == {stopped.pid, other.pid}

    await wait_for(both_reported, 30, run.logs)
    await run.stop_all()
    events = read_history(run.history_dir)
    report = check(events, await final_state(big_broker.redis, run.queue))
    late = [e.kind for e in events if e.pid == stopped.pid and e.kind.startswith("ack")]
    figures = {**report.figures(), "stopped_for_s": 2 * VISIBILITY_S, "late_ack": late}
    record_figures("T6_sigstop", figures)
    report.assert_correct()
    assert report.duplicates == 1 and report.executions == 2, figures
    assert late == ["ack_stale"], figures
