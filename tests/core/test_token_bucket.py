"""relay._core token bucket: bit-for-bit the documented float formula, and the stateful bucket."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay._core import TokenBucket, bucket_take


def reference_take(
    rate: float, burst: float, tokens: float, last_ms: int, now_ms: int, want: int
) -> tuple[int, float, int, int]:
    """The limiter's formula as the Lua script runs it: the same double operations, same order."""
    elapsed = max(now_ms - last_ms, 0)
    tokens = min(burst, tokens + (elapsed * rate) / 1000.0)
    granted = max(0, min(want, math.floor(tokens)))
    tokens = tokens - granted
    wait_ms = 0 if granted > 0 else math.ceil(((1.0 - tokens) * 1000.0) / rate)
    return granted, tokens, max(last_ms, now_ms), wait_ms


rates = st.floats(0.001, 1e6)
bursts = st.floats(1.0, 1e6)
clock = st.integers(0, 2**45)  # unix ms for the next ~1000 years
wants = st.integers(1, 1000)


@given(rates, bursts, st.floats(0.0, 1e6), clock, clock, wants)
def test_matches_the_reference_formula_exactly(
    rate: float, burst: float, tokens: float, last_ms: int, now_ms: int, want: int
) -> None:
    got = bucket_take(rate, burst, tokens, last_ms, now_ms, want)
    expected = reference_take(rate, burst, tokens, last_ms, now_ms, want)
    assert got == expected
    assert math.copysign(1.0, got[1]) == math.copysign(1.0, expected[1])


@given(rates, bursts, clock, st.lists(st.tuples(st.integers(-50, 5_000), wants), max_size=40))
def test_bucket_object_equals_chained_takes(
    rate: float, burst: float, start: int, steps: list[tuple[int, int]]
) -> None:
    bucket = TokenBucket(rate, burst)
    tokens, last = burst, None  # the object starts full at its first take, whatever the clock
    now = start
    for dt, want in steps:
        now += dt
        last = now if last is None else last
        granted, tokens, last, wait = bucket_take(rate, burst, tokens, last, now, want)
        assert bucket.take(now, want) == (granted, wait)
        assert 0 <= granted <= want
        assert 0.0 <= tokens <= burst
        assert (granted == 0) == (wait > 0)


def test_fresh_bucket_grants_burst_then_waits() -> None:
    bucket = TokenBucket(10.0, 5.0)
    assert (bucket.rate, bucket.burst) == (10.0, 5.0)
    assert bucket.take(1_000, 3) == (3, 0)
    assert bucket.take(1_000, 3) == (2, 0)
    assert bucket.take(1_000) == (0, 100)
    assert bucket.take(1_100) == (1, 0)


def test_bucket_starts_full_at_its_first_take_whatever_the_clock() -> None:
    bucket = TokenBucket(1.0, 2.0)
    assert bucket.take(-5_000, 5) == (2, 0)
    assert bucket.take(-5_000) == (0, 1000)


def test_clock_going_backwards_adds_nothing() -> None:
    assert bucket_take(10.0, 5.0, 1.0, 5_000, 4_000, 1) == (1, 0.0, 5_000, 0)


def test_wait_is_time_until_one_token() -> None:
    assert bucket_take(4.0, 1.0, 0.25, 0, 0, 1) == (0, 0.25, 0, 188)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0.0, 1.0, 1.0, 0, 0, 1), "rate"),
        ((-1.0, 1.0, 1.0, 0, 0, 1), "rate"),
        ((math.nan, 1.0, 1.0, 0, 0, 1), "rate"),
        ((math.inf, 1.0, 1.0, 0, 0, 1), "rate"),
        ((1.0, 0.5, 1.0, 0, 0, 1), "burst"),
        ((1.0, math.inf, 1.0, 0, 0, 1), "burst"),
        ((1.0, 1.0, -0.5, 0, 0, 1), "tokens"),
        ((1.0, 1.0, math.nan, 0, 0, 1), "tokens"),
        ((1.0, 1.0, 1.0, 0, 0, 0), "want"),
        ((1.0, 1.0, 1.0, 0, 0, -1), "want"),
        ((1.0, 1.0, 1.0, 0, 0, 2**53 + 1), "want"),
        ((1.0, 1.0, 1.0, 2**63, 0, 1), "last_ms"),
        ((1.0, 1.0, 1.0, 0, -(2**63) - 1, 1), "now_ms"),
    ],
)
def test_bucket_take_rejects_bad_arguments(
    args: tuple[float, float, float, int, int, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bucket_take(*args)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1.0), (-2.0, 3.0), (1.0, 0.0), (math.nan, 2.0)])
def test_bucket_rejects_bad_shape(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        TokenBucket(rate, burst)


def test_failed_take_leaves_the_bucket_unchanged() -> None:
    bucket = TokenBucket(1.0, 1.0)
    with pytest.raises(ValueError, match="want"):
        bucket.take(0, 0)
    assert bucket.take(0) == (1, 0)
