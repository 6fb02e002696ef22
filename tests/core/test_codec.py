"""relay._core codec: envelope v1 layout, round trips, rejections and claim-reply batch decode."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay import _core
from relay.errors import CodecError, RelayError

U16_MAX = 2**16 - 1
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1


def short_text(min_size: int) -> st.SearchStrategy[str]:
    """Text of min_size..255 UTF-8 bytes (the envelope's one-byte length prefix)."""
    return st.text(min_size=min_size, max_size=255).filter(lambda s: len(s.encode()) <= 255)


job_args = st.tuples(
    short_text(1),
    st.binary(max_size=512),
    st.integers(0, 9),
    st.integers(1, U16_MAX),
    st.integers(0, U32_MAX),
    st.integers(0, U64_MAX),
    st.none() | short_text(1),
)

JobArgs = tuple[str, bytes, int, int, int, int, str | None]


def reference_decode(env: bytes) -> JobArgs | None:
    """A plain reading of the v1 format: the decoded fields, or None when it must be rejected."""
    if len(env) < 17 or env[0] != 1:
        return None
    _, priority, max_attempts, timeout_ms, created_ms = struct.unpack_from(">BBHIQ", env)
    type_end = 17 + env[16]
    if priority > 9 or max_attempts == 0 or env[16] == 0 or len(env) < type_end + 1:
        return None
    key_end = type_end + 1 + env[type_end]
    if len(env) < key_end:
        return None
    try:
        job_type = env[17:type_end].decode()
        key = env[type_end + 1 : key_end].decode()
    except UnicodeDecodeError:
        return None
    return job_type, env[key_end:], priority, max_attempts, timeout_ms, created_ms, key or None


def test_layout_is_exact() -> None:
    env = _core.encode_job("email.send", b'{"to":"a@b.c"}', 7, 5, 300_000, 1_732_900_000_123, "k-1")
    assert env == (
        struct.pack(">BBHIQ", 1, 7, 5, 300_000, 1_732_900_000_123)
        + b"\x0aemail.send"
        + b"\x03k-1"
        + b'{"to":"a@b.c"}'
    )
    # The Lua scripts read max_attempts from bytes 2..4.
    assert struct.unpack(">H", env[2:4]) == (5,)


def test_no_key_is_a_zero_length_and_decodes_to_none() -> None:
    env = _core.encode_job("t", b"", 0, 1, 0, 0, None)
    assert env == struct.pack(">BBHIQ", 1, 0, 1, 0, 0) + b"\x01t\x00"
    assert _core.decode_job(env) == ("t", b"", 0, 1, 0, 0, None)


@given(job_args)
def test_round_trip(args: JobArgs) -> None:
    env = _core.encode_job(*args)
    assert _core.decode_job(env) == args
    assert reference_decode(env) == args


@given(st.binary(max_size=300))
def test_decode_of_any_bytes_matches_the_format_or_raises_codec_error(data: bytes) -> None:
    expected = reference_decode(data)
    if expected is None:
        with pytest.raises(CodecError):
            _core.decode_job(data)
    else:
        assert _core.decode_job(data) == expected


@given(job_args, st.data())
def test_decode_of_damaged_envelopes_never_crashes(args: JobArgs, data: st.DataObject) -> None:
    env = bytearray(_core.encode_job(*args))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(env) - 1))
        env[i] = data.draw(st.integers(0, 255))
    env = env[: data.draw(st.integers(0, len(env)))]
    expected = reference_decode(bytes(env))
    if expected is None:
        with pytest.raises(CodecError):
            _core.decode_job(bytes(env))
    else:
        assert _core.decode_job(bytes(env)) == expected


VALID = ("t", b"{}", 5, 3, 1000, 1, None)


@pytest.mark.parametrize(
    ("index", "value", "field"),
    [
        (0, "", "job_type"),
        (0, "x" * 256, "job_type"),
        (0, "é" * 128, "job_type"),  # 256 bytes
        (2, 10, "priority"),
        (2, -1, "priority"),
        (3, 0, "max_attempts"),
        (3, U16_MAX + 1, "max_attempts"),
        (3, -5, "max_attempts"),
        (4, U32_MAX + 1, "timeout_ms"),
        (4, -1, "timeout_ms"),
        (5, -1, "created_ms"),
        (5, U64_MAX + 1, "created_ms"),
        (5, -(2**70), "created_ms"),
        (6, "", "idempotency_key"),
        (6, "k" * 256, "idempotency_key"),
    ],
)
def test_encode_rejects(index: int, value: object, field: str) -> None:
    args: list[object] = list(VALID)
    args[index] = value
    with pytest.raises(CodecError, match=field):
        _core.encode_job(*args)  # type: ignore[arg-type]


def test_encode_accepts_the_limits() -> None:
    long = "k" * 255
    env = _core.encode_job(long, b"", 9, U16_MAX, U32_MAX, U64_MAX, long)
    assert _core.decode_job(env) == (long, b"", 9, U16_MAX, U32_MAX, U64_MAX, long)


