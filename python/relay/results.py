"""Job results: how a handler's return value is stored, read back, and turned into an outcome.

A result record is one value in the queue's `res` hash: `=` then the JSON text of the value,
or `!` then why no value was kept (over the size limit, not encodable as JSON). The job
completes either way: its side effects are done. Neutral ground: no redis-py, no aiohttp.
"""

from __future__ import annotations

import math

import msgspec

from relay.errors import ConfigError, JobCancelled, JobFailed
from relay.job import JobInfo, JobState, JsonValue

DEFAULT_MAX_RESULT_BYTES = 1 << 20
MAX_WAIT_MS = 60_000  # one wait over HTTP, and one step of a longer wait in Python
FINISHED = (JobState.COMPLETED, JobState.DEAD, JobState.CANCELLED)  # states a wait ends on

_encoder = msgspec.json.Encoder()


def result_record(value: object, limit: int) -> tuple[bytes, str | None]:
    """(the record to store, why the value was not kept or None); b"" for no result."""
    if value is None:
        return b"", None
    try:
        data = _encoder.encode(value)
    except (TypeError, ValueError, OverflowError) as exc:
        why = f"the result could not be encoded as JSON ({type(value).__name__}): {exc}"
        return b"!" + why.encode()[:1000], why
    if len(data) > limit:
        why = f"the result of {len(data)} bytes is over the limit of {limit} bytes; not kept"
        return b"!" + why.encode(), why
    return b"=" + data, None


def raw_record(data: bytes, limit: int) -> bytes:
    """The record to store for a result that arrives as JSON text (an HTTP worker's ack):
    b"" for null, the text itself within `limit`, else why it was not kept."""
    if data.strip() == b"null":
        return b""
    if len(data) > limit:
        why = f"the result of {len(data)} bytes is over the limit of {limit} bytes; not kept"
        return b"!" + why.encode()
    return b"=" + data


def read_record(raw: bytes) -> tuple[JsonValue, str | None]:
    """(result, result_error) from a stored record."""
    if not raw:
        return None, None
    if raw[:1] == b"=":
        try:
            return msgspec.json.decode(raw[1:]), None
        except msgspec.DecodeError as exc:
            return None, f"the stored result does not decode: {exc}"
    return None, raw[1:].decode(errors="replace")


def outcome(info: JobInfo) -> JsonValue:
    """The result of a finished job; JobFailed (dead) or JobCancelled; TimeoutError when the
    job has not finished (the wait ran out)."""
    if info.state is JobState.COMPLETED:
        return info.result
    if info.state is JobState.DEAD:
        raise JobFailed(info.id, info.last_error)
    if info.state is JobState.CANCELLED:
        raise JobCancelled(f"job {info.id} was cancelled")
    raise TimeoutError(f"job {info.id} is still {info.state.value}")


def check_wait_ms(wait_ms: object, limit: int = MAX_WAIT_MS) -> int:
    """`wait_ms` when it is an integer from 0 to `limit`, else ConfigError."""
    ok = isinstance(wait_ms, int) and not isinstance(wait_ms, bool) and 0 <= wait_ms <= limit
    if not ok:
        raise ConfigError(f"wait_ms must be an integer from 0 to {limit}, got {wait_ms!r}")
    return wait_ms  # type: ignore[return-value]


def check_timeout(timeout: object) -> float | None:
    """`timeout` when it is None (no limit) or a finite number of seconds >= 0, else
    ConfigError."""
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 <= timeout < math.inf
    ):
        raise ConfigError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
    return float(timeout)
