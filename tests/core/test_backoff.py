"""relay._core.backoff_ms: the three policies, saturation, and argument checks."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay._core import backoff_ms

U64_MAX = 2**64 - 1

ms = st.integers(0, U64_MAX)
attempts = st.integers(1, 200) | st.integers(1, U64_MAX)
samples = st.floats(0.0, 1.0, exclude_max=True)


def reference_ceiling(base: int, cap: int, attempt: int) -> int:
    """min(cap, base * 2**(attempt-1)) in exact integer arithmetic."""
    if base == 0:
        return 0
    if attempt - 1 >= 64:
        return cap
    return min(cap, base << (attempt - 1))


def test_fixed_is_base_whatever_the_attempt() -> None:
    assert [backoff_ms("fixed", 1500, 10, a, 0.7) for a in (1, 2, 30, 10**6)] == [1500] * 4


def test_exponential_doubles_up_to_the_cap() -> None:
    got = [backoff_ms("exponential", 100, 5_000, a, 0.0) for a in range(1, 9)]
    assert got == [100, 200, 400, 800, 1600, 3200, 5000, 5000]


def test_full_jitter_scales_the_capped_delay() -> None:
    assert backoff_ms("full_jitter", 100, 10_000, 3, 0.0) == 0
    assert backoff_ms("full_jitter", 100, 10_000, 3, 0.5) == 200
    assert backoff_ms("full_jitter", 100, 10_000, 3, 0.999) == 399
    assert backoff_ms("full_jitter", 100, 250, 3, 0.5) == 125


def test_saturates_instead_of_overflowing() -> None:
    assert backoff_ms("exponential", U64_MAX, U64_MAX, 10**9, 0.0) == U64_MAX
    assert backoff_ms("exponential", 2, U64_MAX, 64, 0.0) == U64_MAX
    assert backoff_ms("exponential", 1, U64_MAX, 64, 0.0) == 2**63
    assert backoff_ms("exponential", 3, 60_000, U64_MAX, 0.0) == 60_000
    assert backoff_ms("full_jitter", U64_MAX, U64_MAX, 99, math.nextafter(1.0, 0.0)) <= U64_MAX


@given(ms, ms, attempts)
def test_exponential_matches_exact_arithmetic(base: int, cap: int, attempt: int) -> None:
    assert backoff_ms("exponential", base, cap, attempt, 0.5) == reference_ceiling(
        base, cap, attempt
    )


@given(ms, ms, attempts, samples)
def test_full_jitter_is_floor_of_sample_times_ceiling(
    base: int, cap: int, attempt: int, sample: float
) -> None:
    ceiling = reference_ceiling(base, cap, attempt)
    got = backoff_ms("full_jitter", base, cap, attempt, sample)
    assert got == min(ceiling, math.floor(sample * ceiling))
    assert 0 <= got <= ceiling


@given(st.integers(0, 10**7), st.integers(0, 10**9), st.integers(1, 100))
def test_exponential_never_shrinks_with_more_attempts(base: int, cap: int, attempt: int) -> None:
    now = backoff_ms("exponential", base, cap, attempt, 0.0)
    assert now <= backoff_ms("exponential", base, cap, attempt + 1, 0.0) <= max(cap, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("linear", 1, 1, 1, 0.0), "unknown backoff policy"),
        (("", 1, 1, 1, 0.0), "unknown backoff policy"),
        (("fixed", 1, 1, 0, 0.0), "attempt"),
        (("fixed", 1, 1, -3, 0.0), "attempt"),
        (("fixed", -1, 1, 1, 0.0), "base_ms"),
        (("exponential", 1, -1, 1, 0.0), "cap_ms"),
        (("exponential", 1, 2**64, 1, 0.0), "cap_ms"),
        (("full_jitter", 1, 1, 2**64, 0.0), "attempt"),
        (("full_jitter", 1, 1, 1, 1.0), "sample"),
        (("full_jitter", 1, 1, 1, -0.01), "sample"),
        (("full_jitter", 1, 1, 1, math.nan), "sample"),
        (("fixed", 1, 1, 1, math.inf), "sample"),
    ],
)
def test_rejects_bad_arguments_with_value_error(
    args: tuple[str, int, int, int, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        backoff_ms(*args)


def test_non_int_attempt_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        backoff_ms("fixed", 1, 1, 1.0, 0.0)  # type: ignore[arg-type]
