"""claim.lua: leases, attempts, tokens, pause, rate limit, undecodable records, Redis time."""

from __future__ import annotations

import asyncio
import time

import pytest

from relay import Broker, ConfigError, JobSpec
from relay._core import bucket_take
from relay.keys import QueueKeys
from tests.scripts.helpers import redis_ms, state


async def test_claim_moves_jobs_to_inflight_with_redis_time_deadlines(
    broker: Broker, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(5)])
    # The caller's clock is an hour off: deadlines must still come from Redis TIME.
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + 3_600 * 10**9)
    before = await redis_ms(broker.redis)
    got = await broker.claim(queue, 3, 10_000)
    after = await redis_ms(broker.redis)
    assert len(got.jobs) == 3 and before <= got.now_ms <= after
    assert all(j.attempts == 1 for j in got.jobs)
    assert len({j.token for j in got.jobs}) == 3
    s = await state(broker, queue)
    assert sorted(s["inflight"]) == sorted(j.id for j in got.jobs) and len(s["ready"]) == 2
    for j in got.jobs:
        deadline = await broker.redis.zscore(QueueKeys.for_queue(queue).inflight, j.id)
        assert before + 10_000 <= deadline <= after + 10_000
    info = await broker.get_job(queue, got.jobs[0].id)
    assert info.state == "inflight" and info.attempts == 1 and info.started_at is not None


async def test_empty_queue_claims_nothing(broker: Broker, queue: str) -> None:
    got = await broker.claim(queue, 10, 1000)
    assert got.jobs == [] and not got.paused and got.wait_ms == 0


async def test_paused_queue_claims_nothing_until_resumed(broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    await broker.pause(queue)
    assert (await broker.claim(queue, 10, 1000)).paused
    assert (await broker.stats(queue)).paused
    assert len((await state(broker, queue))["ready"]) == 1
    await broker.resume(queue)
    assert len((await broker.claim(queue, 10, 1000)).jobs) == 1


async def test_rate_limit_grants_the_burst_then_says_when(broker: Broker, queue: str) -> None:
    # One token a second: the second claim finds none unless a whole second passes between.
    await broker.set_rate_limit(queue, rate=1, burst=5)
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(20)])
    first = await broker.claim(queue, 100, 1000)
    assert len(first.jobs) == 5
    second = await broker.claim(queue, 100, 1000)
    assert second.jobs == [] and 1 <= second.wait_ms <= 1000
    st = await broker.stats(queue)
    assert st.rate_limit is not None and st.rate_limit.burst == 5
    assert st.totals.failed == 0  # being limited is not a failure


async def test_lua_bucket_decides_like_the_rust_bucket(broker: Broker, queue: str) -> None:
    """The distributed bucket (Lua) and the in-process one (Rust) agree on every decision."""
    k = QueueKeys.for_queue(queue)
    await broker.set_rate_limit(queue, rate=37.5, burst=4)
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(300)])
    tokens, last = 4.0, None
    for want in [1, 3, 7, 2, 1, 1, 5, 4, 2, 9, 1, 1, 3] * 3:
        got = await broker.claim(queue, want, 1000)
        now = int(await broker.redis.hget(k.bucket, "ts"))
        granted, tokens_after, _, wait = bucket_take(37.5, 4.0, tokens, last or now, now, want)
        assert len(got.jobs) == granted
        assert got.wait_ms == (wait if granted == 0 else 0)
        assert float(await broker.redis.hget(k.bucket, "tokens")) == tokens_after
        tokens, last = tokens_after, now
        await asyncio.sleep(0.007)


async def test_undecodable_record_is_reported_not_dropped(broker: Broker, queue: str) -> None:
    r = await broker.enqueue(queue, "t")
    await broker.redis.hset(QueueKeys.for_queue(queue).jobs, r.id, b"\x07garbage")
    got = await broker.claim(queue, 10, 1000)
    assert got.jobs == [] and [u.id for u in got.undecodable] == [r.id]
    assert (await state(broker, queue))["inflight"] == [r.id]


async def test_claim_count_is_bounded(broker: Broker, queue: str) -> None:
    with pytest.raises(ConfigError):
        await broker.claim(queue, 0, 1000)
    with pytest.raises(ConfigError):
        await broker.claim(queue, 1001, 1000)
    with pytest.raises(ConfigError):
        await broker.claim(queue, 1, 0)


async def test_claims_never_share_a_job(broker: Broker, queue: str) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(500)])
    results = await asyncio.gather(*(broker.claim(queue, 7, 5000) for _ in range(100)))
    ids = [j.id for r in results for j in r.jobs]
    assert len(ids) == len(set(ids)) == 500
