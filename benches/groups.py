"""Fair scheduling across groups (decision 0053): claim cost, fairness, Jain's index.

    .venv/bin/python -m benches.groups                 # all three, a private redis-server
    .venv/bin/python -m benches.groups --present 10,10000 --samples 500

1. Claim cost with N groups present: N groups with limits set and nothing to do, plus the
   groups with jobs (10 of them, or N with one ready job each for --backlogged). Claims of 10
   jobs, one at a time; latency seen by the client (p50/p99) and the script's own time in
   Redis (INFO commandstats, µs per call). Idle groups should cost nothing.
2. The issue's fairness figure: one group with 50,000 jobs enqueued first, then 20 groups with
   100 each; one consumer claiming 10 at a time (and acking): how many of the big group's jobs
   ran before the last small group was done (must be < 10 %, i.e. 5,000).
3. Jain's index while all are backlogged: 100 groups (weights 1), 2,000 jobs each; windows of
   500 claimed jobs; J = (Σx)² / (n·Σx²) per window (1 = perfectly fair; goal ≥ 0.95).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from relay import Broker, BrokerSettings, JobSpec
from relay.keys import QueueKeys
from tests.support.redis_server import RedisServer

SETTINGS = BrokerSettings(events_cap=0, keep_completed=0)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def add_idle_groups(broker: Broker, queue: str, n: int) -> None:
    """`n` groups with limits and no jobs, written straight to Redis (as set_group does)."""
    k = QueueKeys.for_queue(queue)
    for start in range(0, n, 10_000):
        pipe = broker.redis.pipeline(transaction=False)
        names = [f"idle{i}" for i in range(start, min(n, start + 10_000))]
        pipe.sadd(k.group_conf, *names)
        for g in names:
            pipe.hset(k.group(g), mapping={"w": 2, "cap": 5})
        await pipe.execute()


async def enqueue(broker: Broker, queue: str, specs: list[JobSpec]) -> None:
    for start in range(0, len(specs), 1000):
        await broker.enqueue_many(queue, specs[start : start + 1000])


async def claim_cost(
    broker: Broker, present: int, samples: int, backlogged: bool
) -> tuple[float, float, float]:
    """(client p50 ms, client p99 ms, µs per claim call in Redis) with `present` groups."""
    queue = f"bench-groups-{present}-{int(backlogged)}-{time.monotonic_ns()}"
    busy = present if backlogged else 10
    per = max(1, (samples * 10) // busy + 1)
    if not backlogged:
        await add_idle_groups(broker, queue, present)
    specs = [
        JobSpec.of("t", None, group=f"busy{i % busy}" if present else None)
        for i in range(max(busy, 1) * per)
    ]
    await enqueue(broker, queue, specs)
    await broker.redis.config_resetstat()
    lat = []
    for _ in range(samples):
        t0 = time.perf_counter()
        got = await broker.claim(queue, 10, 600_000)
        lat.append((time.perf_counter() - t0) * 1000)
        assert len(got.jobs) == 10
    stats = await broker.redis.info("commandstats")
    redis_us = float(stats["cmdstat_evalsha"]["usec_per_call"])
    await broker.redis.delete(*QueueKeys.for_queue(queue).all_fixed())
    return pct(lat, 50), pct(lat, 99), redis_us


async def fairness(broker: Broker) -> tuple[int, float]:
    """(big-group jobs run before every small group was done, seconds)."""
    queue = f"bench-fair-{time.monotonic_ns()}"
    await enqueue(broker, queue, [JobSpec.of("t", None, group="big") for _ in range(50_000)])
    small = [JobSpec.of("t", None, group=f"small{g}") for g in range(20) for _ in range(100)]
    await enqueue(broker, queue, small)
    k = QueueKeys.for_queue(queue)
    big = done = 0
    t0 = time.perf_counter()
    while done < 2000:
        got = await broker.claim(queue, 10, 600_000)
        groups = await broker.redis.hmget(k.group_of, [j.id for j in got.jobs])
        big += sum(1 for g in groups if g == b"big")
        done += sum(1 for g in groups if g != b"big")
        await broker.ack(queue, [(j.id, j.token) for j in got.jobs])
    took = time.perf_counter() - t0
    await broker.redis.delete(*k.all_fixed())
    return big, took


async def jain(broker: Broker, groups: int, each: int, window: int) -> list[float]:
    queue = f"bench-jain-{time.monotonic_ns()}"
    specs = [JobSpec.of("t", None, group=f"g{g}") for _ in range(each) for g in range(groups)]
    await enqueue(broker, queue, specs)
    k = QueueKeys.for_queue(queue)
    counts: dict[str, int] = {}
    out: list[float] = []
    taken = 0
    # While every group is backlogged: stop before the first one could run dry.
    while taken + 10 <= groups * each * 0.9:
        got = await broker.claim(queue, 10, 600_000)
        for g in await broker.redis.hmget(k.group_of, [j.id for j in got.jobs]):
            counts[g.decode()] = counts.get(g.decode(), 0) + 1
        await broker.ack(queue, [(j.id, j.token) for j in got.jobs])
        taken += len(got.jobs)
        if sum(counts.values()) >= window:
            xs = [counts.get(f"g{g}", 0) for g in range(groups)]
            out.append(sum(xs) ** 2 / (groups * sum(x * x for x in xs)))
            counts = {}
    await broker.redis.delete(*k.all_fixed())
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis", help="use this Redis instead of a private one")
    ap.add_argument("--present", default="10,10000,1000000", help="groups present, comma-separated")
    ap.add_argument("--backlogged", default="10,10000,100000", help="groups with a ready job each")
    ap.add_argument("--samples", type=int, default=2000)
    args = ap.parse_args()
    server = None if args.redis else RedisServer().start()
    broker = Broker.from_url(args.redis or (server.url if server else ""), SETTINGS)
    try:
        p50, p99, rus = await claim_cost(broker, 0, args.samples, False)
        print(
            f"claim of 10 without groups (baseline): client p50 {p50:.3f} ms, p99 {p99:.3f} ms; "
            f"in Redis {rus:.1f} µs a claim"
        )
        for kind, sizes in (("idle", args.present), ("backlogged", args.backlogged)):
            for n in (int(x) for x in sizes.split(",") if x):
                p50, p99, rus = await claim_cost(broker, n, args.samples, kind == "backlogged")
                what = "idle groups + 10 busy" if kind == "idle" else "groups, each with jobs"
                print(
                    f"claim of 10 with {n:>9,} {what}: client p50 {p50:.3f} ms, "
                    f"p99 {p99:.3f} ms; in Redis {rus:.1f} µs a claim"
                )
        big, took = await fairness(broker)
        print(
            f"fairness: 50,000 jobs of one group, then 20 groups x 100, one consumer: the big "
            f"group ran {big:,} jobs ({big / 500:.2f} % of its own) before every small group was "
            f"done ({took:.1f} s)"
        )
        js = await jain(broker, 100, 2000, 500)
        print(
            f"Jain's index, 100 backlogged groups, windows of 500 jobs: min {min(js):.4f}, "
            f"median {statistics.median(js):.4f} over {len(js)} windows"
        )
    finally:
        await broker.close()
        if server:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
