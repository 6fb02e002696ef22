"""The worker's pure parts, no Redis: registration, outcomes, durations, queue tiers, --app."""

from __future__ import annotations

import argparse

import pytest

import relay
from relay import Backoff, Fail, Job, Registry, Retry
from relay.broker import NackMode
from relay.cli import main
from relay.errors import ConfigError
from relay.worker import outcomes
from relay.worker.command import load_app, parse_duration
from relay.worker.worker import queue_tiers


def _job(job_type: str = "t", attempts: int = 1, max_attempts: int = 5, timeout_ms: int = 0) -> Job:
    return Job("q", "id1", job_type, b"{}", 5, attempts, max_attempts, timeout_ms, 0, 7, None)


def test_decorators_register_and_leave_the_function_callable() -> None:
    reg = Registry(timeout=60)

    @reg.task("a", timeout=2, max_attempts=3)
    async def a(job: Job) -> None:
        pass

    @relay.task("b", non_retryable=(KeyError,))
    def b(job: Job) -> None:
        pass

    reg.add(b)
    reg.register("c", lambda job: None)
    ta, tb, tc = reg.get("a"), reg.get("b"), reg.get("c")
    assert ta and tb and tc and reg.get("zzz") is None
    assert (ta.is_async, tb.is_async, tc.is_async) == (True, False, False)
    assert (ta.timeout_ms, tb.timeout_ms, ta.max_attempts, tb.max_attempts) == (2000, 60_000, 3, 0)
    assert tb.non_retryable == (KeyError,)
    assert b(_job()) is None  # still the plain function
    assert {t.type for t in reg} == {"a", "b", "c"} and len(reg) == 3 and "a" in reg


def test_registration_mistakes_are_refused() -> None:
    reg = Registry()
    reg.register("a", lambda job: None)
    with pytest.raises(ConfigError, match="already has a handler"):
        reg.register("a", lambda job: None)
    with pytest.raises(ConfigError, match="not marked"):
        reg.add(lambda job: None)
    with pytest.raises(ConfigError, match="job type"):
        reg.register("", lambda job: None)
    with pytest.raises(ConfigError, match="timeout"):
        reg.register("b", lambda job: None, timeout=0)
    with pytest.raises(ConfigError, match="exception classes"):
        reg.register("c", lambda job: None, non_retryable=("nope",))  # type: ignore[arg-type]


def test_the_tighter_limit_wins() -> None:
    reg = Registry()
    t = reg.register("a", lambda job: None, timeout=2, max_attempts=3)
    assert t.effective_timeout_ms(_job(timeout_ms=500)) == 500
    assert t.effective_timeout_ms(_job(timeout_ms=0)) == 2000
    assert t.effective_timeout_ms(_job(timeout_ms=300_000)) == 2000
    assert t.attempts_left(_job(attempts=2, max_attempts=5))
    assert not t.attempts_left(_job(attempts=3, max_attempts=5))
    assert not t.attempts_left(_job(attempts=2, max_attempts=2))


def test_exceptions_map_to_nacks() -> None:
    reg = Registry(backoff=Backoff("fixed", base=1.5))
    t = reg.register("a", lambda job: None, non_retryable=(KeyError,), max_attempts=3)

    def nack(exc: BaseException, attempts: int = 1) -> tuple[NackMode, int, str]:
        n = outcomes.nack_for(t, _job(attempts=attempts), exc)
        return n.mode, n.delay_ms, n.error

    assert nack(ValueError("boom")) == (NackMode.FAIL, 1500, "ValueError: boom")
    mode, _, err = nack(ValueError("boom"), attempts=3)
    assert mode is NackMode.DEAD and "none left" in err
    assert nack(Retry(after=2.5))[:2] == (NackMode.LATER, 2500)
    assert nack(Retry())[:2] == (NackMode.LATER, 1500)  # the task's backoff
    assert nack(Fail("bad input")) == (NackMode.DEAD, 0, "Fail: bad input")
    assert nack(KeyError("k"))[0] is NackMode.DEAD
    assert outcomes.unknown_type(_job("x")).error == "no handler registered for type 'x'"


def test_error_text_is_one_line_with_the_raising_frame() -> None:
    def inner() -> None:
        raise ValueError("two\nlines")

    try:
        inner()
    except ValueError as exc:
        text = outcomes.error_text(exc)
    assert text.startswith("ValueError: two lines [at test_worker_units.py:")
    assert text.endswith("in inner]") and "\n" not in text


def test_backoff_is_full_jitter_by_default_and_capped() -> None:
    b = Backoff(base=1, cap=4)
    assert all(0 <= b.delay_ms(1) < 1000 for _ in range(50))
    assert all(0 <= b.delay_ms(10) < 4000 for _ in range(50))
    assert Backoff("exponential", 1, 4).delay_ms(2) == 2000
    with pytest.raises(ConfigError):
        Backoff(base=5, cap=1)


def test_durations() -> None:
    assert parse_duration("30s") == 30
    assert parse_duration("500ms") == 0.5
    assert parse_duration("2m") == 120
    assert parse_duration("1.5") == 1.5
    assert parse_duration("1h") == 3600
    for bad in ("", "s", "1d", "-1s", "1 2"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_duration(bad)


def test_queue_tiers() -> None:
    assert queue_tiers(["high", "normal,bulk"]) == (("high",), ("normal", "bulk"))
    assert queue_tiers(["a", ("b", "c")]) == (("a",), ("b", "c"))
    with pytest.raises(ConfigError, match="twice"):
        queue_tiers(["a", "b,a"])
    with pytest.raises(ConfigError, match="invalid queue name"):
        queue_tiers(["a b"])
    with pytest.raises(ConfigError):
        queue_tiers([])


def test_retry_and_fail_are_relay_errors() -> None:
    assert issubclass(Retry, relay.RelayError) and issubclass(Fail, relay.RelayError)
    with pytest.raises(ConfigError):
        Retry(after=-1)


def test_load_app() -> None:
    reg = load_app("tests.integration.worker_apps.app:registry")
    assert "record" in reg
    assert load_app("tests.integration.worker_apps.app") is reg  # `registry` by default
    for spec, msg in (
        ("no.such.module:registry", "cannot import"),
        ("tests.integration.worker_apps.app:nope", "has no 'nope'"),
        ("tests.integration.worker_apps.app:not_a_registry", "not a relay.Registry"),
        ("bad spec!", "expected MODULE:REGISTRY"),
    ):
        with pytest.raises(ConfigError, match=msg):
            load_app(spec)


def test_a_bad_app_is_one_line_and_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--app", "no.such.module:registry", "--queue", "q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("relay: error: --app") and len(err.splitlines()) == 1
