"""promote.lua: due delayed jobs move to ready; the reply says when the next is due."""

from __future__ import annotations

import asyncio
import time

import pytest

from relay import Broker, JobSpec
from tests.scripts.helpers import state


async def test_due_jobs_move_and_the_next_due_time_is_given(broker: Broker, queue: str) -> None:
    # 500 ms: "not due yet" must hold however long the box takes between enqueue and promote.
    soon = await broker.enqueue(queue, "t", delay_ms=500)
    later = await broker.enqueue(queue, "t", delay_ms=60_000)
    p = await broker.promote(queue)
    assert p.moved == 0 and 0 <= p.wait_ms <= 500
    await asyncio.sleep((p.wait_ms + 20) / 1000)
    p = await broker.promote(queue)
    assert p.moved == 1 and 50_000 < p.wait_ms <= 60_000
    s = await state(broker, queue)
    assert s["ready"] == [soon.id] and s["delayed"] == [later.id]


async def test_promoted_jobs_keep_their_priority(broker: Broker, queue: str) -> None:
    await broker.enqueue_many(
        queue,
        [
            JobSpec.of("t", "low", priority=1, delay_ms=10),
            JobSpec.of("t", "high", priority=9, delay_ms=10),
        ],
    )
    await asyncio.sleep(0.03)
    await broker.promote(queue)
    got = await broker.claim(queue, 10, 1000)
    assert [j.payload for j in got.jobs] == ["high", "low"]


async def test_no_delayed_jobs(broker: Broker, queue: str) -> None:
    p = await broker.promote(queue)
    assert (p.moved, p.wait_ms) == (0, -1)


async def test_skewed_caller_clock_does_not_change_delays(
    broker: Broker, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() - 120 * 10**9)  # caller 2 min behind
    r = await broker.enqueue(queue, "t", delay_ms=500)
    p = await broker.promote(queue)
    assert p.moved == 0 and p.wait_ms <= 500
    await asyncio.sleep((p.wait_ms + 20) / 1000)
    assert (await broker.promote(queue)).moved == 1
    assert (await state(broker, queue))["ready"] == [r.id]