def test_wrong_argument_types_raise_type_error() -> None:
    with pytest.raises(TypeError):
        _core.encode_job("t", b"", 1.5, 3, 0, 0, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _core.encode_job("t", "not bytes", 1, 3, 0, 0, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _core.decode_job("text")  # type: ignore[arg-type]


def _valid() -> bytes:
    return _core.encode_job("t", b"{}", 5, 3, 1000, 1, "key")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda e: b"\x02" + e[1:], "version"),
        (lambda e: e[:1] + b"\x0a" + e[2:], "priority"),
        (lambda e: e[:2] + b"\x00\x00" + e[4:], "max_attempts"),
        (lambda e: e[:16] + b"\x00" + e[17:], "job_type"),
        (lambda e: e[:17] + b"\xff" + e[18:], "job_type is not valid UTF-8"),
        (lambda e: e[:19] + b"\xc3" + e[20:], "idempotency_key is not valid UTF-8"),
        (lambda e: e[:10], "truncated in header"),
        (lambda e: e[:17], "truncated in job_type"),
        (lambda e: e[:19], "truncated in idempotency_key"),
        (lambda e: b"", "truncated"),
    ],
)
def test_decode_rejects(damage: Callable[[bytes], bytes], message: str) -> None:
    with pytest.raises(CodecError, match=message):
        _core.decode_job(damage(_valid()))


def test_codec_error_is_relay_and_value_error() -> None:
    with pytest.raises(CodecError) as info:
        _core.decode_job(b"")
    assert isinstance(info.value, RelayError)
    assert isinstance(info.value, ValueError)


def _claim(n: int) -> list[bytes | int]:
    items: list[bytes | int] = []
    for i in range(n):
        env = _core.encode_job(
            f"type{i % 2}", f'{{"n":{i}}}'.encode(), i % 10, 5, 0, 1000 + i, None
        )
        items += [f"job-{i}".encode(), env, i + 1, 100 + i]
    return items


def test_decode_claim_returns_jobs_in_order() -> None:
    jobs, failures = _core.decode_claim(_claim(3))
    assert failures == []
    assert jobs == [
        (
            f"job-{i}",
            f"type{i % 2}",
            f'{{"n":{i}}}'.encode(),
            i % 10,
            i + 1,
            5,
            0,
            1000 + i,
            100 + i,
            None,
        )
        for i in range(3)
    ]
    assert _core.decode_claim([]) == ([], [])
    assert _core.decode_claim(tuple(_claim(2)))[0] == jobs[:2]


def test_decode_claim_isolates_bad_envelopes() -> None:
    items = _claim(3)
    items[5] = b"\x01garbage"
    items[9] = b""
    jobs, failures = _core.decode_claim(items)
    assert [j[0] for j in jobs] == ["job-0"]
    assert [(f[0], f[1]) for f in failures] == [("job-1", 101), ("job-2", 102)]
    assert all("truncated" in f[2] for f in failures)


@pytest.mark.parametrize(
    "items",
    [
        [b"id", _valid(), 1],
        [b"id", _valid(), 1, 2, b"id"],
        ["id", _valid(), 1, 2],
        [b"id", _valid().decode("latin-1"), 1, 2],
        [b"id", _valid(), b"1", 2],
        [b"id", _valid(), 1, None],
        [b"id", _valid(), 1, 2**63],
        [b"id", _valid(), 1.0, 2],
        [b"\xff", _valid(), 1, 2],
        [b"id", [_valid()], 1, 2],
    ],
)
def test_decode_claim_rejects_malformed_replies(items: list[object]) -> None:
    with pytest.raises(CodecError, match="malformed claim reply"):
        _core.decode_claim(items)  # type: ignore[arg-type]


def test_decode_claim_needs_a_sequence() -> None:
    with pytest.raises(TypeError):
        _core.decode_claim(None)  # type: ignore[arg-type]


claim_item = st.one_of(
    st.binary(max_size=40),
    st.integers(-(2**70), 2**70),
    st.none(),
    st.text(max_size=5),
    st.floats(allow_nan=True),
    st.sampled_from([_valid(), b"job-1"]),
)


@given(st.lists(claim_item, max_size=24))
def test_decode_claim_on_garbage_returns_or_raises_codec_error(items: list[object]) -> None:
    try:
        jobs, failures = _core.decode_claim(items)  # type: ignore[arg-type]
    except CodecError:
        return
    assert len(jobs) + len(failures) == len(items) // 4


@given(st.lists(st.tuples(st.text(min_size=1, max_size=20), st.binary(max_size=60) | job_args)))
def test_decode_claim_agrees_with_decode_job(groups: list[tuple[str, bytes | JobArgs]]) -> None:
    items: list[bytes | int] = []
    expected_jobs = []
    expected_failures = []
    for n, (job_id, raw) in enumerate(groups):
        env = raw if isinstance(raw, bytes) else _core.encode_job(*raw)
        items += [job_id.encode(), env, n, -n]
        decoded = reference_decode(env)
        if decoded is None:
            expected_failures.append((job_id, -n))
        else:
            t, payload, prio, max_att, timeout, created, key = decoded
            expected_jobs.append((job_id, t, payload, prio, n, max_att, timeout, created, -n, key))
    jobs, failures = _core.decode_claim(items)
    assert jobs == expected_jobs
    assert [(f[0], f[1]) for f in failures] == expected_failures
