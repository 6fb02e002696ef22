"""The types both transports speak: what a producer sends and what inspecting a queue returns.

Neutral ground between the Redis engine (`relay.broker`) and the HTTP side (`relay.http`,
`relay.client`): it imports neither, so the HTTP SDK loads without redis-py. `JobInfo` and
`EnqueueResult` are defined in `relay.job` beside the `JobState` they use, and re-exported here.
The bounds checks at the end are the ones every face applies before any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from relay.errors import ConfigError
from relay.job import EnqueueResult, JobInfo, JobOptions, JsonValue

__all__ = [
    "CancelOutcome",
    "Counts",
    "DeadPage",
    "EnqueueResult",
    "JobInfo",
    "JobSpec",
    "QueueStats",
    "RateLimit",
    "Totals",
    "check_dead_page",
    "check_rate_limit",
    "check_wait_replicas",
]

_DEFAULT_OPTIONS = JobOptions()  # frozen: one shared instance for jobs without options
MAX_DEAD_PAGE = 1000


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job to enqueue: its type, payload (JSON text) and options."""

    type: str
    payload: bytes = b"null"
    options: JobOptions = field(default_factory=JobOptions)
    id: str | None = None  # normally generated; a fixed id makes a retried enqueue a no-op

    @classmethod
    def of(cls, job_type: str, payload: JsonValue = None, **options: Any) -> JobSpec:
        """A spec from a JSON value and keyword options (priority, delay_ms, ...).

        Raises:
            ConfigError: An unknown or out-of-range option.
        """
        try:
            opts = JobOptions(**options) if options else _DEFAULT_OPTIONS
        except TypeError as exc:  # an unknown keyword: a bad option like any other
            raise ConfigError(f"unknown job option: {exc}") from None
        return cls(type=job_type, payload=msgspec.json.encode(payload), options=opts)


class Counts(msgspec.Struct, frozen=True):
    """Jobs per state in one queue."""

    ready: int = 0
    delayed: int = 0
    inflight: int = 0
    dead: int = 0
    completed: int = 0
    cancelled: int = 0
    waiting: int = 0  # flows' parents waiting for their children


class Totals(msgspec.Struct, frozen=True):
    """Monotonic counters of one queue since it was created."""

    enqueued: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    dead: int = 0
    reaped: int = 0
    requeued: int = 0
    cancelled: int = 0


class RateLimit(msgspec.Struct, frozen=True):
    """A token-bucket limit on claims: `rate` jobs per second, bursts of up to `burst`."""

    rate: float
    burst: int


class QueueStats(msgspec.Struct, frozen=True):
    """One queue at a glance."""

    name: str
    counts: Counts
    totals: Totals
    paused: bool
    rate_limit: RateLimit | None
    max_depth: int | None


class CancelOutcome(msgspec.Struct, frozen=True):
    """What a cancel did: `cancelled` (it was waiting: gone for good) or `cancelling` (it is
    running: its worker stops it within a third of its lease, and it ends cancelled)."""

    state: Literal["cancelled", "cancelling"]


class DeadPage(msgspec.Struct, frozen=True):
    """A page of dead jobs, newest first; pass next_cursor to get the next page."""

    jobs: list[JobInfo]
    next_cursor: str | None
    total: int


def check_dead_page(limit: int, cursor: str | None) -> int:
    """The offset that `cursor` stands for; ConfigError for a bad limit or cursor."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_DEAD_PAGE:
        raise ConfigError(f"limit must be 1..{MAX_DEAD_PAGE}, got {limit!r}")
    if cursor is None or cursor == "":
        return 0
    if not isinstance(cursor, str) or not cursor.isdigit() or len(cursor) > 15:
        raise ConfigError(f"invalid cursor {cursor!r}")
    return int(cursor)


def check_rate_limit(rate: float, burst: int) -> None:
    """ConfigError unless `rate` is in (0, 1e6] jobs/s and `burst` in 1..1e6."""
    ok_rate = isinstance(rate, int | float) and not isinstance(rate, bool) and 0 < rate <= 1e6
    ok_burst = isinstance(burst, int) and not isinstance(burst, bool) and 1 <= burst <= 1_000_000
    if not (ok_rate and ok_burst):
        raise ConfigError(
            f"rate must be in (0, 1e6] jobs/s and burst in 1..1e6, got {rate}/{burst}"
        )


def check_wait_replicas(wait_replicas: int) -> int:
    """`wait_replicas` when it is an integer >= 0, else ConfigError."""
    n = wait_replicas
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"wait_replicas must be an integer >= 0, got {n!r}")
    return n
