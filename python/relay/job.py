"""Jobs: the options a producer sets, the job a handler receives, and a job's stored view."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec

from relay import _core
from relay.errors import ConfigError, JobCancelled
from relay.keys import validate_group_name

DEFAULT_PRIORITY = 5
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_TIMEOUT_MS = 300_000
MAX_TYPE_LEN = 255
MAX_IDEMPOTENCY_KEY_LEN = 255
MAX_WORKER_LEN = 200  # a claimer's name, kept in the run records of the jobs it holds
_ID_RANDOM_BYTES = 7  # random bytes per job id (50 bits used)

JsonValue = Any  # a decoded JSON value: dict, list, str, int, float, bool or None


class JobState(StrEnum):
    """Where a job is; each job is in exactly one state."""

    DELAYED = "delayed"
    WAITING = "waiting"  # a flow's parent: some of its children are not finished yet
    READY = "ready"
    INFLIGHT = "inflight"
    COMPLETED = "completed"
    DEAD = "dead"
    CANCELLED = "cancelled"


def new_job_id(now_ns: int | None = None) -> str:
    """A 20-character id: 10 chars of milliseconds then 10 random chars, so ids sort by time."""
    return new_job_ids(1, now_ns)[0]


def new_job_ids(n: int, now_ns: int | None = None) -> list[str]:
    """`n` ids as `new_job_id` makes them, with 50 random bits each from os.urandom.

    The random bits come from the OS on every call (never from a seeded generator), so a forked
    process cannot repeat its parent's ids."""
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    return _core.job_ids(ms, os.urandom(_ID_RANDOM_BYTES * n))


@dataclass(frozen=True, slots=True)
class JobOptions:
    """How one job runs: validated once, encoded into the job's envelope."""

    priority: int = DEFAULT_PRIORITY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    delay_ms: int = 0
    run_at_ms: int | None = None  # absolute unix ms; wins over delay_ms
    idempotency_key: str | None = None
    group: str | None = None  # fair scheduling across groups (tenants), decision 0053

    def __post_init__(self) -> None:
        _check_int("priority", self.priority, 0, 9)
        _check_int("max_attempts", self.max_attempts, 1, 65_535)
        _check_int("timeout_ms", self.timeout_ms, 0, 2**32 - 1)
        _check_int("delay_ms", self.delay_ms, 0, 10 * 365 * 86_400_000)
        if self.run_at_ms is not None:
            _check_int("run_at_ms", self.run_at_ms, 0, 2**53)
        key = self.idempotency_key
        if key is not None and (
            not isinstance(key, str) or not key or len(key.encode()) > MAX_IDEMPOTENCY_KEY_LEN
        ):
            raise ConfigError(f"idempotency_key must be 1-{MAX_IDEMPOTENCY_KEY_LEN} bytes")
        if self.group is not None:
            validate_group_name(self.group)


def _check_int(name: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")


def check_job_type(job_type: object) -> str:
    """Return `job_type` if valid (1-255 bytes of text), else raise ConfigError."""
    if not isinstance(job_type, str) or not job_type or len(job_type.encode()) > MAX_TYPE_LEN:
        raise ConfigError(f"job type must be 1-{MAX_TYPE_LEN} bytes of text, got {job_type!r}")
    return job_type


def check_worker(worker: object) -> str:
    """Return `worker` (a claimer's name, '' for none) if it is at most MAX_WORKER_LEN bytes of
    text with no control characters, else raise ConfigError."""
    if (
        not isinstance(worker, str)
        or len(worker.encode()) > MAX_WORKER_LEN
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in worker)
    ):
        raise ConfigError(
            f"worker name must be 0-{MAX_WORKER_LEN} bytes of text without control "
            f"characters, got {worker!r}"
        )
    return worker


