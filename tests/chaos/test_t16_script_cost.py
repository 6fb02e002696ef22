"""T16: script cost with a big queue (ready, in flight and dead jobs by the hundred thousand).

Durations come from Redis' own SLOWLOG (threshold 0: every command, in microseconds), so they
are the time each script held Redis, not the client's round trip.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable

import pytest

from relay import Broker, JobSpec, Nack, NackMode
from relay.broker.scripts import SCRIPTS
from tests.chaos.harness import record_figures, size
from tests.support.redis_server import RedisServer

READY, INFLIGHT, DEAD = size(100_000, 1_000_000), size(10_000, 100_000), size(10_000, 100_000)
CALLS = size(300, 2000)


def pct(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0


async def _seed(broker: Broker, q: str) -> None:
    for _ in range(0, READY + INFLIGHT + DEAD, 1000):
        await broker.enqueue_many(q, [JobSpec.of("work", {"n": 1}) for _ in range(1000)])
    for _ in range(0, DEAD, 1000):
        got = await broker.claim(q, 1000, 600_000)
        await broker.nack(q, [Nack(j.id, j.token, NackMode.DEAD, 0, "seed") for j in got.jobs])
    for _ in range(0, INFLIGHT, 1000):
        await broker.claim(q, 1000, 600_000)


@pytest.mark.timeout(size(240, 1800))
async def test_t16_scripts_stay_cheap_on_a_big_queue(
    private_redis: Callable[..., RedisServer],
) -> None:
    server = private_redis()
    q = "t16"
    broker = Broker.from_url(server.url)
    try:
        await _seed(broker, q)
        counts = (await broker.stats(q)).counts
        held = (await broker.claim(q, 100, 600_000)).jobs
        r = broker.redis
        await r.config_set("slowlog-log-slower-than", 0)
        await r.config_set("slowlog-max-len", 100_000)
        await r.slowlog_reset()
        for i in range(CALLS):
            got = await broker.claim(q, 10, 600_000)
            await broker.ack(q, [(j.id, j.token) for j in got.jobs])
            await broker.extend(q, [(j.id, j.token) for j in held[i % 10 :: 10]], 600_000)
        expired = await broker.claim(q, 1000, 1)
        await broker.claim(q, 1000, 1)
        await asyncio.sleep(0.05)
        reaps = [await broker.reap(q) for _ in range(2)]
        log = await r.slowlog_get(100_000)
        await r.config_set("slowlog-log-slower-than", 10_000)
    finally:
        await broker.close()
    by_sha = {s.sha: name for name, s in SCRIPTS.items()}
    us: defaultdict[str, list[int]] = defaultdict(list)
    for entry in reversed(log):  # SLOWLOG GET lists the newest first
        parts = bytes(entry["command"]).split()
        if parts and parts[0].upper() in (b"EVALSHA", b"EVAL") and len(parts) > 1:
            us[by_sha.get(parts[1].decode(), "other")].append(int(entry["duration"]))
    figures = {
        "ready": counts.ready,
        "inflight": counts.inflight,
        "dead": counts.dead,
        "calls_each": CALLS,
        **{
            f"{name}10_{label}_us": pct(us[name][:CALLS], q)
            for name in ("claim", "ack", "extend")
            for label, q in (("p50", 0.5), ("p99", 0.99))
        },
        "reap_max_us": max(us["reap"], default=0),
        "reap_batch": [x.requeued + x.dead for x in reaps],
        "busy_errors": 0,
        "claim1000_us": us["claim"][CALLS:],
    }
    record_figures("T16", figures)
    assert (counts.ready, counts.inflight, counts.dead) == (READY, INFLIGHT, DEAD), figures
    assert len(expired.jobs) == 1000 and reaps[0].more, figures  # bounded batches
    # Durations are targets, reported, not asserted at p99 (STYLE: timing lives in benchmarks):
    # on this shared 2-core box a preempted Redis shows multi-ms outliers at any size. The
    # median is asserted, as a guard against a script that scales with the queue.
    for name in ("claim", "ack", "extend"):
        assert pct(us[name][:CALLS], 0.5) <= 1000, figures
