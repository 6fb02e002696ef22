"""Errors as HTTP answers: relay's exceptions mapped to statuses, all in the one JSON shape."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import msgspec
from aiohttp import web

from relay.errors import (
    ConfigError,
    FlowIdConflict,
    IdempotencyConflict,
    JobFinished,
    JobNotFound,
    JobStateConflict,
    PayloadTooLarge,
    QueueFull,
    RedisUnavailable,
    RelayError,
    ScheduleNotFound,
)
from relay.http.models import ErrorBody, ErrorDetail

log = logging.getLogger("relay.http")

QUEUE_FULL_RETRY_S = 1  # a full queue drains at worker speed: ask producers to back off briefly
UNAVAILABLE_RETRY_S = 2

_HTTP_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
    503: "unavailable",
}


class Problem(Exception):
    """Raised by handlers and middlewares to answer with an error body."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _HTTP_CODES.get(status, "error")
        self.message = message
        self.headers = dict(headers or {})


def error_response(problem: Problem) -> web.Response:
    """The JSON error answer for a Problem."""
    body = msgspec.json.encode(ErrorBody(ErrorDetail(problem.code, problem.message)))
    return web.Response(
        status=problem.status,
        body=body,
        content_type="application/json",
        headers=problem.headers,
    )


# (exception, status, code, extra headers), most specific first.
_RELAY_ERRORS: tuple[tuple[type[RelayError], int, str, dict[str, str]], ...] = (
    (QueueFull, 429, "queue_full", {"Retry-After": str(QUEUE_FULL_RETRY_S)}),
    (IdempotencyConflict, 409, "idempotency_conflict", {}),
    (JobFinished, 409, "job_finished", {}),
    (JobStateConflict, 409, "state_conflict", {}),
    (FlowIdConflict, 409, "id_conflict", {}),
    (PayloadTooLarge, 413, "payload_too_large", {}),
    (JobNotFound, 404, "not_found", {}),
    (ScheduleNotFound, 404, "not_found", {}),
    (ConfigError, 400, "invalid_request", {}),
    (RedisUnavailable, 503, "redis_unavailable", {"Retry-After": str(UNAVAILABLE_RETRY_S)}),
)


def from_relay_error(exc: RelayError) -> Problem:
    """The Problem a relay exception stands for; unknown kinds are server errors."""
    for kind, status, code, headers in _RELAY_ERRORS:
        if isinstance(exc, kind):
            return Problem(status, str(exc), code, headers)
    log.error("unexpected relay error: %s", exc)
    return Problem(500, "internal server error", "internal")


def from_http_exception(exc: web.HTTPException) -> Problem:
    """aiohttp's own 404/405/413... in the API's error shape, keeping headers such as Allow."""
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    message = exc.reason
    if exc.status == 413:
        message = f"request body is over the limit: {exc.text or exc.reason}"
    elif exc.status == 404:
        message = "no such route"
    return Problem(exc.status, message, _HTTP_CODES.get(exc.status), headers)
