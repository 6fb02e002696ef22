"""Results, progress, durable cancellation and waiting: ack, nack, extend, reap, cancel and
wait_job scripts together."""

from __future__ import annotations

import asyncio

import pytest

from relay import Broker, BrokerSettings, JobNotFound
from relay.broker import Code, Nack, NackMode, NackOutcome
from relay.errors import JobCancelled, JobFailed, JobFinished
from relay.keys import QueueKeys
from relay.results import result_record
from tests.scripts.helpers import state


async def _running(broker: Broker, queue: str, lease_ms: int = 30_000) -> tuple[str, int]:
    await broker.enqueue(queue, "t", {"n": 1})
    [job] = (await broker.claim(queue, 1, lease_ms)).jobs
    return job.id, job.token


async def test_a_result_is_stored_with_the_completed_job(broker: Broker, queue: str) -> None:
    job_id, token = await _running(broker, queue)
    record, why = result_record({"sum": 3}, 1 << 20)
    assert why is None
    assert await broker.ack(queue, [(job_id, token, record)]) == [True]
    info = await broker.get_job(queue, job_id)
    assert info.state == "completed" and info.result == {"sum": 3} and info.result_error is None


async def test_a_result_over_the_limit_completes_with_result_error(
    broker: Broker, queue: str
) -> None:
    job_id, token = await _running(broker, queue)
    record, why = result_record("x" * 200, 100)
    assert why and "over the limit" in why
    assert await broker.ack(queue, [(job_id, token, record)]) == [True]
    info = await broker.get_job(queue, job_id)
    assert info.state == "completed" and info.result is None
    assert info.result_error and "over the limit of 100 bytes" in info.result_error


def test_an_unencodable_result_is_a_record_of_why() -> None:
    record, why = result_record(object(), 1 << 20)
    assert record.startswith(b"!") and why and "could not be encoded" in why
    assert result_record(None, 10) == (b"", None)


async def test_results_go_with_the_trimmed_jobs(redis_url: str, queue: str) -> None:
    b = Broker.from_url(redis_url, BrokerSettings(keep_completed=1))
    try:
        ids = []
        for _ in range(3):
            job_id, token = await _running(b, queue)
            await b.ack(queue, [(job_id, token, result_record(job_id, 100)[0])])
            ids.append(job_id)
        k = QueueKeys.for_queue(queue)
        # One completed job is kept, with its result; the newest, unless acks shared a Redis
        # millisecond (equal scores in `done`: the trim then keeps the greatest id of them).
        [kept] = [i.decode() for i in await b.redis.zrange(k.done, 0, -1)]
        assert [i.decode() for i in await b.redis.hkeys(k.results)] == [kept]
        assert kept in ids
        await state(b, queue)
    finally:
        await b.close()


async def test_cancel_of_a_ready_or_delayed_job_removes_it(broker: Broker, queue: str) -> None:
    ready = (await broker.enqueue(queue, "t")).id
    later = (await broker.enqueue(queue, "t", delay_ms=60_000)).id
    assert (await broker.cancel(queue, ready)).state == "cancelled"
    assert (await broker.cancel(queue, later)).state == "cancelled"
    assert (await broker.cancel(queue, ready)).state == "cancelled"  # idempotent
    s = await state(broker, queue)
    assert sorted(s["cancelled"]) == sorted([ready, later]) and not s["ready"] + s["delayed"]
    stats = await broker.stats(queue)
    assert stats.counts.cancelled == 2 and stats.totals.cancelled == 2
    assert (await broker.get_job(queue, ready)).state == "cancelled"
    assert (await broker.claim(queue, 10, 1000)).jobs == []


async def test_cancel_refuses_finished_and_unknown_jobs(broker: Broker, queue: str) -> None:
    job_id, token = await _running(broker, queue)
    await broker.ack(queue, [(job_id, token)])
    with pytest.raises(JobFinished) as err:
        await broker.cancel(queue, job_id)
    assert err.value.state == "completed"
    dead_id, token = await _running(broker, queue)
    await broker.nack(queue, [Nack(dead_id, token, NackMode.DEAD, 0, "boom")])
    with pytest.raises(JobFinished):
        await broker.cancel(queue, dead_id)
    with pytest.raises(JobNotFound):
        await broker.cancel(queue, "no-such-job")


