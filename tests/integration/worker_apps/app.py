"""Handlers for worker-process tests; each records what it did to a Redis list.

The payload names the list (`log`); entries are `event:job id:attempt:pid`. The worker process
gets the Redis URL from RELAY_REDIS_URL, like the handlers here.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.cluster import RedisCluster

from relay import Fail, Job, Registry
from relay.broker.connection import connect

registry = Registry()
_async: Any = None  # redis.asyncio Redis or RedisCluster
_sync: redis.Redis | RedisCluster | None = None


def _url() -> str:
    return os.environ["RELAY_REDIS_URL"]


def _entry(event: str, job: Job) -> str:
    return f"{event}:{job.id}:{job.attempts}:{os.getpid()}"


async def record(event: str, job: Job) -> None:
    global _async  # noqa: PLW0603 - one client per worker process, made on first use
    if _async is None:
        _async = connect(_url())  # relay's own: a Redis Cluster URL works too
    await _async.rpush(_payload(job)["log"], _entry(event, job))


def record_sync(event: str, job: Job) -> None:
    global _sync  # noqa: PLW0603 - one client per worker process, made on first use
    if _sync is None:
        url = _url()
        if urlsplit(url).scheme.endswith("+cluster"):
            host, _, port = urlsplit(url).netloc.rsplit("@", 1)[-1].split(",")[0].rpartition(":")
            _sync = RedisCluster(host=host, port=int(port))
        else:
            _sync = redis.Redis.from_url(url)
    _sync.rpush(_payload(job)["log"], _entry(event, job))


def _payload(job: Job) -> dict[str, Any]:
    value = job.payload
    assert isinstance(value, dict)
    return value


@registry.task("record")
async def record_job(job: Job) -> None:
    await record("ran", job)


@registry.task("record_sync")
def record_sync_job(job: Job) -> None:
    record_sync("ran", job)


@registry.task("fail", max_attempts=2)
async def fail_job(job: Job) -> None:
    await record("ran", job)
    raise ValueError("this job always fails")


@registry.task("fail_now")
async def fail_now_job(job: Job) -> None:
    await record("ran", job)
    raise Fail("bad input, never retry")


@registry.task("sleep")
async def sleep_job(job: Job) -> None:
    """Async sleep: yields to the loop."""
    await record("start", job)
    await asyncio.sleep(float(_payload(job)["s"]))
    await record("end", job)


@registry.task("nap")
async def nap_job(job: Job) -> None:
    """Records its start only: it may well end while Redis is away."""
    await record("start", job)
    await asyncio.sleep(float(_payload(job)["s"]))


@registry.task("block")
async def block_job(job: Job) -> None:
    """An async handler that blocks the event loop (time.sleep)."""
    record_sync("start", job)
    time.sleep(float(_payload(job)["s"]))  # noqa: ASYNC251 - the point of this handler
    record_sync("end", job)


@registry.task("spin")
def spin_job(job: Job) -> None:
    """A CPU-bound sync handler: a pure-Python loop holding the GIL most of the time."""
    record_sync("start", job)
    until = time.monotonic() + float(_payload(job)["s"])
    n = 0
    while time.monotonic() < until:
        for i in range(10_000):
            n += i * i
    record_sync("end", job)


@registry.task("crash")
def crash_job(job: Job) -> None:
    """Kills its own worker process, as a segfaulting C extension or OOM kill would."""
    record_sync("start", job)
    os._exit(3)


not_a_registry = 42
