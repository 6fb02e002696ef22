"""Producer SDK over HTTP: `Client` (sync, stdlib http.client) and `AsyncClient` (aiohttp).

Both speak the API of DESIGN.md § HTTP API, take the same job options as `Broker.enqueue`
(`JobOptions`), return typed results and raise a typed exception per error status. Calls are
retried on connection errors only when that is safe: always when the connection was refused
(nothing was sent), and otherwise only for requests that cannot duplicate work — reads, PUT and
DELETE, pause/resume, and enqueues whose every job carries an idempotency key.
"""

from __future__ import annotations

import asyncio
import http.client
import random
import re
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import msgspec

from relay import _core
from relay.broker import DeadPage, JobSpec, QueueStats
from relay.errors import (
    ConfigError,
    IdempotencyConflict,
    JobNotFound,
    PayloadTooLarge,
    QueueFull,
    RedisUnavailable,
    RelayError,
)
from relay.http.models import (
    MAX_BATCH,
    BatchRequest,
    BatchResponse,
    Deleted,
    EnqueueRequest,
    EnqueueResponse,
    ErrorBody,
    Health,
    QueueList,
    RateLimitRequest,
    Requeued,
)
from relay.job import EnqueueResult, JobInfo, JobOptions, JsonValue

T = TypeVar("T")

# -- errors ----------------------------------------------------------------------------------


class ApiError(RelayError):
    """The server answered with an error status; `code` is the API's stable error code."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        Exception.__init__(self, f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, from Retry-After, when the server sent one


class BadRequest(ApiError, ConfigError):
    """400: the request was malformed; the message names the field."""


class Unauthorized(ApiError):
    """401: the bearer token is missing or wrong."""


class Forbidden(ApiError):
    """403: a cross-site state change was refused."""


class NotFound(ApiError, JobNotFound):
    """404: no such queue, job or route."""


class Conflict(ApiError, IdempotencyConflict):
    """409: the idempotency key was already used for another payload."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(status, code, message, retry_after)
        m = re.search(r"key '(.*)' already used by job (\S+)", message)
        self.key = m.group(1) if m else ""
        self.existing_id = m.group(2) if m else ""


class TooLarge(ApiError, PayloadTooLarge):
    """413: the body or a payload is over the limit; nothing was written."""


class TooManyRequests(ApiError):
    """429: the producer rate limit was reached; wait `retry_after` seconds."""


class QueueIsFull(TooManyRequests, QueueFull):
    """429 queue_full: the queue is at its maximum depth; nothing was written."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(status, code, message, retry_after)
        m = re.search(r"queue '(.*)' is full \((\d+) of max (\d+)", message)
        self.queue = m.group(1) if m else ""
        self.depth = int(m.group(2)) if m else 0
        self.max_depth = int(m.group(3)) if m else 0


class Unavailable(ApiError, RedisUnavailable):
    """503: Redis is unavailable (or too many event subscribers)."""


class ServerError(ApiError):
    """Any other 5xx."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    429: TooManyRequests,
    503: Unavailable,
}


def _error(status: int, body: bytes, retry_after: str | None) -> ApiError:
    try:
        detail = msgspec.json.decode(body, type=ErrorBody).error
        code, message = detail.code, detail.message
    except (msgspec.DecodeError, msgspec.ValidationError):
        code, message = "http_error", body[:200].decode(errors="replace") or f"HTTP {status}"
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    if status == 429 and code == "queue_full":
        kind = QueueIsFull
    wait = float(retry_after) if retry_after and retry_after.isdigit() else None
    return kind(status, code, message, wait)


# -- requests, independent of the transport --------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    """One API call: what to send, what a success decodes to, and whether a retry is safe."""

    method: str
    path: str
    ok: type[T]
    body: bytes | None = None
    safe_retry: bool = True
    query: dict[str, str] = field(default_factory=dict)

    def target(self, prefix: str) -> str:
        return prefix + self.path + (f"?{urlencode(self.query)}" if self.query else "")

    def result(self, status: int, body: bytes, retry_after: str | None) -> T:
        if status >= 400:
            raise _error(status, body, retry_after)
        return msgspec.json.decode(body, type=self.ok)


def _q(value: str) -> str:
    return quote(value, safe="")


def _wire(spec: JobSpec) -> EnqueueRequest:
    o = spec.options
    return EnqueueRequest(
        type=spec.type,
        payload=msgspec.Raw(spec.payload),
        priority=o.priority,
        delay_ms=o.delay_ms,
        run_at=None if o.run_at_ms is None else o.run_at_ms / 1000,
        max_attempts=o.max_attempts,
        timeout_ms=o.timeout_ms,
        idempotency_key=o.idempotency_key,
    )


