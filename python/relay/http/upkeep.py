"""The reaper and promoter for queues served over HTTP, run by the server itself.

Python workers run both loops for their queues; a deployment whose workers all speak HTTP has
no Python worker to do it. So the server runs them for every queue an HTTP worker touched
(claim, ack, nack, extend) in the last `ACTIVE_FOR_S`: once per second, a bounded reap (expired
leases back to ready, or dead), a bounded promote (due delayed jobs to ready), and the flows'
replay (outbox entries and flow intents a crash left, decision 0050; one EXISTS when none).
All are atomic and idempotent, so several server processes and Python workers running them too
only repeat harmless calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from relay.broker import Broker
from relay.errors import RelayError
from relay.http.state import STATE

log = logging.getLogger("relay.http")

ACTIVE_FOR_S = 600.0
EVERY_S = 1.0
MAX_ROUNDS = 10  # bounded calls of 1000 jobs per queue per tick; the rest waits a second


class Served:
    """Queues HTTP workers used lately, by when they last did."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def touch(self, queue: str) -> None:
        self.seen[queue] = time.monotonic()

    def active(self) -> list[str]:
        cutoff = time.monotonic() - ACTIVE_FOR_S
        for q in [q for q, at in self.seen.items() if at < cutoff]:
            del self.seen[q]
        return list(self.seen)


SERVED = web.AppKey("relay_http_served", Served)


async def tick(broker: Broker, queues: list[str]) -> tuple[int, int]:
    """One round over `queues`: (jobs reaped, jobs promoted)."""
    reaped = promoted = 0
    for q in queues:
        for _ in range(MAX_ROUNDS):
            r = await broker.reap(q)
            reaped += r.requeued + r.dead
            if not r.more:
                break
        for _ in range(MAX_ROUNDS):
            p = await broker.promote(q)
            promoted += p.moved
            if p.wait_ms != 0:
                break
        await broker.flow_upkeep(q)
    return reaped, promoted


async def _loop(broker: Broker, served: Served) -> None:
    while True:
        await asyncio.sleep(EVERY_S)
        try:
            reaped, _ = await tick(broker, served.active())
        except RelayError as exc:  # Redis away: the next tick tries again
            log.debug("upkeep of HTTP-served queues failed: %s", exc)
            continue
        if reaped:
            log.info("reaped %d expired leases of HTTP workers", reaped)


async def context(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: the upkeep loop runs while the app does."""
    task = asyncio.create_task(_loop(app[STATE].broker, app[SERVED]), name="relay-http-upkeep")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
