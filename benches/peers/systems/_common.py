"""Shared plumbing for the race adapters (see ../README.md, "Adapter contract").

An adapter module ``systems/<name>.py`` provides:

* ``INFO`` – a dict: ``name``, ``packages`` (distribution names whose versions
  are reported), ``default`` / ``tuned`` (human-readable worker settings),
  ``bulk`` (True if the system has a bulk-enqueue API), ``tuned_same_as_default``
  (optional, True when the system has no concurrency knob for one worker
  process), ``notes`` (optional).
* ``class Client`` – ``async connect()``, ``async send(payload: str)``,
  ``async send_bulk(payloads: list[str])`` (only if ``INFO["bulk"]``),
  ``async close()``.  Sync libraries simply call their sync API inside the
  ``async def`` (nothing else runs on the loop, so blocking is harmless).
* ``run_worker(profile: str, concurrency: int | None)`` – runs the system's
  own worker runtime in this process (it may fork its own children, as e.g.
  Celery's prefork pool does) until it is terminated by SIGTERM/SIGKILL.
  ``profile`` is ``"default"`` or ``"tuned"``; ``concurrency`` overrides the
  profile's concurrency when given.

and ends with::

    if __name__ == "__main__":
        from systems._common import main
        main("systems.<name>")

The job handler of every system must call :func:`record_sync` or
:func:`record_async` with the job's payload string as its first action.  That
is the only work a job does: count itself done (by default in process memory,
flushed to ``race:done`` with one INCRBY every 2 ms by a thread; with
``RACE_COUNT=per-job`` one ``INCR race:done`` per job), plus, for latency probes
only, one ``RPUSH race:lat <ts>`` and one ``INCR``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import json
import os
import random
import sys
import threading
import time
from typing import Any

DONE_KEY = "race:done"
LAT_KEY = "race:lat"
PAYLOAD_BYTES = 100
ENV_URL = "RACE_REDIS_URL"


# --------------------------------------------------------------------------
# payloads and the no-op handler body


def payload(i: int, latency: bool = False) -> str:
    """A ~100-byte ASCII payload; first char 'L' marks a latency probe."""
    head = ("L" if latency else "J") + f"{i:09d}:"
    return head + "x" * (PAYLOAD_BYTES - len(head))


def redis_url() -> str:
    return os.environ.get(ENV_URL, "redis://127.0.0.1:6379/0")


_sync_client = None
_sync_pid = None


def sync_client():
    """Process-local sync redis client (re-created after fork)."""
    global _sync_client, _sync_pid
    if _sync_client is None or _sync_pid != os.getpid():
        import redis

        _sync_client = redis.Redis.from_url(redis_url(), max_connections=10_000)
        _sync_pid = os.getpid()
    return _sync_client


_async_clients: dict[int, Any] = {}


def async_client():
    """Per-event-loop asyncio redis client."""
    loop = asyncio.get_running_loop()
    key = id(loop)
    c = _async_clients.get(key)
    if c is None:
        import redis.asyncio as aioredis

        c = aioredis.Redis.from_url(redis_url(), max_connections=10_000)
        _async_clients[key] = c
    return c


COUNT_ENV = "RACE_COUNT"  # "batched" (default) or "per-job"
FLUSH_S = 0.002

_pending = 0
_pending_lock = threading.Lock()
_flusher_pid: int | None = None


def _per_job() -> bool:
    return os.environ.get(COUNT_ENV, "batched") == "per-job"


def _flush_loop() -> None:
    global _pending
    r = sync_client()
    while True:
        time.sleep(FLUSH_S)
        with _pending_lock:
            n, _pending = _pending, 0
        if n:
            r.incrby(DONE_KEY, n)


def count_done() -> None:
    """Count one finished job without a Redis command of its own.

    A daemon thread of this process adds the count to ``race:done`` every 2 ms (one INCRBY),
    so a no-op job costs every system the same few hundred nanoseconds instead of a Redis
    round trip through its client library.  The thread is started lazily in each process
    (so forked pool children get their own)."""
    global _pending, _flusher_pid
    with _pending_lock:
        _pending += 1
    if _flusher_pid != os.getpid():
        _flusher_pid = os.getpid()
        threading.Thread(target=_flush_loop, name="race-count", daemon=True).start()


def record_sync(p: str) -> None:
    """Body of every sync no-op handler."""
    if p[:1] == "L":
        t = time.time()
        r = sync_client()
        r.rpush(LAT_KEY, repr(t))
        r.incr(DONE_KEY)
    elif _per_job():
        sync_client().incr(DONE_KEY)
    else:
        count_done()


async def record_async(p: str) -> None:
    """Body of every async no-op handler."""
    if p[:1] == "L":
        t = time.time()
        r = async_client()
        await r.rpush(LAT_KEY, repr(t))
        await r.incr(DONE_KEY)
    elif _per_job():
        await async_client().incr(DONE_KEY)
    else:
        count_done()


def quiet_logging() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")


# --------------------------------------------------------------------------
# CLI


def _versions(mod) -> dict[str, str]:
    out = {}
    for dist in mod.INFO.get("packages", []):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "missing"
    out["python"] = sys.version.split()[0]
    return out


def _emit(obj: dict) -> None:
    sys.stdout.write("RACE-RESULT " + json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _enqueue(mod, mode: str, jobs: int, batch: int) -> dict:
    payloads = [payload(i) for i in range(jobs)]
    client = mod.Client()
    await client.connect()
    try:
        if mode == "bulk":
            if not mod.INFO.get("bulk"):
                raise SystemExit(f"{mod.INFO['name']} has no bulk enqueue API")
            t0 = time.perf_counter()
            for i in range(0, jobs, batch):
                await client.send_bulk(payloads[i : i + batch])
            dt = time.perf_counter() - t0
        else:
            t0 = time.perf_counter()
            for p in payloads:
                await client.send(p)
            dt = time.perf_counter() - t0
    finally:
        await client.close()
    return {"jobs": jobs, "mode": mode, "batch": batch if mode == "bulk" else 1, "seconds": dt}


async def _latency(mod, samples: int, warmup: int, gap_ms: float, wait_s: float) -> dict:
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(redis_url())
    client = mod.Client()
    await client.connect()
    lat: list[float] = []
    lost = 0
    try:
        await r.delete(LAT_KEY)
        rng = random.Random(12345)
        for i in range(warmup + samples):
            # idle gap so the queue is empty and the worker is waiting
            await asyncio.sleep(rng.uniform(0, gap_ms) / 1000.0)
            t_enq = time.time()
            await client.send(payload(i, latency=True))
            got = await r.blpop([LAT_KEY], timeout=wait_s if i >= warmup else max(wait_s, 30))
            if got is None:
                lost += 1
                if lost >= 3:
                    break
                continue
            t_start = float(got[1])
            if i >= warmup:
                lat.append(t_start - t_enq)
    finally:
        await client.close()
        await r.aclose() if hasattr(r, "aclose") else await r.close()
    return {"samples": len(lat), "lost": lost, "latencies_s": lat}


def main(modname: str, argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog=f"python -m {modname}")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info")
    e = sub.add_parser("enqueue")
    e.add_argument("--mode", choices=["single", "bulk"], default="single")
    e.add_argument("--jobs", type=int, required=True)
    e.add_argument("--batch", type=int, default=1000)
    e.add_argument("--redis")
    w = sub.add_parser("worker")
    w.add_argument("--concurrency", default="default",
                   help="'default', 'tuned', an integer (tuned profile with that concurrency) "
                   "or an adapter-specific profile such as 'threads:16'")
    w.add_argument("--redis")
    lt = sub.add_parser("latency")
    lt.add_argument("--samples", type=int, default=200)
    lt.add_argument("--warmup", type=int, default=3)
    lt.add_argument("--gap-ms", type=float, default=50.0)
    lt.add_argument("--wait", type=float, default=10.0, help="max seconds to wait for one probe to start")
    lt.add_argument("--redis")
    args = ap.parse_args(argv)
    if getattr(args, "redis", None):
        os.environ[ENV_URL] = args.redis

    try:
        mod = importlib.import_module(modname)
    except Exception as exc:  # adapter's library missing
        if args.cmd == "info":
            _emit({"name": modname.rsplit(".", 1)[-1], "available": False, "error": repr(exc)})
            return
        raise

    if args.cmd == "info":
        info = dict(mod.INFO)
        info["available"] = True
        info["versions"] = _versions(mod)
        _emit(info)
    elif args.cmd == "enqueue":
        _emit(asyncio.run(_enqueue(mod, args.mode, args.jobs, args.batch)))
    elif args.cmd == "latency":
        _emit(asyncio.run(_latency(mod, args.samples, args.warmup, args.gap_ms, args.wait)))
    elif args.cmd == "worker":
        spec = args.concurrency
        if spec in ("default", "tuned"):
            mod.run_worker(spec, None)
        elif spec.isdigit():
            mod.run_worker("tuned", int(spec))
        else:
            # adapter-specific named profile (e.g. "threads:16"), for sweeps
            mod.run_worker(spec, None)