def _enqueue(queue: str, job_type: str, payload: JsonValue, options: Any) -> _Call[EnqueueResponse]:
    opts = JobOptions(**options)
    spec = JobSpec(type=job_type, payload=msgspec.json.encode(payload), options=opts)
    return _Call(
        "POST",
        f"/api/queues/{_q(queue)}/jobs",
        EnqueueResponse,
        msgspec.json.encode(_wire(spec)),
        safe_retry=opts.idempotency_key is not None,
    )


def _batches(queue: str, specs: Sequence[JobSpec]) -> list[_Call[BatchResponse]]:
    calls = []
    for i in range(0, len(specs), MAX_BATCH):
        chunk = specs[i : i + MAX_BATCH]
        calls.append(
            _Call(
                "POST",
                f"/api/queues/{_q(queue)}/jobs/batch",
                BatchResponse,
                msgspec.json.encode(BatchRequest(jobs=[_wire(s) for s in chunk])),
                safe_retry=all(s.options.idempotency_key for s in chunk),
            )
        )
    return calls


def _job(queue: str, job_id: str) -> _Call[JobInfo]:
    return _Call("GET", f"/api/queues/{_q(queue)}/jobs/{_q(job_id)}", JobInfo)


def _stats(queue: str) -> _Call[QueueStats]:
    return _Call("GET", f"/api/queues/{_q(queue)}", QueueStats)


def _dead(queue: str, limit: int, cursor: str | None) -> _Call[DeadPage]:
    query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
    return _Call("GET", f"/api/queues/{_q(queue)}/dead", DeadPage, query=query)


def _requeue(queue: str, job_id: str | None) -> _Call[Requeued]:
    tail = f"{_q(job_id)}/requeue" if job_id else "requeue"
    return _Call("POST", f"/api/queues/{_q(queue)}/dead/{tail}", Requeued, b"", False)


def _delete_dead(queue: str, job_id: str) -> _Call[Deleted]:
    return _Call("DELETE", f"/api/queues/{_q(queue)}/dead/{_q(job_id)}", Deleted)


def _queue_op(method: str, queue: str, op: str, body: Any = None) -> _Call[QueueStats]:
    data = msgspec.json.encode(body) if body is not None else b""
    return _Call(method, f"/api/queues/{_q(queue)}/{op}", QueueStats, data)


_QUEUES: _Call[QueueList] = _Call("GET", "/api/queues", QueueList)
_HEALTH: _Call[Health] = _Call("GET", "/healthz", Health)


def _result(r: EnqueueResponse) -> EnqueueResult:
    return EnqueueResult(id=r.id, duplicate=r.duplicate)


def _backoff(attempt: int) -> float:
    return _core.backoff_ms("full_jitter", 100, 2000, attempt, random.random()) / 1000


