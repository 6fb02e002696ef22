"""HTTP ingestion and HTTP workers against real `relay server` processes, beside aiohttp "hello".

Run: `.venv/bin/python -m benches.http_enqueue [--seconds 8] [--connections 64] [--workers N]
[--baseline $(git merge-base main HEAD)]` (needs `wrk`: `apt-get install wrk`).

In one run, on one private redis-server, with `wrk` as the load generator (its own process,
keep-alive connections):
- aiohttp "hello" (one route answering `hello`) with 1 and N processes: the ceiling of the HTTP
  stack itself on this machine;
- three relay servers in turn: the previous one (`--baseline REV`: that revision's code, with
  this tree's Rust extension; else this tree with `--workers 1 --no-coalesce`, one script call
  per request), 1 process with group commit, N processes with group commit;
  each measured for a lone request's latency (1 connection), single-job enqueue and batch
  enqueue (x100) with `--connections`, then an HTTP-worker drain (4 claimers, batch 100, claim
  then ack, `benches/http_load.py drain`, its own process) of the jobs just enqueued.
Redis is flushed between servers. Every loop is bounded by time; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import redis

from benches.checkout import checkout
from benches.http_load import Load, wrk
from relay.http.processes import default_workers
from tests.support.redis_server import RedisServer, free_port

JOB = {"type": "bench", "payload": {"user": 42, "action": "send-welcome-email"}}


@dataclass
class Row:
    name: str
    lone_p50_ms: float = 0.0
    single: Load | None = None
    batch: Load | None = None
    drain: dict[str, float] = field(default_factory=dict)
    cpu_us_per_job: float = 0.0  # server CPU (all its processes) per single-job enqueue


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its live children, from /proc (Linux)."""
    total = 0.0
    pids = [pid]
    kids = Path(f"/proc/{pid}/task/{pid}/children")
    if kids.exists():
        pids += [int(p) for p in kids.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _up(url: str, log: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own http:// server
                return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"did not start: {log.read_text()}")


def start(cmd: list[str], url: str, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    _up(url, log, proc)
    return proc


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def hello(n: int, seconds: float, conns: int, threads: int, tmp: Path) -> Load:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "benches.http_load", "hello", "--port", str(port)]
    procs = [start(cmd, url, tmp / f"hello-{n}-{i}.log", dict(os.environ)) for i in range(n)]
    try:
        cpu = sum(cpu_seconds(p.pid) for p in procs)
        got = wrk(f"{url}/api/queues/bench/jobs", msgspec.json.encode(JOB), seconds, conns, threads)
        got.cpu_us = (sum(cpu_seconds(p.pid) for p in procs) - cpu) / max(1, got.requests) * 1e6
        return got
    finally:
        stop(procs)


def relay(
    name: str,
    extra: list[str],
    redis_url: str,
    args: argparse.Namespace,
    tmp: Path,
    code: Path | None = None,
) -> Row:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RELAY_REDIS_URL": redis_url}
    env.pop("RELAY_TOKEN", None)
    if code is not None:  # another revision of relay: first on the path
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "relay", "--log-level", "WARNING", "server", "--port", str(port)]
    cmd += ["--producer-rate", "0", "--max-body", str(8 << 20), *extra]
    proc = start(cmd, f"{base}/healthz", tmp / f"relay-{port}.log", env)
    row = Row(name)
    single = msgspec.json.encode(JOB)
    batch = msgspec.json.encode({"jobs": [JOB] * 100})
    url = f"{base}/api/queues/bench/jobs"
    t = args.threads
    try:
        wrk(url, single, 1.0, args.connections, t)  # warm-up
        row.lone_p50_ms = wrk(url, single, min(3.0, args.seconds), 1, 1).p50_ms
        cpu = cpu_seconds(proc.pid)
        row.single = wrk(url, single, args.seconds, args.connections, t)
        jobs = row.single.requests
        row.cpu_us_per_job = (cpu_seconds(proc.pid) - cpu) / max(1, jobs) * 1e6
        row.batch = wrk(f"{url}/batch", batch, args.seconds, args.connections, t, per_request=100)
        drain = [sys.executable, "-m", "benches.http_load", "drain", base, "bench"]
        drain += ["--claimers", "4", "--batch", "100", "--seconds", str(args.seconds * 2)]
        out = subprocess.run(drain, capture_output=True, text=True, check=False, timeout=600)
        if out.returncode == 0:  # a server without the claim protocol: no drain figures
            row.drain = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        stop([proc])
        redis.Redis.from_url(redis_url).flushall()
    return row


def report(rows: list[Row], hellos: dict[str, Load], loads: tuple[float, float]) -> str:
    lines = [
        f"{os.cpu_count()} CPUs shared by wrk, Redis, the servers and other work; "
        f"load average {loads[0]:.1f} at the start, {loads[1]:.1f} at the end",
        "",
        "| server | lone p50 ms | single jobs/s | p50 / p99 ms | batch x100 jobs/s "
        "| p50 / p99 ms | drain jobs/s (4 x 100) | claim+ack p50 / p99 ms | server CPU us/job |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, h in hellos.items():
        lines.append(
            f"| {name} | | {h.jobs_per_s:,.0f} req/s | {h.p50_ms:.1f} / {h.p99_ms:.1f} | | | | "
            f"| {h.cpu_us:.0f} per request |"
        )
    for r in rows:
        s, b, d = r.single, r.batch, r.drain
        assert s is not None and b is not None
        drain = f"{d['jobs'] / d['seconds']:,.0f}" if d.get("seconds") else "—"
        trip = f"{d['p50_ms']:.1f} / {d['p99_ms']:.1f}" if d else "—"
        lines.append(
            f"| {r.name} | {r.lone_p50_ms:.2f} | {s.jobs_per_s:,.0f} | {s.p50_ms:.1f} / "
            f"{s.p99_ms:.1f} | {b.jobs_per_s:,.0f} | {b.p50_ms:.1f} / {b.p99_ms:.1f} | "
            f"{drain} | {trip} | "
            f"{r.cpu_us_per_job:.0f} |"
        )
    failed = sum(
        (r.single.failed if r.single else 0) + (r.batch.failed if r.batch else 0) for r in rows
    )
    lines.append(f"\nnon-2xx or failed requests: {failed}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument(
        "--baseline",
        default=None,
        help="a git revision whose server is the baseline (e.g. `git merge-base main HEAD`); "
        "default: this tree with --workers 1 --no-coalesce",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("benches.http_enqueue needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    n = args.workers
    loads_start = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    server = RedisServer().start()
    try:
        hellos = {
            'aiohttp "hello", 1 process': hello(
                1, args.seconds, args.connections, args.threads, tmp
            ),
            f'aiohttp "hello", {n} processes': hello(
                n, args.seconds, args.connections, args.threads, tmp
            ),
        }
        if args.baseline:
            old = checkout(args.baseline, tmp)
            rows = [relay(f"previous server ({args.baseline[:8]})", [], server.url, args, tmp, old)]
        else:
            rows = [relay("1 process, no group commit", ["--workers", "1", "--no-coalesce"],
                          server.url, args, tmp)]  # fmt: skip
        plan = [
            ("1 process, group commit", ["--workers", "1"]),
            (f"{n} processes, group commit", ["--workers", str(n)]),
        ]
        rows += [relay(name, extra, server.url, args, tmp) for name, extra in plan]
    finally:
        server.stop()
    print(report(rows, hellos, (loads_start, os.getloadavg()[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
