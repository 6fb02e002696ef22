"""The SDK's exceptions, one per error status, and the mapping from an error answer."""

from __future__ import annotations

import re

import msgspec

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
    ReplicationTimeout,
    ScheduleNotFound,
)
from relay.http.models import ErrorBody

_REPLICAS = re.compile(r"^(\d+) of (\d+) replicas confirmed ")
_NO_SCHEDULE = re.compile(r"^no schedule '.*' in queue ")  # relay.schedules.engine's message


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


class UnknownSchedule(ApiError, ScheduleNotFound):
    """404 for a schedule: the queue has no schedule of that name (not a JobNotFound, as on
    the Redis faces)."""


class Conflict(ApiError, IdempotencyConflict):
    """409: the idempotency key was already used for another payload."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(status, code, message, retry_after)
        m = re.search(r"key '(.*)' already used by job (\S+)", message)
        self.key = m.group(1) if m else ""
        self.existing_id = m.group(2) if m else ""


class Finished(ApiError, JobFinished):
    """409 job_finished: the job already completed or is dead; it cannot be cancelled."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        ApiError.__init__(self, status, code, message, retry_after)
        m = re.search(r"job (\S+) is already (\w+)", message)
        self.job_id = m.group(1) if m else ""
        self.state = m.group(2) if m else ""


class StateConflict(ApiError, JobStateConflict):
    """409 state_conflict: the job has moved on from the state the action needs; `state` says
    where it is now."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        ApiError.__init__(self, status, code, message, retry_after)
        m = re.search(r"job '(.*)' is (\w+), not (.+?): it has moved on", message)
        self.job_id = m.group(1) if m else ""
        self.state = m.group(2) if m else ""
        self.wanted = tuple(m.group(3).split(" or ")) if m else ()


class IdConflict(ApiError, FlowIdConflict):
    """409 id_conflict: a flow's fixed id names a job that exists and is not that flow's;
    nothing of the flow was written."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        ApiError.__init__(self, status, code, message, retry_after)
        m = re.search(r"^(\S+)\.id: job '(.*)' already exists in queue '(.*)' and", message)
        self.path = m.group(1) if m else ""
        self.job_id = m.group(2) if m else ""
        self.queue = m.group(3) if m else ""


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


class ReplicasBehind(Unavailable, ReplicationTimeout):
    """503: fewer replicas than `wait_replicas` confirmed the enqueue in time. The jobs were
    written (see ReplicationTimeout); over HTTP their `ids` are not known (empty)."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        super().__init__(status, code, message, retry_after)
        m = _REPLICAS.search(message)
        self.ids: list[str] = []
        self.acked = int(m.group(1)) if m else 0
        self.wanted = int(m.group(2)) if m else 0


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


def error_from_response(status: int, body: bytes, retry_after: str | None) -> ApiError:
    """The exception for an error answer (its JSON body, or whatever text came back)."""
    try:
        detail = msgspec.json.decode(body, type=ErrorBody).error
        code, message = detail.code, detail.message
    except (msgspec.DecodeError, msgspec.ValidationError):
        code, message = "http_error", body[:200].decode(errors="replace") or f"HTTP {status}"
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    if status == 409 and code == "job_finished":
        kind = Finished
    if status == 429 and code == "queue_full":
        kind = QueueIsFull
    if status == 409 and code == "state_conflict":
        kind = StateConflict
    if status == 409 and code == "id_conflict":
        kind = IdConflict
    if status == 404 and _NO_SCHEDULE.search(message):
        kind = UnknownSchedule
    if status == 503 and _REPLICAS.search(message):
        kind = ReplicasBehind
    wait = float(retry_after) if retry_after and retry_after.isdigit() else None
    return kind(status, code, message, wait)
