"""Producer SDK over HTTP: `Client` (sync, stdlib http.client) and `AsyncClient` (aiohttp,
imported on first use, so a blocking service never loads it; it lives in relay.async_client
and is re-exported here).

Both speak the API of DESIGN.md § HTTP API, take the same job options as `Broker.enqueue`
(`JobOptions`), return typed results and raise a typed exception per error status. Calls are
retried on connection errors only when that is safe: always when the connection was refused
(nothing was sent), and otherwise only for requests that cannot duplicate work — reads, PUT and
DELETE, pause/resume, and enqueues whose every job carries an idempotency key.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from relay.browse import JobPage
from relay.faces import SyncFace
from relay.flows import Flow, FlowResult, FlowTree
from relay.http.calls import (
    HEALTH,
    QUEUES,
    Call,
    ClientOptions,
    backoff_s,
    batch_calls,
    bulk_call,
    cancel_call,
    dead_call,
    delete_dead_call,
    delete_job_call,
    delete_schedule_call,
    drive,
    enqueue_call,
    enqueue_flow_call,
    enqueue_result,
    get_flow_call,
    get_job_call,
    get_schedule_call,
    group_call,
    groups_call,
    job_action_call,
    jobs_call,
    list_schedules_call,
    pause_schedule_call,
    put_schedule_call,
    queue_op_call,
    rate_limit_call,
    requeue_call,
    result_waits,
    set_group_call,
    stats_call,
    trigger_schedule_call,
)
from relay.http.sdk_errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    QueueIsFull,
    ReplicasBehind,
    ServerError,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnknownSchedule,
)
from relay.job import JsonValue
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

if TYPE_CHECKING:
    pass

__all__ = [
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "Forbidden",
    "NotFound",
    "QueueIsFull",
    "ReplicasBehind",
    "ServerError",
    "TooLarge",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "UnknownSchedule",
]

T = TypeVar("T")


# -- the sync client -------------------------------------------------------------------------


class Client(SyncFace):
    """A synchronous producer client over stdlib http.client, on one keep-alive connection.

    The same calls as `SyncProducer` (and, awaited, `AsyncClient` and `Producer`), each one a
    `Call` of `relay.http.calls`; the same exceptions (the classes here subclass relay's).

    Thread-safe (calls take turns on the connection). Use one per thread for parallelism.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8080``.
        token: The bearer token, when the server requires one.
        timeout: Seconds to wait to connect and for each answer.
        retries: Extra attempts on connection errors, when a retry is safe (see module doc).
    """

    def __init__(
        self, base_url: str, token: str | None = None, *, timeout: float = 10.0, retries: int = 2
    ) -> None:
        self._o = ClientOptions(base_url, token, timeout, retries)
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, call: Call[T]) -> T:
        for attempt in range(1, self._o.retries + 2):
            try:
                with self._lock:
                    return self._once(call)
            except (ConnectionRefusedError, socket.gaierror, _StaleConnection):
                if attempt > self._o.retries:  # nothing was sent (or the server had closed
                    raise  # the idle connection unread): a retry is always safe
            except (OSError, http.client.HTTPException):
                if not call.safe_retry or attempt > self._o.retries:
                    raise
            time.sleep(backoff_s(attempt))
        raise AssertionError("unreachable")

    def _once(self, call: Call[T]) -> T:
        reused = self._conn is not None
        if self._conn is None:
            kind = (
                http.client.HTTPSConnection
                if self._o.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = kind(self._o.host, self._o.port, timeout=self._o.timeout)
        self._conn.timeout = self._o.timeout + call.wait_s  # a wait's answer comes later
        if self._conn.sock is not None:
            self._conn.sock.settimeout(self._conn.timeout)
        try:
            self._conn.request(call.method, call.target(self._o.prefix), call.body, self._o.headers)
            resp = self._conn.getresponse()
            body = resp.read()
        except (http.client.RemoteDisconnected, BrokenPipeError) as exc:
            self._drop()
            if reused:
                raise _StaleConnection(str(exc)) from exc
            raise
        except BaseException:
            self._drop()
            raise
        if resp.will_close:
            self._drop()
        return call.result(resp.status, body, resp.getheader("Retry-After"))

    def _enqueue_one(self, queue: str, spec: JobSpec, wait_replicas: int | None) -> EnqueueResult:
        return enqueue_result(self._send(enqueue_call(queue, spec, wait_replicas)))

    def _enqueue_ids(
        self, queue: str, specs: Sequence[JobSpec], wait_replicas: int | None
    ) -> list[str]:
        return [i for c in batch_calls(queue, specs, wait_replicas) for i in self._send(c).ids]

    def enqueue_flow(self, flow: Flow) -> FlowResult:
        """Enqueue a workflow (`relay.Flow`): jobs that wait for their children, in any
        queues, all written or none. The root's id and every job, parents first. A bad node
        raises ConfigError naming its path (`$.children[2].type`) before anything is written."""
        return self._send(enqueue_flow_call(flow))

    def get_flow(self, queue: str, job_id: str) -> FlowTree:
        """The whole flow `job_id` belongs to (any job of it), from its root down: each job
        with its queue, parent, state and type. JobNotFound when the job is unknown."""
        return self._send(get_flow_call(queue, job_id))

    def get_job(self, queue: str, job_id: str, wait_ms: int | None = None) -> JobInfo:
        """A job and its state (with its result, once completed); JobNotFound when unknown.
        With `wait_ms` (0 to 60,000) it answers as soon as the job is completed, dead or
        cancelled, or after `wait_ms` with its state then."""
        return self._send(get_job_call(queue, job_id, wait_ms))

    # -- results and cancellation ------------------------------------------------------------

    def result(self, queue: str, job_id: str, timeout: float | None = None) -> JsonValue:
        """What the job's handler returned, once the job completed, waiting for it at most
        `timeout` seconds (None: as long as it takes). JobFailed (with `last_error`) when it
        is dead, JobCancelled when cancelled, TimeoutError when `timeout` runs out first,
        JobNotFound when unknown."""
        return drive(result_waits(queue, job_id, timeout), self._send)

    def cancel(self, queue: str, job_id: str) -> CancelOutcome:
        """Cancel a job, for good (the cancel outlives restarts): `cancelled` when it was
        waiting (ready or delayed), `cancelling` when it is running (its worker stops it; it
        ends cancelled). JobFinished when it completed or is dead, JobNotFound when unknown."""
        return self._send(cancel_call(queue, job_id))

    # -- end of results and cancellation -----------------------------------------------------

    def stats(self, queue: str) -> QueueStats:
        """One queue's counts, totals, rate limit and pause flag; JobNotFound when unknown."""
        return self._send(stats_call(queue))

    def queues(self) -> list[QueueStats]:
        """Every queue's stats."""
        return self._send(QUEUES).queues

    def dead_jobs(self, queue: str, limit: int = 50, cursor: str | None = None) -> DeadPage:
        """A page of dead jobs, newest first; pass `next_cursor` for the next page."""
        return self._send(dead_call(queue, limit, cursor))

    def requeue(self, queue: str, job_id: str | None = None) -> int:
        """Move one dead job (or every one, when job_id is None) back to ready; how many."""
        return self._send(requeue_call(queue, job_id)).requeued

    def delete_dead(self, queue: str, job_id: str) -> None:
        """Delete one dead job for good; JobNotFound when it is not dead."""
        self._send(delete_dead_call(queue, job_id))

    def pause(self, queue: str) -> QueueStats:
        """Stop claims from the queue (enqueues still land); its stats."""
        return self._send(queue_op_call("POST", queue, "pause"))

    def resume(self, queue: str) -> QueueStats:
        """Let claims from the queue go on; its stats."""
        return self._send(queue_op_call("POST", queue, "resume"))

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
        return self._send(set_group_call(queue, group, weight, max_inflight, rate, burst))

    def group(self, queue: str, group: str) -> GroupStats:
        """One group of the queue: ready backlog, jobs in flight and limits."""
        return self._send(group_call(queue, group))

    def groups(self, queue: str, limit: int = 100) -> GroupPage:
        """The queue's groups, largest ready backlog first (at most `limit`)."""
        return self._send(groups_call(queue, limit))

    def set_rate_limit(self, queue: str, rate: float, burst: int) -> QueueStats:
        """Limit claims to `rate` jobs/s with bursts of `burst`; the queue's stats."""
        return self._send(rate_limit_call(queue, rate, burst))

    def clear_rate_limit(self, queue: str) -> QueueStats:
        """Remove the queue's rate limit; the queue's stats."""
        return self._send(queue_op_call("DELETE", queue, "rate-limit"))

    def _list_jobs(
        self,
        queue: str,
        state: str,
        limit: int,
        cursor: str | None,
        job_type: str | None,
        group: str | None,
    ) -> JobPage:
        return self._send(jobs_call(queue, state, limit, cursor, job_type, group))

    def promote_job(self, queue: str, job_id: str) -> int:
        """Run a delayed job now, keeping its priority; 1. JobStateConflict when it is no longer
        delayed, JobNotFound when unknown."""
        return self._send(job_action_call(queue, job_id, "promote")).changed

    def requeue_job(self, queue: str, job_id: str) -> int:
        """Move a dead job back to ready with fresh attempts; 1. JobStateConflict when it is no
        longer dead, JobNotFound when unknown."""
        return self._send(job_action_call(queue, job_id, "requeue")).changed

    def delete_job(self, queue: str, job_id: str, state: str | None = None) -> int:
        """Delete a ready, delayed or dead job for good (with `state`, only from there); 1.
        JobStateConflict when it is elsewhere, JobNotFound when unknown."""
        return self._send(delete_job_call(queue, job_id, state)).changed

    def promote_jobs(self, queue: str, job_type: str | None = None) -> int:
        """Run every delayed job (of `job_type`) now; how many moved. JobNotFound: no such queue."""
        return self._send(bulk_call(queue, "promote", "delayed", job_type)).changed

    def requeue_jobs(self, queue: str, job_type: str | None = None) -> int:
        """Requeue every dead job (of `job_type`); how many moved. JobNotFound: no such queue."""
        return self._send(bulk_call(queue, "requeue", "dead", job_type)).changed

    def delete_jobs(self, queue: str, state: str, job_type: str | None = None) -> int:
        """Delete every ready, delayed or dead job (of `job_type`) for good; how many went.
        JobNotFound: no such queue."""
        return self._send(bulk_call(queue, "delete", state, job_type)).changed

    def upsert_schedule(self, queue: str, schedule: Schedule) -> ScheduleInfo:
        """Create or replace a schedule (`relay.Schedule`); its stored view, with `next_run_at`.
        A bad cron, zone or field raises ConfigError naming it, before any I/O (nothing is
        stored); an unchanged timing keeps the planned next tick."""
        return self._send(put_schedule_call(queue, schedule))

    def get_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """One schedule with its state; ScheduleNotFound when there is none of that name."""
        return self._send(get_schedule_call(queue, name))

    def schedules(self, queue: str) -> list[ScheduleInfo]:
        """Every schedule of the queue with its state, sorted by name ([] when none)."""
        return self._send(list_schedules_call(queue)).schedules

    def delete_schedule(self, queue: str, name: str) -> None:
        """Delete a schedule (the jobs it enqueued stay); ScheduleNotFound when none."""
        self._send(delete_schedule_call(queue, name))

    def pause_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """Stop the schedule's ticks; its stored view. ScheduleNotFound when none."""
        return self._send(pause_schedule_call(queue, name, True))

    def resume_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """Let the schedule tick again, from now (no catch-up); its stored view.
        ScheduleNotFound when none."""
        return self._send(pause_schedule_call(queue, name, False))

    def trigger_schedule(self, queue: str, name: str) -> EnqueueResult:
        """Enqueue the schedule's job now, its ticks unchanged; the job's EnqueueResult.
        ScheduleNotFound when none."""
        return EnqueueResult(self._send(trigger_schedule_call(queue, name)).id, False)

    def health(self) -> bool:
        """True when the server, Redis and relay's scripts are all up (a producer checks Redis
        and the scripts: it has no server)."""
        try:
            return self._send(HEALTH).status == "ok"
        except (ApiError, OSError):
            return False


class _StaleConnection(ConnectionError):
    """A kept-alive connection was closed by the server before it read the request."""


from relay.async_client import AsyncClient  # noqa: E402 - re-exported: relay.client has both
