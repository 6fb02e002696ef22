"""The JSON API handlers: each validates, calls one broker method, and answers a Struct."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec
from aiohttp import web

from relay.broker.health import check_health
from relay.errors import RedisUnavailable
from relay.http.auth import too_many
from relay.http.coalesce import COALESCER
from relay.http.errors import Problem
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
from relay.http.state import AppState, all_stats, state
from relay.job import JobOptions
from relay.keys import validate_queue_name
from relay.metrics import CONTENT_TYPE, TOP_GROUPS
from relay.wire import GroupPage, JobSpec

T = TypeVar("T")
TOKEN_KEY = web.RequestKey("relay_token", int)  # index of the caller's token, set by auth

_encoder = msgspec.json.Encoder()


def reply(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer from a Struct (or any msgspec-encodable value)."""
    return web.Response(
        body=_encoder.encode(value),
        status=status,
        content_type="application/json",
        headers=headers,
    )


async def decode_body(request: web.Request, kind: type[T]) -> T:
    """The request body as `kind`; 400 naming the field when it does not fit, 413 when too big."""
    raw = await request.read()  # raises 413 past the app's client_max_size
    if not raw:
        raise Problem(400, "the request body is empty: expected a JSON object")
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise Problem(400, f"invalid body: {_plain(exc)}") from exc
    except msgspec.DecodeError as exc:
        raise Problem(400, f"the body is not valid JSON: {exc}") from exc


def _plain(exc: msgspec.ValidationError) -> str:
    """msgspec's message, speaking of integers where the model uses integral floats."""
    return (
        str(exc)
        .replace("`float` that's a multiple of 1.0", "an integer")
        .replace("Expected `float`", "Expected a number")
    )


def queue_param(request: web.Request) -> str:
    """The {queue} path parameter; 400 when it is not a valid queue name."""
    return validate_queue_name(request.match_info["queue"])


async def known_queue(request: web.Request) -> str:
    """The {queue} path parameter, which must name a queue that exists (404 otherwise)."""
    queue = queue_param(request)
    if not await state(request).broker.has_queue(queue):
        raise Problem(404, f"no queue named {queue!r}", "not_found")
    return queue


def _spec(job: EnqueueRequest, where: str) -> JobSpec:
    for name, value in (
        ("type", job.type),
        ("idempotency_key", job.idempotency_key),
        ("group", job.group),
    ):
        if value is not None and not (value.isascii() and value.isprintable()):
            raise Problem(
                400, f"invalid body: {name} must be printable ASCII - at `{where}.{name}`"
            )
    options = _options(
        int(job.priority),
        int(job.max_attempts),
        int(job.timeout_ms),
        int(job.delay_ms),
        None if job.run_at is None else round(job.run_at * 1000),
        job.idempotency_key,
        job.group,
    )
    return JobSpec(type=job.type, payload=bytes(job.payload), options=options)


@lru_cache(maxsize=4096)
def _options(
    priority: int,
    max_attempts: int,
    timeout_ms: int,
    delay_ms: int,
    run_at_ms: int | None,
    idempotency_key: str | None,
    group: str | None = None,
) -> JobOptions:
    """JobOptions, built (and validated) once per distinct set: the jobs of a batch, and most
    single enqueues, share theirs (frozen, so sharing is safe)."""
    return JobOptions(
        priority=priority,
        max_attempts=max_attempts,
        timeout_ms=timeout_ms,
        delay_ms=delay_ms,
        run_at_ms=run_at_ms,
        idempotency_key=idempotency_key,
        group=group,
    )


def _throttle(request: web.Request, st: AppState, queue: str) -> None:
    """The per-token producer limit (per client address when auth is off)."""
    if not st.limiter.enabled:
        return
    index = request.get(TOKEN_KEY)
    key = f"token:{index}" if index is not None else f"addr:{request.remote}"
    wait_ms = st.limiter.take(key)
    if wait_ms:
        st.metrics.rate_limit_waits.labels("producer", queue).inc()
        raise too_many(wait_ms)


def _wait_replicas(request: web.Request) -> int | None:
    """`?wait_replicas=N`; None (the broker's setting) when the request does not say."""
    if "wait_replicas" not in request.query:
        return None
    try:
        q = msgspec.convert(dict(request.query), EnqueueQuery, strict=False)
    except msgspec.ValidationError as exc:
        raise Problem(400, f"invalid query: {_plain(exc)}") from exc
    return int(q.wait_replicas)


