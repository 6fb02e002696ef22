"""The demo's job types: emails, thumbnails and reports that sometimes fail, so retries show.

Run them with `relay worker --app relay.demo.tasks:registry -q emails,thumbnails,reports`.
A payload flag (`bounce`, `corrupt`, `broken`) makes a job fail every time, so it ends in the
dead set; the handlers also fail a few percent of attempts at random (a retry then succeeds),
and reports sometimes ask to run later with `relay.Retry(after=...)`.

Two schedules show periodic work with no scheduler process: the workers create them when they
start and fire each tick once between them (the reports queue's Schedules panel shows them).
Reports show progress while they run and return a small result (`relay cancel reports <id>`
stops one). Albums are flows: `album.build` waits in the reports queue until every one of its
thumbnails is done, then reads their results (open any of its jobs, then "View flow").
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from relay import Backoff, Cron, Every, Fail, Job, Registry, Retry

TRANSIENT_FAILURE_RATE = 0.06  # per attempt, on top of the jobs made to fail every time

# Quick retries (0.5 s doubling, capped at 8 s) so a failing job reaches the dead set within
# seconds of the demo starting instead of minutes.
registry = Registry(backoff=Backoff("full_jitter", base=0.5, cap=8.0))


class SmtpError(Exception):
    """The mail server refused a message."""


class ImageError(ValueError):
    """The file is not an image we can read; retrying cannot help."""


def _payload(job: Job) -> dict[str, Any]:
    value = job.payload
    return value if isinstance(value, dict) else {}


def _unlucky() -> bool:
    return random.random() < TRANSIENT_FAILURE_RATE


@registry.task("email.send", timeout=10)
async def send_email(job: Job) -> None:
    """Pretend to talk to an SMTP server for 50-150 ms."""
    p = _payload(job)
    await asyncio.sleep(random.uniform(0.05, 0.15))
    if p.get("bounce"):
        raise SmtpError(f"550 5.1.1 <{p.get('to')}>: mailbox unavailable")
    if _unlucky():
        raise ConnectionError("SMTP connection reset by peer")


@registry.task("thumbnail.resize", timeout=10, non_retryable=[ImageError])
def resize_thumbnail(job: Job) -> dict[str, Any]:
    """Pretend to decode and scale an image: 60-200 ms of blocking work, in a thread."""
    p = _payload(job)
    time.sleep(random.uniform(0.06, 0.2))
    if p.get("corrupt"):
        raise ImageError(f"cannot identify image file {p.get('src')!r}")
    if _unlucky():
        raise TimeoutError("object storage read timed out")
    return {"thumb": f"thumbs/{p.get('src', '?')}", "width": p.get("width")}


@registry.task("album.build", timeout=30)
async def build_album(job: Job) -> dict[str, Any]:
    """A flow's parent: runs once all its thumbnails are done, and gathers their results."""
    thumbs = await job.children_results()
    await asyncio.sleep(random.uniform(0.05, 0.2))
    return {
        "album": _payload(job).get("album"),
        "thumbnails": sorted(t["thumb"] for t in thumbs.values()),
    }


@registry.task("report.generate", timeout=30)
async def generate_report(job: Job) -> dict[str, Any]:
    """Pretend to query a warehouse for 0.2-0.8 s in five steps, reporting progress; it is
    sometimes too busy to start. The result (rows, took) is kept with the completed job."""
    p = _payload(job)
    if job.attempts == 1 and random.random() < 0.15:
        raise Retry(after=random.uniform(2, 6), reason="warehouse busy, try again shortly")
    took = random.uniform(0.2, 0.8)
    for step in range(5):
        job.progress(step * 20)
        await asyncio.sleep(took / 5)
    job.progress(100)
    if p.get("broken"):
        raise Fail(f"report {p.get('report')!r} references a dropped table")
    if _unlucky():
        raise KeyError("region")
    return {"report": p.get("report"), "rows": random.randint(10, 5000), "took_s": round(took, 3)}


@registry.task("report.digest", schedule=Every(ms=10_000, queue="reports", payload={"n": 20}))
async def digest(job: Job) -> None:
    """Every 10 s: gather the last few events into a digest (a schedule declared in code)."""
    await asyncio.sleep(random.uniform(0.05, 0.2))


@registry.task("report.rollup", schedule=Cron("* * * * *", timezone="UTC", queue="reports"))
async def rollup(job: Job) -> None:
    """At the top of every minute (cron): roll the minute's figures up."""
    await asyncio.sleep(random.uniform(0.1, 0.3))
