"""Acks and nacks, buffered and sent in batches; the ledger of jobs this worker holds.

Completions accumulate while a flush is in flight and go out together in the next one, so
batches grow with load by themselves (one ack call for a whole claimed batch of no-op jobs) and
an idle worker still acks within one round trip. On a Redis outage the buffer is kept and the
flush retried: acks and nacks are fenced by the claim token, so a retry is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from relay.broker import Broker, Nack, NackOutcome
from relay.errors import RedisUnavailable, ScriptError
from relay.job import Job
from relay.worker.metrics import WorkerMetrics
from relay.worker.outage import Connectivity, RetryDelay

log = logging.getLogger("relay.worker")
T = TypeVar("T")


class Ledger:
    """Jobs this worker holds, by id: claimed and not yet acked. The heartbeat reads it.

    `held` jobs are running or waiting to be acked; `sending` ones are in an ack or nack call
    right now. The heartbeat extends both, but reports a lost lease only for a `held` job:
    an extend that loses the race with its own ack is no loss.
    """

    def __init__(self) -> None:
        self.held: dict[str, Job] = {}
        self.sending: dict[str, Job] = {}

    def snapshot(self) -> list[Job]:
        """Every job whose lease must be kept (safe from another thread: C-level copies)."""
        return list(self.held.values()) + list(self.sending.values())

    def sending_out(self, jobs: list[Job]) -> None:
        """These jobs' acks or nacks are about to be sent."""
        held, sending = self.held, self.sending
        for j in jobs:
            if held.get(j.id) is j:  # not a newer claim of the same job by this worker
                sending[j.id] = held.pop(j.id)

    def sent(self, jobs: list[Job]) -> None:
        """Redis answered for these jobs (or gave up on them): they are no longer held."""
        sending = self.sending
        for j in jobs:
            if sending.get(j.id) is j:
                del sending[j.id]

    def keeps(self, job: Job) -> bool:
        """Whether `job`'s lease is still this worker's to keep (held, or being acked)."""
        return self.held.get(job.id) is job or self.sending.get(job.id) is job

    def holds(self, job: Job) -> bool:
        """Whether `job` (this very claim) is still held and not being acked."""
        return self.held.get(job.id) is job

    def __len__(self) -> int:
        return len(self.held) + len(self.sending)


class Completions:
    """Buffers acks and nacks per queue and flushes them in batches from one task."""

    def __init__(
        self,
        broker: Broker,
        ledger: Ledger,
        conn: Connectivity,
        metrics: WorkerMetrics,
        on_delayed: Callable[[int], None],
    ) -> None:
        self._broker = broker
        self._ledger = ledger
        self._conn = conn
        self._metrics = metrics
        self._on_delayed = on_delayed
        self._acks: defaultdict[str, list[tuple[Job, bytes]]] = defaultdict(list)
        self._nacks: defaultdict[str, list[Nack]] = defaultdict(list)
        self._dirty = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._chunk = broker.settings.batch_limit

    def ack(self, job: Job, result: bytes = b"") -> None:
        """Complete `job`, storing `result` (a record from relay.results; b"" for none)."""
        self._acks[job.queue].append((job, result))
        self._dirty.set()

    def nack(self, queue: str, nack: Nack) -> None:
        self._nacks[queue].append(nack)
        if nack.delay_ms > 0:
            self._on_delayed(nack.delay_ms)
        self._dirty.set()

    def pending(self) -> int:
        """Completions not yet confirmed by Redis."""
        return sum(map(len, self._acks.values())) + sum(map(len, self._nacks.values()))

    async def run(self) -> None:
        """Flush whenever something is buffered; runs until cancelled."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            self._idle.clear()
            try:
                await self._flush()
            finally:
                if not self._dirty.is_set():
                    self._idle.set()

    async def drain(self) -> None:
        """Return once everything buffered is confirmed by Redis (bound it with a timeout)."""
        while self.pending() or not self._idle.is_set():
            self._dirty.set()
            await self._idle.wait()
            await asyncio.sleep(0)

    async def _flush(self) -> None:
        acks, self._acks = self._acks, defaultdict(list)
        nacks, self._nacks = self._nacks, defaultdict(list)
        for queue, jobs in acks.items():
            for i in range(0, len(jobs), self._chunk):
                await self._send_acks(queue, jobs[i : i + self._chunk])
        for queue, items in nacks.items():
            for i in range(0, len(items), self._chunk):
                await self._send_nacks(queue, items[i : i + self._chunk])

    async def _send_acks(self, queue: str, acks: list[tuple[Job, bytes]]) -> None:
        jobs = [j for j, _ in acks]
        self._ledger.sending_out(jobs)
        held = [(j.id, j.token, r) for j, r in acks]
        ok, retried = await self._call(lambda: self._broker.ack(queue, held))
        self._ledger.sent(jobs)
        if ok is None:
            return
        stale = [j.id for j, good in zip(jobs, ok, strict=True) if not good]
        if stale:
            self._stale(queue, "ack", stale, retried)

    async def _send_nacks(self, queue: str, items: list[Nack]) -> None:
        held = self._ledger.held
        jobs = [j for n in items if (j := held.get(n.id)) is not None and j.token == n.token]
        self._ledger.sending_out(jobs)
        out, retried = await self._call(lambda: self._broker.nack(queue, items))
        self._ledger.sent(jobs)
        if out is None:
            return
        stale = [n.id for n, o in zip(items, out, strict=True) if o is NackOutcome.STALE]
        if stale:
            self._stale(queue, "nack", stale, retried)

    async def _call(self, send: Callable[[], Awaitable[T]]) -> tuple[T | None, bool]:
        """Send until Redis answers: (reply, whether it took more than one try).

        A ScriptError is not retried (it would fail the same way): the reply is None and the
        jobs come back through lease expiry, which keeps the at-least-once promise.
        """
        delay, retried = RetryDelay(), False
        while True:
            try:
                out = await send()
            except RedisUnavailable as exc:
                self._conn.failed(exc)
                retried = True
                await asyncio.sleep(delay.next())
                continue
            except ScriptError:
                log.exception("ack/nack failed; its jobs will come back after their lease")
                return None, retried
            self._conn.ok()
            return out, retried

    def _stale(self, queue: str, what: str, ids: Sequence[str], retried: bool) -> None:
        if retried:  # the first try may have landed before its reply was lost
            log.info("%d %ss after a reconnect were already applied or stale", len(ids), what)
            return
        self._metrics.queue(queue).stale_acks += len(ids)
        log.warning(
            "%s rejected as stale queue=%s count=%d ids=%s: the lease was lost, "
            "so the job was (or will be) run again by another worker",
            what,
            queue,
            len(ids),
            ",".join(ids[:10]),
        )
