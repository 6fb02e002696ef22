"""Reading the queues' lifecycle streams (`relay:{q}:events`) for live views such as SSE."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from redis import exceptions as rexc

from relay.errors import RedisUnavailable
from relay.keys import QueueKeys

START = "0-0"  # before every entry: a queue first seen mid-stream is read from its beginning
_STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")


def is_stream_id(value: str) -> bool:
    """True for a Redis stream id such as `1700000000000-0`."""
    return bool(_STREAM_ID.fullmatch(value))


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """One stream entry: `n` jobs of `queue` went through `kind` (at most 50 ids listed)."""

    queue: str
    stream_id: str
    kind: str
    n: int
    ids: list[str]

    @property
    def ts(self) -> float:
        """Redis time of the entry, in Unix seconds."""
        return int(self.stream_id.split("-", 1)[0]) / 1000


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def event_tips(redis: Any, queues: Iterable[str]) -> dict[str, str]:
    """The id of each queue's newest event (START for an empty stream): "now" as positions."""
    names = list(queues)
    if not names:
        return {}
    try:
        async with redis.pipeline(transaction=False) as p:
            for q in names:
                p.xrevrange(QueueKeys.for_queue(q).events, "+", "-", count=1)
            replies = await p.execute()
    except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
        raise RedisUnavailable(f"Redis unreachable reading events: {exc}") from exc
    return {q: _text(r[0][0]) if r else START for q, r in zip(names, replies, strict=True)}


async def read_events(
    redis: Any, positions: Mapping[str, str], count: int = 200
) -> list[QueueEvent]:
    """Events after each queue's position (oldest first per queue), at most `count` per queue.

    One XREAD per queue, pipelined: each stream lives in its own queue's cluster slot.
    """
    if not positions:
        return []
    names = list(positions)
    try:
        async with redis.pipeline(transaction=False) as p:
            for q in names:
                p.xread({QueueKeys.for_queue(q).events: positions[q]}, count=count)
            replies = await p.execute()
    except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
        raise RedisUnavailable(f"Redis unreachable reading events: {exc}") from exc
    out: list[QueueEvent] = []
    for q, reply in zip(names, replies, strict=True):
        out.extend(_entries(q, reply))
    return out


def _entries(queue: str, reply: Any) -> list[QueueEvent]:
    if not reply:
        return []
    streams = reply.values() if isinstance(reply, dict) else (r[1] for r in reply)
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
                )
            )
    return out
