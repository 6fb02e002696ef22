"""Browsing jobs by state: the page and row types, the cursor, and what each state allows.

Shared by the broker (`relay.broker.browse`), the HTTP API and both HTTP clients, so none of
them imports another's engine. A cursor is opaque to callers: URL-safe base64 of a small JSON
array naming the state it belongs to and where the last page stopped (see docs/data-model.md).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from relay.errors import ConfigError
from relay.job import JobState
from relay.keys import validate_group_name

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
PREVIEW_BYTES = 256  # payload bytes a row carries; GET .../jobs/{id} has the whole payload
SCAN_BUDGET = 5000  # jobs a filtered page examines at most (a page may come back short)
STATES = tuple(s.value for s in JobState)
_STATE_NAMES = ", ".join(STATES)
_MAX_CURSOR = 4096


class JobRow(msgspec.Struct, frozen=True, kw_only=True):
    """One job of a listing: what GET .../jobs/{id} shows, with a payload preview."""

    id: str
    queue: str
    type: str
    state: JobState
    priority: int
    attempts: int
    max_attempts: int
    timeout_ms: int
    idempotency_key: str | None
    last_error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    run_at: float | None
    lease_deadline: float | None  # in flight: when the lease runs out (unix seconds)
    worker: str | None = None  # in flight: the worker holding it (the name it claimed with)
    payload_size: int  # bytes of JSON text
    payload_preview: str  # the first PREVIEW_BYTES bytes of it
    payload_truncated: bool


class JobPage(msgspec.Struct, frozen=True):
    """A page of jobs in one state; pass `next_cursor` back for the next (None: no more).

    Orders: ready in claim order (priority, then FIFO); delayed by run_at; in flight by lease
    deadline; completed and dead newest first. A job that stays in its state is never skipped
    between consecutive pages (on a moving queue one may show twice). Filtered by type, a page
    examines at most SCAN_BUDGET jobs and may come back short, even empty, with a next_cursor:
    keep paging. A bad state, cursor or limit (1..MAX_LIMIT) is a ConfigError.

    Ready jobs of a group (fair scheduling, decision 0053) are listed only with that group
    (`group=`): without it, state=ready lists the ungrouped jobs.
    """

    jobs: list[JobRow]
    next_cursor: str | None


class Changed(msgspec.Struct, frozen=True):
    """How many jobs an action changed."""

    changed: int


def check_state(state: object) -> JobState:
    """The state named by `state`; ConfigError naming the parameter otherwise."""
    if not isinstance(state, str) or state not in STATES:
        raise ConfigError(f"state must be one of {_STATE_NAMES}, got {state!r}")
    return JobState(state)


def check_limit(limit: object) -> int:
    """`limit` if it is a page size from 1 to MAX_LIMIT; ConfigError naming it otherwise."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ConfigError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def check_type_filter(job_type: object) -> str:
    """'' for no filter, else the job type (1-255 bytes)."""
    if job_type is None or job_type == "":
        return ""
    if not isinstance(job_type, str) or len(job_type.encode()) > 255:
        raise ConfigError(f"type must be a job type of 1-255 bytes, got {job_type!r}")
    return job_type


def check_job_id(job_id: object) -> str:
    """`job_id` when it can name one job; ConfigError otherwise (an action's scripts read an
    empty id as "a selection", so it must never reach them)."""
    if not isinstance(job_id, str) or not job_id:
        raise ConfigError(f"job id must be a non-empty string, got {job_id!r}")
    return job_id


DELETABLE = (JobState.READY, JobState.DELAYED, JobState.DEAD)
ALLOWED = {"promote": (JobState.DELAYED,), "requeue": (JobState.DEAD,), "delete": DELETABLE}


def check_action(action: str, state: object) -> JobState:
    """The state, when `state` allows `action` (promote, requeue, delete); ConfigError else."""
    st = check_state(state)
    allowed = ALLOWED[action]
    if st not in allowed:
        names = " or ".join(s.value for s in allowed)
        raise ConfigError(f"state must be {names} to {action} jobs, got {st.value!r}")
    return st


class Page(msgspec.Struct, frozen=True):
    """A listing's arguments, checked: the cursor's parts (None: the first page), the type
    filter ('' none) and the group (None: not filtered by group)."""

    state: JobState
    limit: int
    cursor: list[Any] | None
    job_type: str
    group: str | None


def check_page(
    state: object,
    limit: object,
    cursor: str | None,
    job_type: object,
    group: object = None,
) -> Page:
    """A listing's arguments checked (ConfigError naming the bad one, before any I/O)."""
    st = check_state(state)
    grp = check_group_filter(group, st)
    lim, jt = check_limit(limit), check_type_filter(job_type)
    return Page(st, lim, check_cursor(cursor, st, grp), jt, grp)


def check_group_filter(group: object, state: JobState) -> str | None:
    """None for no filter, else the group; only ready jobs are listed by group."""
    if group is None or group == "":
        return None
    validate_group_name(group)
    if state is not JobState.READY:
        raise ConfigError(f"group: only state=ready lists by group, got state={state.value!r}")
    return str(group)


def check_cursor(cursor: str | None, state: JobState, group: str | None = None) -> list[Any] | None:
    """The parts of a cursor this API returned for `state` (and `group`); None for none."""
    if not cursor:
        return None
    parts = decode_cursor(cursor, state)
    if not (_ready_parts(parts) if state is JobState.READY else _scored_parts(parts)):
        raise ConfigError("cursor is not one this API returned")
    if state is JobState.READY and (parts[4] if len(parts) == 5 else None) != group:
        raise ConfigError("cursor belongs to a listing of another group (or of no group)")
    return parts


def _ready_parts(parts: list[Any]) -> bool:
    """["ready", list 1..10, index, [up to 3 anchor ids][, group]]"""
    return (
        len(parts) in (4, 5)
        and (len(parts) == 4 or isinstance(parts[4], str))
        and all(isinstance(p, int) and not isinstance(p, bool) for p in parts[1:3])
        and 1 <= parts[1] <= 10
        and 0 <= parts[2] < 2**53
        and isinstance(parts[3], list)
        and len(parts[3]) <= 3
        and all(isinstance(a, str) and a for a in parts[3])
    )


def _scored_parts(parts: list[Any]) -> bool:
    """[state, score as text, last id]"""
    if len(parts) != 3 or not all(isinstance(p, str) and p for p in parts[1:]):
        return False
    try:
        float(parts[1])
    except ValueError:
        return False
    return True


def encode_cursor(parts: list[Any]) -> str:
    """An opaque cursor from its parts (the state's name first)."""
    return base64.urlsafe_b64encode(msgspec.json.encode(parts)).decode().rstrip("=")


def decode_cursor(cursor: str, state: JobState) -> list[Any]:
    """The parts of a cursor made for `state`; ConfigError naming `cursor` otherwise."""
    bad = ConfigError(f"cursor is not one this API returned: {cursor[:40]!r}")
    if len(cursor) > _MAX_CURSOR:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = msgspec.json.decode(raw, type=list[Any])
    except (ValueError, binascii.Error, msgspec.DecodeError, msgspec.ValidationError):
        raise bad from None
    if not parts or parts[0] != state.value:
        raise ConfigError(f"cursor does not belong to a listing of state {state.value!r}")
    return parts