async def enqueue(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/jobs"""
    st = state(request)
    queue = queue_param(request)
    _throttle(request, st, queue)
    replicas = _wait_replicas(request)
    spec = _spec(await decode_body(request, EnqueueRequest), "$")
    result = await request.app[COALESCER].enqueue(queue, spec, replicas)  # group commit
    location = f"/api/queues/{quote(queue, safe='')}/jobs/{quote(result.id, safe='')}"
    return reply(
        EnqueueResponse(id=result.id, duplicate=result.duplicate),
        200 if result.duplicate else 201,
        {"Location": location},
    )


async def enqueue_batch(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/jobs/batch"""
    st = state(request)
    queue = queue_param(request)
    _throttle(request, st, queue)
    replicas = _wait_replicas(request)
    body = await decode_body(request, BatchRequest)  # at most MAX_BATCH jobs, says the Struct
    specs = [_spec(job, f"$.jobs[{i}]") for i, job in enumerate(body.jobs)]
    if not specs:
        return reply(BatchResponse(ids=[]), 201)
    results = await st.broker.enqueue_many(queue, specs, wait_replicas=replicas)
    return reply(BatchResponse(ids=[r.id for r in results]), 201)


async def list_queues(request: web.Request) -> web.Response:
    """GET /api/queues"""
    return reply(QueueList(queues=await all_stats(state(request).broker)))


async def get_queue(request: web.Request) -> web.Response:
    """GET /api/queues/{queue}"""
    queue = await known_queue(request)
    return reply(await state(request).broker.stats(queue))


async def list_dead(request: web.Request) -> web.Response:
    """GET /api/queues/{queue}/dead?limit=&cursor="""
    queue = await known_queue(request)
    try:
        q = msgspec.convert(dict(request.query), DeadQuery, strict=False)
    except msgspec.ValidationError as exc:
        raise Problem(400, f"invalid query: {_plain(exc)}") from exc
    return reply(await state(request).broker.dead_jobs(queue, int(q.limit), q.cursor))


async def requeue_dead_one(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/dead/{id}/requeue"""
    queue = queue_param(request)
    moved = await state(request).broker.requeue_dead(queue, request.match_info["id"])
    return reply(Requeued(requeued=moved))


async def requeue_dead_all(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/dead/requeue"""
    queue = await known_queue(request)
    return reply(Requeued(requeued=await state(request).broker.requeue_dead(queue, None)))


async def delete_dead(request: web.Request) -> web.Response:
    """DELETE /api/queues/{queue}/dead/{id}"""
    queue = queue_param(request)
    await state(request).broker.delete_dead(queue, request.match_info["id"])
    return reply(Deleted(deleted=1))


async def put_rate_limit(request: web.Request) -> web.Response:
    """PUT /api/queues/{queue}/rate-limit"""
    queue = await known_queue(request)
    body = await decode_body(request, RateLimitRequest)
    broker = state(request).broker
    await broker.set_rate_limit(queue, body.rate, int(body.burst))
    return reply(await broker.stats(queue))


async def delete_rate_limit(request: web.Request) -> web.Response:
    """DELETE /api/queues/{queue}/rate-limit"""
    queue = await known_queue(request)
    broker = state(request).broker
    await broker.clear_rate_limit(queue)
    return reply(await broker.stats(queue))


async def pause(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/pause"""
    queue = await known_queue(request)
    broker = state(request).broker
    await broker.pause(queue)
    return reply(await broker.stats(queue))


async def resume(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/resume"""
    queue = await known_queue(request)
    broker = state(request).broker
    await broker.resume(queue)
    return reply(await broker.stats(queue))


async def health(request: web.Request) -> web.Response:
    """GET /healthz: 200 when Redis answers and the scripts are loaded, else 503."""
    up, loaded = await check_health(state(request).broker.redis)
    if up and loaded:
        return reply(Health(status="ok", redis=True, scripts=True))
    what = "Redis is unreachable" if not up else "relay's scripts could not be loaded"
    raise Problem(503, what, "unhealthy", {"Retry-After": "2"})


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text; queue figures are read from Redis now."""
    st = state(request)
    groups: dict[str, GroupPage] = {}
    try:
        stats = await all_stats(st.broker)
        for s in stats:
            groups[s.name] = await st.broker.groups(s.name, TOP_GROUPS)
        up = True
    except RedisUnavailable:
        stats, up = [], False
    body = st.metrics.render(stats, redis_up=up, groups=groups)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
