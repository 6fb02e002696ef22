"""Wire models of the HTTP API: msgspec Structs that both validate requests and feed OpenAPI."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from relay.job import MAX_IDEMPOTENCY_KEY_LEN, MAX_TYPE_LEN
from relay.schedules.cron import MAX_LEN as MAX_CRON_LEN
from relay.schedules.cron import json_pattern as cron_pattern
from relay.schedules.model import ScheduleInfo
from relay.schedules.timing import MAX_EVERY_MS, zone_names
from relay.wire import QueueStats

# Printable ASCII: the schema's length limit then equals the envelope's byte limit, so a string
# the schema calls valid is never refused for its UTF-8 size.
_PRINTABLE = "^[ -~]+$"
_QUEUE_PATTERN = r"^[A-Za-z0-9._\-/@+=~!$%^&*()\[\]<>?|#]{1,128}$"
MAX_BATCH = 1000

# Integer fields are declared `float` with multiple_of=1: JSON Schema calls 5.0 an integer, so
# the API accepts it too (a strict msgspec `int` would not). Every bound is below 2**53, so the
# float is exact; handlers convert with int(). The OpenAPI document states them as integers.

JobType = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_TYPE_LEN,
        pattern=_PRINTABLE,
        description="The handler to run: 1-255 printable ASCII characters.",
    ),
]
IdempotencyKey = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_LEN,
        pattern=_PRINTABLE,
        description="Dedupes enqueues for 24 h: 1-255 printable ASCII characters.",
    ),
]
QueueName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=128,
        pattern=_QUEUE_PATTERN,
        description="1-128 printable characters, none of '{' '}' ':' or whitespace.",
    ),
]
GroupName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=128,
        pattern=_PRINTABLE,
        description="Fair scheduling: jobs of one group take turns with the other groups of "
        "their priority (1-128 printable ASCII characters).",
    ),
]
JobId = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Cursor = Annotated[
    str,
    msgspec.Meta(pattern="^[0-9]{0,15}$", description="next_cursor of the previous page"),
]


def _null() -> msgspec.Raw:
    return msgspec.Raw(b"null")


class JobFields(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A job's type, payload and options (EnqueueRequest; a flow's jobs, without a key)."""

    type: JobType
    payload: msgspec.Raw = msgspec.field(default_factory=_null)
    priority: Annotated[
        float, msgspec.Meta(ge=0, le=9, multiple_of=1, description="9 runs first")
    ] = 5
    delay_ms: Annotated[float, msgspec.Meta(ge=0, le=10 * 365 * 86_400_000, multiple_of=1)] = 0
    run_at: (
        Annotated[
            float,
            msgspec.Meta(ge=0, le=9e12, description="Unix time in seconds; wins over delay_ms"),
        ]
        | None
    ) = None
    max_attempts: Annotated[float, msgspec.Meta(ge=1, le=65_535, multiple_of=1)] = 5
    timeout_ms: Annotated[
        float,
        msgspec.Meta(ge=0, le=2**32 - 1, multiple_of=1, description="Execution limit; 0 = none"),
    ] = 300_000
    group: GroupName | None = None


class EnqueueRequest(JobFields, forbid_unknown_fields=True, kw_only=True):
    """One job to enqueue; the payload is any JSON value and is stored byte for byte."""

    idempotency_key: IdempotencyKey | None = None


class BatchRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Up to 1000 jobs enqueued atomically in one Redis round trip."""

    jobs: Annotated[list[EnqueueRequest], msgspec.Meta(max_length=MAX_BATCH)]


class EnqueueResponse(msgspec.Struct):
    """The job's id; duplicate is true when an idempotency key matched an earlier job."""

    id: str
    duplicate: bool


class BatchResponse(msgspec.Struct):
    """The ids, in request order (an idempotent repeat gives the first job's id)."""

    ids: list[str]


class RateLimitRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A claim rate limit: `rate` jobs per second, bursts of up to `burst`."""

    rate: Annotated[float, msgspec.Meta(gt=0, le=1e6)]
    burst: Annotated[float, msgspec.Meta(ge=1, le=1_000_000, multiple_of=1)]


class GroupRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A group's share and limits; a limit left out (or null) is removed."""

    weight: Annotated[
        float, msgspec.Meta(ge=1, le=1000, multiple_of=1, description="Jobs per turn")
    ] = 1
    max_inflight: (
        Annotated[
            float,
            msgspec.Meta(
                ge=1, le=1_000_000, multiple_of=1, description="Most jobs of the group in flight"
            ),
        ]
        | None
    ) = None
    rate: Annotated[float, msgspec.Meta(gt=0, le=1e6, description="Jobs/s")] | None = None
    burst: Annotated[float, msgspec.Meta(ge=1, le=1_000_000, multiple_of=1)] | None = None


class GroupsQuery(msgspec.Struct, forbid_unknown_fields=False):
    """Query parameters of the group listing."""

    limit: Annotated[float, msgspec.Meta(ge=1, le=1000, multiple_of=1)] = 100


