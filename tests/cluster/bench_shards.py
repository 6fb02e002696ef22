"""Throughput vs shards: claim+ack in batches of 100 over 3 queues, from 1-3 processes.

Run by hand (`python -m tests.cluster.bench_shards`, or `make cluster-bench`); it prints the
tables that docs/scaling.md quotes. Topologies: `redis` (one plain Redis, plain client), `1x`
and `3x` (clusters of 1 and 3 masters), `3x+r` (3 masters with a replica each). No AOF: this
measures the queue, not the disk. Besides wall-clock jobs/s, which a busy 2-core box makes
noisy, it reports the CPU each job costs on each side (the steadier figure the model uses).
Cluster ports start at RELAY_BENCH_BASE_PORT (default 7100).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Event

import redis

from relay import Broker, BrokerSettings, JobSpec
from relay.keys import QueueKeys
from tests.cluster.cluster import Cluster
from tests.support.redis_server import RedisServer

BATCH = 100
QUEUES = 3
NO_DISK = ("--appendonly", "no")
LEAN = BrokerSettings(keep_completed=0, events_cap=0)  # the queue's own cost, nothing kept


@dataclass(frozen=True)
class Shape:
    """A running Redis: its URL, the queues to use, and which ports are masters/replicas."""

    url: str
    queues: list[str]
    masters: list[int]
    replicas: list[int]


@dataclass(frozen=True)
class Sample:
    """One drain: wall-clock throughput and CPU microseconds per job on each side."""

    rate: float
    redis_us: float  # all masters
    replica_us: float  # all replicas
    client_us: float  # all client processes
    enqueue_us: float  # masters, while preloading in batches of 1000


@contextmanager
def topology(name: str) -> Iterator[Shape]:
    """A fresh Redis of the named shape, with QUEUES queues spread over its masters."""
    if name == "redis":
        server = RedisServer().start()
        try:
            yield Shape(server.url, [f"q{i}" for i in range(QUEUES)], [server.port], [])
        finally:
            server.stop()
        return
    masters = int(name.split("x", maxsplit=1)[0])
    replicas = 1 if name.endswith("+r") else 0
    base = int(os.environ.get("RELAY_BENCH_BASE_PORT", "7100"))
    cluster = Cluster(masters, replicas, base_port=base, extra=NO_DISK).start()
    try:
        primaries = cluster.masters_ports()
        others = [p for p in cluster.ports if p not in primaries]
        yield Shape(cluster.url, _spread(cluster, masters), primaries, others)
    finally:
        cluster.stop()


def _spread(cluster: Cluster, masters: int) -> list[str]:
    """QUEUES names, spread evenly over the masters."""
    by_master: dict[int, list[str]] = {}
    i = 0
    while sum(len(v) for v in by_master.values()) < QUEUES:
        name = f"q{i}"
        i += 1
        owner = cluster.master_of(QueueKeys.for_queue(name).wake)
        if len(by_master.get(owner, [])) < -(-QUEUES // masters):
            by_master.setdefault(owner, []).append(name)
    return [q for qs in by_master.values() for q in qs]


def _cpu(ports: list[int]) -> float:
    """CPU seconds the servers on `ports` have used (user + system)."""
    total = 0.0
    for port in ports:
        info = redis.Redis(port=port).info("cpu")
        total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return total


async def _preload(url: str, queues: list[str], per_queue: int) -> None:
    b = Broker.from_url(url, LEAN)
    try:
        for q in queues:
            for _ in range(per_queue // 1000):
                await b.enqueue_many(q, [JobSpec(type="t") for _ in range(1000)])
    finally:
        await b.close()


async def _drain(url: str, queues: list[str]) -> int:
    """Claim+ack batches round-robin over the queues until all are empty; jobs done."""
    b = Broker.from_url(url, LEAN)
    done = 0
    try:
        busy = True
        while busy:
            busy = False
            for q in queues:
                claimed = await b.claim(q, BATCH, 30_000)
                if claimed.jobs:
                    await b.ack(q, [(j.id, j.token) for j in claimed.jobs])
                    done += len(claimed.jobs)
                    busy = True
    finally:
        await b.close()
    return done


def _worker(
    url: str, queues: list[str], go: Event, out: mp.Queue[tuple[int, float, float]]
) -> None:
    out.put((0, 0.0, 0.0))  # imported and ready
    go.wait()
    cpu = time.process_time()
    n = asyncio.run(_drain(url, queues))
    out.put((n, time.monotonic(), time.process_time() - cpu))


def measure(shape: Shape, procs: int, per_queue: int) -> Sample:
    """How fast `procs` processes drain preloaded queues, and the CPU each job costs."""
    total = per_queue * len(shape.queues)
    cpu0 = _cpu(shape.masters)
    asyncio.run(_preload(shape.url, shape.queues, per_queue))
    enqueue_us = (_cpu(shape.masters) - cpu0) / total * 1e6
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    ps = [
        ctx.Process(target=_worker, args=(shape.url, shape.queues, go, out)) for _ in range(procs)
    ]
    for p in ps:
        p.start()
    for _ in ps:  # every interpreter has imported relay before the clock starts
        out.get(timeout=120)
    time.sleep(0.5)  # the replicas have applied the preload
    m0, r0 = _cpu(shape.masters), _cpu(shape.replicas)
    t0 = time.monotonic()
    go.set()
    results = [out.get(timeout=300) for _ in ps]
    time.sleep(0.5)  # ... and the drain
    m1, r1 = _cpu(shape.masters), _cpu(shape.replicas)
    for p in ps:
        p.join()
    assert sum(n for n, _, _ in results) == total
    return Sample(
        rate=total / (max(end for _, end, _ in results) - t0),
        redis_us=(m1 - m0) / total * 1e6,
        replica_us=(r1 - r0) / total * 1e6,
        client_us=sum(c for _, _, c in results) / total * 1e6,
        enqueue_us=enqueue_us,
    )


async def wait_cost(url: str, queue: str, calls: int = 300) -> tuple[float, float]:
    """Mean latency (ms) of enqueue_many(100 jobs) with wait_replicas 0 and 1, interleaved."""
    b = Broker.from_url(url, LEAN)
    spent = [0.0, 0.0]
    try:
        await b.enqueue(queue, "warm-up")
        for i in range(2 * calls):
            specs = [JobSpec(type="t") for _ in range(BATCH)]
            t0 = time.monotonic()
            await b.enqueue_many(queue, specs, wait_replicas=i % 2)
            spent[i % 2] += time.monotonic() - t0
    finally:
        await b.close()
    return spent[0] / calls * 1000, spent[1] / calls * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-queue", type=int, default=20_000)
    parser.add_argument("--topologies", default="redis,1x,3x,3x+r")
    parser.add_argument("--procs", default="1,2,3")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per cell")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the servers on `kill` too
    rows = [
        f"| topology | processes | jobs/s (best of {args.repeat}) | Redis CPU µs/job "
        "| replica CPU µs/job | client CPU µs/job | enqueue Redis CPU µs/job |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for name in args.topologies.split(","):
        with topology(name) as shape:
            for procs in (int(p) for p in args.procs.split(",")):
                runs = [measure(shape, procs, args.per_queue) for _ in range(args.repeat)]
                rate = max(r.rate for r in runs)
                lo = {f: min(getattr(r, f) for r in runs) for f in Sample.__annotations__}
                rows.append(
                    f"| {name} | {procs} | {rate / 1000:.1f}k | {lo['redis_us']:.1f} "
                    f"| {lo['replica_us']:.1f} | {lo['client_us']:.1f} | {lo['enqueue_us']:.1f} |"
                )
                sys.stdout.write(rows[-1] + "\n")
                sys.stdout.flush()
            if shape.replicas:
                plain, durable = asyncio.run(wait_cost(shape.url, shape.queues[0]))
                notes.append(
                    f"{name}: enqueue_many(100 jobs) {plain:.2f} ms, "
                    f"with wait_replicas=1 {durable:.2f} ms"
                )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    notes.append(f"load average at the end: {load}")
    sys.stdout.write("\n".join(rows) + "\n\n" + "\n".join(notes) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
