"""Claiming: which queue to ask next, how many jobs to ask for, and waiting when there are none.

Queues come in priority tiers: every claim round starts at the first tier and moves to the
next only for the capacity the earlier tiers could not fill; queues within one tier take
turns being asked first (round-robin). A round asks for as many jobs as the runner has room
for (free slots, plus jobs claimed ahead for quick handlers; see runner.py), at most the
broker's batch limit; one claim is in flight at a time, so batches grow with load.

When no queue has work the claimer blocks on the queues' wake-up lists, which enqueue, nack,
promote and reap push to, and an idle worker sends one BLPOP per 4 s. On one Redis the claims
ride behind that BLPOP on the same connection (`Broker.wait_then_claim`): Redis runs them the
moment the BLPOP is served, so a job enqueued on an idle queue is claimed in the same instant
and reaches the worker in the wake-up's own reply, with no second round trip. A stopping worker
ends such a wait with CLIENT UNBLOCK (never a cancel, which could strand the claims' jobs
until their lease ran out). On a cluster the wake-up comes first and the claim follows.

A queue found paused is asked again every 2 s, a rate-limited one when its next
token is due, and a drained one every 60 s even without a wake-up (a safety net; a wake-up lost
with a worker that died holding it is pushed again by the next reap, within a second).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from relay.broker import Broker, Claimed
from relay.errors import RedisUnavailable
from relay.worker.outage import Connectivity, RetryDelay

log = logging.getLogger("relay.worker")

IDLE_WAIT = 4.0  # seconds per BLPOP on the wake-up lists (below every socket timeout)
PAUSED_RECHECK = 2.0
SAFETY_POLL = 60.0
INTERRUPT_WINDOW = 1.0  # seconds a stopping worker keeps trying to end its idle wait


class Claimer:
    """The claim loop of one worker; `accept` receives every claim's jobs."""

    def __init__(
        self,
        broker: Broker,
        tiers: tuple[tuple[str, ...], ...],
        lease_ms: int,
        claim_size: Callable[[], int],
        wait_capacity: Callable[[], Awaitable[None]],
        accept: Callable[[str, Claimed], None],
        conn: Connectivity,
        wait_name: str = "",
        worker_name: str = "",
        on_empty_wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._broker = broker
        self._tiers = tiers
        self._queues = [q for tier in tiers for q in tier]
        self._lease_ms = lease_ms
        self._claim_size = claim_size
        self._wait_capacity = wait_capacity
        self._accept = accept
        self._conn = conn
        self._rr = [0] * len(tiers)
        self._limited: dict[str, float] = {}  # rate-limited: not before the next token
        self._paused: dict[str, float] = {}  # paused: ask again then, or on a wake-up
        self._poll_at: dict[str, float] = {}  # drained: ask again by this time without a wake
        self.stopping = False
        self.claiming = False  # a claim is in flight: cancelling now could strand its jobs
        # The broker's connection name (redis-py client_name), for CLIENT UNBLOCK when stopping.
        self.wait_name = wait_name
        self.worker_name = worker_name  # stored with each claimed job: who holds it
        # A wake-up that brought no job announces a delayed job due sooner than the promoter
        # knew (enqueue.lua): the promoter is told to look now and sleep until its run_at.
        self._on_empty_wake = on_empty_wake

    async def run(self) -> None:
        """Claim until `stopping`; rides out Redis outages."""
        loop = asyncio.get_running_loop()
        delay = RetryDelay()
        woken = True  # ask every queue (not only the due ones) in the next round
        while not self.stopping:
            await self._wait_capacity()
            try:
                if await self._round(loop.time(), every_queue=woken):
                    woken = True
                    continue
                woken = self.stopping or await self._wait_for_work(loop.time())
            except RedisUnavailable as exc:
                self._conn.failed(exc)
                woken = True
                await asyncio.sleep(delay.next())
                continue
            self._conn.ok()
            delay.reset()

    async def _round(self, now: float, every_queue: bool) -> bool:
        """One claim per queue at most, by priority; whether to claim again at once."""
        for i, tier in enumerate(self._tiers):
            start = self._rr[i]
            self._rr[i] = (start + 1) % len(tier)
            for k in range(len(tier)):
                queue = tier[(start + k) % len(tier)]
                size = self._claim_size()
                if size <= 0 or self.stopping:
                    return True
                if not self._due(queue, now, every_queue):
                    continue
                want = min(size, self._broker.settings.batch_limit)
                if await self._claim(queue, want, now) == want:
                    return True
        return False

    def _due(self, queue: str, now: float, every_queue: bool) -> bool:
        until = self._limited.get(queue)
        if until is not None:
            # A wake-up asks a rate-limited queue again: the limit may be a group's (decision
            # 0053), and the wake-up a job of another group, which that limit must not hold up.
            if until > now and not every_queue:
                return False
            del self._limited[queue]
            return True
        until = self._paused.get(queue)
        if until is not None and (every_queue or until <= now):
            del self._paused[queue]  # a wake-up may mean it was resumed
            return True
        return every_queue or self._poll_at.get(queue, 0.0) <= now

    async def _claim(self, queue: str, want: int, now: float) -> int:
        """Claim up to `want` jobs from `queue` and pass them on; how many came."""
        self.claiming = True
        try:
            got = await self._broker.claim(queue, want, self._lease_ms, self.worker_name)
        finally:
            self.claiming = False
        return self._took(queue, want, now, got)

    def _took(self, queue: str, want: int, now: float, got: Claimed) -> int:
        """Note what one claim said about its queue, pass its jobs on; how many came."""
        if got.paused:
            self._paused[queue] = now + PAUSED_RECHECK
        elif got.wait_ms:
            self._limited[queue] = now + got.wait_ms / 1000
        n = len(got.jobs) + len(got.undecodable)
        log.debug("claimed %d of %d from %s", n, want, queue)
        if n < want:
            self._poll_at[queue] = now + SAFETY_POLL
        self._accept(queue, got)
        return n

    async def _wait_for_work(self, now: float) -> bool:
        """Block until a wake-up (True) or until some queue is due again (False)."""
        due = min(
            [*self._limited.values(), *self._paused.values(), *self._poll_at.values()],
            default=now + IDLE_WAIT,
        )
        timeout = min(IDLE_WAIT, max(0.0, due - now))
        if timeout < 0.005:
            return False
        size = self._claim_size()
        if size > 0 and self._broker.can_wait_then_claim:
            return await self._wait_then_claim(
                timeout, min(size, self._broker.settings.batch_limit)
            )
        woke = await self._broker.wait_for_work(self._queues, timeout)
        log.debug("idle wait of up to %.3fs ended: %s", timeout, woke or "timeout")
        if woke is not None:  # the claim comes after the wake-up here: let the promoter look too
            self._on_empty_wake()
        return woke is not None

    async def _wait_then_claim(self, wait_s: float, want: int) -> bool:
        """The idle wait with the claims riding behind it (one Redis): a job enqueued while
        this worker waits is claimed the moment its wake-up is popped, with no second round
        trip. Every queue is asked, in priority order (a rate-limited one too: see `_due`);
        True if woken or if any jobs came (claim again at once), False on a quiet timeout."""
        loop = asyncio.get_running_loop()
        asks = [(q, want) for q in self._queues]  # rate-limited too: see _due
        self.claiming = True
        try:
            woke, claims = await self._broker.wait_then_claim(
                self._queues, wait_s, asks, self._lease_ms, self.worker_name
            )
        finally:
            self.claiming = False
        log.debug("idle wait of up to %.3fs ended: %s", wait_s, woke or "timeout")
        now = loop.time()
        came = 0
        for queue, got in claims:
            if got is None:  # NOSCRIPT: scripts flushed during the wait; the next round reloads
                came += 1
                continue
            self._limited.pop(queue, None)
            self._paused.pop(queue, None)
            came += self._took(queue, want, now, got)
        if woke is not None and came == 0:
            self._on_empty_wake()
        return woke is not None or came > 0

    async def interrupt(self) -> None:
        """End an idle wait now (the worker is stopping); claims riding behind it still come
        back, and `accept` releases their jobs."""
        if not (self.wait_name and self._broker.can_wait_then_claim):
            return  # a cluster's waits hold no claims: cancelling them strands nothing
        loop = asyncio.get_running_loop()
        deadline = loop.time() + INTERRUPT_WINDOW
        while self.claiming and loop.time() < deadline:
            try:
                if await self._broker.unblock_waiter(self.wait_name):
                    return
            except Exception as exc:  # stopping must go on; the wait ends by itself
                log.debug("could not end the idle wait early: %r", exc)
                return
            await asyncio.sleep(0.02)  # the wait may not have reached Redis yet
