"""Throughput vs shards: claim+ack in batches of 100 over 3 queues, 1-3 processes.

Run by hand (`python -m tests.cluster.bench_shards`, or `make cluster-bench`); it prints the
markdown table that docs/scaling.md quotes. Topologies: one plain Redis (no cluster client),
a 1-master cluster and a 3-master cluster (no replicas, no AOF: this measures the queue, not
the disk). The clusters use ports from RELAY_BENCH_BASE_PORT (default 7100).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
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


@contextmanager
def topology(name: str) -> Iterator[tuple[str, list[str], list[int]]]:
    """(URL, queue names, server ports) of a fresh Redis of the named shape."""
    if name == "redis":
        server = RedisServer().start()
        try:
            yield server.url, [f"q{i}" for i in range(QUEUES)], [server.port]
        finally:
            server.stop()
        return
    masters = int(name.split("x", maxsplit=1)[0])
    base = int(os.environ.get("RELAY_BENCH_BASE_PORT", "7100"))
    cluster = Cluster(masters=masters, replicas=0, base_port=base, extra=NO_DISK).start()
    try:
        yield cluster.url, _spread(cluster, masters), cluster.masters_ports()
    finally:
        cluster.stop()


def _spread(cluster: Cluster, masters: int) -> list[str]:
    """QUEUES names, spread round-robin over the masters."""
    by_master: dict[int, list[str]] = {}
    i = 0
    while sum(len(v) for v in by_master.values()) < QUEUES:
        name = f"q{i}"
        i += 1
        owner = cluster.master_of(QueueKeys.for_queue(name).wake)
        if len(by_master.get(owner, [])) < -(-QUEUES // masters):
            by_master.setdefault(owner, []).append(name)
    return [q for qs in by_master.values() for q in qs]


async def _preload(url: str, queues: list[str], per_queue: int) -> None:
    b = Broker.from_url(url, BrokerSettings(keep_completed=0, events_cap=0))
    try:
        for q in queues:
            for _ in range(per_queue // 1000):
                await b.enqueue_many(q, [JobSpec(type="t") for _ in range(1000)])
    finally:
        await b.close()


async def _drain(url: str, queues: list[str]) -> int:
    """Claim+ack batches round-robin over the queues until all are empty; jobs done."""
    b = Broker.from_url(url, BrokerSettings(keep_completed=0, events_cap=0))
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


def _redis_cpu(ports: list[int]) -> float:
    """CPU seconds the servers on `ports` have used (user + system)."""
    total = 0.0
    for port in ports:
        info = redis.Redis(port=port).info("cpu")
        total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return total


@dataclass(frozen=True)
class Sample:
    """One drain: wall-clock throughput and CPU microseconds per job on each side."""

    rate: float
    redis_us: float
    client_us: float


def measure(url: str, queues: list[str], ports: list[int], procs: int, per_queue: int) -> Sample:
    """How fast `procs` processes drain preloaded queues, and the CPU each job costs."""
    asyncio.run(_preload(url, queues, per_queue))
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    ps = [ctx.Process(target=_worker, args=(url, queues, go, out)) for _ in range(procs)]
    for p in ps:
        p.start()
    for _ in ps:  # every interpreter has imported relay before the clock starts
        out.get(timeout=120)
    cpu0 = _redis_cpu(ports)
    t0 = time.monotonic()
    go.set()
    results = [out.get(timeout=300) for _ in ps]
    redis_cpu = _redis_cpu(ports) - cpu0
    for p in ps:
        p.join()
    total = sum(n for n, _, _ in results)
    assert total == per_queue * len(queues), (total, per_queue * len(queues))
    return Sample(
        rate=total / (max(end for _, end, _ in results) - t0),
        redis_us=redis_cpu / total * 1e6,
        client_us=sum(c for _, _, c in results) / total * 1e6,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-queue", type=int, default=20_000)
    parser.add_argument("--topologies", default="redis,1x,3x")
    parser.add_argument("--procs", default="1,2,3")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per cell")
    args = parser.parse_args(argv)
    rows = [
        f"| topology | processes | jobs/s (best of {args.repeat}) "
        "| Redis CPU µs/job | client CPU µs/job |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in args.topologies.split(","):
        with topology(name) as (url, queues, ports):
            for procs in (int(p) for p in args.procs.split(",")):
                runs = [
                    measure(url, queues, ports, procs, args.per_queue) for _ in range(args.repeat)
                ]
                best = max(runs, key=lambda r: r.rate)
                redis_us = min(r.redis_us for r in runs)
                client_us = min(r.client_us for r in runs)
                rows.append(
                    f"| {name} | {procs} | {best.rate / 1000:.1f}k "
                    f"| {redis_us:.1f} | {client_us:.1f} |"
                )
                sys.stdout.write(rows[-1] + "\n")
                sys.stdout.flush()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    sys.stdout.write("\n".join(rows) + f"\n\n(load average at the end: {load})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
