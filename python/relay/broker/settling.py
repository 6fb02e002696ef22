"""Applying flows' outbox entries after the call that wrote them (decision 0050).

A caller that must see the parent updated when its ack returns (the default: producers, the
HTTP server, tests) applies them in the call. A worker lets them run beside its next acks
(`background = True`): the outbox makes that safe, since an entry stays until it was applied,
and any worker's promoter replays what a crash left; an ack is then one round trip, as
without flows, and fan-in keeps up with plain jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from relay.broker import flows
from relay.broker.ops import Steps

log = logging.getLogger("relay.broker")

CLOSE_WAIT_S = 5.0


class Settler:
    """Runs `flows.settle` for one broker, in the call or in the background. In the background,
    the entries of one queue that arrive while a settle runs are applied together by the next
    one (one flow_apply per parents' queue and one HDEL for all of them)."""

    def __init__(self, perform: Callable[[Steps[Any]], Awaitable[Any]]) -> None:
        self._perform = perform
        self.background = False
        self._pending: dict[str, list[bytes]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def settle(self, s: Any, queue: str, written: list[bytes]) -> None:
        """Apply the entries a call wrote (`written`: its reply's child id, entry list)."""
        if not self.background:
            await self._perform(flows.settle(s, queue, written))
            return
        self._pending.setdefault(queue, []).extend(written)
        if queue not in self._tasks:
            self._tasks[queue] = asyncio.create_task(self._drain(s, queue))

    async def _drain(self, s: Any, queue: str) -> None:
        try:
            while batch := self._pending.pop(queue, None):
                try:
                    await self._perform(flows.settle(s, queue, batch))
                except Exception:  # the promoters replay the entries
                    log.exception("applying flow outbox entries failed queue=%s", queue)
        finally:
            del self._tasks[queue]

    async def close(self) -> None:
        """Let running settles finish, CLOSE_WAIT_S at most (the promoters replay the rest)."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._tasks.values()), CLOSE_WAIT_S)