async def test_an_inflight_cancel_is_a_flag_the_extend_reply_carries(
    broker: Broker, queue: str
) -> None:
    job_id, token = await _running(broker, queue)
    assert await broker.extend(queue, [(job_id, token)], 30_000) == [Code.OK]
    assert (await broker.cancel(queue, job_id)).state == "cancelling"
    info = await broker.get_job(queue, job_id)
    assert info.state == "inflight" and info.cancel_requested
    assert await broker.extend(queue, [(job_id, token)], 30_000) == [Code.CANCEL]
    out = await broker.nack(queue, [Nack(job_id, token, NackMode.CANCEL, 0, "cancelled")])
    assert out == [NackOutcome.CANCELLED]
    assert (await state(broker, queue))["cancelled"] == [job_id]
    assert (await broker.stats(queue)).totals.cancelled == 1


@pytest.mark.parametrize("mode", [NackMode.FAIL, NackMode.LATER, NackMode.DEAD])
async def test_a_flagged_job_is_never_retried(broker: Broker, queue: str, mode: NackMode) -> None:
    job_id, token = await _running(broker, queue)
    await broker.cancel(queue, job_id)
    assert await broker.nack(queue, [Nack(job_id, token, mode, 0, "x")]) == [NackOutcome.CANCELLED]
    s = await state(broker, queue)
    assert s["cancelled"] == [job_id] and not s["ready"] + s["delayed"] + s["dead"]


async def test_an_ack_of_a_flagged_job_ends_it_cancelled(broker: Broker, queue: str) -> None:
    job_id, token = await _running(broker, queue)
    await broker.cancel(queue, job_id)
    assert await broker.ack(queue, [(job_id, token, b"=1")]) == [True]
    assert await broker.ack(queue, [(job_id, token)]) == [False]  # over: a resend is stale
    info = await broker.get_job(queue, job_id)
    assert info.state == "cancelled" and info.result is None
    assert (await broker.stats(queue)).totals.completed == 0


async def test_the_reaper_finalises_a_flagged_job_as_cancelled(broker: Broker, queue: str) -> None:
    job_id, token = await _running(broker, queue, lease_ms=20)
    await broker.cancel(queue, job_id)
    await asyncio.sleep(0.05)
    r = await broker.reap(queue)
    assert (r.requeued, r.dead, r.cancelled) == (0, 0, 1)
    assert (await state(broker, queue))["cancelled"] == [job_id]
    # Its worker, back from a stall, is told its lease is gone; nothing changes.
    assert await broker.ack(queue, [(job_id, token)]) == [False]
    assert (await state(broker, queue))["cancelled"] == [job_id]
    assert (await broker.stats(queue)).totals.completed == 0


async def test_cancelled_jobs_are_trimmed_like_completed_ones(redis_url: str, queue: str) -> None:
    b = Broker.from_url(redis_url, BrokerSettings(keep_completed=2))
    try:
        ids = [(await b.enqueue(queue, "t")).id for _ in range(4)]
        for job_id in ids:
            await b.cancel(queue, job_id)
        kept = (await state(b, queue))["cancelled"]  # the oldest by ms (ties: by id) went
        assert len(kept) == 2 and set(kept) <= set(ids)
        assert await b.redis.hlen(QueueKeys.for_queue(queue).jobs) == 2
    finally:
        await b.close()


