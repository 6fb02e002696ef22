"""The checker itself, on hand-made histories: each fault it must see, it sees."""

from __future__ import annotations

from tests.chaos.checker import FinalState, check
from tests.chaos.history import Event


def ev(kind: str, job: str, token: int = 0, ok: bool = True, pid: int = 1) -> Event:
    return Event(kind=kind, pid=pid, t=0.0, job=job, token=token, ok=ok)


def final(
    completed: frozenset[str] | set[str] = frozenset(),
    dead: frozenset[str] | set[str] = frozenset(),
    **tokens: int,
) -> FinalState:
    return FinalState(
        states={"completed": set(completed), "dead": set(dead)},
        records=set(completed) | set(dead),
        run_tokens=dict(tokens),
    )


def run_once(job: str, token: int, pid: int = 1) -> list[Event]:
    return [
        ev("claim", job, token, pid=pid),
        ev("exec_start", job, token, pid=pid),
        ev("exec_end", job, token, pid=pid),
        ev("ack_ok", job, token, pid=pid),
    ]


def test_a_clean_run_has_every_figure_at_zero() -> None:
    h = [ev("enqueue_ok", "a"), *run_once("a", 1)]
    r = check(h, final({"a"}, a=1))
    assert (r.lost, r.unexpected, r.stale_acks_accepted, r.duplicates) == ([], [], [], 0)
    r.assert_correct()


def test_an_acknowledged_job_never_finished_is_lost() -> None:
    r = check([ev("enqueue_ok", "a"), ev("enqueue_ok", "b"), *run_once("a", 1)], final({"a"}, a=1))
    assert r.lost == ["b"]


def test_a_completion_without_a_successful_run_is_lost_work() -> None:
    h = [ev("enqueue_ok", "a"), ev("claim", "a", 1), ev("exec_start", "a", 1)]
    assert check(h, final({"a"}, a=1)).lost == ["a"]


def test_an_unknown_enqueue_is_neither_lost_nor_unexpected() -> None:
    h = [ev("enqueue_unknown", "a"), ev("enqueue_unknown", "b"), *run_once("b", 1)]
    r = check(h, final({"b"}, b=1))
    assert (r.lost, r.unexpected, r.unknown) == ([], [], 2)


def test_a_job_nobody_enqueued_is_unexpected() -> None:
    r = check([*run_once("ghost", 1)], final({"ghost"}, ghost=1))
    assert r.unexpected == ["ghost"]


def test_an_accepted_ack_older_than_a_later_claim_is_stale() -> None:
    h = [ev("enqueue_ok", "a"), *run_once("a", 1, pid=1), ev("claim", "a", 2, pid=2)]
    assert check(h, final({"a"}, a=2)).stale_acks_accepted == ["a"]


def test_two_accepted_acks_for_one_job_are_stale() -> None:
    h = [ev("enqueue_ok", "a"), *run_once("a", 1), ev("ack_ok", "a", 1)]
    assert check(h, final({"a"}, a=1)).stale_acks_accepted == ["a"]


def test_completed_under_a_token_no_run_finished_is_stale() -> None:
    h = [ev("enqueue_ok", "a"), *run_once("a", 1)][:-1]  # the ack_ok itself was not recorded
    h += [ev("claim", "a", 2, pid=2), ev("exec_start", "a", 2, pid=2)]
    assert check(h, final({"a"}, a=2)).stale_acks_accepted == ["a"]


def test_redeliveries_count_but_retries_after_a_failure_do_not() -> None:
    h = [ev("enqueue_ok", "a"), ev("enqueue_ok", "b")]
    h += [ev("exec_start", "a", 1), ev("exec_start", "a", 2), ev("exec_end", "a", 2)]
    h += [ev("exec_start", "b", 3), ev("exec_end", "b", 3, ok=False)]
    h += [ev("exec_start", "b", 4), ev("exec_end", "b", 4)]
    r = check(h, final({"a", "b"}, a=2, b=4))
    assert (r.duplicates, r.duplicate_ids) == (1, ["a"])
