"""The one route table: path, handler, and the Structs each route takes and answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from relay.browse import Changed, JobPage
from relay.flows import FlowResult, FlowTree
from relay.http import api, browse, flows, groups, lifecycle, schedules, sse, work
from relay.http.flow_models import FlowRequest
from relay.http.models import (
    BatchRequest,
    BatchResponse,
    DeadQuery,
    Deleted,
    EnqueueQuery,
    EnqueueRequest,
    EnqueueResponse,
    GroupRequest,
    GroupsQuery,
    Health,
    QueueList,
    RateLimitRequest,
    Requeued,
    ScheduleList,
    ScheduleRequest,
    Triggered,
)
from relay.http.work_models import (
    AckRequest,
    ClaimRequest,
    ClaimResponse,
    ExtendRequest,
    NackRequest,
    OutcomeResponse,
)
from relay.job import JobInfo
from relay.schedules.model import ScheduleInfo
from relay.wire import CancelOutcome, DeadPage, GroupPage, GroupStats, QueueStats

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

READ = (400, 401, 404, 503)  # bad queue name, no token, unknown queue/job, Redis down
WRITE = (*READ, 403)  # + cross-site refusal
WITH_BODY = (*WRITE, 413)  # + oversize body
PRODUCE = (*WITH_BODY, 409, 429)  # + idempotency conflict, full queue / producer limit


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of the API; the OpenAPI document is generated from these."""

    method: str
    path: str
    handler: Handler
    name: str  # operationId
    summary: str
    ok: Mapping[int, Any]  # success status -> Struct answered (None: not JSON)
    errors: tuple[int, ...] = READ
    body: Any = None  # the request Struct
    query: Any = None  # a Struct whose fields are the query parameters
    media: str = "application/json"
    auth: bool = True
    tag: str = "queues"
    links: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