class Job:
    """A claimed job, as a handler receives it.

    `payload` is the decoded JSON value (decoded on first access); `payload_bytes` is the raw
    JSON text. `token` fences this claim: acks with an older token are rejected.
    """

    __slots__ = (
        "_cancel",
        "_children",
        "_payload",
        "_sink",
        "attempts",
        "created_ms",
        "group",
        "id",
        "idempotency_key",
        "max_attempts",
        "payload_bytes",
        "priority",
        "queue",
        "timeout_ms",
        "token",
        "type",
    )

    def __init__(
        self,
        queue: str,
        id: str,
        type: str,
        payload_bytes: bytes,
        priority: int,
        attempts: int,
        max_attempts: int,
        timeout_ms: int,
        created_ms: int,
        token: int,
        idempotency_key: str | None,
    ) -> None:
        self.queue = queue
        self.id = id
        self.type = type
        self.payload_bytes = payload_bytes
        self.priority = priority
        self.attempts = attempts
        self.max_attempts = max_attempts
        self.timeout_ms = timeout_ms
        self.created_ms = created_ms
        self.token = token
        self.idempotency_key = idempotency_key
        self.group: str | None = None  # its group (fair scheduling, decision 0053), if any
        self._payload: JsonValue = _UNSET
        self._cancel = False  # set (from any thread) once the worker learns of a cancel
        self._sink: Callable[[Job, bytes], None] | None = None  # where progress goes
        self._children: Any = None  # relay.worker.flows.ChildrenReader, set by the worker

    @property
    def payload(self) -> JsonValue:
        """The job's payload as a JSON value."""
        if self._payload is _UNSET:
            self._payload = msgspec.json.decode(self.payload_bytes) if self.payload_bytes else None
        return self._payload

    @property
    def cancelled(self) -> bool:
        """True once this job's cancel was asked for: a sync handler should stop soon (an
        async handler's task is cancelled for it)."""
        return self._cancel

    def raise_if_cancelled(self) -> None:
        """Raise JobCancelled when this job's cancel was asked for (for sync handlers)."""
        if self._cancel:
            raise JobCancelled(f"job {self.id} was cancelled")

    def progress(self, value: JsonValue) -> None:
        """Report progress: a number from 0 to 100, or a JSON object (at most 4 KiB).

        Cheap to call often, from async or sync handlers: the worker sends the latest value at
        most once per 100 ms per job, on its heartbeat connection."""
        data = progress_bytes(value)
        if self._sink is not None:
            self._sink(self, data)

    async def children_results(self) -> dict[str, JsonValue]:
        """A flow's parent: {child id: result} of its completed children ({} for a job without
        children; dead or cancelled children, which only an "ignore" parent runs with, are
        left out)."""
        return await self._reader().read(self)  # type: ignore[no-any-return]

    def children_results_sync(self) -> dict[str, JsonValue]:
        """`children_results` for sync handlers (they run in threads)."""
        return self._reader().read_blocking(self)  # type: ignore[no-any-return]

    def _reader(self) -> Any:
        if self._children is None:
            raise ConfigError("children_results needs a job claimed by a relay Worker")
        return self._children

    @property
    def timeout(self) -> float | None:
        """The execution limit in seconds, or None for no limit."""
        return self.timeout_ms / 1000 if self.timeout_ms else None

    def __repr__(self) -> str:
        return (
            f"Job(queue={self.queue!r}, id={self.id!r}, type={self.type!r}, "
            f"attempts={self.attempts}/{self.max_attempts})"
        )


_UNSET: Any = object()
MAX_PROGRESS_BYTES = 4096


def progress_bytes(value: JsonValue) -> bytes:
    """A progress value as JSON; ConfigError unless a number 0-100 or an object ≤ 4 KiB."""
    if isinstance(value, bool) or not isinstance(value, int | float | dict):
        raise ConfigError(f"progress must be a number 0-100 or a JSON object, got {value!r}")
    if not isinstance(value, dict) and not 0 <= value <= 100:
        raise ConfigError(f"progress must be from 0 to 100, got {value!r}")
    try:
        data = msgspec.json.encode(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"progress is not JSON-encodable: {exc}") from None
    if len(data) > MAX_PROGRESS_BYTES:
        raise ConfigError(f"progress of {len(data)} bytes is over {MAX_PROGRESS_BYTES} bytes")
    return data


class JobInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A job as stored, with its state: what lookups and the dead set return."""

    id: str
    queue: str
    type: str
    payload: JsonValue
    priority: int
    state: JobState
    attempts: int
    max_attempts: int
    timeout_ms: int
    idempotency_key: str | None
    last_error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    run_at: float | None
    result: JsonValue = None  # what the handler returned (completed jobs)
    result_error: str | None = None  # why a completed job's result was not kept
    progress: JsonValue = None  # the last progress its handler reported
    cancel_requested: bool = False  # in flight, and its cancel was asked for
    lease_deadline: float | None = None  # in flight: when the lease runs out (unix seconds)
    worker: str | None = None  # in flight: the worker holding it (its name when it claimed)
    group: str | None = None  # fair scheduling's group (decision 0053)
    children: list[FlowChild] | None = None  # a flow's parent: its children and their states


class FlowChild(msgspec.Struct, frozen=True, kw_only=True):
    """One child of a flow's parent, as `get_job` lists it."""

    id: str
    queue: str
    state: str  # a JobState, or "unknown" when the child's record is gone (trimmed)


class EnqueueResult(msgspec.Struct, frozen=True):
    """The id a job got, and whether the enqueue was a repeat of an earlier one."""

    id: str
    duplicate: bool = False
