"""relay._core beside plain-Python equivalents: each group shows whether Rust still earns its place.

Run: `pytest benches/test_bench_core.py --benchmark-only` (the default test run skips benchmarks).
The Python versions do the same work, checks included, so the ratio is a fair one.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from relay import _core
from relay.errors import CodecError

# ---- plain-Python equivalents --------------------------------------------------------------

_HEADER = struct.Struct(">BBHIQ")


def py_encode_job(
    job_type: str,
    payload: bytes,
    priority: int,
    max_attempts: int,
    timeout_ms: int,
    created_ms: int,
    idempotency_key: str | None,
) -> bytes:
    t = job_type.encode()
    k = idempotency_key.encode() if idempotency_key is not None else b""
    if not 0 <= priority <= 9 or not 1 <= max_attempts <= 0xFFFF:
        raise CodecError("priority or max_attempts out of range")
    if not 0 < len(t) <= 255 or len(k) > 255 or (idempotency_key is not None and not k):
        raise CodecError("job_type or idempotency_key length out of range")
    try:
        header = _HEADER.pack(1, priority, max_attempts, timeout_ms, created_ms)
    except struct.error as e:
        raise CodecError(str(e)) from None
    return b"".join((header, bytes((len(t),)), t, bytes((len(k),)), k, payload))


def py_decode_job(env: bytes) -> tuple[str, bytes, int, int, int, int, str | None]:
    if len(env) < 17 or env[0] != 1:
        raise CodecError("truncated or unsupported envelope")
    _, priority, max_attempts, timeout_ms, created_ms = _HEADER.unpack_from(env)
    type_end = 17 + env[16]
    if priority > 9 or max_attempts == 0 or env[16] == 0 or len(env) <= type_end:
        raise CodecError("bad header or truncated job_type")
    key_end = type_end + 1 + env[type_end]
    if len(env) < key_end:
        raise CodecError("truncated idempotency_key")
    try:
        job_type = env[17:type_end].decode()
        key = env[type_end + 1 : key_end].decode() if key_end > type_end + 1 else None
    except UnicodeDecodeError as e:
        raise CodecError(str(e)) from None
    return job_type, env[key_end:], priority, max_attempts, timeout_ms, created_ms, key


PyClaimed = tuple[str, str, bytes, int, int, int, int, int, int, str | None]


def py_decode_claim(
    items: Sequence[bytes | int],
) -> tuple[list[PyClaimed], list[tuple[str, int, str]]]:
    if len(items) % 4:
        raise CodecError("malformed claim reply")
    jobs: list[PyClaimed] = []
    failures: list[tuple[str, int, str]] = []
    for i in range(0, len(items), 4):
        raw_id, env, attempts, token = items[i : i + 4]
        if not (
            isinstance(raw_id, bytes)
            and isinstance(env, bytes)
            and isinstance(attempts, int)
            and isinstance(token, int)
        ):
            raise CodecError("malformed claim reply")
        job_id = raw_id.decode()
        try:
            t, payload, prio, max_att, timeout, created, key = py_decode_job(env)
        except CodecError as e:
            failures.append((job_id, token, str(e)))
            continue
        jobs.append((job_id, t, payload, prio, attempts, max_att, timeout, created, token, key))
    return jobs, failures


def py_backoff_ms(policy: str, base_ms: int, cap_ms: int, attempt: int, sample: float) -> int:
    if attempt < 1 or base_ms < 0 or cap_ms < 0 or not 0.0 <= sample < 1.0:
        raise ValueError("argument out of range")
    if policy == "fixed":
        return base_ms
    ceiling = min(cap_ms, base_ms << min(attempt - 1, 64))
    if policy == "exponential":
        return ceiling
    if policy == "full_jitter":
        return min(ceiling, math.floor(sample * ceiling))
    raise ValueError(f"unknown backoff policy {policy!r}")


def py_bucket_take(
    rate: float, burst: float, tokens: float, last_ms: int, now_ms: int, want: int
) -> tuple[int, float, int, int]:
    if not (0.0 < rate < math.inf and 1.0 <= burst < math.inf and 0.0 <= tokens < math.inf):
        raise ValueError("bad bucket")
    if not 1 <= want <= 2**53:
        raise ValueError("bad want")
    elapsed = max(now_ms - last_ms, 0)
    tokens = min(burst, tokens + (elapsed * rate) / 1000.0)
    granted = min(want, math.floor(tokens))
    tokens = tokens - granted
    wait_ms = 0 if granted > 0 else math.ceil(((1.0 - tokens) * 1000.0) / rate)
    return granted, tokens, max(last_ms, now_ms), wait_ms


class PyTokenBucket:
    __slots__ = ("_last_ms", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float) -> None:
        if not (0.0 < rate < math.inf and 1.0 <= burst < math.inf):
            raise ValueError("bad bucket")
        self.rate, self.burst, self._tokens = rate, burst, burst
        self._last_ms: int | None = None

    def take(self, now_ms: int, want: int = 1) -> tuple[int, int]:
        last = now_ms if self._last_ms is None else self._last_ms
        granted, self._tokens, self._last_ms, wait = py_bucket_take(
            self.rate, self.burst, self._tokens, last, now_ms, want
        )
        return granted, wait


# ---- inputs: a realistic job (~140-byte envelope) and a 100-job claim reply ------------------

JOB = (
    "email.send",
    b'{"to":"someone@example.com","template":"welcome","vars":{"name":"Ada","plan":"pro"}}',
    5,
    5,
    300_000,
    1_732_900_000_123,
    "signup-7f3a9c",
)
ENVELOPE = _core.encode_job(*JOB)
CLAIM: list[bytes | int] = []
for _n in range(100):
    CLAIM += [f"01JDQ8Z{_n:019d}".encode(), ENVELOPE, 1, 1_000 + _n]

Impl = tuple[str, object]
RUST_PY = ("rust", "python")


def test_equivalents_agree() -> None:
    assert py_encode_job(*JOB) == ENVELOPE
    assert py_decode_job(ENVELOPE) == _core.decode_job(ENVELOPE)
    assert py_decode_claim(CLAIM) == _core.decode_claim(CLAIM)
    for policy in ("fixed", "exponential", "full_jitter"):
        assert py_backoff_ms(policy, 500, 60_000, 7, 0.37) == _core.backoff_ms(
            policy, 500, 60_000, 7, 0.37
        )
    assert py_bucket_take(50.0, 100.0, 3.5, 1_000, 1_017, 2) == _core.bucket_take(
        50.0, 100.0, 3.5, 1_000, 1_017, 2
    )


@pytest.mark.benchmark(group="encode_job")
@pytest.mark.parametrize("impl", RUST_PY)
def test_encode(benchmark: BenchmarkFixture, impl: str) -> None:
    fn = _core.encode_job if impl == "rust" else py_encode_job
    assert benchmark(fn, *JOB) == ENVELOPE


@pytest.mark.benchmark(group="decode_job")
@pytest.mark.parametrize("impl", RUST_PY)
def test_decode(benchmark: BenchmarkFixture, impl: str) -> None:
    fn = _core.decode_job if impl == "rust" else py_decode_job
    assert benchmark(fn, ENVELOPE)[0] == "email.send"


@pytest.mark.benchmark(group="decode_claim_100")
@pytest.mark.parametrize("impl", RUST_PY)
def test_decode_claim(benchmark: BenchmarkFixture, impl: str) -> None:
    fn = _core.decode_claim if impl == "rust" else py_decode_claim
    jobs, failures = benchmark(fn, CLAIM)
    assert (len(jobs), failures) == (100, [])


@pytest.mark.benchmark(group="backoff_ms")
@pytest.mark.parametrize("impl", RUST_PY)
def test_backoff(benchmark: BenchmarkFixture, impl: str) -> None:
    fn = _core.backoff_ms if impl == "rust" else py_backoff_ms
    assert benchmark(fn, "full_jitter", 500, 60_000, 7, 0.37) == 11_840


@pytest.mark.benchmark(group="bucket_take")
@pytest.mark.parametrize("impl", RUST_PY)
def test_bucket_take(benchmark: BenchmarkFixture, impl: str) -> None:
    fn = _core.bucket_take if impl == "rust" else py_bucket_take
    assert benchmark(fn, 50.0, 100.0, 3.5, 1_000, 1_017, 2)[0] == 2


@pytest.mark.benchmark(group="TokenBucket.take")
@pytest.mark.parametrize("impl", RUST_PY)
def test_token_bucket(benchmark: BenchmarkFixture, impl: str) -> None:
    bucket = _core.TokenBucket(1e9, 1e12) if impl == "rust" else PyTokenBucket(1e9, 1e12)
    now = iter(range(10**12))
    assert benchmark(lambda: bucket.take(next(now)))[0] == 1


# ---- RESP packing and job ids (the enqueue hot path) ----------------------------------------

B32 = "0123456789abcdefghjkmnpqrstvwxyz"


def py_pack_command(args: Sequence[bytes | str | int]) -> bytes:
    """What redis-py's pure-Python packer does, minus its buffer splitting."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def py_job_ids(now_ms: int, random: bytes) -> list[str]:
    """relay's job ids as the first version made them, one at a time in Python."""
    ids = []
    for i in range(0, len(random), 7):
        n = (now_ms << 50) | (int.from_bytes(random[i : i + 7], "big") >> 6)
        ids.append("".join(B32[(n >> (5 * k)) & 31] for k in range(19, -1, -1)))
    return ids


