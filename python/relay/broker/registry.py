"""The queue registry (`relay:queues`): which queues a process registered, and when.

The registry can be lost while producers run (a Redis restart without persistence, a failover
to a replica that missed the write, FLUSHALL). A process therefore never trusts for long that
it registered a queue: it registers it again once `REFRESH_S` has passed, so a lost registry
heals within seconds of the next enqueue, at one SADD per queue per `REFRESH_S` per process.
"""

from __future__ import annotations

import time

REFRESH_S = 5.0


class Registrations:
    """Queues registered by this process, each good for `refresh_s` seconds."""

    def __init__(self, refresh_s: float = REFRESH_S) -> None:
        self._refresh_s = refresh_s
        self._at: dict[str, float] = {}

    def due(self, queue: str) -> bool:
        """True when `queue` was never registered here, or not for `refresh_s`."""
        at = self._at.get(queue)
        return at is None or time.monotonic() - at >= self._refresh_s

    def done(self, queue: str) -> None:
        """Note that `queue` was registered just now."""
        self._at[queue] = time.monotonic()
