"""GET /api/events: Server-Sent Events — stats snapshots and job lifecycle events, resumable."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec
from aiohttp import web

from relay.broker.events import START, event_tips, positions_from, read_events
from relay.errors import RedisUnavailable
from relay.http.errors import Problem
from relay.http.feed import FEED, EventFeed
from relay.http.models import JobEvent, StatsEvent
from relay.http.state import AppState, state

log = logging.getLogger("relay.http.sse")

RETRY_MS = 2000  # how long a browser waits before reconnecting
_MAX_ID_DIGITS = 15


def decode_cursor(value: str | None) -> int | None:
    """The resume point (Redis ms) in a Last-Event-ID; None when absent or malformed."""
    if not value or len(value) > _MAX_ID_DIGITS or not value.isdigit():
        return None
    return int(value)


async def events(request: web.Request) -> web.StreamResponse:
    """The event stream of one subscriber; 503 past the subscriber cap."""
    st = state(request)
    if st.subscribers >= st.settings.sse_max_clients:
        raise Problem(
            503,
            f"too many event subscribers (limit {st.settings.sse_max_clients})",
            "too_many_subscribers",
            {"Retry-After": "5"},
        )
    st.subscribers += 1
    try:
        cursor = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
        stream = _Stream(st, request.app[FEED], decode_cursor(cursor))
        await stream.open()  # reads Redis before any byte is sent: errors are still JSON
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError, RedisUnavailable):
            await stream.run(resp)
        return resp
    finally:
        st.subscribers -= 1


class _Stream:
    """One subscriber's loop: job events as they land, a stats snapshot per interval.

    The SSE id is one Redis time T: every event stamped before T was sent (see
    relay.broker.events). It goes on stats events and on the last job event of each read, so a
    client cut off mid-read resumes from the read before and gets duplicates, never a gap.
    """

    def __init__(self, st: AppState, feed: EventFeed, resume_ms: int | None) -> None:
        self.st = st
        self.resume_ms = resume_ms
        self.positions: dict[str, str] = {}
        self.cursor = 0
        self.snapshot: StatsEvent | None = None
        self.feed = feed

    async def open(self) -> None:
        redis = self.st.broker.redis
        self.snapshot = await self.st.hub.snapshot()
        names = [q.name for q in self.snapshot.queues]
        await self.feed.adopt(names)
        if self.resume_ms is None:  # a fresh subscriber starts from now
            self.cursor, self.positions = await event_tips(redis, names)
        else:
            self.cursor = self.resume_ms
            self.positions = positions_from(redis, names, self.resume_ms)
        self._adopt(self.snapshot)

    def _adopt(self, snapshot: StatsEvent) -> None:
        # A queue that appears later is new to this subscriber: all of its events are news.
        for q in snapshot.queues:
            self.positions.setdefault(q.name, START)

    async def run(self, resp: web.StreamResponse) -> None:
        s = self.st.settings
        assert self.snapshot is not None
        await resp.write(f"retry: {RETRY_MS}\n\n".encode())
        await self._send(resp, "stats", msgspec.json.encode(self.snapshot), with_id=True)
        loop = asyncio.get_running_loop()
        next_stats = loop.time() + s.sse_interval
        next_ping = loop.time() + s.sse_keepalive
        while not self.st.closing.is_set():
            await self._job_events(resp)
            now = loop.time()
            if now >= next_stats:
                self.snapshot = await self.st.hub.snapshot()
                await self.feed.adopt(q.name for q in self.snapshot.queues)
                self._adopt(self.snapshot)
                await self._send(resp, "stats", msgspec.json.encode(self.snapshot), with_id=True)
                next_stats = max(next_stats + s.sse_interval, now + s.sse_interval / 2)
            if now >= next_ping:
                await resp.write(b": keep-alive\n\n")
                next_ping = now + s.sse_keepalive
            wait = max(0.0, min(s.sse_poll, next_stats - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.st.closing.wait(), wait)

    async def _job_events(self, resp: web.StreamResponse) -> None:
        # The process's shared read (EventFeed); only queues this subscriber is behind on (an
        # old Last-Event-ID) are read from Redis by the subscriber itself.
        await self.feed.refresh()
        covered = {q: p for q, p in self.positions.items() if self.feed.covers(q, p)}
        behind = {q: p for q, p in self.positions.items() if q not in covered}
        batch = self.feed.after(covered)
        events, resume = batch.events, batch.resume_ms if covered else None
        if behind:
            own = await read_events(self.st.broker.redis, behind)
            events = events + own.events
            resume = own.resume_ms if resume is None else min(resume, own.resume_ms)
        if resume is not None:
            self.cursor = max(self.cursor, resume)
        for i, ev in enumerate(events):
            self.positions[ev.queue] = ev.stream_id
            job = JobEvent(queue=ev.queue, kind=ev.kind, ids=ev.ids, n=ev.n, ts=ev.ms / 1000)
            if ev.progress:
                job.progress = msgspec.Raw(ev.progress.encode())
            last = i == len(events) - 1
            await self._send(resp, "job", msgspec.json.encode(job), with_id=last)

    async def _send(
        self, resp: web.StreamResponse, event: str, data: bytes, *, with_id: bool
    ) -> None:
        head = f"id: {self.cursor}\n" if with_id else ""
        await resp.write(f"{head}event: {event}\ndata: ".encode() + data + b"\n\n")
