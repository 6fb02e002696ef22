"""What a schedule is: its definition (validated once, stored as JSON) and its stored view."""

from __future__ import annotations

import re
from dataclasses import KW_ONLY, dataclass
from enum import StrEnum
from typing import Any

import msgspec

from relay.errors import ConfigError
from relay.job import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PRIORITY,
    DEFAULT_TIMEOUT_MS,
    JobOptions,
    JsonValue,
    check_job_type,
)
from relay.keys import validate_group_name, validate_queue_name
from relay.schedules.timing import CronTiming, EveryTiming, Timing

_NAME = re.compile(r"[A-Za-z0-9._\-@+=~!$%^&*()\[\]<>?|#]{1,128}")


class Misfire(StrEnum):
    """What a schedule does with ticks missed while no worker ran."""

    ONCE = "once"  # one catch-up job, then on from now
    SKIP = "skip"  # none


def check_schedule_name(name: object) -> str:
    """Return `name` if valid (1-128 printable characters, no `/`, `:`, braces or space)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"name: invalid schedule name {name!r}: 1-128 printable characters, none of "
            "'/' ':' '{' '}' or whitespace"
        )
    return name


class Schedule(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A schedule's definition: when it fires (`cron` or `every_ms`) and the job it enqueues."""

    name: str
    type: str = ""  # "" means: the schedule's name
    cron: str | None = None
    every_ms: int | None = None
    timezone: str = "UTC"
    payload: JsonValue = None
    priority: int = DEFAULT_PRIORITY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    paused: bool = False
    misfire: Misfire = Misfire.ONCE
    group: str | None = None  # fair scheduling's group of the ticks' jobs (decision 0053)

    @property
    def job_type(self) -> str:
        return self.type or self.name

    def validated(self) -> Schedule:
        """Self, once every field is checked; ConfigError naming the first bad one."""
        check_schedule_name(self.name)
        try:
            check_job_type(self.job_type)
        except ConfigError as exc:
            raise ConfigError(f"type: {exc}") from None
        self.timing()
        self.options()
        if not isinstance(self.paused, bool):
            raise ConfigError(f"paused must be true or false, got {self.paused!r}")
        if self.misfire not in tuple(Misfire):
            raise ConfigError(f"misfire must be 'once' or 'skip', got {self.misfire!r}")
        return self

    def options(self) -> JobOptions:
        """The options of the ticks' jobs; ConfigError naming a bad one."""
        return JobOptions(
            priority=self.priority,
            max_attempts=self.max_attempts,
            timeout_ms=self.timeout_ms,
            group=self.group,
        )

    def timing(self) -> Timing:
        """The tick arithmetic; ConfigError unless exactly one of cron and every_ms is set."""
        if (self.cron is None) == (self.every_ms is None):
            raise ConfigError("cron/every_ms: give exactly one of cron and every_ms")
        if self.every_ms is not None:
            if self.timezone != "UTC":
                raise ConfigError("timezone: applies to cron only; every_ms counts real time")
            return EveryTiming(self.every_ms)
        return CronTiming.of(self.cron or "", self.timezone)

    def timing_key(self) -> str:
        """What decides the ticks: a changed key re-plans `next_run_at`, an equal one keeps it."""
        if self.every_ms is not None:
            return f"every {self.every_ms}"
        return f"cron {self.cron} {self.timezone}"

    def encode(self) -> bytes:
        return msgspec.json.encode(self)

    def payload_bytes(self) -> bytes:
        return msgspec.json.encode(self.payload)


class ScheduleInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A stored schedule with its state; times are unix seconds (None: not yet / paused)."""

    name: str
    type: str
    cron: str | None
    every_ms: int | None
    timezone: str
    payload: JsonValue
    priority: int
    max_attempts: int
    timeout_ms: int
    paused: bool
    misfire: Misfire
    next_run_at: float | None
    last_run_at: float | None
    last_job_id: str | None
    group: str | None = None


def info(
    s: Schedule, next_ms: int | None, last_ms: int | None, last_job: str | None
) -> ScheduleInfo:
    """The stored view of `s`."""
    return ScheduleInfo(
        name=s.name,
        type=s.job_type,
        cron=s.cron,
        every_ms=s.every_ms,
        timezone=s.timezone,
        payload=s.payload,
        priority=s.priority,
        max_attempts=s.max_attempts,
        timeout_ms=s.timeout_ms,
        paused=s.paused,
        misfire=s.misfire,
        next_run_at=None if next_ms is None else next_ms / 1000,
        last_run_at=None if last_ms is None else last_ms / 1000,
        last_job_id=last_job,
        group=s.group,
    )


def decode_schedule(data: bytes | str) -> Schedule:
    """A Schedule from its JSON; ConfigError naming the bad field."""
    try:
        return msgspec.json.decode(data, type=Schedule)
    except msgspec.ValidationError as exc:
        raise ConfigError(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"schedule is not valid JSON: {exc}") from None


@dataclass(frozen=True, slots=True)
class Cron:
    """`@task(..., schedule=relay.Cron("0 6 * * *", timezone="Europe/Paris"))`.

    The worker creates or updates the schedule when it starts: in `queue` (default: the
    worker's first queue), named `name` (default: the task's job type), enqueuing `payload`
    (in `group`, when given: fair scheduling, decision 0053).
    """

    expr: str
    timezone: str = "UTC"
    _: KW_ONLY
    misfire: Misfire | str = Misfire.ONCE
    queue: str | None = None
    name: str | None = None
    payload: JsonValue = None
    group: str | None = None

    def __post_init__(self) -> None:
        CronTiming.of(self.expr, self.timezone)
        _check_declared(self.misfire, self.queue, self.name, self.group)

    def fields(self) -> dict[str, Any]:
        return {"cron": self.expr, "timezone": self.timezone, "misfire": Misfire(self.misfire)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Every:
    """`@task(..., schedule=relay.Every(ms=60_000))`: a tick every `ms`, epoch-aligned."""

    ms: int
    misfire: Misfire | str = Misfire.ONCE
    queue: str | None = None
    name: str | None = None
    payload: JsonValue = None
    group: str | None = None

    def __post_init__(self) -> None:
        EveryTiming(self.ms)
        _check_declared(self.misfire, self.queue, self.name, self.group)

    def fields(self) -> dict[str, Any]:
        return {"every_ms": self.ms, "misfire": Misfire(self.misfire)}


def _check_declared(
    misfire: object, queue: str | None, name: str | None, group: str | None
) -> None:
    if misfire not in tuple(Misfire):
        raise ConfigError(f"misfire must be 'once' or 'skip', got {misfire!r}")
    if queue is not None:
        validate_queue_name(queue)
    if name is not None:
        check_schedule_name(name)
    if group is not None:
        validate_group_name(group)
