"""relay's Rust core: job envelope codec, claim-reply batch decode, backoff, token bucket, and
the byte work of the hot paths (RESP command packing, job ids).

Pure functions: no I/O, no clock, no randomness (time and random samples are arguments).
Codec errors raise ``relay.errors.CodecError`` (a ``ValueError``); bad backoff or token-bucket
arguments raise ``ValueError``. A non-int where an int is expected raises ``TypeError``.
"""

from collections.abc import Sequence
from typing import Self, TypeAlias, final

__all__ = [
    "ClaimedJob",
    "TokenBucket",
    "__version__",
    "backoff_ms",
    "bucket_take",
    "decode_claim",
    "decode_job",
    "encode_job",
    "job_ids",
    "pack_command",
]

__version__: str

ClaimedJob: TypeAlias = tuple[str, str, bytes, int, int, int, int, int, int, str | None]
"""(id, job_type, payload, priority, attempts, max_attempts, timeout_ms, created_ms, token,
idempotency_key)"""

def encode_job(
    job_type: str,
    payload: bytes,
    priority: int,
    max_attempts: int,
    timeout_ms: int,
    created_ms: int,
    idempotency_key: str | None,
) -> bytes:
    """Encode one job as a v1 envelope (the immutable record stored in Redis).

    Args:
        job_type: 1 to 255 UTF-8 bytes.
        payload: JSON text, stored untouched (may be empty).
        priority: 0 to 9; 9 runs first.
        max_attempts: 1 to 65535.
        timeout_ms: 0 (no timeout) to 2**32 - 1.
        created_ms: Unix time in ms, 0 to 2**64 - 1.
        idempotency_key: 1 to 255 UTF-8 bytes, or None for no key.

    Returns:
        The envelope bytes.

    Raises:
        CodecError: A value is out of range, the type is empty or a string is too long, or the
            idempotency key is the empty string.
    """

def decode_job(envelope: bytes) -> tuple[str, bytes, int, int, int, int, str | None]:
    """Decode a v1 envelope.

    Returns:
        (job_type, payload, priority, max_attempts, timeout_ms, created_ms, idempotency_key).

    Raises:
        CodecError: Wrong version, priority above 9, max_attempts 0, truncated envelope, empty
            job type, or a type or key that is not UTF-8.
    """

def decode_claim(
    items: Sequence[bytes | int],
) -> tuple[list[ClaimedJob], list[tuple[str, int, str]]]:
    """Decode the flat tail of a claim reply in one call.

    Args:
        items: Repeating groups of id (bytes), envelope (bytes), attempts (int), token (int),
            as redis-py returns them.

    Returns:
        (jobs, failures): jobs in reply order as ``ClaimedJob`` tuples; failures as
        (id, token, reason) for each envelope that does not decode. One bad envelope never
        fails the batch.

    Raises:
        CodecError: The reply itself is malformed: its length is not a multiple of 4, an item
            has the wrong type, or an id is not UTF-8.
    """

def backoff_ms(policy: str, base_ms: int, cap_ms: int, attempt: int, sample: float) -> int:
    """The delay in milliseconds before retry number ``attempt`` (1 = the first retry).

    ``"fixed"`` gives ``base_ms``; ``"exponential"`` gives
    ``min(cap_ms, base_ms * 2**(attempt - 1))``; ``"full_jitter"`` gives
    ``floor(sample * min(cap_ms, base_ms * 2**(attempt - 1)))``. Saturates, never overflows.

    Args:
        policy: ``"fixed"``, ``"exponential"`` or ``"full_jitter"``.
        base_ms: First delay, >= 0.
        cap_ms: Largest delay, >= 0 (unused by ``"fixed"``).
        attempt: >= 1.
        sample: A uniform random number in [0, 1), supplied by the caller.

    Raises:
        ValueError: Unknown policy, or an argument out of range.
    """

def bucket_take(
    rate: float, burst: float, tokens: float, last_ms: int, now_ms: int, want: int
) -> tuple[int, float, int, int]:
    """One take from a token bucket whose state is (tokens, last_ms).

    Runs the same IEEE-754 double operations, in the same order, as relay's Lua rate limiter,
    so both make the same decision on the same inputs. A fresh bucket is
    ``tokens=burst, last_ms=now_ms``.

    Args:
        rate: Tokens added per second, > 0.
        burst: Capacity, >= 1.
        tokens: Tokens in the bucket, >= 0.
        last_ms: The bucket's clock (ms) at its last take.
        now_ms: The clock now (ms); earlier than ``last_ms`` counts as no time passing.
        want: Tokens wanted, 1 to 2**53.

    Returns:
        (granted, tokens_after, last_ms_after, wait_ms): ``wait_ms`` is the time until one
        token is available when nothing was granted, else 0.

    Raises:
        ValueError: An argument out of range, NaN or infinite.
    """

@final
class TokenBucket:
    """An in-process token bucket: ``rate`` tokens per second up to ``burst``; starts full."""

    def __new__(cls, rate: float, burst: float) -> Self:
        """Raises ValueError unless rate > 0 and burst >= 1, both finite."""

    @property
    def rate(self) -> float:
        """Tokens added per second."""

    @property
    def burst(self) -> float:
        """Capacity: the most tokens one instant can grant."""

    def take(self, now_ms: int, want: int = 1) -> tuple[int, int]:
        """Take up to ``want`` tokens at ``now_ms`` (the caller's clock, in ms).

        Returns:
            (granted, wait_ms): ``wait_ms`` is the time until one token is available when
            nothing was granted, else 0.

        Raises:
            ValueError: ``want`` outside 1 to 2**53.
        """

def pack_command(args: Sequence[bytes | str | int | float]) -> bytes:
    """One command in the Redis protocol (RESP): an array of bulk strings.

    Args:
        args: bytes, str (sent as UTF-8), int (decimal, 64-bit signed) or float (its repr).

    Raises:
        TypeError: An argument of another type (bool included).
        OverflowError: An int beyond 64 signed bits.
    """

def job_ids(now_ms: int, random: bytes) -> list[str]:
    """Job ids for one batch, 20 characters each, sorting by time.

    Args:
        now_ms: Unix time in ms (the first 10 characters).
        random: 7 random bytes per id (from os.urandom); its length decides the count.

    Raises:
        ValueError: `random` is not a multiple of 7 bytes long.
    """