# An enqueue of 100 jobs: EVALSHA, sha, 16 keys, 3 fixed args, 6 args per job.
ENQUEUE_100: list[bytes | str | int] = ["EVALSHA", "a" * 40, 16]
ENQUEUE_100 += [f"relay:{{emails}}:key{k}" for k in range(16)] + [
    "relay:{emails}:",
    86_400_000,
    1000,
]
for _n in range(100):
    ENQUEUE_100 += [f"01jdq8z{_n:013d}", ENVELOPE, 0, -1, "", ""]
RANDOM_100 = bytes(range(256)) * 2 + bytes(700 - 512)


def test_packing_and_ids_agree() -> None:
    assert _core.pack_command(ENQUEUE_100) == py_pack_command(ENQUEUE_100)
    assert _core.job_ids(1_700_000_000_000, RANDOM_100) == py_job_ids(1_700_000_000_000, RANDOM_100)


@pytest.mark.benchmark(group="pack_command (enqueue of 100 jobs)")
@pytest.mark.parametrize("impl", RUST_PY)
def test_pack_command(benchmark: BenchmarkFixture, impl: str) -> None:
    fn = _core.pack_command if impl == "rust" else py_pack_command
    assert benchmark(fn, ENQUEUE_100).startswith(b"*622\r\n")


@pytest.mark.benchmark(group="job_ids (100)")
@pytest.mark.parametrize("impl", RUST_PY)
def test_job_ids(benchmark: BenchmarkFixture, impl: str) -> None:
    fn = _core.job_ids if impl == "rust" else py_job_ids
    assert len(benchmark(fn, 1_700_000_000_000, RANDOM_100)) == 100
