"""What broker methods take and return: reply codes, claim results, nacks, queue stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

import msgspec

from relay.job import Job, JobInfo


class Code(IntEnum):
    """Every status a script can return; negatives are refusals that changed nothing."""

    OK = 1
    ALREADY = 2  # the same claim was acked before: a resend after a lost reply
    PAUSED = -1
    STALE = -2
    CONFLICT = -3
    QUEUE_FULL = -4
    MALFORMED = -5
    RATE_LIMITED = -6
    NOT_DEAD = -7


class NackMode(StrEnum):
    """How a job that did not complete goes back."""

    FAIL = "fail"  # a failure: retried after the delay while attempts remain, else dead
    LATER = "later"  # relay.Retry: not a failure; the attempt is given back
    DEAD = "dead"  # non-retryable: dead at once


class NackOutcome(IntEnum):
    """Where a nacked job went."""

    READY = 1
    DELAYED = 2
    DEAD = 3
    STALE = -2


@dataclass(frozen=True, slots=True)
class Nack:
    """One job to give back, with the claim token that fences it."""

    id: str
    token: int
    mode: NackMode
    delay_ms: int
    error: str


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A claimed job whose record could not be decoded; the caller dead-letters it."""

    id: str
    token: int
    reason: str


@dataclass(frozen=True, slots=True)
class Claimed:
    """The answer to one claim: jobs, or why there are none (paused, rate-limited)."""

    jobs: list[Job] = field(default_factory=list)
    undecodable: list[Undecodable] = field(default_factory=list)
    paused: bool = False
    wait_ms: int = 0  # > 0 when rate-limited: the next token is due then
    now_ms: int = 0  # Redis time of the claim


@dataclass(frozen=True, slots=True)
class Reaped:
    """What one reap call did."""

    requeued: int
    dead: int
    more: bool  # the batch limit was hit: call again


@dataclass(frozen=True, slots=True)
class Promoted:
    """What one promote call did, and when the next delayed job is due."""

    moved: int
    wait_ms: int  # -1: no delayed jobs; 0: more are due now
    tick_ms: int = -1  # until the queue's next schedule tick: -1 none; 0 due now


class Counts(msgspec.Struct, frozen=True):
    """Jobs per state in one queue."""

    ready: int = 0
    delayed: int = 0
    inflight: int = 0
    dead: int = 0
    completed: int = 0


class Totals(msgspec.Struct, frozen=True):
    """Monotonic counters of one queue since it was created."""

    enqueued: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    dead: int = 0
    reaped: int = 0
    requeued: int = 0


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


class DeadPage(msgspec.Struct, frozen=True):
    """A page of dead jobs, newest first; pass next_cursor to get the next page."""

    jobs: list[JobInfo]
    next_cursor: str | None
    total: int
