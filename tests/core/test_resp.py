"""relay._core RESP packing and job ids: byte-identical to redis-py, unique across forks."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.connection import Connection

from relay import _core
from relay.job import new_job_id, new_job_ids

arg = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=32),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)


def redis_py_pack(args: list[Any]) -> bytes:
    conn: Any = Connection
    return b"".join(conn().pack_command(*args))


@given(st.lists(arg, min_size=1, max_size=40))
def test_commands_pack_exactly_as_redis_py_packs_them(args: list[Any]) -> None:
    # redis-py splits a first argument with spaces in it ("CONFIG GET"); commands never have one
    args = ["EVALSHA", *args]
    assert _core.pack_command(args) == redis_py_pack(args)


def test_a_bool_or_none_argument_is_a_type_error_naming_the_type() -> None:
    with pytest.raises(TypeError, match="bool"):
        _core.pack_command(["SET", "k", True])
    with pytest.raises(TypeError, match="NoneType"):
        _core.pack_command(["SET", "k", None])  # type: ignore[list-item]


def test_an_int_beyond_64_bits_is_an_overflow_error() -> None:
    with pytest.raises(OverflowError):
        _core.pack_command(["SET", "k", 2**64])


def test_job_ids_sort_by_creation_time_and_use_the_id_alphabet() -> None:
    early = new_job_ids(100, 1_700_000_000_000 * 1_000_000)
    late = new_job_id(1_700_000_000_001 * 1_000_000)
    assert all(len(i) == 20 and set(i) <= set("0123456789abcdefghjkmnpqrstvwxyz") for i in early)
    assert max(early) < late
    assert len(set(early)) == 100


def test_job_ids_need_seven_random_bytes_each() -> None:
    assert _core.job_ids(1, b"") == []
    with pytest.raises(ValueError, match="7 bytes per id"):
        _core.job_ids(1, b"123456")


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    now = 1_700_000_000_000 * 1_000_000  # the same millisecond on both sides
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: send its ids, exit at once
        os.write(write, " ".join(new_job_ids(1000, now)).encode())
        os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 1 << 16):
        child += chunk
    os.waitpid(pid, 0)
    os.close(read)
    assert not set(new_job_ids(1000, now)) & set(child.decode().split())
