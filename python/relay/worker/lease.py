"""Leases: the heartbeat that keeps them (own thread, own connection), the reaper and promoter.

The heartbeat runs on its own thread with its own event loop and Redis connection, so nothing
a handler does can starve it: not a CPU-bound sync handler (the interpreter switches threads
every few ms), not an async handler that blocks the worker's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from relay.broker import Broker, Code
from relay.errors import RedisUnavailable, ScriptError
from relay.job import Job
from relay.schedules.firing import ScheduleFiring
from relay.worker.completions import Ledger
from relay.worker.metrics import WorkerMetrics
from relay.worker.outage import Connectivity, RetryDelay

log = logging.getLogger("relay.worker")

PROMOTE_MAX_SLEEP = 1.0  # a delayed job put there by someone else starts at most this late
PROGRESS_EVERY = 0.1  # progress goes to Redis at most this often (coalesced, per worker)
FLOW_UPKEEP_S = 5.0  # flows: a crash's outbox entries are replayed at most this late


class Heartbeat:
    """Extends the lease of every held job every `lease/3` from a thread of its own.

    Its replies carry the cancel flags (a job whose cancel was asked for is handed to
    `on_cancel`), and its extends carry the progress handlers report: between two beats,
    progress goes out on its own extend at most every PROGRESS_EVERY, for those jobs only.
    """

    def __init__(
        self,
        make_broker: Callable[[], Broker],
        ledger: Ledger,
        lease_ms: int,
        conn: Connectivity,
        metrics: WorkerMetrics,
        on_cancel: Callable[[Job], None] | None = None,
    ) -> None:
        self._make_broker = make_broker
        self._on_cancel = on_cancel
        self._lock = threading.Lock()
        self._progress: dict[Job, bytes] = {}  # reported, not yet sent
        self._poke = threading.Event()
        self._ledger = ledger
        self._lease_ms = lease_ms
        self._conn = conn
        self._metrics = metrics
        self._stop = threading.Event()
        self._lost: set[tuple[str, int]] = set()
        self._thread = threading.Thread(target=self._main, name="relay-heartbeat", daemon=True)
        self.beats = 0

    @property
    def interval(self) -> float:
        return self._lease_ms / 3000

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        self._thread.join(timeout=5)

    def report(self, job: Job, progress: bytes) -> None:
        """A handler's progress (any thread): sent within PROGRESS_EVERY, the latest only."""
        with self._lock:
            self._progress[job] = progress
        self._poke.set()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        broker = self._make_broker()
        next_beat = time.monotonic() + self.interval
        sent = 0.0
        try:
            while not self._stop.is_set():
                self._poke.wait(max(0.0, next_beat - time.monotonic()))
                now = time.monotonic()
                full = now >= next_beat
                if full:
                    next_beat = now + self.interval
                else:  # progress only: at most one extend per PROGRESS_EVERY
                    self._poke.clear()
                    if self._stop.wait(max(0.0, sent + PROGRESS_EVERY - now)):
                        break
                sent = time.monotonic()
                try:
                    loop.run_until_complete(self.beat(broker, progress_only=not full))
                except Exception:  # a bug here must not end the heartbeat: leases would lapse
                    log.exception("heartbeat failed; retrying at the next beat")
        finally:
            loop.run_until_complete(broker.close())
            loop.close()

    async def beat(self, broker: Broker, progress_only: bool = False) -> None:
        """Extend every held lease once (or only those with progress to send, which it
        carries); report the ones found lost, and those whose cancel was asked for."""
        with self._lock:
            progress, self._progress = self._progress, {}
        held = self._ledger.snapshot() if not progress_only else list(progress)
        by_queue: defaultdict[str, list[Job]] = defaultdict(list)
        for job in held:
            if (job.id, job.token) not in self._lost and self._ledger.keeps(job):
                by_queue[job.queue].append(job)
        if not by_queue:
            return  # nothing held, nothing asked: no news about Redis either
        chunk = broker.settings.batch_limit
        try:
            for queue, jobs in by_queue.items():
                for i in range(0, len(jobs), chunk):
                    part = jobs[i : i + chunk]
                    items = [(j.id, j.token, progress.get(j, b"")) for j in part]
                    codes = await broker.extend(queue, items, self._lease_ms)
                    self._check(queue, part, codes)
        except RedisUnavailable as exc:
            self._conn.failed(exc)
            return
        except ScriptError:
            log.exception("lease extension failed")
            return
        self._conn.ok()
        if progress_only:
            return
        self.beats += 1
        self._lost.intersection_update((j.id, j.token) for j in self._ledger.snapshot())

    def _check(self, queue: str, jobs: Sequence[Job], codes: Sequence[Code]) -> None:
        for job, code in zip(jobs, codes, strict=True):
            if code is Code.CANCEL and not job.cancelled:
                job._cancel = True  # the worker's side of Job's cancel flag
                if self._on_cancel is not None:
                    self._on_cancel(job)
            if code is not Code.STALE or not self._ledger.holds(job):
                continue
            self._lost.add((job.id, job.token))
            self._metrics.queue(queue).leases_lost += 1
            log.warning(
                "lease lost queue=%s type=%s id=%s: another worker may run it; "
                "this worker's ack will be rejected as stale",
                queue,
                job.type,
                job.id,
            )


