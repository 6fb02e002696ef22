"""Handlers the e2e worker runs: quick successes, jobs that die, and one that dies only once.

The worker process gets the Redis URL from RELAY_REDIS_URL, like these handlers.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import redis.asyncio as aredis

from relay import Fail, Job, Registry

registry = Registry(max_attempts=1)
_redis: aredis.Redis | None = None


def _payload(job: Job) -> dict[str, Any]:
    value = job.payload
    return value if isinstance(value, dict) else {}


@registry.task("ok")
async def ok(job: Job) -> None:
    await asyncio.sleep(0.05)


@registry.task("doomed")
async def doomed(job: Job) -> None:
    """Dead at once; the error is the payload's `reason` (it may hold markup)."""
    raise Fail(str(_payload(job).get("reason", "doomed")))


@registry.task("answer")
async def answer(job: Job) -> dict[str, int]:
    """Completes with a small result."""
    return {"answer": 42}


@registry.task("long")
async def long(job: Job) -> None:
    """Reports 40 % and then waits a minute (or until it is cancelled)."""
    job.progress(40)
    await asyncio.sleep(60)


@registry.task("flaky")
async def flaky(job: Job) -> None:
    """Dies on its first run; once requeued, it completes."""
    global _redis  # noqa: PLW0603 - one client per worker process, made on first use
    if _redis is None:
        _redis = aredis.Redis.from_url(os.environ["RELAY_REDIS_URL"])
    if await _redis.set(f"e2e:seen:{job.id}", 1, nx=True, ex=600):
        raise Fail("first run fails on purpose")


@registry.task("gate")
async def gate(job: Job) -> str:
    """Waits until the test pushes to the list `e2e:gate:<payload["gate"]>`, then completes."""
    global _redis  # noqa: PLW0603 - one client per worker process, made on first use
    if _redis is None:
        _redis = aredis.Redis.from_url(os.environ["RELAY_REDIS_URL"])
    key = f"e2e:gate:{_payload(job).get('gate', '')}"
    await _redis.blpop([key], 0)
    return "through"