_GET_JOB_LINK = {
    "GetJob": {
        "operationId": "getJob",
        "parameters": {"queue": "$request.path.queue", "id": "$response.body#/id"},
    }
}

ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/queues/{queue}/jobs", api.enqueue, "enqueue", "Enqueue one job",
          {201: EnqueueResponse, 200: EnqueueResponse}, PRODUCE, EnqueueRequest,
          query=EnqueueQuery, tag="jobs", links=_GET_JOB_LINK),
    Route("POST", "/api/queues/{queue}/jobs/batch", api.enqueue_batch, "enqueueBatch",
          "Enqueue up to 1000 jobs atomically, in one Redis round trip",
          {201: BatchResponse}, PRODUCE, BatchRequest, query=EnqueueQuery, tag="jobs"),
    Route("POST", "/api/flows", flows.enqueue_flow, "enqueueFlow",
          "Enqueue a workflow: jobs that wait for their children, in any queues, all or nothing",
          {201: FlowResult}, (*WITH_BODY, 409, 429), FlowRequest, tag="jobs"),
    Route("GET", "/api/queues/{queue}/jobs/{id}/flow", flows.get_flow, "getFlow",
          "The whole flow a job belongs to, from its root: each job's queue, parent and state",
          {200: FlowTree}, tag="jobs"),
    Route("GET", "/api/queues", api.list_queues, "listQueues",
          "Every queue with counts per state and totals", {200: QueueList}, (401, 503)),
    Route("GET", "/api/queues/{queue}", api.get_queue, "getQueue",
          "One queue: counts, totals, rate limit, pause flag", {200: QueueStats}),
    Route("GET", "/api/queues/{queue}/jobs/{id}", lifecycle.get_job, "getJob",
          "A job, its state, result and progress; with wait_ms, once it finishes",
          {200: JobInfo}, query=lifecycle.WaitQuery, tag="jobs"),
    Route("POST", "/api/queues/{queue}/jobs/{id}/cancel", lifecycle.cancel_job, "cancelJob",
          "Cancel a job: a waiting one at once (200), a running one by its worker (202)",
          {200: CancelOutcome, 202: CancelOutcome}, (*WRITE, 409), tag="jobs"),
    Route("GET", "/api/queues/{queue}/jobs", browse.list_jobs, "listJobs",
          "A page of the jobs in one state, in that state's order; pass next_cursor on",
          {200: JobPage}, query=browse.JobsQuery, tag="jobs"),
    Route("POST", "/api/queues/{queue}/jobs/{id}/promote", browse.promote_job, "promoteJob",
          "Run a delayed job now: to ready, keeping its priority", {200: Changed},
          (*WRITE, 409), tag="jobs"),
    Route("POST", "/api/queues/{queue}/jobs/{id}/requeue", browse.requeue_job, "requeueJob",
          "Move a dead job back to ready with fresh attempts", {200: Changed},
          (*WRITE, 409), tag="jobs"),
    Route("DELETE", "/api/queues/{queue}/jobs/{id}", browse.delete_job, "deleteJob",
          "Delete a ready, delayed or dead job for good", {200: Changed}, (*WRITE, 409),
          query=browse.DeleteQuery, tag="jobs"),
    Route("POST", "/api/queues/{queue}/jobs/bulk", browse.bulk, "bulkJobs",
          "Promote, requeue or delete every job of a state (or of one type in it)",
          {200: Changed}, WITH_BODY, browse.BulkRequest, tag="jobs"),
    Route("GET", "/api/queues/{queue}/dead", api.list_dead, "listDead",
          "Dead jobs, newest first, with their last error", {200: DeadPage},
          query=DeadQuery, tag="dead"),
    Route("POST", "/api/queues/{queue}/dead/{id}/requeue", api.requeue_dead_one,
          "requeueDead", "Move one dead job back to ready", {200: Requeued}, WRITE, tag="dead"),
    Route("POST", "/api/queues/{queue}/dead/requeue", api.requeue_dead_all, "requeueAllDead",
          "Move every dead job back to ready", {200: Requeued}, WRITE, tag="dead"),
    Route("DELETE", "/api/queues/{queue}/dead/{id}", api.delete_dead, "deleteDead",
          "Delete one dead job for good", {200: Deleted}, WRITE, tag="dead"),
    Route("PUT", "/api/queues/{queue}/rate-limit", api.put_rate_limit, "setRateLimit",
          "Limit claims to `rate` jobs/s with bursts of `burst`", {200: QueueStats},
          WITH_BODY, RateLimitRequest),
    Route("DELETE", "/api/queues/{queue}/rate-limit", api.delete_rate_limit, "clearRateLimit",
          "Remove the queue's rate limit", {200: QueueStats}, WRITE),
    Route("GET", "/api/queues/{queue}/groups", groups.list_groups, "listGroups",
          "The queue's groups, largest ready backlog first: backlog, in flight, limits",
          {200: GroupPage}, query=GroupsQuery, tag="groups"),
    Route("PUT", "/api/queues/{queue}/groups/{group}", groups.put_group, "setGroup",
          "Set a group's weight, max_inflight and token bucket (a limit left out is removed; "
          "the queue need not exist yet)",
          {200: GroupStats}, WITH_BODY, GroupRequest, tag="groups"),
    Route("GET", "/api/queues/{queue}/groups/{group}", groups.get_group, "getGroup",
          "One group: backlog, in flight, limits", {200: GroupStats}, tag="groups"),
    Route("POST", "/api/queues/{queue}/pause", api.pause, "pauseQueue",
          "Stop claims from the queue (enqueues still land)", {200: QueueStats}, WRITE),
    Route("POST", "/api/queues/{queue}/resume", api.resume, "resumeQueue",
          "Let claims from the queue go on", {200: QueueStats}, WRITE),
    Route("GET", "/api/queues/{queue}/schedules", schedules.list_schedules, "listSchedules",
          "Every schedule of the queue with its next run, last run and last job",
          {200: ScheduleList}, tag="schedules"),
    Route("PUT", "/api/queues/{queue}/schedules/{name}", schedules.put_schedule,
          "putSchedule", "Create (201) or replace (200) a cron or every_ms schedule",
          {201: ScheduleInfo, 200: ScheduleInfo}, WITH_BODY, ScheduleRequest, tag="schedules"),
    Route("GET", "/api/queues/{queue}/schedules/{name}", schedules.get_schedule,
          "getSchedule", "One schedule with its state", {200: ScheduleInfo}, tag="schedules"),
    Route("DELETE", "/api/queues/{queue}/schedules/{name}", schedules.delete_schedule,
          "deleteSchedule", "Delete a schedule (the jobs it enqueued stay)", {200: Deleted},
          WRITE, tag="schedules"),
    Route("POST", "/api/queues/{queue}/schedules/{name}/trigger", schedules.trigger_schedule,
          "triggerSchedule", "Enqueue the schedule's job now; its ticks are unchanged",
          {201: Triggered}, (*WRITE, 429), tag="schedules"),
    Route("POST", "/api/queues/{queue}/schedules/{name}/pause", schedules.pause_schedule,
          "pauseSchedule", "Stop the schedule's ticks", {200: ScheduleInfo}, WRITE,
          tag="schedules"),
    Route("POST", "/api/queues/{queue}/schedules/{name}/resume", schedules.resume_schedule,
          "resumeSchedule", "Let the schedule tick again, from now (no catch-up)",
          {200: ScheduleInfo}, WRITE, tag="schedules"),
    Route("POST", "/api/queues/{queue}/claim", work.claim, "claimJobs",
          "Lease up to `max` jobs; with `wait_ms`, a long-poll that answers when one is ready",
          {200: ClaimResponse}, WITH_BODY, ClaimRequest, tag="workers"),
    Route("POST", "/api/queues/{queue}/ack", work.ack, "ackJobs",
          "Complete held jobs: one outcome per job (`ok`, `stale`, `not_found`)",
          {200: OutcomeResponse}, WITH_BODY, AckRequest, tag="workers"),
    Route("POST", "/api/queues/{queue}/nack", work.nack, "nackJobs",
          "Fail held jobs: retried after a backoff while attempts remain, else dead",
          {200: OutcomeResponse}, WITH_BODY, NackRequest, tag="workers"),
    Route("POST", "/api/queues/{queue}/extend", work.extend, "extendLeases",
          "Push the leases of held jobs to Redis now + `lease_ms`",
          {200: OutcomeResponse}, WITH_BODY, ExtendRequest, tag="workers"),
    Route("GET", "/api/events", sse.events, "events",
          "Server-Sent Events: `stats` every second, `job` lifecycle events, resumable with "
          "Last-Event-ID", {200: None}, (401, 503), media="text/event-stream", tag="live"),
    Route("GET", "/metrics", api.metrics, "metrics", "Prometheus metrics", {200: None},
          (401,), media="text/plain", tag="ops"),
    Route("GET", "/healthz", api.health, "health",
          "200 when Redis answers and the scripts are loaded", {200: Health}, (503,),
          auth=False, tag="ops"),
)  # fmt: skip


# `batch`, `bulk` and `requeue` are sub-resources, never job ids: keeping them out of {id} makes
# each URL match one resource, so 405 answers list exactly the methods of the path asked for.
_ID = "{id:(?!(?:batch|bulk|requeue)$)[^/]+}"
# aiohttp's default `{queue}` pattern excludes `{` and `}`: such a name would answer 404 "no
# such route" instead of the 400 naming the queue-name rule, so the handler sees every segment.
_QUEUE = "{queue:[^/]+}"
_GROUP = "{group:[^/]+}"  # likewise: any printable name, its rule checked by the handler


def install(app: web.Application, routes: tuple[Route, ...] = ROUTES) -> None:
    """Add every route of the table to the app."""
    for r in routes:
        app.router.add_route(
            r.method,
            r.path.replace("{id}", _ID).replace("{queue}", _QUEUE).replace("{group}", _GROUP),
            r.handler,
            name=r.name,
        )
