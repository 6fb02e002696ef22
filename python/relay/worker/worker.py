"""The worker's lifecycle: start the loops, claim → run → ack, stop cleanly on request.

Idle, a worker sends Redis one BLPOP per 4 s plus a reap and a promote per queue per second
(about 7 commands a second counting those the scripts run); see claimer.py for the claiming.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from relay.broker import Broker, Claimed
from relay.broker.connection import connect
from relay.config import BrokerSettings, redis_url_from_env
from relay.errors import ConfigError, RelayError
from relay.job import Job
from relay.keys import validate_queue_name
from relay.schedules.firing import declared_of
from relay.worker import outcomes
from relay.worker.claimer import IDLE_WAIT, Claimer
from relay.worker.completions import Completions, Ledger
from relay.worker.flows import ChildrenReader
from relay.worker.lease import Heartbeat, Upkeep
from relay.worker.metrics import WorkerMetrics
from relay.worker.outage import Connectivity
from relay.worker.registry import Registry
from relay.worker.runner import Runner

log = logging.getLogger("relay.worker")

FLUSH_TIMEOUT = 10.0  # how long a stopping worker keeps trying to deliver its last acks
STOP_TIMEOUT = 1.0  # how long a stopping worker waits for its upkeep loops to end


def redis_options(url: str) -> dict[str, Any]:
    """Connection options for a worker: bounded timeouts, one quick retry on a stale socket.

    A cluster client keeps the broker's own settings (tuned for failovers).
    """
    if urlsplit(url).scheme.endswith("+cluster"):
        return {}
    return {
        "socket_timeout": IDLE_WAIT + 6,
        "socket_connect_timeout": 2.0,
        "retry": RedisRetry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    }


def queue_tiers(queues: Sequence[str | Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    """Priority tiers from `["high", "normal,bulk"]` or `["high", ("normal", "bulk")]`."""
    tiers: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for entry in queues:
        names = entry.split(",") if isinstance(entry, str) else list(entry)
        tier = tuple(validate_queue_name(n.strip()) for n in names if n.strip())
        if not tier:
            raise ConfigError(f"empty queue list {entry!r}")
        if seen.intersection(tier):
            raise ConfigError(f"queue listed twice: {sorted(seen.intersection(tier))}")
        seen.update(tier)
        tiers.append(tier)
    if not tiers:
        raise ConfigError("a worker needs at least one queue")
    return tuple(tiers)


class Worker:
    """Runs the handlers of `registry` on jobs from `queues` until stopped.

    Args:
        registry: The job types this worker can run.
        queues: Queue names in priority order; a comma-separated string or a tuple makes a tier
            of equal priority served round-robin.
        concurrency: Jobs run at once (async handlers on the loop, sync ones in threads).
        redis_url: Redis to use (default: RELAY_REDIS_URL, then localhost).
        visibility: Lease length in seconds; the heartbeat renews it every third of that.
        shutdown_grace: Seconds running jobs get to finish once a stop is requested.
        settings: Broker settings (batch limit, crash limit, retention).
        metrics_port: Serve Prometheus metrics on this port...
        metrics_host: ...and this address.
    """

    def __init__(
        self,
        registry: Registry,
        queues: Sequence[str | Sequence[str]] = ("default",),
        *,
        concurrency: int = 64,
        redis_url: str | None = None,
        visibility: float = 30.0,
        shutdown_grace: float = 30.0,
        settings: BrokerSettings | None = None,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
    ) -> None:
        if not 1 <= concurrency <= 100_000:
            raise ConfigError(f"concurrency must be 1..100000, got {concurrency}")
        if not 0.1 <= visibility <= 86_400:
            raise ConfigError(f"visibility must be 0.1 s to 1 day, got {visibility}")
        if shutdown_grace < 0:
            raise ConfigError("shutdown grace must be >= 0")
        self.tiers = queue_tiers(queues)
        self.queues = [q for tier in self.tiers for q in tier]
        self.registry = registry
        self.concurrency = concurrency
        self.lease_ms = round(visibility * 1000)
        self.shutdown_grace = shutdown_grace
        self._url = redis_url_from_env(redis_url)
        self._settings = settings or BrokerSettings()
        self._metrics_port = metrics_port
        self._metrics_host = metrics_host
        self.wait_name = f"relay-worker-{os.getpid()}-{secrets.token_hex(4)}"
        # Who holds a job, as the job browser shows it (the run record's worker field).
        self.name = f"{socket.gethostname()}/{self.wait_name}"
        self.broker = self._make_broker()
        self.broker.settler.background = True  # flows: outbox entries beside the next acks
        self.conn = Connectivity()
        self.ledger = Ledger()
        self.metrics = WorkerMetrics(lambda: len(self.ledger), lambda: self.conn.up)
        reap_every = min(1.0, max(0.1, visibility / 4))
        self.upkeep = Upkeep(self.broker, self.queues, reap_every, self.conn)
        self.upkeep.schedules.declare(
            declared_of(registry.schedules), registry.unscheduled, self.queues[0]
        )
        self.metrics.registry.register(self.upkeep.schedules.collector())
        self.completions = Completions(
            self.broker, self.ledger, self.conn, self.metrics, self.upkeep.promote_soon
        )
        s = self._settings
        self.runner = Runner(
            registry, concurrency, self.completions, self.metrics, s.batch_limit, s.max_result_bytes
        )
        self.heartbeat = Heartbeat(
            self._make_broker, self.ledger, self.lease_ms, self.conn, self.metrics, self._cancel
        )
        self.claimer = Claimer(
            self.broker,
            self.tiers,
            self.lease_ms,
            self.runner.claim_size,
            self.runner.wait_capacity,
            self._accept,
            self.conn,
            wait_name=self.wait_name if self.broker.can_wait_then_claim else "",
            worker_name=self.name,
            on_empty_wake=lambda: self.upkeep.promote_soon(0),
        )
        self._stop_requested = asyncio.Event()
        self._stopping = False
        self._fatal: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: ChildrenReader | None = None

    def _make_broker(self) -> Broker:
        opts = redis_options(self._url)
        if opts:  # one Redis: name the connections, so a stop can CLIENT UNBLOCK the idle wait
            opts["client_name"] = self.wait_name
        return Broker(connect(self._url, **opts), self._settings)

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> int:
        """Work until `stop()`; returns 0 after a clean stop, 1 if the worker itself failed."""
        self._loop = asyncio.get_running_loop()
        if self._metrics_port is not None:
            self.metrics.serve(self._metrics_port, self._metrics_host)
        self.heartbeat.start()
        self.runner.start()
        claimer = self._spawn(self._claim_loop(), "relay-claimer")
        others = [
            self._spawn(self.completions.run(), "relay-flusher"),
            self._spawn(self.upkeep.reaper(), "relay-reaper"),
            self._spawn(self.upkeep.promoter(), "relay-promoter"),
        ]
        for t in self.runner.tasks():
            t.add_done_callback(self._on_task_done)
        log.info(
            "worker started pid=%d queues=%s concurrency=%d visibility=%gs types=%d",
            os.getpid(),
            "|".join(",".join(t) for t in self.tiers),
            self.concurrency,
            self.lease_ms / 1000,
            len(self.registry),
        )
        await self._stop_requested.wait()
        await self._shutdown(claimer, others)
        return 1 if self._fatal is not None else 0

    def stop(self) -> None:
        """Ask for a graceful stop; safe to call from any thread (e.g. a signal handler)."""
        loop = self._loop
        if loop is None:
            self._stop_requested.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._stop_requested.set)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._on_task_done)
        return task

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stopping:
            return
        exc = task.exception()
        if exc is not None and self._fatal is None:
            self._fatal = exc
            log.critical("worker task %s failed; stopping", task.get_name(), exc_info=exc)
            self._stop_requested.set()

    async def _shutdown(
        self, claimer: asyncio.Task[None], others: list[asyncio.Task[None]]
    ) -> None:
        self._stopping = self.claimer.stopping = True
        if not self.claimer.claiming:  # never cut a claim short: its jobs would wait the lease
            claimer.cancel()
        else:  # an idle wait with claims behind it: end it, its claims come back and are released
            await self.claimer.interrupt()
        self._release(self.runner.release_pending())
        running = self.runner.running()
        if running:
            log.info("stopping: waiting up to %gs for %d jobs", self.shutdown_grace, running)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.shutdown_grace):
                    await self.runner.drained()
        left = await self.runner.stop()
        if left:
            log.warning("grace period over: released %d running jobs back to ready", len(left))
        self._release(left)
        await asyncio.wait([claimer], timeout=FLUSH_TIMEOUT)
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT):
                await self.completions.drain()
        except TimeoutError:
            log.warning(
                "Redis did not confirm %d acks/nacks; those jobs come back after their lease",
                self.completions.pending(),
            )
        await self._end(others)
        await asyncio.to_thread(self.heartbeat.stop)
        await self.broker.close()
        log.info("worker stopped")

    def _cancel(self, job: Job) -> None:
        """From the heartbeat's thread: `job`'s cancel was asked for."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.runner.cancel, job)

    async def _end(self, tasks: list[asyncio.Task[None]]) -> None:
        """End the flusher, reaper and promoter. The upkeep loops are told to stop as well as
        cancelled, and the wait for them is bounded: a cancel once got lost in the promoter,
        and the idle worker it belonged to never exited."""
        self.upkeep.stop()
        for t in tasks:
            t.cancel()
        _, stuck = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
        for t in stuck:
            log.warning("task %s did not stop; exiting without it", t.get_name())

    def _children_reader(self) -> ChildrenReader:
        if self._reader is None:
            self._reader = ChildrenReader(self.broker, asyncio.get_running_loop())
        return self._reader

    def _release(self, jobs: list[Job]) -> None:
        for job in jobs:
            self.completions.nack(job.queue, outcomes.release(job))

    # -- claiming ---------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        with contextlib.suppress(RelayError):  # advisory; Redis may not be up yet
            await self.broker.check_eviction_policy()
        await self.claimer.run()

    def _accept(self, queue: str, got: Claimed) -> None:
        for u in got.undecodable:
            nack = outcomes.undecodable(u)
            stats = self.metrics.queue(queue).of("<undecodable>")
            stats.processed += 1
            stats.failed += 1
            stats.dead += 1
            log.warning("job failed queue=%s id=%s next=dead error=%r", queue, u.id, nack.error)
            self.completions.nack(queue, nack)
        jobs = got.jobs
        if not jobs:
            return
        if self._stopping:  # the stop came while this claim was in flight
            self._release(jobs)
            return
        self.ledger.held.update({j.id: j for j in jobs})
        wait = self.metrics.queue(queue).wait
        now_ms = got.now_ms
        report = self.heartbeat.report
        reader = self._children_reader()
        for j in jobs:
            wait.observe(max(0, now_ms - j.created_ms) / 1000)
            j._sink = report  # where job.progress() goes
            j._children = reader  # where job.children_results() reads (flows)
        self.runner.dispatch(jobs)
