"""What broker methods take and return: reply codes, claim results, nacks (queue stats and
dead pages are wire types, in relay.wire)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from relay.job import Job

# The wire types moved to relay.wire; the old names still resolve here (explicit re-exports).
from relay.wire import Counts as Counts  # noqa: PLC0414 - a re-export
from relay.wire import DeadPage as DeadPage  # noqa: PLC0414 - a re-export
from relay.wire import QueueStats as QueueStats  # noqa: PLC0414 - a re-export
from relay.wire import RateLimit as RateLimit  # noqa: PLC0414 - a re-export
from relay.wire import Totals as Totals  # noqa: PLC0414 - a re-export


class Code(IntEnum):
    """Every status a script can return; negatives are refusals that changed nothing."""

    OK = 1
    ALREADY = 2  # the same claim was acked before: a resend after a lost reply
    CANCEL = 3  # ack: flagged, so cancelled; extend: cancel asked for; cancel: flagged
    PAUSED = -1
    STALE = -2
    CONFLICT = -3
    QUEUE_FULL = -4
    MALFORMED = -5
    RATE_LIMITED = -6
    NOT_DEAD = -7
    NOT_IN_STATE = -8  # job browser: the job is no longer in the state the action works on
    UNKNOWN = -10  # cancel, wait: no such job
    FINISHED = -11  # cancel: already completed or dead


class NackMode(StrEnum):
    """How a job that did not complete goes back."""

    FAIL = "fail"  # a failure: retried after the delay while attempts remain, else dead
    LATER = "later"  # relay.Retry: not a failure; the attempt is given back
    DEAD = "dead"  # non-retryable: dead at once
    CANCEL = "cancel"  # the handler stopped on a cancel: the job ends cancelled


class NackOutcome(IntEnum):
    """Where a nacked job went."""

    READY = 1
    DELAYED = 2
    DEAD = 3
    CANCELLED = 4
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
    cancelled: int = 0  # flagged for cancel: cancelled, not requeued


@dataclass(frozen=True, slots=True)
class Promoted:
    """What one promote call did, and when the next delayed job is due."""

    moved: int
    wait_ms: int  # -1: no delayed jobs; 0: more are due now
    tick_ms: int = -1  # until the queue's next schedule tick: -1 none; 0 due now
