"""Drain throughput and idle enqueue→start latency of ONE `relay worker` process.

    .venv/bin/python -m benches.drain                  # 20k no-op jobs, 500 latency samples
    .venv/bin/python -m benches.drain --jobs 50000 --concurrency 256 --runs 3
    .venv/bin/python -m benches.drain --type result100   # handlers return ~100 B results
    .venv/bin/python -m benches.drain --jobs 100000 --samples 0 --runs 5 \
        --types noop,result100 --baseline REV   # interleaved, with REV's worker as the baseline

A private redis-server is started (or --redis is used). Drain: the queue is paused, N jobs with
a ~100-byte payload are enqueued, one worker process is started and left to go idle, then the
queue is resumed and woken; the clock runs until Redis counts N completed. Latency: with the
worker idle, jobs are enqueued one at a time carrying their enqueue time; the handler records
start - enqueue (same host, same clock).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as aredis

from benches.checkout import checkout
from relay import Broker, Job, JobSpec, Registry
from relay.keys import QueueKeys
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
LATENCY_KEY = "bench:latency"
PAYLOAD = {"user": 12345, "email": "someone@example.com", "note": "x" * 50}
RESULT = {"id": 12345, "status": "sent", "provider": "smtp.example.com", "note": "y" * 30}

registry = Registry()
_client: aredis.Redis | None = None


@registry.task("noop")
async def noop(job: Job) -> None:
    """Does nothing: the drain measures the runtime, not the handler."""


@registry.task("result100")
async def result100(job: Job) -> dict[str, object]:
    """Does nothing, and returns ~100 bytes of JSON, kept with the completed job."""
    return RESULT


@registry.task("noop_sync")
def noop_sync(job: Job) -> None:
    """Does nothing, in the thread pool."""


@registry.task("stamp")
async def stamp(job: Job) -> None:
    """Records how long after its enqueue this job started."""
    started = time.time()
    global _client  # noqa: PLW0603 - one client per worker process, made on first use
    if _client is None:
        _client = aredis.Redis.from_url(os.environ["RELAY_REDIS_URL"])
    await _client.rpush(LATENCY_KEY, repr(started - float(job.payload["t"])))


def start_worker(
    url: str, queue: str, concurrency: int, code: Path | None = None
) -> subprocess.Popen[bytes]:
    """A `relay worker` process; `code`: another relay package to run (a --baseline checkout)."""
    path = f"{code}{os.pathsep}{ROOT}" if code else str(ROOT)
    env = {**os.environ, "RELAY_REDIS_URL": url, "PYTHONPATH": path}
    level = os.environ.get("DRAIN_LOG_LEVEL", "WARNING")
    args = [sys.executable, "-m", "relay", "--log-level", level, "worker"]
    args += ["--app", "benches.drain:registry", "--queue", queue, "-c", str(concurrency)]
    return subprocess.Popen(args, env=env, cwd=ROOT)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def redis_cpu(r: aredis.Redis) -> float:
    info = await r.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def blocked_on_wake(r: aredis.Redis) -> bool:
    """Whether some client (the worker, idle) is blocked in BLPOP on a wake-up list."""
    clients = await r.client_list()
    return any(c.get("cmd") == "blpop" for c in clients)


async def drain(
    url: str, jobs: int, concurrency: int, job_type: str, run: int, code: Path | None = None
) -> tuple[float, float, float]:
    """(jobs/s, worker CPU µs per job, Redis CPU µs per job)."""
    queue = f"drain-{job_type}-{run}-{os.getpid()}-{id(code)}"
    broker = Broker.from_url(url)
    r = broker.redis
    await broker.pause(queue)
    specs = [JobSpec.of(job_type, PAYLOAD) for _ in range(jobs)]
    await broker.enqueue_many(queue, specs)
    worker = start_worker(url, queue, concurrency, code)
    try:
        await poll(lambda: blocked_on_wake(r), 0.05, worker)  # started, idle on the wake-up list
        stats = QueueKeys.for_queue(queue).stats
        cpu0, rcpu0 = cpu_seconds(worker.pid), await redis_cpu(r)
        t0 = time.perf_counter()
        await broker.resume(queue)
        await r.rpush(QueueKeys.for_queue(queue).wake, b"1")
        await poll(lambda: _completed_at_least(r, stats, jobs), 0.002, worker)
        elapsed = time.perf_counter() - t0
        cpu, rcpu = cpu_seconds(worker.pid) - cpu0, await redis_cpu(r) - rcpu0
    finally:
        worker.terminate()
        worker.wait(30)
        await broker.close()
    return jobs / elapsed, cpu / jobs * 1e6, rcpu / jobs * 1e6


async def latency(url: str, samples: int) -> list[float]:
    queue = f"latency-{os.getpid()}"
    broker = Broker.from_url(url)
    await broker.redis.delete(LATENCY_KEY)
    worker = start_worker(url, queue, 64)
    try:
        await poll(lambda: blocked_on_wake(broker.redis), 0.05, worker)
        for _ in range(samples):
            await broker.enqueue(queue, "stamp", {"t": time.time()})
            await asyncio.sleep(0.01)  # the queue is idle again before the next one
        await poll(lambda: _len_at_least(broker.redis, samples), 0.01, worker)
        raw = await broker.redis.lrange(LATENCY_KEY, 0, -1)
    finally:
        worker.terminate()
        worker.wait(30)
        await broker.close()
    return sorted(float(x) * 1000 for x in raw)


async def poll(
    check: Callable[[], Awaitable[bool]],
    every: float,
    worker: subprocess.Popen[bytes] | None = None,
) -> None:
    """Return once `check` holds, asking every `every` seconds (at most 2 minutes)."""
    deadline = time.monotonic() + 120
    while not await check():
        if worker is not None and worker.poll() is not None:
            raise RuntimeError(f"the worker exited with code {worker.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError("no progress in 2 minutes")
        await asyncio.sleep(every)


async def _completed_at_least(r: aredis.Redis, stats_key: str, n: int) -> bool:
    return int(await r.hget(stats_key, "completed") or 0) >= n


async def _len_at_least(r: aredis.Redis, n: int) -> bool:
    return int(await r.llen(LATENCY_KEY)) >= n


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


Line = tuple[str, str, Path | None]  # (label, job type, relay package to run or None: this tree)


async def drain_lines(url: str, lines: list[Line], args: argparse.Namespace) -> None:
    """Drain every line `args.runs` times, interleaved (the order rotates each round, so a slow
    spell of a shared box falls on every line alike); print each line's medians and, after the
    first line, its ratio to the first."""
    got: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _, _ in lines}
    for i in range(args.runs):
        for label, job_type, code in lines[i % len(lines) :] + lines[: i % len(lines)]:
            got[label].append(await drain(url, args.jobs, args.concurrency, job_type, i, code))
    first: tuple[float, float] | None = None
    for label, _, _ in lines:
        runs = got[label]
        rate = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] + r[2] for r in runs)
        vs = (
            f"; {rate / first[0]:.1%} of the first line's rate, CPU {cpu / first[1]:.1%}"
            if first
            else ""
        )
        first = first or (rate, cpu)
        print(
            f"drain {args.jobs} {label} jobs, one worker process, concurrency {args.concurrency}: "
            + ", ".join(f"{r[0]:,.0f}" for r in runs)
            + f" jobs/s (median {rate:,.0f}); CPU per job: worker "
            f"{statistics.median(r[1] for r in runs):.1f} µs, redis "
            f"{statistics.median(r[2] for r in runs):.1f} µs (sum {cpu:.1f}){vs}"
        )


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis", help="use this Redis instead of a private one")
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    types = ["noop", "noop_sync", "result100"]
    ap.add_argument("--type", default="noop", choices=types)
    ap.add_argument("--types", help="comma-separated job types, drained interleaved")
    ap.add_argument(
        "--baseline",
        help="a git revision whose worker drains no-op jobs as the first line (its relay code, "
        "this tree's Rust extension)",
    )
    ap.add_argument("--samples", type=int, default=500)
    args = ap.parse_args()
    wanted = args.types.split(",") if args.types else [args.type]
    if bad := [t for t in wanted if t not in types]:
        ap.error(f"unknown job type {bad[0]!r}: one of {', '.join(types)}")
    server = None if args.redis else RedisServer().start()
    url = args.redis or (server.url if server else "")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            lines: list[Line] = [(t, t, None) for t in wanted]
            if args.baseline:
                old = checkout(args.baseline, Path(tmp))
                lines.insert(0, (f"noop@{args.baseline[:10]}", "noop", old))
            await drain_lines(url, lines, args)
        if args.samples:
            lat = await latency(url, args.samples)
            print(
                f"enqueue->start on an idle queue, {len(lat)} samples: "
                f"p50 {pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms, max {lat[-1]:.2f} ms"
            )
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
