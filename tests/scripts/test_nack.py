"""nack.lua: retry now or later, Retry gives the attempt back, dead-letter with the error."""

from __future__ import annotations

from relay import Broker, Nack, NackMode
from relay.broker import NackOutcome
from tests.scripts.helpers import state


async def _claim_one(broker: Broker, queue: str, **opts: int) -> tuple[str, int]:
    await broker.enqueue(queue, "t", None, **opts)
    [job] = (await broker.claim(queue, 1, 5000)).jobs
    return job.id, job.token


async def test_failure_with_attempts_left_goes_back_to_ready(broker: Broker, queue: str) -> None:
    jid, tok = await _claim_one(broker, queue)
    out = await broker.nack(queue, [Nack(jid, tok, NackMode.FAIL, 0, "boom")])
    assert out == [NackOutcome.READY]
    assert (await state(broker, queue))["ready"] == [jid]
    info = await broker.get_job(queue, jid)
    assert info.last_error == "boom" and info.attempts == 1
    t = (await broker.stats(queue)).totals
    assert (t.failed, t.retried, t.dead) == (1, 1, 0)


async def test_failure_with_a_delay_goes_to_delayed(broker: Broker, queue: str) -> None:
    jid, tok = await _claim_one(broker, queue)
    assert await broker.nack(queue, [Nack(jid, tok, NackMode.FAIL, 60_000, "e")]) == [
        NackOutcome.DELAYED
    ]
    assert (await state(broker, queue))["delayed"] == [jid]


async def test_last_attempt_failure_dead_letters_with_the_error(broker: Broker, queue: str) -> None:
    jid, tok = await _claim_one(broker, queue, max_attempts=1)
    assert await broker.nack(queue, [Nack(jid, tok, NackMode.FAIL, 0, "ValueError: x")]) == [
        NackOutcome.DEAD
    ]
    assert (await state(broker, queue))["dead"] == [jid]
    page = await broker.dead_jobs(queue)
    assert [j.last_error for j in page.jobs] == ["ValueError: x"]
    assert (await broker.stats(queue)).totals.dead == 1


async def test_non_retryable_failure_is_dead_at_once(broker: Broker, queue: str) -> None:
    jid, tok = await _claim_one(broker, queue, max_attempts=5)
    assert await broker.nack(queue, [Nack(jid, tok, NackMode.DEAD, 0, "Fail")]) == [
        NackOutcome.DEAD
    ]
    assert (await state(broker, queue))["dead"] == [jid]


async def test_retry_later_gives_the_attempt_back(broker: Broker, queue: str) -> None:
    jid, tok = await _claim_one(broker, queue, max_attempts=1)
    assert await broker.nack(queue, [Nack(jid, tok, NackMode.LATER, 0, "")]) == [NackOutcome.READY]
    [job] = (await broker.claim(queue, 1, 5000)).jobs
    assert job.attempts == 1  # not 2: Retry is not a failure
    assert (await broker.stats(queue)).totals.failed == 0
    await broker.ack(queue, [(job.id, job.token)])


async def test_stale_nack_changes_nothing(broker: Broker, queue: str) -> None:
    jid, tok = await _claim_one(broker, queue)
    assert await broker.nack(queue, [Nack(jid, tok - 1, NackMode.DEAD, 0, "x")]) == [
        NackOutcome.STALE
    ]
    assert (await state(broker, queue))["inflight"] == [jid]
