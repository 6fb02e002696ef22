"""ack.lua: completion fenced by the claim token; completed jobs kept by count and age."""

from __future__ import annotations

import asyncio

import pytest

from relay import Broker, BrokerSettings, JobNotFound, JobSpec
from relay.keys import QueueKeys
from tests.scripts.helpers import redis_ms, state


async def test_ack_completes_and_keeps_the_job_for_lookup(broker: Broker, queue: str) -> None:
    r = await broker.enqueue(queue, "t", {"a": 1})
    [job] = (await broker.claim(queue, 1, 5000)).jobs
    assert await broker.ack(queue, [(job.id, job.token)]) == [True]
    s = await state(broker, queue)
    assert s["completed"] == [r.id] and s["inflight"] == []
    info = await broker.get_job(queue, r.id)
    assert info.state == "completed" and info.finished_at and info.payload == {"a": 1}
    assert (await broker.stats(queue)).totals.completed == 1


async def test_ack_with_a_stale_token_changes_nothing(broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    [job] = (await broker.claim(queue, 1, 5000)).jobs
    assert await broker.ack(queue, [(job.id, job.token + 1)]) == [False]
    assert await broker.ack(queue, [("no-such-id", 1)]) == [False]
    assert (await state(broker, queue))["inflight"] == [job.id]


async def test_ack_after_the_lease_was_reaped_is_rejected(broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    [old] = (await broker.claim(queue, 1, 20)).jobs
    await asyncio.sleep(0.05)
    assert (await broker.reap(queue)).requeued == 1
    [new] = (await broker.claim(queue, 1, 5000)).jobs
    assert new.id == old.id and new.token != old.token and new.attempts == 2
    assert await broker.ack(queue, [(old.id, old.token)]) == [False]
    assert await broker.ack(queue, [(new.id, new.token)]) == [True]
    assert (await state(broker, queue))["completed"] == [old.id]


async def test_double_ack_counts_once(broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    [job] = (await broker.claim(queue, 1, 5000)).jobs
    assert await broker.ack(queue, [(job.id, job.token), (job.id, job.token)]) == [True, False]
    # A resend of the same ack (its reply was lost) is answered "done", and changes nothing.
    assert await broker.ack(queue, [(job.id, job.token)]) == [True]
    assert await broker.ack(queue, [(job.id, job.token - 1)]) == [False]
    assert (await broker.stats(queue)).totals.completed == 1
    assert (await state(broker, queue))["completed"] == [job.id]


@pytest.mark.parametrize("keep", [0, 3])
async def test_completed_jobs_are_trimmed_to_the_count(
    redis_url: str, queue: str, keep: int
) -> None:
    b = Broker.from_url(redis_url, BrokerSettings(keep_completed=keep))
    try:
        res = await b.enqueue_many(queue, [JobSpec.of("t", i) for i in range(10)])
        for _ in range(10):
            [job] = (await b.claim(queue, 1, 5000)).jobs
            await b.ack(queue, [(job.id, job.token)])
            await asyncio.sleep(0.002)  # distinct finish times: "the last N" is well defined
        s = await state(b, queue)
        assert s["completed"] == [r.id for r in res][10 - keep :]
        assert await b.redis.hlen(QueueKeys.for_queue(queue).jobs) == keep
        assert await b.redis.hlen(QueueKeys.for_queue(queue).run) == keep
        with pytest.raises(JobNotFound):
            await b.get_job(queue, res[0].id)
        assert (await b.stats(queue)).totals.completed == 10
    finally:
        await b.close()


async def test_completed_jobs_expire_by_age(redis_url: str, queue: str) -> None:
    b = Broker.from_url(redis_url, BrokerSettings(keep_completed=100, keep_completed_ms=30))
    try:
        await b.enqueue_many(queue, [JobSpec.of("t", i) for i in range(2)])
        [j1] = (await b.claim(queue, 1, 5000)).jobs
        await b.ack(queue, [(j1.id, j1.token)])
        await asyncio.sleep(0.06)
        [j2] = (await b.claim(queue, 1, 5000)).jobs
        await b.ack(queue, [(j2.id, j2.token)])  # trims j1, now past its age
        assert (await state(b, queue))["completed"] == [j2.id]
    finally:
        await b.close()


async def test_a_claim_after_a_failover_that_lost_the_last_claim_never_reissues_its_token(
    broker: Broker, queue: str
) -> None:
    """T3 without WAIT: the new master (a replica that missed a claim) must not hand out the
    token the old master gave, or the old holder's late ack would complete the new attempt."""
    await broker.enqueue(queue, "t")
    r = broker.redis
    keys = [k async for k in r.scan_iter(match=f"relay:{{{queue}}}:*")]
    replica = {k: await r.dump(k) for k in keys}  # the replica's copy, before the claim
    [old] = (await broker.claim(queue, 1, 5000)).jobs
    claimed_at = await redis_ms(r)
    while await redis_ms(r) <= claimed_at:  # a failover takes longer than a millisecond
        pass  # a round trip per poll: < 1 ms to spin
    await r.delete(*[k async for k in r.scan_iter(match=f"relay:{{{queue}}}:*")])
    for k, v in replica.items():
        await r.restore(k, 0, v)
    [new] = (await broker.claim(queue, 1, 5000)).jobs
    assert new.id == old.id and new.token > old.token
    assert await broker.ack(queue, [(old.id, old.token)]) == [False]
    assert (await state(broker, queue))["inflight"] == [new.id]
    assert await broker.ack(queue, [(new.id, new.token)]) == [True]
