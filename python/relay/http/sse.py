"""GET /api/events: Server-Sent Events — stats snapshots and job lifecycle events, resumable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import quote, unquote

import msgspec
from aiohttp import web

from relay.broker.events import START, event_tips, is_stream_id, read_events
from relay.errors import RedisUnavailable
from relay.http.errors import Problem
from relay.http.models import JobEvent, StatsEvent
from relay.http.state import AppState, state

log = logging.getLogger("relay.http.sse")

RETRY_MS = 2000  # how long a browser waits before reconnecting
_MAX_CURSOR = 64 * 1024


def encode_cursor(positions: dict[str, str]) -> str:
    """Per-queue stream positions as an SSE id: `queue=1700000000000-0,other=...`.

    Queue names are percent-encoded, so the id never holds ',', '=' or a line break.
    """
    return ",".join(f"{quote(q, safe='')}={pos}" for q, pos in sorted(positions.items()))


def decode_cursor(value: str | None) -> dict[str, str] | None:
    """Positions from a Last-Event-ID; None when absent or malformed (start from now)."""
    if not value or len(value) > _MAX_CURSOR:
        return None
    out: dict[str, str] = {}
    for part in value.split(","):
        name, sep, pos = part.partition("=")
        if not sep or not name or not is_stream_id(pos):
            return None
        out[unquote(name)] = pos
    return out


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
        stream = _Stream(st, decode_cursor(cursor))
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
    """One subscriber's loop: job events as they land, a stats snapshot per interval."""

    def __init__(self, st: AppState, positions: dict[str, str] | None) -> None:
        self.st = st
        self.positions = positions
        self.snapshot: StatsEvent | None = None

    async def open(self) -> None:
        self.snapshot = await self.st.hub.snapshot()
        names = [q.name for q in self.snapshot.queues]
        if self.positions is None:  # a fresh subscriber starts from now
            self.positions = await event_tips(self.st.broker.redis, names)
        self._adopt(self.snapshot)

    def _adopt(self, snapshot: StatsEvent) -> None:
        # A queue not in the cursor appeared after it was made: all of its events are new.
        assert self.positions is not None
        for q in snapshot.queues:
            self.positions.setdefault(q.name, START)

    async def run(self, resp: web.StreamResponse) -> None:
        s = self.st.settings
        assert self.snapshot is not None and self.positions is not None
        await resp.write(f"retry: {RETRY_MS}\n\n".encode())
        await self._send(resp, "stats", msgspec.json.encode(self.snapshot))
        loop = asyncio.get_running_loop()
        next_stats = loop.time() + s.sse_interval
        next_ping = loop.time() + s.sse_keepalive
        while not self.st.closing.is_set():
            for ev in await read_events(self.st.broker.redis, self.positions):
                self.positions[ev.queue] = ev.stream_id
                job = JobEvent(queue=ev.queue, kind=ev.kind, ids=ev.ids, n=ev.n, ts=ev.ts)
                await self._send(resp, "job", msgspec.json.encode(job))
            now = loop.time()
            if now >= next_stats:
                self.snapshot = await self.st.hub.snapshot()
                self._adopt(self.snapshot)
                await self._send(resp, "stats", msgspec.json.encode(self.snapshot))
                next_stats = max(next_stats + s.sse_interval, now + s.sse_interval / 2)
            if now >= next_ping:
                await resp.write(b": keep-alive\n\n")
                next_ping = now + s.sse_keepalive
            wait = max(0.0, min(s.sse_poll, next_stats - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.st.closing.wait(), wait)

    async def _send(self, resp: web.StreamResponse, event: str, data: bytes) -> None:
        assert self.positions is not None
        head = f"id: {encode_cursor(self.positions)}\nevent: {event}\ndata: "
        await resp.write(head.encode() + data + b"\n\n")
