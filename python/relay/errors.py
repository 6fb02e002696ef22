"""Every exception relay raises, rooted at RelayError."""

from __future__ import annotations


class RelayError(Exception):
    """Base of every error raised by relay."""


class ConfigError(RelayError, ValueError):
    """A setting, queue name or job option is invalid."""


class CodecError(RelayError, ValueError):
    """A job envelope or claim reply could not be encoded or decoded."""


class JobNotFound(RelayError, LookupError):
    """No job with that id exists in that queue (or it was trimmed)."""


class ScheduleNotFound(RelayError, LookupError):
    """No schedule with that name exists in that queue."""


class IdempotencyConflict(RelayError):
    """The idempotency key was already used for a job with a different payload."""

    def __init__(self, key: str, existing_id: str) -> None:
        super().__init__(
            f"idempotency key {key!r} already used by job {existing_id} "
            "with a different type or payload"
        )
        self.key = key
        self.existing_id = existing_id


class JobStateConflict(RelayError):
    """An action met a job that has moved on: it is no longer in a state the action works on."""

    def __init__(self, job_id: str, state: str, wanted: tuple[str, ...]) -> None:
        super().__init__(
            f"job {job_id!r} is {state}, not {' or '.join(wanted)}: it has moved on; "
            "nothing was changed"
        )
        self.job_id = job_id
        self.state = state  # where the job is now
        self.wanted = wanted


class FlowIdConflict(RelayError):
    """A flow's fixed id names a job that exists and is not that flow's: a parent would wait
    for a child that never tells it. Nothing of the flow was written."""

    def __init__(self, path: str, job_id: str, queue: str) -> None:
        super().__init__(
            f"{path}.id: job {job_id!r} already exists in queue {queue!r} and is not this "
            "flow's (a fixed id must be new, or the same flow sent again); nothing was written"
        )
        self.path = path
        self.job_id = job_id
        self.queue = queue


class QueueFull(RelayError):
    """The queue is at its configured maximum depth; try again later."""

    def __init__(self, queue: str, depth: int, max_depth: int) -> None:
        super().__init__(f"queue {queue!r} is full ({depth} of max {max_depth} jobs waiting)")
        self.queue = queue
        self.depth = depth
        self.max_depth = max_depth


class PayloadTooLarge(RelayError, ValueError):
    """The payload is larger than the configured limit; nothing was written."""


class RedisUnavailable(RelayError, ConnectionError):
    """Redis could not be reached or refused the write (e.g. out of memory)."""


class ScriptError(RelayError):
    """A relay Lua script failed inside Redis; the message says which and why."""


class ReplicationTimeout(RedisUnavailable):
    """Fewer replicas than asked confirmed an enqueue in time (`wait_replicas`).

    The jobs were written on the master, but a failover now may lose them. Enqueueing the same
    specs again (same ids or idempotency keys) is safe: it adds nothing and waits again.
    """

    def __init__(self, ids: list[str], acked: int, wanted: int, timeout_ms: int) -> None:
        super().__init__(
            f"{acked} of {wanted} replicas confirmed {len(ids)} enqueued job(s) within "
            f"{timeout_ms} ms; they may not survive a failover (retrying with the same ids is safe)"
        )
        self.ids = ids
        self.acked = acked
        self.wanted = wanted


class Retry(RelayError):
    """Raised by a handler: run the job again after `after` seconds, not counted as a failure.

    The attempt is given back, so a job that always raises Retry never dead-letters; `after`
    None uses the task's backoff delay.
    """

    def __init__(self, after: float | None = None, reason: str = "") -> None:
        if after is not None and not 0 <= after <= 10 * 365 * 86_400:
            raise ConfigError(f"Retry(after=...) must be 0 to ten years in seconds, got {after!r}")
        super().__init__(reason or (f"retry in {after:g} s" if after is not None else "retry"))
        self.after = after
        self.reason = reason


class Fail(RelayError):
    """Raised by a handler: the job can never succeed; dead-letter it at once with `reason`."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class JobCancelled(RelayError):
    """The job was cancelled: raised by `job.raise_if_cancelled()` inside a handler, and by
    `result()` for a job that ended cancelled."""


class JobFailed(RelayError):
    """The job is dead: its attempts are spent or it failed for good; `last_error` says why."""

    def __init__(self, job_id: str, last_error: str | None) -> None:
        super().__init__(f"job {job_id} failed: {last_error or 'no error recorded'}")
        self.job_id = job_id
        self.last_error = last_error


class JobFinished(RelayError):
    """The job already completed or is dead, so it cannot be cancelled (HTTP 409)."""

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__(f"job {job_id} is already {state}; only unfinished jobs can be cancelled")
        self.job_id = job_id
        self.state = state