class _Options:
    """What both clients share: where the server is, headers, retry policy."""

    def __init__(self, base_url: str, token: str | None, timeout: float, retries: int) -> None:
        u = urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ConfigError(f"base_url must be http(s)://host[:port][/prefix], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.prefix = u.path.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"


# -- the sync client -------------------------------------------------------------------------


class Client:
    """A synchronous producer client over stdlib http.client, on one keep-alive connection.

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
        self._o = _Options(base_url, token, timeout, retries)
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, call: _Call[T]) -> T:
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
            time.sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    def _once(self, call: _Call[T]) -> T:
        reused = self._conn is not None
        if self._conn is None:
            kind = (
                http.client.HTTPSConnection
                if self._o.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = kind(self._o.host, self._o.port, timeout=self._o.timeout)
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

    def enqueue(
        self, queue: str, job_type: str, payload: JsonValue = None, **options: Any
    ) -> EnqueueResult:
        """Enqueue one job; options are JobOptions' (priority, delay_ms, idempotency_key, ...)."""
        return _result(self._send(_enqueue(queue, job_type, payload, options)))

    def enqueue_many(self, queue: str, specs: Sequence[JobSpec]) -> list[str]:
        """Enqueue jobs in batches of up to 1000, each atomic; the ids in order."""
        return [i for call in _batches(queue, specs) for i in self._send(call).ids]

    def get_job(self, queue: str, job_id: str) -> JobInfo:
        """A job and its state; NotFound when unknown."""
        return self._send(_job(queue, job_id))

    def stats(self, queue: str) -> QueueStats:
        """One queue's counts, totals, rate limit and pause flag; NotFound when unknown."""
        return self._send(_stats(queue))

    def queues(self) -> list[QueueStats]:
        """Every queue's stats."""
        return self._send(_QUEUES).queues

    def dead_jobs(self, queue: str, limit: int = 50, cursor: str | None = None) -> DeadPage:
        """A page of dead jobs, newest first; pass `next_cursor` for the next page."""
        return self._send(_dead(queue, limit, cursor))

    def requeue(self, queue: str, job_id: str | None = None) -> int:
        """Move one dead job (or every one, when job_id is None) back to ready; how many."""
        return self._send(_requeue(queue, job_id)).requeued

    def delete_dead(self, queue: str, job_id: str) -> None:
        """Delete one dead job for good."""
        self._send(_delete_dead(queue, job_id))

    def pause(self, queue: str) -> QueueStats:
        """Stop claims from the queue."""
        return self._send(_queue_op("POST", queue, "pause"))

    def resume(self, queue: str) -> QueueStats:
        """Let claims from the queue go on."""
        return self._send(_queue_op("POST", queue, "resume"))

    def set_rate_limit(self, queue: str, rate: float, burst: int) -> QueueStats:
        """Limit claims to `rate` jobs/s with bursts of `burst`."""
        body = RateLimitRequest(rate=rate, burst=burst)
        return self._send(_queue_op("PUT", queue, "rate-limit", body))

    def clear_rate_limit(self, queue: str) -> QueueStats:
        """Remove the queue's rate limit."""
        return self._send(_queue_op("DELETE", queue, "rate-limit"))

    def health(self) -> bool:
        """True when the server, Redis and the scripts are all up."""
        try:
            return self._send(_HEALTH).status == "ok"
        except (ApiError, OSError):
            return False


class _StaleConnection(ConnectionError):
    """A kept-alive connection was closed by the server before it read the request."""


# -- the async client ------------------------------------------------------------------------


class AsyncClient:
    """An asyncio producer client over aiohttp (one session, pooled connections).

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
        self._o = _Options(base_url, token, timeout, retries)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                base_url=f"{self._o.scheme}://{self._o.host}:{self._o.port}",
                headers=self._o.headers,
                timeout=aiohttp.ClientTimeout(total=self._o.timeout),
                connector=aiohttp.TCPConnector(limit=self._connections),
            )
        return self._session

    async def _send(self, call: _Call[T]) -> T:
        for attempt in range(1, self._o.retries + 2):
            try:
                return await self._once(call)
            except aiohttp.ClientConnectorError:
                if attempt > self._o.retries:  # could not connect: nothing was sent
                    raise
            except (TimeoutError, aiohttp.ClientError):
                if not call.safe_retry or attempt > self._o.retries:
                    raise
            await asyncio.sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    async def _once(self, call: _Call[T]) -> T:
        async with self._http().request(
            call.method,
            call.target(self._o.prefix),
            data=call.body,
        ) as resp:
            body = await resp.read()
            return call.result(resp.status, body, resp.headers.get("Retry-After"))

    async def enqueue(
        self, queue: str, job_type: str, payload: JsonValue = None, **options: Any
    ) -> EnqueueResult:
        """Enqueue one job; options are JobOptions' (priority, delay_ms, idempotency_key, ...)."""
        return _result(await self._send(_enqueue(queue, job_type, payload, options)))

    async def enqueue_many(self, queue: str, specs: Sequence[JobSpec]) -> list[str]:
        """Enqueue jobs in batches of up to 1000, each atomic; the ids in order."""
        return [i for call in _batches(queue, specs) for i in (await self._send(call)).ids]

    async def get_job(self, queue: str, job_id: str) -> JobInfo:
        """A job and its state; NotFound when unknown."""
        return await self._send(_job(queue, job_id))

    async def stats(self, queue: str) -> QueueStats:
        """One queue's counts, totals, rate limit and pause flag; NotFound when unknown."""
        return await self._send(_stats(queue))

    async def queues(self) -> list[QueueStats]:
        """Every queue's stats."""
        return (await self._send(_QUEUES)).queues

    async def dead_jobs(self, queue: str, limit: int = 50, cursor: str | None = None) -> DeadPage:
        """A page of dead jobs, newest first; pass `next_cursor` for the next page."""
        return await self._send(_dead(queue, limit, cursor))

    async def requeue(self, queue: str, job_id: str | None = None) -> int:
        """Move one dead job (or every one, when job_id is None) back to ready; how many."""
        return (await self._send(_requeue(queue, job_id))).requeued

    async def delete_dead(self, queue: str, job_id: str) -> None:
        """Delete one dead job for good."""
        await self._send(_delete_dead(queue, job_id))

    async def pause(self, queue: str) -> QueueStats:
        """Stop claims from the queue."""
        return await self._send(_queue_op("POST", queue, "pause"))

    async def resume(self, queue: str) -> QueueStats:
        """Let claims from the queue go on."""
        return await self._send(_queue_op("POST", queue, "resume"))

    async def set_rate_limit(self, queue: str, rate: float, burst: int) -> QueueStats:
        """Limit claims to `rate` jobs/s with bursts of `burst`."""
        body = RateLimitRequest(rate=rate, burst=burst)
        return await self._send(_queue_op("PUT", queue, "rate-limit", body))

    async def clear_rate_limit(self, queue: str) -> QueueStats:
        """Remove the queue's rate limit."""
        return await self._send(_queue_op("DELETE", queue, "rate-limit"))

    async def health(self) -> bool:
        """True when the server, Redis and the scripts are all up."""
        try:
            return (await self._send(_HEALTH)).status == "ok"
        except (TimeoutError, ApiError, aiohttp.ClientError):
            return False
