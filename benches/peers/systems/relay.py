"""relay adapter: its own worker runtime (`relay worker`), Lua claim/ack in batches.

default: --concurrency 64 (relay's default).
tuned:   --concurrency 500 (more jobs per claim and ack batch for no-op work).
Runs in relay's own venv (`make race` sets RACE_PYTHON_RELAY), so relay is importable.

One relay-only command besides the adapter contract, the Redis ceiling of relay's own
claim and ack scripts (what Redis alone sustains, with no worker in the way)::

    python -m systems.relay ceiling --batches 1,10,100 --jobs 20000 --redis URL

For each batch size B, on a fresh queue filled with the jobs (not timed): claim them all with
`redis-benchmark -c 1 -P 16` running EVALSHA of the claim script (B jobs per call), then ack
them all with pre-built EVALSHA ack commands of B (id, token) pairs sent over one socket,
16 in flight (redis-benchmark cannot vary arguments per call).  Prints jobs/s of each and
claim+ack = 1 / (1/claim + 1/ack).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlparse

import relay

from systems._common import payload, record_async, redis_url

INFO = {
    "name": "relay",
    "packages": ["relay", "redis", "hiredis"],
    "default": "relay worker --concurrency 64 (default)",
    "tuned": "relay worker --concurrency 500",
    "bulk": True,
    "notes": "enqueue = relay.SyncProducer (blocking, like the Python peers' producers); "
    "bulk = SyncProducer.enqueue_many (one Lua call per 1000 jobs)",
}
QUEUE = "race"

registry = relay.Registry()


@registry.task("noop")
async def noop(job: relay.Job) -> None:
    await record_async(job.payload)


class Client:
    """relay.SyncProducer (blocking, as the Python peers' producers are); RACE_RELAY_PRODUCER=async
    switches to the asyncio relay.Producer for comparison."""

    async def connect(self) -> None:
        self.sync = os.environ.get("RACE_RELAY_PRODUCER", "sync") != "async"
        if self.sync:
            self.producer = relay.SyncProducer.from_url(redis_url())
            self.producer.enqueue_many(QUEUE, [])  # registers the queue; loads nothing
        else:
            self.aproducer = relay.Producer.from_url(redis_url())
            await self.aproducer.enqueue_many(QUEUE, [])

    async def send(self, p: str) -> None:
        if self.sync:
            self.producer.enqueue(QUEUE, "noop", p)
        else:
            await self.aproducer.enqueue(QUEUE, "noop", p)

    async def send_bulk(self, ps: list[str]) -> None:
        specs = [relay.Producer.job("noop", p) for p in ps]
        if self.sync:
            self.producer.enqueue_many(QUEUE, specs)
        else:
            await self.aproducer.enqueue_many(QUEUE, specs)

    async def close(self) -> None:
        if self.sync:
            self.producer.close()
        else:
            await self.aproducer.close()


def run_worker(profile: str, concurrency: int | None) -> None:
    conc = concurrency or (64 if profile == "default" else 500)
    args = [sys.executable, "-m", "relay", "--log-level", "WARNING", "worker",
            "--app", "systems.relay:registry", "--queue", QUEUE, "--concurrency", str(conc),
            "--redis", redis_url()]
    os.execv(sys.executable, args)


# --------------------------------------------------------------------------
# ceiling: redis-benchmark of the claim script, pipelined raw acks

PIPELINE = 16  # commands in flight, for the claims (redis-benchmark -P) and the acks
CEILING_LEASE_MS = 600_000  # long enough that no lease expires during the measurement


def _resp(*parts: object) -> bytes:
    """One command in RESP (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        b = p if isinstance(p, bytes) else str(p).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def _fill(url: str, queue: str, jobs: int) -> tuple[Any, Any]:
    """Enqueue `jobs` jobs on `queue` (not timed); the queue's script key lists and the settings."""

    async def go() -> tuple[Any, Any]:
        producer = relay.Producer.from_url(url)
        try:
            for i in range(0, jobs, 1000):
                specs = [relay.Producer.job("noop", payload(j)) for j in range(i, min(jobs, i + 1000))]
                await producer.enqueue_many(queue, specs)
            # the very KEYS lists and settings Broker.claim / Broker.ack use
            return producer.broker._ks(queue), producer.broker.settings
        finally:
            await producer.close()

    return asyncio.run(go())


def _bench_claims(host: str, port: int, sha: str, keys: list[str], args: list[object], requests: int) -> float:
    """requests/s of EVALSHA claim as redis-benchmark measures it (1 client, -P PIPELINE)."""
    exe = shutil.which("redis-benchmark")
    if not exe:
        raise RuntimeError("redis-benchmark not found on PATH")
    cmd = [exe, "-h", host, "-p", str(port), "-c", "1", "-P", str(PIPELINE), "-n", str(requests), "--csv",
           "EVALSHA", sha, str(len(keys)), *keys, *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True).stdout
    rows = [r for r in csv.reader(io.StringIO(out)) if len(r) > 1 and r[0] != "test"]
    if not rows:
        raise RuntimeError(f"no result in redis-benchmark output: {out[-300:]!r}")
    return float(rows[-1][1])


def _send_acks(host: str, port: int, commands: list[bytes]) -> tuple[float, list]:
    """Send the commands over one connection, PIPELINE in flight; (seconds, replies)."""
    import hiredis

    reader = hiredis.Reader()
    replies: list = []
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        total, sent = len(commands), 0
        t0 = time.perf_counter()
        while len(replies) < total:
            room = min(PIPELINE - (sent - len(replies)), total - sent)
            if room > 0:
                sock.sendall(b"".join(commands[sent : sent + room]))
                sent += room
            data = sock.recv(1 << 20)
            if not data:
                raise ConnectionError("redis closed the connection")
            reader.feed(data)
            while (reply := reader.gets()) is not False:
                replies.append(reply)
        seconds = time.perf_counter() - t0
    return seconds, replies


def ceiling_batch(url: str, batch: int, jobs: int) -> dict:
    import redis
    from relay.broker.scripts import SCRIPTS

    u = urlparse(url)
    host, port = u.hostname or "127.0.0.1", u.port or 6379
    # whole pipelines of whole batches, so every claim call finds `batch` jobs
    requests = -(-jobs // (batch * PIPELINE)) * PIPELINE
    n = requests * batch
    queue = f"ceiling-{batch}"
    ks, st = _fill(url, queue, n)

    claim, ack = SCRIPTS["claim"], SCRIPTS["ack"]
    r = redis.Redis.from_url(url)
    try:
        for script in (claim, ack):
            if r.script_load(script.source) != script.sha:
                raise RuntimeError(f"SCRIPT LOAD of {script.name} returned another SHA")
        rps = _bench_claims(host, port, claim.sha, ks.claim, [batch, CEILING_LEASE_MS, st.events_cap], requests)
        inflight = r.zcard(ks.keys.inflight)
        if inflight != n:
            raise RuntimeError(f"batch {batch}: {inflight} jobs inflight after the claims, expected {n}")
        held = [(k, v.split()[1]) for k, v in r.hgetall(ks.keys.run).items()]
        if len(held) != n:
            raise RuntimeError(f"batch {batch}: {len(held)} entries in the run hash, expected {n}")
        head = [b"EVALSHA", ack.sha, len(ks.ack), *ks.ack, st.keep_completed, st.keep_completed_ms, st.events_cap]
        commands = [_resp(*head, *(x for pair in held[i : i + batch] for x in pair)) for i in range(0, n, batch)]
        ack_s, replies = _send_acks(host, port, commands)
        bad = [x for x in replies if not isinstance(x, list) or any(c != 1 for c in x)]
        if bad or len(replies) != len(commands):
            raise RuntimeError(f"batch {batch}: {len(bad)} ack replies not all 1, e.g. {bad[:1]!r}")
        left = r.zcard(ks.keys.inflight)
        if left:
            raise RuntimeError(f"batch {batch}: {left} jobs still inflight after the acks")
    finally:
        r.close()
    claim_jps = rps * batch
    ack_jps = n / ack_s
    return {
        "batch": batch,
        "jobs": n,
        "calls": requests,
        "claim_calls_per_s": rps,
        "claim_jobs_per_s": claim_jps,
        "ack_s": ack_s,
        "ack_jobs_per_s": ack_jps,
        "claim_ack_jobs_per_s": 1 / (1 / claim_jps + 1 / ack_jps),
    }


def ceiling_main(argv: list[str]) -> None:
    import json

    ap = argparse.ArgumentParser(prog="python -m systems.relay ceiling")
    ap.add_argument("--batches", default="1,10,100", help="comma-separated jobs per claim/ack call")
    ap.add_argument("--jobs", type=int, default=20_000, help="jobs per batch size (rounded up to whole pipelines)")
    ap.add_argument("--redis", default=None)
    a = ap.parse_args(argv)
    url = a.redis or redis_url()
    results: dict[str, dict] = {}
    for b in (int(x) for x in a.batches.split(",") if x.strip()):
        try:
            results[str(b)] = ceiling_batch(url, b, a.jobs)
        except Exception as exc:  # one batch size failing still reports the others
            print(f"ceiling batch {b} failed: {exc!r}", file=sys.stderr)
            results[str(b)] = {"batch": b, "error": repr(exc)[:300]}
    out = {
        "jobs": a.jobs,
        "pipeline": PIPELINE,
        "lease_ms": CEILING_LEASE_MS,
        "batches": results,
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
    }
    sys.stdout.write("RACE-RESULT " + json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["ceiling"]:
        ceiling_main(sys.argv[2:])
    else:
        from systems._common import main

        main("systems.relay")
