"""Producer: enqueue straight into Redis from Python services inside the cluster (no HTTP hop)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from relay.broker import Broker, calls
from relay.broker.ops import Steps
from relay.browse import JobPage
from relay.config import BrokerSettings
from relay.faces import AsyncFace
from relay.flows import Flow, FlowResult, FlowTree
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

T = TypeVar("T")


class Producer(AsyncFace):
    """Jobs straight into Redis, asyncio: the same calls as `SyncProducer`, `Client` and
    `AsyncClient` (README, "One API, four faces"), each defined once in `relay.broker.calls`.

    Jobs take the same options (`JobOptions`) whichever way they travel, and every call takes
    the same arguments and raises the same errors, so moving a service from HTTP to direct
    Redis (or back) changes one constructor.

    Args:
        broker: The broker to enqueue through; see `from_url` to make one.
    """

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._owns = False

    @classmethod
    def from_url(cls, url: str | None = None, settings: BrokerSettings | None = None) -> Producer:
        """A producer on the Redis at `url` (default: RELAY_REDIS_URL, then localhost)."""
        producer = cls(Broker.from_url(url, settings))
        producer._owns = True
        return producer

    async def close(self) -> None:
        """Close the Redis connections when this producer made them."""
        if self._owns:
            await self.broker.close()

    async def _enqueue_one(
        self, queue: str, spec: JobSpec, wait_replicas: int | None
    ) -> EnqueueResult:
        [result] = await self.broker.enqueue_many(queue, [spec], wait_replicas=wait_replicas)
        return result

    async def _enqueue_ids(
        self, queue: str, specs: Sequence[JobSpec], wait_replicas: int | None
    ) -> list[str]:
        got = await self.broker.enqueue_many(queue, specs, wait_replicas=wait_replicas)
        return [r.id for r in got]

    async def enqueue_flow(self, flow: Flow) -> FlowResult:
        """Enqueue a workflow (`relay.Flow`): jobs that wait for their children, in any
        queues, all written or none. The root's id and every job, parents first. A bad node
        raises ConfigError naming its path (`$.children[2].type`) before anything is written."""
        return await self.perform(calls.enqueue_flow(self.settings, flow))

    async def get_flow(self, queue: str, job_id: str) -> FlowTree:
        """The whole flow `job_id` belongs to (any job of it), from its root down: each job
        with its queue, parent, state and type. JobNotFound when the job is unknown."""
        return await self.perform(calls.get_flow(self.settings, queue, job_id))

    async def get_job(self, queue: str, job_id: str, wait_ms: int | None = None) -> JobInfo:
        """A job and its state (with its result, once completed); JobNotFound when unknown.
        With `wait_ms` (0 to 60,000) it answers as soon as the job is completed, dead or
        cancelled, or after `wait_ms` with its state then."""
        return await self.perform(calls.get_job(self.settings, queue, job_id, wait_ms))

    # -- results and cancellation ------------------------------------------------------------

    async def result(self, queue: str, job_id: str, timeout: float | None = None) -> JsonValue:  # noqa: ASYNC109
        """What the job's handler returned, once the job completed, waiting for it at most
        `timeout` seconds (None: as long as it takes). JobFailed (with `last_error`) when it
        is dead, JobCancelled when cancelled, TimeoutError when `timeout` runs out first,
        JobNotFound when unknown."""
        return await self.perform(calls.result(self.settings, queue, job_id, timeout))

    async def cancel(self, queue: str, job_id: str) -> CancelOutcome:
        """Cancel a job, for good (the cancel outlives restarts): `cancelled` when it was
        waiting (ready or delayed), `cancelling` when it is running (its worker stops it; it
        ends cancelled). JobFinished when it completed or is dead, JobNotFound when unknown."""
        return await self.perform(calls.cancel(self.settings, queue, job_id))

    # -- end of results and cancellation -----------------------------------------------------

    async def stats(self, queue: str) -> QueueStats:
        """One queue's counts, totals, rate limit and pause flag; JobNotFound when unknown."""
        return await self.perform(calls.stats(self.settings, queue))

    async def queues(self) -> list[QueueStats]:
        """Every queue's stats."""
        return await self.perform(calls.queues(self.settings))

    async def dead_jobs(self, queue: str, limit: int = 50, cursor: str | None = None) -> DeadPage:
        """A page of dead jobs, newest first; pass `next_cursor` for the next page."""
        return await self.perform(calls.dead_jobs(self.settings, queue, limit, cursor))

    async def requeue(self, queue: str, job_id: str | None = None) -> int:
        """Move one dead job (or every one, when job_id is None) back to ready; how many."""
        return await self.perform(calls.requeue(self.settings, queue, job_id))

    async def delete_dead(self, queue: str, job_id: str) -> None:
        """Delete one dead job for good; JobNotFound when it is not dead."""
        await self.perform(calls.delete_dead(self.settings, queue, job_id))

    async def pause(self, queue: str) -> QueueStats:
        """Stop claims from the queue (enqueues still land); its stats."""
        return await self.perform(calls.pause(self.settings, queue))

    async def resume(self, queue: str) -> QueueStats:
        """Let claims from the queue go on; its stats."""
        return await self.perform(calls.resume(self.settings, queue))

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
        return await self.perform(
            calls.set_group(self.settings, queue, group, weight, max_inflight, rate, burst)
        )

    async def group(self, queue: str, group: str) -> GroupStats:
        """One group of the queue: ready backlog, jobs in flight and limits."""
        return await self.perform(calls.group(self.settings, queue, group))

    async def groups(self, queue: str, limit: int = 100) -> GroupPage:
        """The queue's groups, largest ready backlog first (at most `limit`)."""
        return await self.perform(calls.groups(self.settings, queue, limit))

    async def set_rate_limit(self, queue: str, rate: float, burst: int) -> QueueStats:
        """Limit claims to `rate` jobs/s with bursts of `burst`; the queue's stats."""
        return await self.perform(calls.set_rate_limit(self.settings, queue, rate, burst))

    async def clear_rate_limit(self, queue: str) -> QueueStats:
        """Remove the queue's rate limit; the queue's stats."""
        return await self.perform(calls.clear_rate_limit(self.settings, queue))

    async def _list_jobs(
        self,
        queue: str,
        state: str,
        limit: int,
        cursor: str | None,
        job_type: str | None,
        group: str | None,
    ) -> JobPage:
        return await self.perform(
            calls.list_jobs(self.settings, queue, state, limit, cursor, job_type, group)
        )

    async def promote_job(self, queue: str, job_id: str) -> int:
        """Run a delayed job now, keeping its priority; 1. JobStateConflict when it is no longer
        delayed, JobNotFound when unknown."""
        return await self.perform(calls.promote_job(self.settings, queue, job_id))

    async def requeue_job(self, queue: str, job_id: str) -> int:
        """Move a dead job back to ready with fresh attempts; 1. JobStateConflict when it is no
        longer dead, JobNotFound when unknown."""
        return await self.perform(calls.requeue_job(self.settings, queue, job_id))

    async def delete_job(self, queue: str, job_id: str, state: str | None = None) -> int:
        """Delete a ready, delayed or dead job for good (with `state`, only from there); 1.
        JobStateConflict when it is elsewhere, JobNotFound when unknown."""
        return await self.perform(calls.delete_job(self.settings, queue, job_id, state))

    async def promote_jobs(self, queue: str, job_type: str | None = None) -> int:
        """Run every delayed job (of `job_type`) now; how many moved. JobNotFound: no such queue."""
        return await self.perform(calls.promote_jobs(self.settings, queue, job_type))

    async def requeue_jobs(self, queue: str, job_type: str | None = None) -> int:
        """Requeue every dead job (of `job_type`); how many moved. JobNotFound: no such queue."""
        return await self.perform(calls.requeue_jobs(self.settings, queue, job_type))

    async def delete_jobs(self, queue: str, state: str, job_type: str | None = None) -> int:
        """Delete every ready, delayed or dead job (of `job_type`) for good; how many went.
        JobNotFound: no such queue."""
        return await self.perform(calls.delete_jobs(self.settings, queue, state, job_type))

    async def upsert_schedule(self, queue: str, schedule: Schedule) -> ScheduleInfo:
        """Create or replace a schedule (`relay.Schedule`); its stored view, with `next_run_at`.
        A bad cron, zone or field raises ConfigError naming it, before any I/O (nothing is
        stored); an unchanged timing keeps the planned next tick."""
        return await self.perform(calls.upsert_schedule(self.settings, queue, schedule))

    async def get_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """One schedule with its state; ScheduleNotFound when there is none of that name."""
        return await self.perform(calls.get_schedule(self.settings, queue, name))

    async def schedules(self, queue: str) -> list[ScheduleInfo]:
        """Every schedule of the queue with its state, sorted by name ([] when none)."""
        return await self.perform(calls.schedules(self.settings, queue))

    async def delete_schedule(self, queue: str, name: str) -> None:
        """Delete a schedule (the jobs it enqueued stay); ScheduleNotFound when none."""
        await self.perform(calls.delete_schedule(self.settings, queue, name))

    async def pause_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """Stop the schedule's ticks; its stored view. ScheduleNotFound when none."""
        return await self.perform(calls.pause_schedule(self.settings, queue, name))

    async def resume_schedule(self, queue: str, name: str) -> ScheduleInfo:
        """Let the schedule tick again, from now (no catch-up); its stored view.
        ScheduleNotFound when none."""
        return await self.perform(calls.resume_schedule(self.settings, queue, name))

    async def trigger_schedule(self, queue: str, name: str) -> EnqueueResult:
        """Enqueue the schedule's job now, its ticks unchanged; the job's EnqueueResult.
        ScheduleNotFound when none."""
        return await self.perform(calls.trigger_schedule(self.settings, queue, name))

    @property
    def settings(self) -> BrokerSettings:
        """The broker's settings (limits, defaults)."""
        return self.broker.settings

    async def perform(self, steps: Steps[T]) -> T:
        """Run a sans-I/O operation (relay.broker.calls, relay.broker.ops) on the broker."""
        return await self.broker.perform(steps)

    async def health(self) -> bool:
        """True when Redis answers and has relay's scripts (over HTTP: the server too)."""
        return await self.perform(calls.health(self.settings))
