"""One read of the job-event streams per poll per server process, shared by every subscriber.

Without it each SSE subscriber read every queue's stream every `sse_poll`: Redis load grew with
the number of open dashboards. The feed reads once per poll for the whole process (the first
subscriber to ask does it, the others find it fresh) and keeps the recent events in memory; a
subscriber takes from the buffer what follows its own position in each queue. Only a subscriber
behind the buffer's floor (one resuming from an old Last-Event-ID, or one that fell behind past
`KEEP` events) reads that queue from Redis itself, as before, until it catches up.

A queue first seen mid-stream is read from its start (as a subscriber did): its events are news.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from relay.broker.events import START, EventBatch, QueueEvent, event_tips, read_events

KEEP = 5000  # events kept in memory for subscribers to take from


def sid(stream_id: str) -> tuple[int, int]:
    """A stream id as a comparable (ms, seq) pair."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


class EventFeed:
    """The process's shared reader of job events."""

    def __init__(self, redis: Any, poll: float) -> None:
        self._redis = redis
        self._poll = poll
        self._lock = asyncio.Lock()
        self._positions: dict[str, str] = {}  # the feed's own read position per queue
        self._floor: dict[str, tuple[int, int]] = {}  # the buffer has every event after this
        self._buffer: deque[QueueEvent] = deque()
        self._read_at = 0.0
        self.resume_ms = 0  # every event stamped before this was read by the feed
        self.reads = 0  # Redis reads made (for tests)

    async def adopt(self, queues: Iterable[str]) -> None:
        """Follow `queues` too: a queue new to the feed starts from its newest event the first
        time (nothing before now is buffered), from its start when it appears later."""
        new = [q for q in queues if q not in self._positions]
        if not new:
            return
        async with self._lock:
            new = [q for q in new if q not in self._positions]
            if not new:
                return
            if not self._positions:  # the feed's first queues: start from now
                _, tips = await event_tips(self._redis, new)
            else:
                tips = dict.fromkeys(new, START)
            for q in new:
                self._positions[q] = tips[q]
                self._floor[q] = sid(tips[q])

    async def refresh(self) -> None:
        """Read the streams once, unless another subscriber did within half a poll."""
        async with self._lock:
            if time.monotonic() - self._read_at < self._poll / 2 or not self._positions:
                return
            batch = await read_events(self._redis, self._positions)
            self.reads += 1
            self._read_at = time.monotonic()
            for ev in batch.events:
                self._buffer.append(ev)
                self._positions[ev.queue] = ev.stream_id
            while len(self._buffer) > KEEP:
                gone = self._buffer.popleft()
                self._floor[gone.queue] = sid(gone.stream_id)
            self.resume_ms = max(self.resume_ms, batch.resume_ms)

    def covers(self, queue: str, position: str) -> bool:
        """Whether the buffer holds every event of `queue` after `position`."""
        floor = self._floor.get(queue)
        return floor is not None and sid(position) >= floor

    def after(self, positions: dict[str, str]) -> EventBatch:
        """The buffered events that follow `positions` (queues the feed covers from there)."""
        at = {q: sid(p) for q, p in positions.items()}
        events = [ev for ev in self._buffer if ev.queue in at and sid(ev.stream_id) > at[ev.queue]]
        return EventBatch(events, self.resume_ms)


FEED = web.AppKey("relay_event_feed", EventFeed)
