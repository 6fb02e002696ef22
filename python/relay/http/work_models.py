"""Wire models of the worker protocol over HTTP: claim, ack, nack, extend (decision 0047).

Integers are declared `float` with multiple_of=1, as in models.py (OpenAPI states them as
integers). A body the schema refuses is a 400 as a whole; a job the schema accepts but Redis
does not (unknown id, lease lost) gets its own outcome, so one stale job never fails the rest.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from relay.http.models import MAX_BATCH, ErrorDetail, JobId

MAX_WAIT_MS = 30_000
MAX_LEASE_MS = 86_400_000  # a day; a longer job extends its lease
MIN_LEASE_MS = 100
MAX_ERROR_CHARS = 4000  # what nack.lua keeps of an error text

Token = Annotated[
    float,
    msgspec.Meta(ge=1, le=2**53 - 1, multiple_of=1, description="The claim's fencing token"),
]
LeaseMs = Annotated[
    float,
    msgspec.Meta(
        ge=MIN_LEASE_MS,
        le=MAX_LEASE_MS,
        multiple_of=1,
        description="How long the jobs stay yours: Redis now + lease_ms; extend before it ends",
    ),
]


WorkerName = Annotated[
    str,
    msgspec.Meta(
        pattern="^[ -~]{1,100}$",
        description="The claimer's name (printable ASCII, 1-100 characters), shown as "
        '"http:<name>" for the jobs it holds; without it, "http:<client address>"',
    ),
]


def _null() -> msgspec.Raw:
    return msgspec.Raw(b"null")


class ClaimRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Lease up to `max` ready jobs, highest priority first; with `wait_ms`, a long-poll that
    answers as soon as a job is ready (or after `wait_ms` with no jobs)."""

    max: Annotated[float, msgspec.Meta(ge=1, le=MAX_BATCH, multiple_of=1)] = 1
    lease_ms: LeaseMs = 30_000
    wait_ms: Annotated[float, msgspec.Meta(ge=0, le=MAX_WAIT_MS, multiple_of=1)] = 0
    worker: WorkerName | None = None


class ClaimedJob(msgspec.Struct, kw_only=True):
    """A leased job: run it, then ack or nack it with its `token` before the lease ends."""

    id: str
    type: str
    payload: msgspec.Raw
    priority: int
    attempts: int
    max_attempts: int
    timeout_ms: int
    token: int
    created_at: float
    lease_until: float  # unix seconds (Redis time): ack, nack or extend before then
    idempotency_key: str | None
    group: str | None = None  # its group (fair scheduling), None for an ungrouped job


class ClaimResponse(msgspec.Struct, kw_only=True):
    """The leased jobs (none after a quiet wait); `paused` when the queue is paused."""

    jobs: list[ClaimedJob]
    paused: bool = False


class HeldJob(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A job this worker holds: its id and the token its claim gave."""

    id: JobId
    token: Token


class AckJob(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A completed job. `result` (any JSON; null = none) is stored with the completed job, as
    a Python handler's return value is; over the result limit the job still completes, with
    `result: null` and a `result_error` saying why."""

    id: JobId
    token: Token
    result: msgspec.Raw = msgspec.field(default_factory=_null)


class NackJob(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A failed job: retried after `retry_after_ms` (default: exponential backoff with full
    jitter from 1 s) while attempts remain, else dead; `fatal` sends it to the dead set now."""

    id: JobId
    token: Token
    error: Annotated[str, msgspec.Meta(max_length=MAX_ERROR_CHARS)] = ""
    retry_after_ms: (
        Annotated[float, msgspec.Meta(ge=0, le=10 * 365 * 86_400_000, multiple_of=1)] | None
    ) = None
    fatal: bool = False


class AckRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Up to 1000 completed jobs."""

    jobs: Annotated[list[AckJob], msgspec.Meta(max_length=MAX_BATCH)]


class NackRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Up to 1000 failed jobs."""

    jobs: Annotated[list[NackJob], msgspec.Meta(max_length=MAX_BATCH)]


class ExtendRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Push the leases of up to 1000 held jobs to Redis now + `lease_ms`."""

    jobs: Annotated[list[HeldJob], msgspec.Meta(max_length=MAX_BATCH)]
    lease_ms: LeaseMs = 30_000


class JobOutcome(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What became of one job of the request, in request order.

    `outcome`: `ok`; `stale` (409: the lease was lost or the token superseded; nothing
    changed, the job is someone else's now); `not_found` (404: no such job in this queue);
    `invalid` (400: e.g. the id twice in one request). `state` after a nack: `ready`,
    `delayed` or `dead`. `error` says why, in the API's error shape, whenever `outcome` is not ok.
    """

    id: str
    outcome: str
    status: int
    state: str | None = None
    error: ErrorDetail | None = None


class OutcomeResponse(msgspec.Struct):
    """One outcome per job, in request order."""

    jobs: list[JobOutcome]