class DeadQuery(msgspec.Struct, forbid_unknown_fields=False):
    """Query parameters of the dead-letter listing."""

    limit: Annotated[float, msgspec.Meta(ge=1, le=1000, multiple_of=1)] = 50
    cursor: Cursor | None = None


class EnqueueQuery(msgspec.Struct, forbid_unknown_fields=False):
    """Query parameters of the enqueue routes."""

    wait_replicas: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            le=16,
            multiple_of=1,
            description="Answer only once this many replicas have the jobs (Redis WAIT); "
            "503 when too few confirm in time, and enqueueing again is then safe",
        ),
    ] = 0


class QueueList(msgspec.Struct):
    """Every known queue at a glance."""

    queues: list[QueueStats]


class Requeued(msgspec.Struct):
    """How many dead jobs went back to ready."""

    requeued: int


class Deleted(msgspec.Struct):
    """How many dead jobs were deleted."""

    deleted: int


class Health(msgspec.Struct):
    """Redis answers and relay's scripts are loaded."""

    status: str
    redis: bool
    scripts: bool


class ErrorDetail(msgspec.Struct):
    """What went wrong: a stable code and a message for people."""

    code: str
    message: str


class ErrorBody(msgspec.Struct):
    """Every 4xx/5xx answer of the API."""

    error: ErrorDetail


class QueueRates(msgspec.Struct):
    """Jobs per second over the last stats interval."""

    enqueued: float
    completed: float
    failed: float
    dead: float


class JobEvent(msgspec.Struct, omit_defaults=True):
    """SSE `event: job`: a batch of jobs that changed state together (kind "progress": jobs
    that reported progress, with `progress` {id: value})."""

    queue: str
    kind: str
    ids: list[str]
    n: int
    ts: float
    progress: msgspec.Raw | None = None


class StatsEvent(msgspec.Struct):
    """SSE `event: stats`, once per interval: every queue, and rates since the last one."""

    ts: float
    queues: list[QueueStats]
    rates: dict[str, QueueRates]


ScheduleName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._\-@+=~!$%^&*()\[\]<>?|#]{1,128}$",
        description="1-128 printable characters, none of '/' ':' '{' '}' or whitespace.",
    ),
]


class ScheduleRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A schedule: exactly one of `cron` and `every_ms`, and the job each tick enqueues."""

    cron: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=MAX_CRON_LEN,
                description="5 fields (minute hour day month weekday) separated by one space, "
                "a 6th leading one for seconds, or @hourly/@daily/@weekly/@monthly/@yearly; "
                "lists, ranges (22-2 wraps), steps, names (jan or JAN, mon or MON)",
            ),
        ]
        | UnsetType
    ) = UNSET
    every_ms: Annotated[float, msgspec.Meta(ge=100, le=MAX_EVERY_MS, multiple_of=1)] | UnsetType = (
        UNSET
    )
    timezone: Annotated[str, msgspec.Meta(description="IANA zone of `cron`")] = "UTC"
    type: JobType | None = None
    payload: msgspec.Raw = msgspec.field(default_factory=_null)
    priority: Annotated[float, msgspec.Meta(ge=0, le=9, multiple_of=1)] = 5
    max_attempts: Annotated[float, msgspec.Meta(ge=1, le=65_535, multiple_of=1)] = 5
    timeout_ms: Annotated[float, msgspec.Meta(ge=0, le=2**32 - 1, multiple_of=1)] = 300_000
    paused: bool = False
    misfire: Literal["once", "skip"] = "once"
    group: GroupName | None = None


def refine_schedule_schema(schema: dict[str, Any]) -> None:
    """What a Struct cannot say: exactly one of cron and every_ms; the zones this server knows
    (timezone only with cron). Schema-valid then means accepted, except a day of month that
    its months never have (`0 0 31 2 *`), a 400 the schema cannot express."""
    # The cron grammar is checked by the parser (its errors name the field, msgspec's would
    # quote this regex); the schema states the same grammar.
    schema["properties"]["cron"]["pattern"] = cron_pattern()
    schema["properties"]["timezone"]["enum"] = sorted(zone_names())
    schema["oneOf"] = [
        {"required": ["cron"], "not": {"required": ["every_ms"]}},
        {
            "required": ["every_ms"],
            "not": {"required": ["cron"]},
            "properties": {"timezone": {"const": "UTC"}},
        },
    ]


def refine_group_schema(schema: dict[str, Any]) -> None:
    """What a Struct cannot say: rate and burst go together (both numbers, or both absent)."""
    schema["anyOf"] = [
        {"properties": {"rate": {"type": "null"}, "burst": {"type": "null"}}},
        {
            "required": ["rate", "burst"],
            "properties": {"rate": {"type": "number"}, "burst": {"type": "number"}},
        },
    ]


class ScheduleList(msgspec.Struct):
    """Every schedule of a queue, by name."""

    schedules: list[ScheduleInfo]


class Triggered(msgspec.Struct):
    """The job a trigger enqueued."""

    id: str
