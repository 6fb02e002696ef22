"""Running claimed jobs: `concurrency` slots, per-job timeouts, outcomes to the completions.

Each slot is a long-lived task that takes jobs from one shared deque and awaits their handlers
one after another. No task is created per job: a batch of handlers that never suspend runs in
one slot, straight through, at the cost of a function call each. When a handler suspends, a
spare slot picks up the next job: a slot that wakes to take a job first wakes two spares, so
a batch of jobs that wait on I/O has all `concurrency` slots busy within a few turns of the
event loop (doubling), while a batch of quick jobs costs just the two spare wake-ups.

While handlers are quick (a moving average under 5 ms), the runner claims ahead of its free
slots, about 100 ms of their work (at most 4x concurrency, at most one claim batch), so the
next claim is in flight while this batch runs, Redis and Python work at the same time, and
batches are large enough to spread the cost of a round trip; with slower handlers it claims
only for free slots, so no job waits on this worker while another could run it. Either way,
jobs not yet started go straight back to ready when the worker stops.

Timeouts cost nothing per job either: a watchdog looks at the slots every 50 ms and cancels
the task of a slot whose job ran past its deadline. A sync handler's thread cannot be killed:
its job is nacked with the timeout at once and its lease no longer kept, and its slot stays
taken until the thread returns, so no more than `concurrency` handlers ever run.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections import deque
from time import perf_counter

from relay.job import Job
from relay.results import DEFAULT_MAX_RESULT_BYTES, result_record
from relay.worker import outcomes
from relay.worker.completions import Completions
from relay.worker.metrics import WorkerMetrics
from relay.worker.registry import Registry, Task
from relay.worker.threads import HandlerThreads

log = logging.getLogger("relay.worker")

WATCH_EVERY = 0.05
# Handlers quicker than this on average (about a round trip to Redis) get jobs claimed ahead:
# about PREFETCH_WORK_S of their work, at most 4x concurrency and one claim batch. Slower
# handlers never have jobs waiting behind them here while another worker could run them.
PREFETCH_BELOW_S = 0.005
PREFETCH_WORK_S = 0.1


class Slot:
    """One unit of concurrency and the job it is running."""

    __slots__ = ("cancelling", "detached", "expired", "job", "limit_ms", "task", "until")

    def __init__(self) -> None:
        self.job: Job | None = None
        self.until = math.inf  # perf_counter() time past which the job has timed out
        self.limit_ms = 0
        self.expired = False  # the watchdog found it past its deadline
        self.detached = False  # its outcome was already decided elsewhere: drop the result
        self.cancelling = False  # its job's cancel was asked for: the task is being cancelled
        self.task: asyncio.Task[None] | None = None


class Runner:
    """Runs jobs on `concurrency` slots and reports each outcome exactly once."""

    def __init__(
        self,
        registry: Registry,
        concurrency: int,
        completions: Completions,
        metrics: WorkerMetrics,
        batch_limit: int = 1000,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    ) -> None:
        self._registry = registry
        self._tasks = registry.by_type
        self.concurrency = concurrency
        self._done = completions
        self._metrics = metrics
        self._max_result = max_result_bytes
        self._threads = HandlerThreads(concurrency)
        self._slots = [Slot() for _ in range(concurrency)]
        self._pending: deque[Job] = deque()
        self._idle: deque[asyncio.Future[None]] = deque()
        self._spares = 0  # slots woken that have not yet looked at the deque
        self.load = 0  # jobs pending or occupying a slot
        self._mean_s = 1.0  # moving average of handler run time; starts "slow": no prefetch
        self._ahead = 0  # jobs claimed beyond the slots while handlers are quick
        self._ahead_cap = min(batch_limit, 4 * concurrency)
        self._finished = 0
        self._capacity = asyncio.Event()
        self._quiet = asyncio.Event()  # set when draining and no job runs any more
        self._draining = False
        self._stopping = False
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def free(self) -> int:
        """Jobs to claim now: free slots, plus some ahead while handlers are quick."""
        return self.concurrency + self._ahead - self.load

    def claim_size(self) -> int:
        """How many jobs to ask for now; with jobs claimed ahead, half the room at a time, so
        one claim is in flight while the last one's jobs run."""
        room = self.concurrency + self._ahead
        return min(room - self.load, max(self.concurrency, room // 2))

    def _update_ahead(self) -> None:
        mean = self._mean_s
        if mean >= PREFETCH_BELOW_S:
            self._ahead = 0
        else:  # about PREFETCH_WORK_S of work, within bounds
            self._ahead = min(self._ahead_cap, int(PREFETCH_WORK_S / max(mean, 1e-4)))

    def start(self) -> None:
        for i, slot in enumerate(self._slots):
            slot.task = asyncio.create_task(self._serve(slot), name=f"relay-slot-{i}")
        self._watchdog = asyncio.create_task(self._watch(), name="relay-watchdog")

    def tasks(self) -> list[asyncio.Task[None]]:
        out = [s.task for s in self._slots if s.task is not None]
        return out + ([self._watchdog] if self._watchdog else [])

    def dispatch(self, jobs: list[Job]) -> None:
        """Queue claimed jobs for the slots (the caller claimed no more than `free`)."""
        self._pending.extend(jobs)
        self.load += len(jobs)
        if not self._spares:
            self._wake_spares(1)

    async def wait_capacity(self) -> None:
        """Return once there is room to claim more."""
        while self.free <= 0:
            self._capacity.clear()
            await self._capacity.wait()

    # -- the slots ---------------------------------------------------------------------------

    def _wake_spares(self, n: int) -> None:
        idle = self._idle
        while n > 0 and idle:
            fut = idle.popleft()
            if not fut.done():
                fut.set_result(None)
                self._spares += 1
                n -= 1

    async def _serve(self, slot: Slot) -> None:
        pending = self._pending
        loop = asyncio.get_running_loop()
        fresh = False
        while True:
            if not pending:
                fut = loop.create_future()
                self._idle.append(fut)
                await fut
                self._spares -= 1
                fresh = True
                continue
            job = pending.popleft()
            if fresh:  # just woken: wake two more, so waking slots doubles each loop turn
                fresh = False
                more = min(2, len(pending) - self._spares)
                if more > 0:
                    self._wake_spares(more)
            try:
                await self._run(slot, job)
            finally:
                slot.job, slot.expired, slot.detached = None, False, False
                slot.cancelling = False
                self.load -= 1
                self._capacity.set()
                if self._draining:
                    self._check_quiet()

    def _check_quiet(self) -> None:
        if not self.running():
            self._quiet.set()

    async def _run(self, slot: Slot, job: Job) -> None:
        task = self._tasks.get(job.type)
        if task is None:
            self._finish_unknown(job)
            return
        if job.cancelled:  # cancelled before it started: never run it
            outcomes.log_failure(job, outcomes.cancelled(job), 0)
            self._done.nack(job.queue, outcomes.cancelled(job))
            return
        limit = task.effective_timeout_ms(job)
        slot.job, slot.limit_ms = job, limit
        started = perf_counter()
        slot.until = started + limit / 1000 if limit else math.inf
        try:
            if task.is_async:
                value = await task.handler(job)  # type: ignore[misc]
            else:
                value = _check_sync_result(await self._threads.submit(task.handler, job))
        except asyncio.CancelledError as exc:
            self._cancelled(slot, job, task, perf_counter() - started, exc)
        except Exception as exc:
            if not slot.detached:
                self._finish(job, task, perf_counter() - started, exc)
        else:
            if not slot.detached:
                self._finish(job, task, perf_counter() - started, None, value)

    def _cancelled(
        self, slot: Slot, job: Job, task: Task, seconds: float, exc: asyncio.CancelledError
    ) -> None:
        me = asyncio.current_task()
        why = slot.expired or slot.cancelling or self._stopping
        ours = me is not None and me.cancelling() > 0 and why
        if not ours:  # raised inside the handler (it awaited something cancelled): a failure
            if not slot.detached:
                self._finish(job, task, seconds, exc)
        elif slot.cancelling and not slot.detached and not self._stopping:  # a job cancel
            assert me is not None
            me.uncancel()
            self._finish(job, task, seconds, exc)  # nack_for sees job.cancelled
        elif slot.expired and not slot.detached:  # the watchdog: the job timed out
            assert me is not None
            me.uncancel()
            self._finish(job, task, seconds, outcomes.HandlerTimeout(slot.limit_ms))
        else:
            raise exc  # the worker is stopping: its job was already released

    # -- outcomes ----------------------------------------------------------------------------

    def _finish(
        self,
        job: Job,
        task: Task,
        seconds: float,
        exc: BaseException | None,
        value: object = None,
    ) -> None:
        q = self._metrics.queues.get(job.queue) or self._metrics.queue(job.queue)
        s = q.types.get(job.type) or q.of(job.type)
        s.processed += 1
        s.duration.observe(seconds)
        self._mean_s += (seconds - self._mean_s) * 0.05
        self._finished += 1
        if not self._finished & 63:
            self._update_ahead()
        if exc is None:
            s.completed += 1
            if value is None:
                self._done.ack(job)
            else:
                self._done.ack(job, self._result(job, value))
            return
        nack = outcomes.nack_for(task, job, exc)
        self._count_nack(job, nack.mode.value)
        outcomes.log_failure(job, nack, task.attempt_cap(job))
        self._done.nack(job.queue, nack)

    def _result(self, job: Job, value: object) -> bytes:
        record, why = result_record(value, self._max_result)
        if why:
            log.warning(
                "result not kept queue=%s type=%s id=%s: %s", job.queue, job.type, job.id, why
            )
        return record

    def cancel(self, job: Job) -> None:
        """`job`'s cancel was asked for (job.cancelled is already true): cancel its task when
        an async handler runs it; a sync handler sees job.cancelled; a job not yet started is
        never run."""
        for slot in self._slots:
            if slot.job is job and not slot.detached and not slot.cancelling:
                task = self._registry.get(job.type)
                if task is not None and task.is_async and slot.task is not None:
                    slot.cancelling = True
                    slot.task.cancel()
                return

    def _count_nack(self, job: Job, mode: str) -> None:
        s = self._metrics.queue(job.queue).of(job.type)
        if mode == "cancel":
            return
        if mode != "later":
            s.failed += 1
        if mode == "dead":
            s.dead += 1
        else:
            s.retried += 1

    def _finish_unknown(self, job: Job) -> None:
        s = self._metrics.queue(job.queue).of(job.type)
        s.processed += 1
        nack = outcomes.unknown_type(job)
        self._count_nack(job, "dead")
        outcomes.log_failure(job, nack, job.max_attempts)
        self._done.nack(job.queue, nack)

    # -- timeouts ----------------------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY)
            now = perf_counter()
            for slot in self._slots:
                if slot.job is not None and not slot.expired and slot.until <= now:
                    self._expire(slot, slot.job)

    def _expire(self, slot: Slot, job: Job) -> None:
        slot.expired = True
        task = self._registry.get(job.type)
        if task is None or task.is_async:
            assert slot.task is not None
            slot.task.cancel()
            return
        # A thread cannot be cancelled: settle the job now, keep the slot until it returns.
        slot.detached = True
        timeout = outcomes.HandlerTimeout(slot.limit_ms, thread_left_running=True)
        self._finish(job, task, slot.limit_ms / 1000, timeout)
        if self._draining:
            self._check_quiet()

    # -- stopping ----------------------------------------------------------------------------

    def release_pending(self) -> list[Job]:
        """Take back the jobs no slot has started; the caller returns them to the queue."""
        jobs = list(self._pending)
        self._pending.clear()
        self.load -= len(jobs)
        self._capacity.set()
        return jobs

    async def drained(self) -> None:
        """Return once no slot runs a job whose outcome is still open (bound it with a timeout)."""
        self._draining = True
        if self.running():
            self._quiet.clear()
            await self._quiet.wait()

    def running(self) -> int:
        return sum(1 for s in self._slots if s.job is not None and not s.detached)

    async def stop(self) -> list[Job]:
        """Cancel every slot; the jobs still running, for the caller to release."""
        self._stopping = True
        left: list[Job] = []
        for slot in self._slots:
            if slot.job is not None and not slot.detached:
                left.append(slot.job)
                slot.detached = True
        tasks = self.tasks()
        for t in tasks:
            t.cancel()
        if tasks:  # a handler may swallow the cancellation: do not wait for it forever
            await asyncio.wait(tasks, timeout=1.0)
        self._threads.close()
        return left


def _check_sync_result(result: object) -> object:
    if result is not None and inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError("a sync handler returned an awaitable; declare the handler `async def`")
    return result
