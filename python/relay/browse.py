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
    payload_size: int  # bytes of JSON text
    payload_preview: str  # the first PREVIEW_BYTES bytes of it
    payload_truncated: bool


class JobPage(msgspec.Struct, frozen=True):
    """A page of jobs in one state; pass `next_cursor` back for the next (None: no more)."""

    jobs: list[JobRow]
    next_cursor: str | None


class Changed(msgspec.Struct, frozen=True):
    """How many jobs an action changed."""

    changed: int


def check_state(state: object) -> JobState:
    """The state named by `state`; ConfigError naming the parameter otherwise."""
    if state == "cancelled":
        raise ConfigError(
            "state 'cancelled' is not available: relay has no job cancellation yet; "
            f"state must be one of {_STATE_NAMES}"
        )
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