async def test_progress_rides_the_extend(broker: Broker, queue: str) -> None:
    job_id, token = await _running(broker, queue)
    assert await broker.extend(queue, [(job_id, token, b'{"done":3}')], 30_000) == [Code.OK]
    assert (await broker.get_job(queue, job_id)).progress == {"done": 3}
    await broker.extend(queue, [(job_id, token, b"42")], 30_000)
    assert (await broker.get_job(queue, job_id)).progress == 42
    assert await broker.extend(queue, [(job_id, token + 1, b"99")], 30_000) == [Code.STALE]
    assert (await broker.get_job(queue, job_id)).progress == 42
    entries = await broker.redis.xrevrange(QueueKeys.for_queue(queue).events, count=1)
    fields = entries[0][1]
    assert fields[b"k"] == b"progress" and fields[b"p"] == f'{{"{job_id}":42}}'.encode()
    await broker.nack(queue, [Nack(job_id, token, NackMode.FAIL, 0, "x")])  # a retry
    assert (await broker.get_job(queue, job_id)).progress is None


async def test_a_wait_answers_when_the_job_completes(broker: Broker, queue: str) -> None:
    job_id, token = await _running(broker, queue)
    waiter = asyncio.create_task(broker.wait_job(queue, job_id, 10_000))
    await _until_waiting(broker, queue, job_id)
    await broker.ack(queue, [(job_id, token, b'="ok"')])
    info = await asyncio.wait_for(waiter, 5)
    assert info.state == "completed" and info.result == "ok"
    assert await broker.result(queue, job_id, timeout=1) == "ok"


async def test_a_wait_times_out_with_the_current_state(broker: Broker, queue: str) -> None:
    job_id = (await broker.enqueue(queue, "t")).id
    info = await broker.wait_job(queue, job_id, 50)
    assert info.state == "ready"
    assert not await broker.redis.hgetall(QueueKeys.for_queue(queue).waiting)
    with pytest.raises(TimeoutError):
        await broker.result(queue, job_id, timeout=0.05)
    with pytest.raises(JobNotFound):
        await broker.wait_job(queue, "nope", 50)


async def test_result_raises_for_dead_and_cancelled_jobs(broker: Broker, queue: str) -> None:
    job_id, token = await _running(broker, queue)
    waiter = asyncio.create_task(broker.result(queue, job_id, timeout=10))
    await _until_waiting(broker, queue, job_id)
    await broker.nack(queue, [Nack(job_id, token, NackMode.DEAD, 0, "boom")])
    with pytest.raises(JobFailed) as err:
        await asyncio.wait_for(waiter, 5)
    assert err.value.last_error == "boom"
    other = (await broker.enqueue(queue, "t")).id
    waiter = asyncio.create_task(broker.result(queue, other, timeout=10))
    await _until_waiting(broker, queue, other)
    await broker.cancel(queue, other)
    with pytest.raises(JobCancelled):
        await asyncio.wait_for(waiter, 5)


async def test_many_waiters_on_one_job_all_wake(broker: Broker, queue: str) -> None:
    job_id, _ = await _running(broker, queue, lease_ms=20)
    await broker.cancel(queue, job_id)
    waiters = [asyncio.create_task(broker.wait_job(queue, job_id, 10_000)) for _ in range(3)]
    await _until_waiting(broker, queue, job_id, 3)
    await asyncio.sleep(0.05)
    assert (await broker.reap(queue)).cancelled == 1
    infos = await asyncio.wait_for(asyncio.gather(*waiters), 5)
    assert {i.state for i in infos} == {"cancelled"}


async def _until_waiting(broker: Broker, queue: str, job_id: str, n: int = 1) -> None:
    key = QueueKeys.for_queue(queue).waiting
    for _ in range(1000):  # the condition lives in Redis: look until the waiters signed up
        if int(await broker.redis.hget(key, job_id) or 0) >= n:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{n} waiter(s) never signed up")


async def test_the_job_browser_lists_cancelled_jobs_newest_first(
    broker: Broker, queue: str
) -> None:
    ids = [(await broker.enqueue(queue, "t")).id for _ in range(2)]
    for job_id in ids:
        await broker.cancel(queue, job_id)
        await asyncio.sleep(0.002)  # distinct cancel times
    page = await broker.list_jobs(queue, "cancelled")
    assert [j.id for j in page.jobs] == ids[::-1]
    assert all(j.state == "cancelled" and j.finished_at for j in page.jobs)
