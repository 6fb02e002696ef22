"""Reading the queues' lifecycle streams (`relay:{q}:events`) for live views such as SSE.

A reader keeps one stream position per queue, but hands out a single resume point: a Redis
time T (ms) such that every event stamped before T has been read. Stream ids are Redis times,
so a reader given T back starts each queue at T — at most a few events are read twice, none is
missed. On a cluster, nodes' clocks differ a little: resuming goes back `CLUSTER_MARGIN_MS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from redis import exceptions as rexc

from relay.broker.connection import is_cluster
from relay.errors import RedisUnavailable
from relay.keys import QueueKeys

START = "0-0"  # before every entry: a queue first seen mid-stream is read from its beginning
CLUSTER_MARGIN_MS = 1000
_MAX_SEQ = 2**64 - 1


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """One stream entry: `n` jobs of `queue` went through `kind` (at most 50 ids listed)."""

    queue: str
    stream_id: str
    kind: str
    n: int
    ids: list[str]
    progress: str = ""  # kind "progress": JSON object {id: progress} of ≤ 50 of the jobs

    @property
    def ms(self) -> int:
        """Redis time of the entry, in Unix milliseconds."""
        return int(self.stream_id.split("-", 1)[0])


@dataclass(frozen=True, slots=True)
class EventBatch:
    """What one read returned, and the resume point after it."""

    events: list[QueueEvent]
    resume_ms: int  # every event stamped before this has been read


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _now_ms(reply: Any) -> int:
    sec, usec = reply
    return int(sec) * 1000 + int(usec) // 1000


def positions_from(redis: Any, queues: Iterable[str], resume_ms: int) -> dict[str, str]:
    """Per-queue positions that read every event stamped at or after `resume_ms`."""
    margin = CLUSTER_MARGIN_MS if is_cluster(redis) else 0
    at = resume_ms - margin - 1
    pos = f"{at}-{_MAX_SEQ}" if at >= 0 else START
    return dict.fromkeys(queues, pos)


async def _pipelined(redis: Any, fill: Any) -> list[Any]:
    try:
        async with redis.pipeline(transaction=False) as p:
            fill(p)
            return list(await p.execute())
    except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
        raise RedisUnavailable(f"Redis unreachable reading events: {exc}") from exc


async def _time(redis: Any) -> Any:
    # Its own call, not part of the pipeline: a cluster client refuses keyless commands there.
    # Still read before the streams, so anything stamped before it is in the reads that follow.
    try:
        return await redis.time()
    except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
        raise RedisUnavailable(f"Redis unreachable reading events: {exc}") from exc


async def event_tips(redis: Any, queues: Iterable[str]) -> tuple[int, dict[str, str]]:
    """(Redis now in ms, each queue's newest event id): the positions of a reader starting now."""
    names = list(queues)

    def fill(p: Any) -> None:
        for q in names:
            p.xrevrange(QueueKeys.for_queue(q).events, "+", "-", count=1)

    now = await _time(redis)
    replies = await _pipelined(redis, fill)
    return _now_ms(now), {
        q: _text(r[0][0]) if r else START for q, r in zip(names, replies, strict=True)
    }


async def read_events(redis: Any, positions: Mapping[str, str], count: int = 200) -> EventBatch:
    """Events after each queue's position (oldest first per queue), at most `count` per queue.

    One round trip: TIME, then one XREAD per queue (each stream lives in its queue's slot).
    """
    names = list(positions)

    def fill(p: Any) -> None:
        for q in names:
            p.xread({QueueKeys.for_queue(q).events: positions[q]}, count=count)

    now = await _time(redis)
    replies = await _pipelined(redis, fill)
    resume = _now_ms(now)  # TIME ran first: anything stamped before it is in the reads below
    events: list[QueueEvent] = []
    for q, reply in zip(names, replies, strict=True):
        got = _entries(q, reply)
        if len(got) >= count:  # more wait in this stream: resume no later than its last read
            resume = min(resume, got[-1].ms)
        events += got
    return EventBatch(events, resume)


def _entries(queue: str, reply: Any) -> list[QueueEvent]:
    if not reply:
        return []
    if isinstance(reply, dict):  # RESP3: {key: [entries]}
        streams = [entries for per_key in reply.values() for entries in per_key]
    else:  # RESP2: [[key, entries]]
        streams = [r[1] for r in reply]
    out = []
    for entries in streams:
        for raw_id, fields in entries:
            f = {_text(k): _text(v) for k, v in fields.items()}
            ids = f.get("ids", "").split()
            out.append(
                QueueEvent(
                    queue=queue,
                    stream_id=_text(raw_id),
                    kind=f.get("k", "unknown"),
                    n=int(f.get("n", len(ids))),
                    ids=ids,
                    progress=f.get("p", ""),
                )
            )
    return out
