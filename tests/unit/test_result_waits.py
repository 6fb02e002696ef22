"""The HTTP faces' `result`: a wait longer than the server holds one answer goes out in slices.

`relay.http.calls.result_waits` is sans-I/O, so these drive it by hand with JobInfo answers:
no server, no clock but the real one (the deadline is far away or already passed).
"""

from __future__ import annotations

import pytest

from relay.errors import ConfigError, JobCancelled, JobFailed
from relay.http.calls import drive, result_waits
from relay.job import JobInfo, JobState
from relay.results import MAX_WAIT_MS


def info(state: JobState, **fields: object) -> JobInfo:
    base: dict[str, object] = {
        "id": "j1",
        "queue": "q",
        "type": "t",
        "payload": None,
        "state": state,
        "priority": 0,
        "attempts": 0,
        "max_attempts": 3,
        "timeout_ms": 30_000,
        "idempotency_key": None,
        "last_error": None,
        "created_at": 0.0,
        "started_at": None,
        "finished_at": None,
        "run_at": None,
    }
    return JobInfo(**{**base, **fields})  # type: ignore[arg-type]


def test_a_long_wait_repeats_slices_of_at_most_a_minute_with_a_longer_socket_timeout() -> None:
    waits = result_waits("q", "j1", 3600)  # an hour: many slices
    first = next(waits)
    assert first.query == {"wait_ms": str(MAX_WAIT_MS)} and first.wait_s == MAX_WAIT_MS / 1000
    assert first.path == "/api/queues/q/jobs/j1"
    for _ in range(3):  # the server answered "still running" after each slice
        again = waits.send(info(JobState.INFLIGHT))
        assert again.query == {"wait_ms": str(MAX_WAIT_MS)}
    with pytest.raises(StopIteration) as done:
        waits.send(info(JobState.COMPLETED, result={"ok": 1}))
    assert done.value.value == {"ok": 1}


def test_no_timeout_waits_in_slices_for_ever() -> None:
    sent = []

    def send(call: object) -> JobInfo:
        sent.append(call)
        return info(JobState.READY if len(sent) < 5 else JobState.COMPLETED, result=5)

    assert drive(result_waits("q", "j1", None), send) == 5
    assert len(sent) == 5


def test_a_short_timeout_asks_for_what_is_left_and_gives_the_outcome() -> None:
    waits = result_waits("q", "j1", 0)
    assert next(waits).query == {"wait_ms": "0"}
    with pytest.raises(TimeoutError):
        waits.send(info(JobState.READY))
    for state, error in [(JobState.DEAD, JobFailed), (JobState.CANCELLED, JobCancelled)]:
        with pytest.raises(error):
            drive(result_waits("q", "j1", 30), lambda _: info(state, last_error="boom"))  # noqa: B023


@pytest.mark.parametrize(
    ("queue", "job_id", "timeout"),
    [
        ("bad queue", "j", 1),
        ("q", "", 1),
        ("q", "j", -1),
        ("q", "j", float("inf")),
        ("q", "j", "1"),
    ],
)
def test_bad_arguments_fail_on_the_first_step(queue: str, job_id: str, timeout: object) -> None:
    with pytest.raises(ConfigError):
        next(result_waits(queue, job_id, timeout))  # type: ignore[arg-type]
