"""HTTP enqueue rate against a real `relay server` process: single jobs, then batches.

Run: `.venv/bin/python -m benches.http_enqueue [--seconds 10] [--concurrency 64] [--batch 100]`

Starts a private redis-server and a `relay server` on loopback (producer limit off, access log
quiet), drives it with aiohttp for a fixed time per mode, and prints jobs/s with request latency.
Every loop is bounded by time; nothing but 127.0.0.1 is contacted.
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
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import msgspec

from tests.support.redis_server import RedisServer, free_port


@dataclass
class Result:
    mode: str
    jobs: int
    requests: int
    seconds: float
    latencies: list[float]
    server_cpu: float = 0.0  # CPU seconds the server process used meanwhile

    def line(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[int(len(lat) * 0.99) - 1] * 1000 if len(lat) >= 100 else lat[-1] * 1000
        per_job_us = self.server_cpu / self.jobs * 1e6
        return (
            f"{self.mode:<12} {self.jobs / self.seconds:>9,.0f} jobs/s "
            f"{self.requests / self.seconds:>7,.0f}"
            f" req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  server CPU {per_job_us:5.0f} us/job"
            f" (= {self.jobs / self.server_cpu:,.0f} jobs/s per core)"
        )


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(redis_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "RELAY_REDIS_URL": redis_url}
    env.pop("RELAY_TOKEN", None)
    cmd = [sys.executable, "-m", "relay", "--log-level", "WARNING", "server"]
    cmd += ["--port", str(port), "--producer-rate", "0", "--max-body", str(8 << 20)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            # our own server's http:// address
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"server did not start: {log.read_text()}")


async def drive(
    url: str, mode: str, body: bytes, per_request: int, seconds: float, conc: int
) -> Result:
    """`conc` workers post `body` back to back until `seconds` have passed."""
    latencies: list[float] = []
    path = "/api/queues/bench/jobs" + ("/batch" if per_request > 1 else "")
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as http:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                async with http.post(path, data=body) as resp:
                    await resp.read()
                    if resp.status != 201:
                        raise RuntimeError(f"{mode}: HTTP {resp.status}")
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        elapsed = time.perf_counter() - start
    n = len(latencies)
    return Result(mode, n * per_request, n, elapsed, latencies)


async def run(url: str, pid: int, args: argparse.Namespace) -> list[Result]:
    job = {"type": "bench", "payload": {"user": 42, "action": "send-welcome-email"}}
    single = msgspec.json.encode(job)
    batch = msgspec.json.encode({"jobs": [job] * args.batch})
    await drive(url, "warm-up", single, 1, 1.0, args.concurrency)
    plan = [
        ("single", single, 1, args.concurrency),
        (f"batch x{args.batch}", batch, args.batch, args.batch_concurrency),
    ]
    results = []
    for mode, body, per_request, conc in plan:
        cpu = cpu_seconds(pid)
        r = await drive(url, mode, body, per_request, args.seconds, conc)
        r.server_cpu = cpu_seconds(pid) - cpu
        results.append(r)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--batch-concurrency", type=int, default=8)
    args = parser.parse_args()
    redis = RedisServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    proc, url = start_server(redis.url, tmp / "server.log")
    try:
        results = asyncio.run(run(url, proc.pid, args))
    finally:
        proc.terminate()
        proc.wait(10)
        redis.stop()
    load = os.getloadavg()[0]
    print(
        f"relay HTTP enqueue: {os.cpu_count()} CPUs shared by server, Redis and client; "
        f"load average {load:.1f} at the end"
    )
    for r in results:
        print(r.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
