"""Riding out Redis outages: one log line per change of state, capped retry backoff."""

from __future__ import annotations

import logging
import random
import threading

from relay import _core

log = logging.getLogger("relay.worker")

RETRY_BASE_MS = 50
RETRY_CAP_MS = 2000


class Connectivity:
    """Whether Redis answers, as seen by every loop of one worker (thread-safe).

    Each loop reports failures and successes; only a change of state is logged, so an outage
    of any length costs two log lines: "redis unreachable, retrying" and "redis back".
    """

    def __init__(self) -> None:
        self._up = True
        self._lock = threading.Lock()
        self.outages = 0

    @property
    def up(self) -> bool:
        return self._up

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self._up:
                self._up = False
                self.outages += 1
                log.warning("redis unreachable, retrying: %s", exc)

    def ok(self) -> None:
        if self._up:  # the hot path: no lock while all is well
            return
        with self._lock:
            if not self._up:
                self._up = True
                log.warning("redis back")


class RetryDelay:
    """Delays between retries of one loop: exponential from 50 ms, capped at 2 s, jittered."""

    def __init__(self) -> None:
        self._attempt = 0

    def next(self) -> float:
        """Seconds to wait before the next try."""
        self._attempt += 1
        ms = _core.backoff_ms("exponential", RETRY_BASE_MS, RETRY_CAP_MS, self._attempt, 0.0)
        return ms / 1000 * (0.5 + random.random() / 2)

    def reset(self) -> None:
        self._attempt = 0