class Upkeep:
    """The reaper and promoter loops; every worker runs them, the scripts make that safe."""

    def __init__(
        self,
        broker: Broker,
        queues: Sequence[str],
        reap_every: float,
        conn: Connectivity,
    ) -> None:
        self._broker = broker
        self._queues = list(queues)
        self._reap_every = reap_every
        self._conn = conn
        self._promote_at = 0.0
        self._flow_at = 0.0
        self._poke = asyncio.Event()
        self.schedules = ScheduleFiring(broker)  # fired from the promoter loop
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """End both loops now, wherever they wait (a stopping worker does not rely on
        cancelling them: a cancel that lands as a wait times out can be lost)."""
        self._stop.set()
        self._poke.set()

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the worker stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stop.wait()

    def promote_soon(self, delay_ms: int) -> None:
        """A job was delayed by `delay_ms`: make sure the promoter looks at it on time."""
        at = asyncio.get_running_loop().time() + delay_ms / 1000
        if at < self._promote_at:
            self._promote_at = at
            self._poke.set()

    async def reaper(self) -> None:
        """Take back expired leases (dead workers' jobs) every `reap_every` seconds."""
        delay = RetryDelay()
        while not self._stop.is_set():
            try:
                for q in self._queues:
                    await self._reap(q)
            except RedisUnavailable as exc:
                self._conn.failed(exc)
                await self._pause(delay.next())
                continue
            self._conn.ok()
            delay.reset()
            await self._pause(self._reap_every)

    async def _reap(self, queue: str) -> None:
        while True:
            r = await self._broker.reap(queue)
            if r.requeued or r.dead:
                log.info(
                    "reaped expired leases queue=%s requeued=%d dead=%d",
                    queue,
                    r.requeued,
                    r.dead,
                )
            if not r.more:
                return

    async def promoter(self) -> None:
        """Move due delayed jobs to ready; sleep until the next is due (at most 1 s)."""
        loop = asyncio.get_running_loop()
        delay = RetryDelay()
        while not self._stop.is_set():
            self._promote_at = math.inf  # hints arriving during the calls below count
            try:
                await self._flow_upkeep(loop.time())
                wait_ms = min(
                    [
                        min(await self._promote(q), await self.schedules.fire(q))
                        for q in self._queues
                    ]
                )
            except RedisUnavailable as exc:
                self._conn.failed(exc)
                await self._pause(delay.next())
                continue
            self._conn.ok()
            delay.reset()
            self._promote_at = min(self._promote_at, loop.time() + wait_ms / 1000)
            while (left := self._promote_at - loop.time()) > 0 and not self._stop.is_set():
                self._poke.clear()
                try:
                    async with asyncio.timeout(left):
                        await self._poke.wait()
                except TimeoutError:
                    break

    async def _flow_upkeep(self, now: float) -> None:
        """Flows: replay the outbox entries and intents a crash left (decision 0050), every
        FLOW_UPKEEP_S at most (one command per queue when there are none: idle stays cheap)."""
        if now < self._flow_at:
            return
        self._flow_at = now + FLOW_UPKEEP_S
        for q in self._queues:
            await self._broker.flow_upkeep(q)

    async def _promote(self, queue: str) -> int:
        """Promote what is due in `queue`; ms until its next delayed job (capped)."""
        cap = int(PROMOTE_MAX_SLEEP * 1000)
        while True:
            p = await self._broker.promote(queue)
            self.schedules.note(queue, p.tick_ms)
            if p.moved:
                log.debug("promoted %d in %s; the next is due in %d ms", p.moved, queue, p.wait_ms)
            if p.wait_ms < 0:
                return cap
            if p.wait_ms > 0 or p.moved == 0:
                return max(1, min(p.wait_ms, cap))
