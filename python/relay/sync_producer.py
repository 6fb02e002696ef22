"""SyncProducer: enqueue from synchronous code (a Django view, a Flask handler, a script).

The same jobs, options, scripts and errors as `Producer`, without an event loop: one blocking
round trip per call (per 1,000 jobs for `enqueue_many`). It is also the quickest way to send
single jobs from Python: redis-py's blocking client costs far less per call than its asyncio
client, and the command goes out already packed by the Rust core (`relay.broker.packed`).

A single Redis only (`redis://`, `rediss://`, `unix://`); for a Redis Cluster use `Producer`,
whose retries ride out a failover. A SyncProducer is safe to share between threads: each call
takes a connection from redis-py's pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from redis import Redis
from redis import exceptions as rexc

from relay.broker import calls, ops, packed
from relay.broker.connection import STALE_SOCKET, relay_error
from relay.broker.ops import check_replicas, enqueue_args, enqueue_reply, keysets, own_ids
from relay.broker.registry import Registrations
from relay.broker.scripts import SCRIPTS
from relay.browse import JobPage
from relay.config import BrokerSettings, redis_url_from_env
from relay.errors import ConfigError, RedisUnavailable, RelayError, ReplicationTimeout
from relay.faces import SyncFace
from relay.flows import Flow, FlowResult, FlowTree
from relay.job import JsonValue
from relay.keys import QUEUES_KEY
from relay.schedules.model import Schedule, ScheduleInfo
from relay.wire import (
    CancelOutcome,
    DeadPage,
    EnqueueResult,
    GroupPage,
    GroupStats,
    JobInfo,
    JobSpec,
    QueueStats,
)

T = TypeVar("T")


class SyncProducer(SyncFace):
    """Jobs straight into Redis, blocking: the same calls as `Producer` (without await),
    `Client` and `AsyncClient`, each defined once in `relay.broker.calls`.

    Args:
        client: A redis-py `redis.Redis` (blocking) client; see `from_url` to make one.
        settings: Limits and defaults (batch size, payload limit, `wait_replicas`, ...).
    """

    def __init__(self, client: Redis, settings: BrokerSettings | None = None) -> None:
        self.redis = packed.enable(client)
        self.settings = settings or BrokerSettings()
        self._registered = Registrations()
        self._owns = False

    @classmethod
    def from_url(
        cls, url: str | None = None, settings: BrokerSettings | None = None
    ) -> SyncProducer:
        """A producer on the Redis at `url` (default: RELAY_REDIS_URL, then localhost).

        Raises:
            ConfigError: A `redis+cluster://` URL (use `Producer`) or an unusable URL.
        """
        url = redis_url_from_env(url)
        if urlsplit(url).scheme.endswith("+cluster"):
            raise ConfigError(
                "SyncProducer talks to a single Redis; use relay.Producer for a Redis Cluster"
            )
        try:
            client = Redis.from_url(
                url, decode_responses=False, health_check_interval=15, socket_keepalive=True
            )
        except ValueError as exc:
            raise ConfigError(f"invalid Redis URL: {exc}") from exc
        producer = cls(client, settings)
        producer._owns = True
        return producer

    def close(self) -> None:
        """Close the Redis connections when this producer made them."""
        if self._owns:
            self.redis.close()

    def enqueue_flow(self, flow: Flow) -> FlowResult:
        """Enqueue a workflow (`relay.Flow`): jobs that wait for their children, in any
        queues, all written or none. The root's id and every job, parents first. A bad node
        raises ConfigError naming its path (`$.children[2].type`) before anything is written."""
        return self.perform(calls.enqueue_flow(self.settings, flow))

    def get_flow(self, queue: str, job_id: str) -> FlowTree:
        """The whole flow `job_id` belongs to (any job of it), from its root down: each job
        with its queue, parent, state and type. JobNotFound when the job is unknown."""
        return self.perform(calls.get_flow(self.settings, queue, job_id))

    def get_job(self, queue: str, job_id: str, wait_ms: int | None = None) -> JobInfo:
        """A job and its state (with its result, once completed); JobNotFound when unknown.
        With `wait_ms` (0 to 60,000) it answers as soon as the job is completed, dead or
        cancelled, or after `wait_ms` with its state then."""
        return self.perform(calls.get_job(self.settings, queue, job_id, wait_ms))

    # -- results and cancellation ------------------------------------------------------------

    def result(self, queue: str, job_id: str, timeout: float | None = None) -> JsonValue:
        """What the job's handler returned, once the job completed, waiting for it at most
        `timeout` seconds (None: as long as it takes). JobFailed (with `last_error`) when it
        is dead, JobCancelled when cancelled, TimeoutError when `timeout` runs out first,
        JobNotFound when unknown."""
        return self.perform(calls.result(self.settings, queue, job_id, timeout))

    def cancel(self, queue: str, job_id: str) -> CancelOutcome:
        """Cancel a job, for good (the cancel outlives restarts): `cancelled` when it was
        waiting (ready or delayed), `cancelling` when it is running (its worker stops it; it
        ends cancelled). JobFinished when it completed or is dead, JobNotFound when unknown."""
        return self.perform(calls.cancel(self.settings, queue, job_id))

    # -- end of results and cancellation -----------------------------------------------------

    def stats(self, queue: str) -> QueueStats:
        """One queue's counts, totals, rate limit and pause flag; JobNotFound when unknown."""
        return self.perform(calls.stats(self.settings, queue))

    def queues(self) -> list[QueueStats]:
        """Every queue's stats."""
        return self.perform(calls.queues(self.settings))

    def dead_jobs(self, queue: str, limit: int = 50, cursor: str | None = None) -> DeadPage:
        """A page of dead jobs, newest first; pass `next_cursor` for the next page."""
        return self.perform(calls.dead_jobs(self.settings, queue, limit, cursor))

    def requeue(self, queue: str, job_id: str | None = None) -> int:
        """Move one dead job (or every one, when job_id is None) back to ready; how many."""
        return self.perform(calls.requeue(self.settings, queue, job_id))

    def delete_dead(self, queue: str, job_id: str) -> None:
        """Delete one dead job for good; JobNotFound when it is not dead."""
        self.perform(calls.delete_dead(self.settings, queue, job_id))

    def pause(self, queue: str) -> QueueStats:
        """Stop claims from the queue (enqueues still land); its stats."""
        return self.perform(calls.pause(self.settings, queue))

    def resume(self, queue: str) -> QueueStats:
        """Let claims from the queue go on; its stats."""
        return self.perform(calls.resume(self.settings, queue))

    def set_group(
        self,
        queue: str,
        group: str,
        weight: int = 1,
        max_inflight: int | None = None,
        rate: float | None = None,
        burst: int | None = None,
    ) -> GroupStats:
        """Set a group's share and limits (fair scheduling): `weight` jobs per turn among the
        groups of a priority, at most `max_inflight` in flight, a token bucket of `rate` jobs/s
        with bursts of `burst`. A limit left out (None) is removed. The group's stats."""
        return self.perform(
            calls.set_group(self.settings, queue, group, weight, max_inflight, rate, burst)
        )

    def group(self, queue: str, group: str) -> GroupStats:
        """One group of the queue: ready backlog, jobs in flight and limits."""
        return self.perform(calls.group(self.settings, queue, group))

    def groups(self, queue: str, limit: int = 100) -> GroupPage:
        """The queue's groups, largest ready backlog first (at most `limit`)."""
        return self.perform(calls.groups(self.settings, queue, limit))

    def set_rate_limit(self, queue: str, rate: float, burst: int) -> QueueStats:
        """Limit claims to `rate` jobs/s with bursts of `burst`; the queue's stats."""
        return self.perform(calls.set_rate_limit(self.settings, queue, rate, burst))

    def clear_rate_limit(self, queue: str) -> QueueStats:
        """Remove the queue's rate limit; the queue's stats."""
        return self.perform(calls.clear_rate_limit(self.settings, queue))

    def _list_jobs(
        self,
        queue: str,
        state: str,
        limit: int,
        cursor: str | None,
        job_type: str | None,
        group: str | None,
    ) -> JobPage:
        return self.perform(
            calls.list_jobs(self.settings, queue, state, limit, cursor, job_type, group)
        )

    def promote_job(self, queue: str, job_id: str) -> int:
        """Run a delayed job now, keeping its priority; 1. JobStateConflict when it is no longer
        delayed, JobNotFound when unknown."""
        return self.perform(calls.promote_job(self.settings, queue, job_id))

    def requeue_job(self, queue: str, job_id: str) -> int:
        """Move a dead job back to ready with fresh attempts; 1. JobStateConflict when it is no
        longer dead, JobNotFound when unknown."""
        return self.perform(calls.requeue_job(self.settings, queue, job_id))

    def delete_job(self, queue: str, job_id: str, state: str | None = None) -> int:
        """Delete a ready, delayed or dead job for good (with `state`, only from there); 1.
        JobStateConflict when it is elsewhere, JobNotFound when unknown."""
        return self.perform(calls.delete_job(self.settings, queue, job_id, state))

    def promote_jobs(self, queue: str, job_type: str | None = None) -> int:
        """Run every delayed job (of `job_type`) now; how many moved. JobNotFound: no such queue."""
        return self.perform(calls.promote_jobs(self.settings, queue, job_type))

    def requeue_jobs(self, queue: str, job_type: str | None = None) -> int:
        """Requeue every dead job (of `job_type`); how many moved. JobNotFound: no such queue."""
        return self.perform(calls.requeue_jobs(self.settings, queue, job_type))

    def delete_jobs(self, queue: str, state: str, job_type: str | None = None) -> int:
        """Delete every ready, delayed or dead job (of `job_type`) for good; how many went.
        JobNotFound: no such queue."""
        return self.perform(calls.delete_jobs(self.settings, queue, state, job_type))

    def upsert_schedule(self, queue: str, schedule: Schedule) -> ScheduleInfo:
        """Create or replace a schedule (`relay.Schedule`); its stored view, with `next_run_at`.
        A bad cron, zone or field raises ConfigError naming it, before any I/O (nothing is
        stored); an unchanged timing keeps the planned next tick."""
        return self.perform(calls.upsert_schedule(self.settings, queue, schedule))

    def get_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """One schedule with its state; ScheduleNotFound when there is none of that name."""
        return self.perform(calls.get_schedule(self.settings, queue, name))

    def schedules(self, queue: str) -> list[ScheduleInfo]:
        """Every schedule of the queue with its state, sorted by name ([] when none)."""
        return self.perform(calls.schedules(self.settings, queue))

    def delete_schedule(self, queue: str, name: str) -> None:
        """Delete a schedule (the jobs it enqueued stay); ScheduleNotFound when none."""
        self.perform(calls.delete_schedule(self.settings, queue, name))

    def pause_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """Stop the schedule's ticks; its stored view. ScheduleNotFound when none."""
        return self.perform(calls.pause_schedule(self.settings, queue, name))

    def resume_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """Let the schedule tick again, from now (no catch-up); its stored view.
        ScheduleNotFound when none."""
        return self.perform(calls.resume_schedule(self.settings, queue, name))

    def trigger_schedule(self, queue: str, name: str) -> EnqueueResult:
        """Enqueue the schedule's job now, its ticks unchanged; the job's EnqueueResult.
        ScheduleNotFound when none."""
        return self.perform(calls.trigger_schedule(self.settings, queue, name))

    def health(self) -> bool:
        """True when Redis answers and has relay's scripts (over HTTP: the server too)."""
        return self.perform(calls.health(self.settings))

    def perform(self, steps: ops.Steps[T]) -> T:
        """Run a sans-I/O operation (relay.broker.calls, relay.broker.ops) with blocking I/O."""
        run = ops.Run(steps)
        step = run.start()
        while step is not None:
            try:
                reply = self._call(step.name, partial(self._step, step))
            except RelayError as exc:
                step = run.fail(exc)
            else:
                step = run.send(reply)
        return run.value  # type: ignore[return-value]  # set once the operation returned

    # -- internals ---------------------------------------------------------------------------

    def _step(self, step: ops.Step) -> Any:
        if isinstance(step, ops.Eval):
            return self._eval(step.name, step.keys, step.args)
        if isinstance(step, ops.Command):
            return self.redis.execute_command(*step.args)
        with self.redis.pipeline(transaction=True) as pipe:
            for command in step.commands:
                pipe.execute_command(*command)
            return pipe.execute()

    def _eval(self, name: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """EVALSHA, packed by the Rust core; on NOSCRIPT (a restart or flush), EVAL."""
        script = SCRIPTS[name]
        try:
            cmd = packed.packed(["EVALSHA", script.sha, script.nkeys, *keys, *args])
            return self.redis.execute_command(cmd)
        except rexc.NoScriptError:
            return self.redis.eval(script.source, script.nkeys, *keys, *args)

    def _enqueue_one(self, queue: str, spec: JobSpec, wait_replicas: int | None) -> EnqueueResult:
        return self._enqueue(queue, [spec], wait_replicas)[0]

    def _enqueue_ids(
        self, queue: str, specs: Sequence[JobSpec], wait_replicas: int | None
    ) -> list[str]:
        return [r.id for r in self._enqueue(queue, specs, wait_replicas)]

    def _enqueue(
        self, queue: str, specs: Sequence[JobSpec], wait_replicas: int | None
    ) -> list[EnqueueResult]:
        replicas = check_replicas(self.settings, wait_replicas)
        ks = keysets(queue)
        limit = self.settings.batch_limit
        chunks = [
            enqueue_args(self.settings, ks.keys.prefix, specs[i : i + limit])
            for i in range(0, len(specs), limit)
        ]
        if self._registered.due(queue):  # again every few seconds: a lost registry heals
            self._call("register", lambda: self.redis.sadd(QUEUES_KEY, queue))
            self._registered.done(queue)
        out: list[EnqueueResult] = []
        for start, args in zip(range(0, len(specs), limit), chunks, strict=True):
            try:
                reply, acked = self._call("enqueue", partial(self._run, ks, args, replicas))
            except RedisUnavailable as exc:
                # A stale pooled socket (Redis restarted): resend once on a fresh connection;
                # safe, as the enqueue is idempotent by id and our own ids are recognised below.
                if not isinstance(exc.__cause__, STALE_SOCKET):
                    raise
                reply, acked = self._call("enqueue", partial(self._run, ks, args, replicas))
            got = enqueue_reply(queue, specs, start, reply)
            # redis-py resends a command after a reset socket; an id this call generated can
            # only come back as a "duplicate" of that resend's first landing.
            mine = own_ids(args, specs[start : start + len(got)])
            out += [EnqueueResult(r.id, False) if r.duplicate and r.id in mine else r for r in got]
            if acked < replicas:
                timeout = self.settings.wait_timeout_ms
                raise ReplicationTimeout([r.id for r in got], acked, replicas, timeout)
        return out

    def _run(self, ks: ops.QueueKeySets, args: list[Any], replicas: int) -> tuple[Any, int]:
        """The enqueue script's reply and (with `replicas` > 0) how many replicas have it."""
        if replicas == 0:
            return self._eval("enqueue", ks.enqueue, args), 0
        script = SCRIPTS["enqueue"]
        head: list[Any] = ["EVALSHA", script.sha, script.nkeys, *ks.enqueue]
        # WAIT counts the connection's writes: run, fence (a write even when every job was a
        # duplicate; see connection.eval_then_wait) and WAIT on one connection, in one trip.
        for cmd in (packed.packed([*head, *args]), None):
            pipe = self.redis.pipeline(transaction=False)
            if cmd is None:
                pipe.eval(script.source, script.nkeys, *ks.enqueue, *args)
            else:
                pipe.execute_command(cmd)
            pipe.hincrby(ks.keys.stats, "enqueued", 0)
            pipe.execute_command("WAIT", replicas, self.settings.wait_timeout_ms)
            reply, _, acked = pipe.execute(raise_on_error=False)
            if isinstance(reply, rexc.NoScriptError) and cmd is not None:
                continue
            for r in (reply, acked):
                if isinstance(r, Exception):
                    raise r
            return reply, int(acked)
        raise rexc.NoScriptError("script enqueue: NOSCRIPT in reply to EVAL")

    def _call(self, name: str, op: Callable[[], T]) -> T:
        """`op()`, with Redis errors mapped to relay's (RedisUnavailable, ScriptError)."""
        try:
            return op()
        except (rexc.RedisError, OSError) as exc:
            err = relay_error(name, exc)
            if err is exc:
                raise
            raise err from exc
