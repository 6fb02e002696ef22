"""Applying flows' outbox entries after the call that wrote them (decision 0050).

A caller that must see the parent updated when its ack returns (the default: producers, the
HTTP server, tests) applies them in the call. A worker lets them run beside its next acks
(`background = True`): the outbox makes that safe, since an entry stays until it was applied,
and any worker's promoter replays what a crash left; an ack is then one round trip, as
without flows, and fan-in keeps up with plain jobs. The applied entries are deleted by the
worker's next ack of that queue (`take_applied`, one argument of the ack script), or after
FORGET_AFTER_S by one HDEL when no ack came: no round trip of their own while the worker is busy.
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
FORGET_AFTER_S = 0.2  # applied entries no ack took are deleted this late at most


class Settler:
    """Runs `flows.settle` for one broker, in the call or in the background. In the background,
    the entries of one queue that arrive while a settle runs are applied together by the next
    one (one flow_apply per parents' queue), and deleted with a later ack of the queue."""

    def __init__(self, perform: Callable[[Steps[Any]], Awaitable[Any]]) -> None:
        self._perform = perform
        self.background = False
        self._pending: dict[str, list[bytes]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._applied: dict[str, list[bytes]] = {}  # per queue: applied, not yet deleted
        self._forgetting: set[asyncio.Task[None]] = set()

    async def settle(self, s: Any, queue: str, written: list[bytes]) -> None:
        """Apply the entries a call wrote (`written`: its reply's child id, entry list)."""
        if not self.background:
            await self._perform(flows.settle(s, queue, written))
            return
        self._pending.setdefault(queue, []).extend(written)
        if queue not in self._tasks:
            self._tasks[queue] = asyncio.create_task(self._drain(s, queue))

    def take_applied(self, queue: str) -> bytes:
        """The applied entries of `queue` an ack deletes (space-separated ids; b"" = none)."""
        ids = self._applied.pop(queue, None)
        return b" ".join(ids) if ids else b""

    async def _drain(self, s: Any, queue: str) -> None:
        try:
            while batch := self._pending.pop(queue, None):
                try:
                    done = await self._perform(flows.settle(s, queue, batch, delete=False))
                except Exception:  # the promoters replay the entries
                    log.exception("applying flow outbox entries failed queue=%s", queue)
                    continue
                if done:  # 0: it failed, and the entries stay for the promoters' replay
                    if queue not in self._applied:
                        asyncio.get_running_loop().call_later(FORGET_AFTER_S, self._forget, queue)
                    self._applied.setdefault(queue, []).extend(batch[::2])
        finally:
            del self._tasks[queue]

    def _forget(self, queue: str) -> None:
        """No ack of `queue` took its applied entries in time: delete them with one HDEL."""
        ids = self._applied.pop(queue, None)
        if ids:
            task = asyncio.create_task(self._delete(queue, ids))
            self._forgetting.add(task)
            task.add_done_callback(self._forgetting.discard)

    async def _delete(self, queue: str, ids: list[bytes]) -> None:
        try:
            await self._perform(flows.forget(queue, ids))
        except Exception:  # left in the outbox: a promoter's replay changes nothing, then deletes
            log.warning("deleting applied flow outbox entries failed queue=%s", queue)

    async def settled(self) -> None:
        """Return once the settles running now have finished."""
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        """Let running settles finish, CLOSE_WAIT_S at most (the promoters replay the rest),
        then delete what they applied."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._tasks.values()), CLOSE_WAIT_S)
        for queue in list(self._applied):
            await self._delete(queue, self._applied.pop(queue))
        if self._forgetting:
            await asyncio.gather(*self._forgetting, return_exceptions=True)
