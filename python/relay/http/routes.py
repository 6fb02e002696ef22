"""The one route table: path, handler, and the Structs each route takes and answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from relay.http import api, sse, work
from relay.http.models import (
    BatchRequest,
    BatchResponse,
    DeadQuery,
    Deleted,
    EnqueueQuery,
    EnqueueRequest,
    EnqueueResponse,
    Health,
    QueueList,
    RateLimitRequest,
    Requeued,
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
from relay.wire import DeadPage, QueueStats

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
    Route("GET", "/api/queues", api.list_queues, "listQueues",
          "Every queue with counts per state and totals", {200: QueueList}, (401, 503)),
    Route("GET", "/api/queues/{queue}", api.get_queue, "getQueue",
          "One queue: counts, totals, rate limit, pause flag", {200: QueueStats}),
    Route("GET", "/api/queues/{queue}/jobs/{id}", api.get_job, "getJob",
          "A job and its state", {200: JobInfo}, tag="jobs"),
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
    Route("POST", "/api/queues/{queue}/pause", api.pause, "pauseQueue",
          "Stop claims from the queue (enqueues still land)", {200: QueueStats}, WRITE),
    Route("POST", "/api/queues/{queue}/resume", api.resume, "resumeQueue",
          "Let claims from the queue go on", {200: QueueStats}, WRITE),
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


# `batch` and `requeue` are sub-resources, never job ids: keeping them out of {id} makes each
# URL match one resource, so 405 answers list exactly the methods of the path asked for.
_ID = "{id:(?!(?:batch|requeue)$)[^/]+}"


def install(app: web.Application, routes: tuple[Route, ...] = ROUTES) -> None:
    """Add every route of the table to the app."""
    for r in routes:
        app.router.add_route(r.method, r.path.replace("{id}", _ID), r.handler, name=r.name)
