"""Load generators and the reference server for benches/http_enqueue.py, each its own process.

- `wrk(...)`: runs `wrk` (C, keep-alive connections) with a POST body; latency percentiles and
  counts come from a Lua `done` hook as one JSON line.
- `python -m benches.http_load hello --port P`: an aiohttp app whose one route answers
  `hello`, with SO_REUSEPORT so several copies share a port: the ceiling of aiohttp itself here.
- `python -m benches.http_load drain URL QUEUE`: HTTP workers (claim batch, ack batch, back to
  back on keep-alive connections) until the queue is empty; prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

_DONE = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}", "rb"):read("*a")
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n@@{{"requests": %d, "us": %d, "non2xx": %d, "errors": %d, "p50": %d, "p99": %d}}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Load:
    """What one load run measured; `per_request` jobs in each request."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int
    per_request: int = 1
    cpu_us: float = 0.0  # server CPU per request, when the caller measured it

    @property
    def jobs_per_s(self) -> float:
        return self.requests * self.per_request / self.seconds


def wrk(
    url: str, body: bytes, seconds: float, connections: int, threads: int, per_request: int = 1
) -> Load:
    """POST `body` to `url` from `connections` keep-alive connections for `seconds`."""
    with tempfile.TemporaryDirectory(prefix="relay-wrk-") as tmp:
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(body)
        script = Path(tmp) / "post.lua"
        script.write_text(_DONE.format(body=body_file))
        duration = f"{max(1, round(seconds))}s"  # wrk takes whole seconds
        cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", duration]
        cmd += ["--timeout", "10s", "-s", str(script), url]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    line = next(x for x in out.stdout.splitlines() if x.startswith("@@"))
    r = json.loads(line[2:])
    return Load(
        requests=r["requests"],
        seconds=r["us"] / 1e6,
        p50_ms=r["p50"] / 1000,
        p99_ms=r["p99"] / 1000,
        failed=r["non2xx"] + r["errors"],
        per_request=per_request,
    )


# -- the reference server ----------------------------------------------------------------------


async def _hello(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="hello")


def hello(port: int) -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _hello)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, reuse_port=True)


# -- HTTP workers --------------------------------------------------------------------------------


async def drain(
    url: str, queue: str, claimers: int, batch: int, seconds: float
) -> dict[str, float]:
    """`claimers` HTTP workers, each claiming `batch` jobs and acking them, until a claim finds
    the queue empty or `seconds` pass; jobs/s and claim+ack round trip percentiles."""
    done = 0
    trips: list[float] = []
    headers = {"Content-Type": "application/json"}
    claim = json.dumps({"max": batch, "lease_ms": 60_000}).encode()
    connector = aiohttp.TCPConnector(limit=claimers)
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as http:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                async with http.post(f"/api/queues/{queue}/claim", data=claim) as r:
                    jobs = (await r.json())["jobs"]
                if not jobs:
                    return
                acks = {"jobs": [{"id": j["id"], "token": j["token"]} for j in jobs]}
                async with http.post(f"/api/queues/{queue}/ack", json=acks) as r:
                    out = (await r.json())["jobs"]
                done += sum(1 for o in out if o["outcome"] == "ok")
                trips.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(claimers)))
        elapsed = time.perf_counter() - start
    trips.sort()
    return {
        "jobs": done,
        "seconds": elapsed,
        "p50_ms": trips[len(trips) // 2] * 1000 if trips else 0.0,
        "p99_ms": trips[max(0, int(len(trips) * 0.99) - 1)] * 1000 if trips else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hello")
    h.add_argument("--port", type=int, required=True)
    d = sub.add_parser("drain")
    d.add_argument("url")
    d.add_argument("queue")
    d.add_argument("--claimers", type=int, default=4)
    d.add_argument("--batch", type=int, default=100)
    d.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    if args.cmd == "hello":
        hello(args.port)
        return 0
    got = asyncio.run(drain(args.url, args.queue, args.claimers, args.batch, args.seconds))
    print(json.dumps(got))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
