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
    "GroupLimits",
    "GroupPage",
    "GroupStats",
    "JobInfo",
    "JobSpec",
    "QueueStats",
    "RateLimit",
    "Totals",
    "check_dead_page",
    "check_group_limits",
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


class GroupLimits(msgspec.Struct, frozen=True, kw_only=True):
    """One group's share and limits (decision 0053): its weight in the round-robin (jobs per
    turn), its concurrency cap and its token bucket (`rate` jobs/s, bursts of `burst`)."""

    weight: int = 1
    max_inflight: int | None = None
    rate: float | None = None
    burst: int | None = None


class GroupStats(msgspec.Struct, frozen=True, kw_only=True):
    """One group of a queue: its ready backlog, jobs in flight and limits. `capped`: at its
    cap, out of the turns until a job finishes; `limited_until` (unix s): out of the turns
    until its next token."""

    name: str
    backlog: int
    in_flight: int
    limits: GroupLimits
    capped: bool = False
    limited_until: float | None = None


class GroupPage(msgspec.Struct, frozen=True, kw_only=True):
    """Groups of a queue, largest backlog first (then most in flight): those with ready jobs
    or jobs in flight (`total` counts them), then groups with limits and nothing to do
    (`limited` counts every group with limits)."""

    groups: list[GroupStats]
    total: int
    limited: int
    sampled: bool = False  # over 10,000 jobs in flight: in_flight of groups without limits
    # counts those among the first 10,000 (a lower bound)


MAX_WEIGHT = 1000
MAX_GROUP_INFLIGHT = 1_000_000
MAX_GROUP_PAGE = 1000


def check_group_limits(limits: GroupLimits) -> GroupLimits:
    """`limits` when every value is in range, else ConfigError naming the field."""
    w, cap, rate, burst = limits.weight, limits.max_inflight, limits.rate, limits.burst
    if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= MAX_WEIGHT:
        raise ConfigError(f"weight must be an integer from 1 to {MAX_WEIGHT}, got {w!r}")
    if cap is not None and (
        isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_GROUP_INFLIGHT
    ):
        raise ConfigError(
            f"max_inflight must be an integer from 1 to {MAX_GROUP_INFLIGHT}, got {cap!r}"
        )
    if (rate is None) != (burst is None):
        raise ConfigError("rate and burst go together: set both or neither")
    if rate is not None and burst is not None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1e6:
            raise ConfigError(f"rate must be in (0, 1e6] jobs/s, got {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= 1_000_000:
            raise ConfigError(f"burst must be an integer from 1 to 1e6, got {burst!r}")
    return limits


def check_group_page(limit: int) -> int:
    """`limit` when it is 1..1000, else ConfigError."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_GROUP_PAGE:
        raise ConfigError(f"limit must be 1..{MAX_GROUP_PAGE}, got {limit!r}")
    return limit


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
