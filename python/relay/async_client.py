"""Producer SDK over HTTP, asyncio: `AsyncClient` (aiohttp, imported on first use). Its
blocking twin `Client`, the retry rules and the errors are in `relay.client`."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from relay.browse import JobPage
from relay.faces import AsyncFace
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
    drive_async,
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
    import aiohttp

T = TypeVar("T")
_INLINE_BODY = 1 << 20  # bytes; a larger body goes to aiohttp as a stream


# -- the async client ------------------------------------------------------------------------


class AsyncClient(AsyncFace):
    """An asyncio producer client over aiohttp (one session, pooled connections).

    The same calls as `Producer` (and, without await, `Client` and `SyncProducer`).

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8080``.
        token: The bearer token, when the server requires one.
        timeout: Seconds to wait for each call.
        retries: Extra attempts on connection errors, when a retry is safe (see module doc).
        connections: Most connections kept to the server at once.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        connections: int = 100,
    ) -> None:
        self._o = ClientOptions(base_url, token, timeout, retries)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        import aiohttp  # noqa: PLC0415 - only AsyncClient needs it: `import relay.client` stays light

        if self._session is None:
            self._session = aiohttp.ClientSession(
                base_url=f"{self._o.scheme}://{self._o.host}:{self._o.port}",
                headers=self._o.headers,
                timeout=aiohttp.ClientTimeout(total=self._o.timeout),
                connector=aiohttp.TCPConnector(limit=self._connections),
            )
        return self._session

    async def _send(self, call: Call[T]) -> T:
        import asyncio  # noqa: PLC0415 - as in _http

        import aiohttp  # noqa: PLC0415 - as in _http

        for attempt in range(1, self._o.retries + 2):
            try:
                return await self._once(call)
            except aiohttp.ClientConnectorError:
                if attempt > self._o.retries:  # could not connect: nothing was sent
                    raise
            except (TimeoutError, aiohttp.ClientError):
                if not call.safe_retry or attempt > self._o.retries:
                    raise
            await asyncio.sleep(backoff_s(attempt))
        raise AssertionError("unreachable")

    async def _once(self, call: Call[T]) -> T:
        # aiohttp warns (and writes in one go) a bytes body over 1 MiB; a stream it writes
        # in chunks. A batch of 1000 jobs is often that large.
        body = call.body
        data = io.BytesIO(body) if body is not None and len(body) > _INLINE_BODY else body
        import aiohttp  # noqa: PLC0415 - as in _http

        more: dict[str, Any] = {}  # a wait's answer comes later: a longer timeout for it
        if call.wait_s:
            more["timeout"] = aiohttp.ClientTimeout(total=self._o.timeout + call.wait_s)
        async with self._http().request(
            call.method, call.target(self._o.prefix), data=data, **more
        ) as resp:
            body = await resp.read()
            return call.result(resp.status, body, resp.headers.get("Retry-After"))

    async def _enqueue_one(
        self, queue: str, spec: JobSpec, wait_replicas: int | None
    ) -> EnqueueResult:
        return enqueue_result(await self._send(enqueue_call(queue, spec, wait_replicas)))

    async def _enqueue_ids(
        self, queue: str, specs: Sequence[JobSpec], wait_replicas: int | None
    ) -> list[str]:
        batches = batch_calls(queue, specs, wait_replicas)
        return [i for call in batches for i in (await self._send(call)).ids]

    async def enqueue_flow(self, flow: Flow) -> FlowResult:
        """Enqueue a workflow (`relay.Flow`): jobs that wait for their children, in any
        queues, all written or none. The root's id and every job, parents first. A bad node
        raises ConfigError naming its path (`$.children[2].type`) before anything is written."""
        return await self._send(enqueue_flow_call(flow))

    async def get_flow(self, queue: str, job_id: str) -> FlowTree:
        """The whole flow `job_id` belongs to (any job of it), from its root down: each job
        with its queue, parent, state and type. JobNotFound when the job is unknown."""
        return await self._send(get_flow_call(queue, job_id))

    async def get_job(self, queue: str, job_id: str, wait_ms: int | None = None) -> JobInfo:
        """A job and its state (with its result, once completed); JobNotFound when unknown.
        With `wait_ms` (0 to 60,000) it answers as soon as the job is completed, dead or
        cancelled, or after `wait_ms` with its state then."""
        return await self._send(get_job_call(queue, job_id, wait_ms))

    # -- results and cancellation ------------------------------------------------------------

    async def result(self, queue: str, job_id: str, timeout: float | None = None) -> JsonValue:  # noqa: ASYNC109
        """What the job's handler returned, once the job completed, waiting for it at most
        `timeout` seconds (None: as long as it takes). JobFailed (with `last_error`) when it
        is dead, JobCancelled when cancelled, TimeoutError when `timeout` runs out first,
        JobNotFound when unknown."""
        return await drive_async(result_waits(queue, job_id, timeout), self._send)

    async def cancel(self, queue: str, job_id: str) -> CancelOutcome:
        """Cancel a job, for good (the cancel outlives restarts): `cancelled` when it was
        waiting (ready or delayed), `cancelling` when it is running (its worker stops it; it
        ends cancelled). JobFinished when it completed or is dead, JobNotFound when unknown."""
        return await self._send(cancel_call(queue, job_id))

    # -- end of results and cancellation -----------------------------------------------------

    async def stats(self, queue: str) -> QueueStats:
        """One queue's counts, totals, rate limit and pause flag; JobNotFound when unknown."""
        return await self._send(stats_call(queue))

    async def queues(self) -> list[QueueStats]:
        """Every queue's stats."""
        return (await self._send(QUEUES)).queues

    async def dead_jobs(self, queue: str, limit: int = 50, cursor: str | None = None) -> DeadPage:
        """A page of dead jobs, newest first; pass `next_cursor` for the next page."""
        return await self._send(dead_call(queue, limit, cursor))

    async def requeue(self, queue: str, job_id: str | None = None) -> int:
        """Move one dead job (or every one, when job_id is None) back to ready; how many."""
        return (await self._send(requeue_call(queue, job_id))).requeued

    async def delete_dead(self, queue: str, job_id: str) -> None:
        """Delete one dead job for good; JobNotFound when it is not dead."""
        await self._send(delete_dead_call(queue, job_id))

    async def pause(self, queue: str) -> QueueStats:
        """Stop claims from the queue (enqueues still land); its stats."""
        return await self._send(queue_op_call("POST", queue, "pause"))

    async def resume(self, queue: str) -> QueueStats:
        """Let claims from the queue go on; its stats."""
        return await self._send(queue_op_call("POST", queue, "resume"))

    async def set_group(
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
        return await self._send(set_group_call(queue, group, weight, max_inflight, rate, burst))

    async def group(self, queue: str, group: str) -> GroupStats:
        """One group of the queue: ready backlog, jobs in flight and limits."""
        return await self._send(group_call(queue, group))

    async def groups(self, queue: str, limit: int = 100) -> GroupPage:
        """The queue's groups, largest ready backlog first (at most `limit`)."""
        return await self._send(groups_call(queue, limit))

    async def set_rate_limit(self, queue: str, rate: float, burst: int) -> QueueStats:
        """Limit claims to `rate` jobs/s with bursts of `burst`; the queue's stats."""
        return await self._send(rate_limit_call(queue, rate, burst))

    async def clear_rate_limit(self, queue: str) -> QueueStats:
        """Remove the queue's rate limit; the queue's stats."""
        return await self._send(queue_op_call("DELETE", queue, "rate-limit"))

    async def _list_jobs(
        self,
        queue: str,
        state: str,
        limit: int,
        cursor: str | None,
        job_type: str | None,
        group: str | None,
    ) -> JobPage:
        return await self._send(jobs_call(queue, state, limit, cursor, job_type, group))

    async def promote_job(self, queue: str, job_id: str) -> int:
        """Run a delayed job now, keeping its priority; 1. JobStateConflict when it is no longer
        delayed, JobNotFound when unknown."""
        return (await self._send(job_action_call(queue, job_id, "promote"))).changed

    async def requeue_job(self, queue: str, job_id: str) -> int:
        """Move a dead job back to ready with fresh attempts; 1. JobStateConflict when it is no
        longer dead, JobNotFound when unknown."""
        return (await self._send(job_action_call(queue, job_id, "requeue"))).changed

    async def delete_job(self, queue: str, job_id: str, state: str | None = None) -> int:
        """Delete a ready, delayed or dead job for good (with `state`, only from there); 1.
        JobStateConflict when it is elsewhere, JobNotFound when unknown."""
        return (await self._send(delete_job_call(queue, job_id, state))).changed

    async def promote_jobs(self, queue: str, job_type: str | None = None) -> int:
        """Run every delayed job (of `job_type`) now; how many moved. JobNotFound: no such queue."""
        return (await self._send(bulk_call(queue, "promote", "delayed", job_type))).changed

    async def requeue_jobs(self, queue: str, job_type: str | None = None) -> int:
        """Requeue every dead job (of `job_type`); how many moved. JobNotFound: no such queue."""
        return (await self._send(bulk_call(queue, "requeue", "dead", job_type))).changed

    async def delete_jobs(self, queue: str, state: str, job_type: str | None = None) -> int:
        """Delete every ready, delayed or dead job (of `job_type`) for good; how many went.
        JobNotFound: no such queue."""
        return (await self._send(bulk_call(queue, "delete", state, job_type))).changed

    async def upsert_schedule(self, queue: str, schedule: Schedule) -> ScheduleInfo:
        """Create or replace a schedule (`relay.Schedule`); its stored view, with `next_run_at`.
        A bad cron, zone or field raises ConfigError naming it, before any I/O (nothing is
        stored); an unchanged timing keeps the planned next tick."""
        return await self._send(put_schedule_call(queue, schedule))

    async def get_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """One schedule with its state; ScheduleNotFound when there is none of that name."""
        return await self._send(get_schedule_call(queue, name))

    async def schedules(self, queue: str) -> list[ScheduleInfo]:
        """Every schedule of the queue with its state, sorted by name ([] when none)."""
        return (await self._send(list_schedules_call(queue))).schedules

    async def delete_schedule(self, queue: str, name: str) -> None:
        """Delete a schedule (the jobs it enqueued stay); ScheduleNotFound when none."""
        await self._send(delete_schedule_call(queue, name))

    async def pause_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """Stop the schedule's ticks; its stored view. ScheduleNotFound when none."""
        return await self._send(pause_schedule_call(queue, name, True))

    async def resume_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """Let the schedule tick again, from now (no catch-up); its stored view.
        ScheduleNotFound when none."""
        return await self._send(pause_schedule_call(queue, name, False))

    async def trigger_schedule(self, queue: str, name: str) -> EnqueueResult:
        """Enqueue the schedule's job now, its ticks unchanged; the job's EnqueueResult.
        ScheduleNotFound when none."""
        return EnqueueResult((await self._send(trigger_schedule_call(queue, name))).id, False)

    async def health(self) -> bool:
        """True when the server, Redis and relay's scripts are all up (a producer checks Redis
        and the scripts: it has no server)."""
        import aiohttp  # noqa: PLC0415 - as in _http

        try:
            return (await self._send(HEALTH)).status == "ok"
        except (TimeoutError, ApiError, aiohttp.ClientError):
            return False
