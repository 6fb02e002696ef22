"""The history of a chaos run: one JSON line per event, from the driver and from every worker.

Each process appends to a file of its own (`<dir>/<who>-<pid>.jsonl`) with O_APPEND writes of
one whole line, so a SIGKILL can cut at most the line being written, and no lock is needed
between a worker's event loop and its heartbeat thread. Event kinds:

- driver: `enqueue_ok | enqueue_fail | enqueue_unknown` (job), `fault` (name, ...)
- worker: `claim` (job, token, attempt, redis_ms), `exec_start` / `exec_end` (job, token,
  attempt, ok), `ack_ok | ack_stale | ack_unknown` (job, token), `nack_ok | nack_stale |
  nack_unknown` (job, token, outcome)

Every line also carries `pid` and `t` (the writer's wall clock: skewed under faketime, so only
`redis_ms` on claims is comparable across processes).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HISTORY_ENV = "RELAY_CHAOS_HISTORY"


class HistoryWriter:
    """Appends events to one file; safe from several threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def emit(self, kind: str, **fields: Any) -> None:
        line = {"k": kind, "pid": os.getpid(), "t": time.time(), **fields}
        os.write(self._fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())

    def close(self) -> None:
        os.close(self._fd)


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the history."""

    kind: str
    pid: int
    t: float
    job: str = ""
    token: int = 0
    attempt: int = 0
    ok: bool = True
    redis_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


_FIELDS = frozenset({"k", "pid", "t", "job", "token", "attempt", "ok", "redis_ms"})


def _event(raw: dict[str, Any]) -> Event:
    return Event(
        kind=str(raw["k"]),
        pid=int(raw["pid"]),
        t=float(raw["t"]),
        job=str(raw.get("job", "")),
        token=int(raw.get("token", 0)),
        attempt=int(raw.get("attempt", 0)),
        ok=bool(raw.get("ok", True)),
        redis_ms=int(raw.get("redis_ms", 0)),
        extra={k: v for k, v in raw.items() if k not in _FIELDS},
    )


def read_history(directory: Path) -> list[Event]:
    """Every event of every file in `directory`; a line cut by a SIGKILL is skipped."""
    out: list[Event] = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                out.append(_event(json.loads(line)))
            except (ValueError, KeyError):
                continue
    return out


def of_kind(events: list[Event], *kinds: str) -> list[Event]:
    """The events of the given kinds, in file order."""
    wanted = set(kinds)
    return [e for e in events if e.kind in wanted]
