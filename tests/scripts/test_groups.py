"""Fair scheduling across groups (decision 0053): enqueue, claim (deficit round-robin, weights,
caps, token buckets), and the counters ack, nack, reap and cancel keep."""

from __future__ import annotations

import asyncio

import pytest

from relay import Broker, ConfigError, JobSpec
from relay.broker import Claimed, Nack, NackMode
from relay.keys import QueueKeys
from relay.wire import GroupLimits
from tests.scripts.helpers import state


def spec(group: str | None, i: int = 0, **options: object) -> JobSpec:
    return JobSpec.of("t", i, group=group, **options)


async def add(broker: Broker, queue: str, group: str | None, n: int, **options: object) -> None:
    specs = [spec(group, i, **options) for i in range(n)]
    for start in range(0, n, 1000):
        await broker.enqueue_many(queue, specs[start : start + 1000])


def groups_of(got: Claimed) -> list[str]:
    return [j.payload_bytes.decode() for j in got.jobs]


async def claim_groups(broker: Broker, queue: str, n: int) -> list[str | None]:
    """Claim one job at a time, n times; the group each came from (from the ledger)."""
    k = QueueKeys.for_queue(queue)
    out: list[str | None] = []
    for _ in range(n):
        got = await broker.claim(queue, 1, 30_000)
        assert len(got.jobs) == 1
        g = await broker.redis.hget(k.group_of, got.jobs[0].id)
        out.append(g.decode() if g else None)
    return out


async def test_groups_take_turns_fifo_inside_each(broker: Broker, queue: str) -> None:
    await add(broker, queue, "a", 6)
    await add(broker, queue, "b", 2)
    await add(broker, queue, "c", 2)
    assert await claim_groups(broker, queue, 10) == list("abcabcaaaa")
    got = await broker.claim(queue, 10, 30_000)
    assert got.jobs == []
    await state(broker, queue)


async def test_a_batch_claim_spans_the_groups(broker: Broker, queue: str) -> None:
    await add(broker, queue, "a", 50)
    await add(broker, queue, "b", 50)
    got = await broker.claim(queue, 10, 30_000)
    k = QueueKeys.for_queue(queue)
    gs = [(await broker.redis.hget(k.group_of, j.id)).decode() for j in got.jobs]
    assert gs == list("ababababab")
    page = await broker.groups(queue)
    rows = sorted((g.name, g.backlog, g.in_flight) for g in page.groups)
    assert rows == [("a", 45, 5), ("b", 45, 5)]
    await state(broker, queue)


async def test_weight_gives_more_jobs_per_turn(broker: Broker, queue: str) -> None:
    await broker.set_group(queue, "a", GroupLimits(weight=3))
    await add(broker, queue, "a", 9)
    await add(broker, queue, "b", 9)
    assert await claim_groups(broker, queue, 8) == list("aaabaaab")


async def test_priority_comes_before_turns(broker: Broker, queue: str) -> None:
    await add(broker, queue, "a", 3)
    await add(broker, queue, "b", 1, priority=9)
    await add(broker, queue, None, 1, priority=8)
    assert await claim_groups(broker, queue, 5) == ["b", None, "a", "a", "a"]


async def test_ungrouped_jobs_take_one_turn_among_the_groups(broker: Broker, queue: str) -> None:
    await add(broker, queue, None, 5)
    await add(broker, queue, "a", 5)
    await add(broker, queue, "b", 5)
    got = await claim_groups(broker, queue, 9)
    assert got.count(None) == 3 and got.count("a") == 3 and got.count("b") == 3
    await state(broker, queue)


async def test_cap_holds_a_group_and_ack_lets_it_go_on(broker: Broker, queue: str) -> None:
    await broker.set_group(queue, "a", GroupLimits(max_inflight=2))
    await add(broker, queue, "a", 10)
    await add(broker, queue, "b", 3)
    got = await broker.claim(queue, 100, 30_000)
    assert len(got.jobs) == 5  # 2 of a (its cap), all 3 of b: a capped group blocks no one
    info = await broker.group(queue, "a")
    assert info.in_flight == 2 and info.backlog == 8 and info.capped
    assert (await broker.stats(queue)).counts.ready == 8
    assert (await broker.claim(queue, 100, 30_000)).jobs == []
    k = QueueKeys.for_queue(queue)
    mine = [j for j in got.jobs if await broker.redis.hget(k.group_of, j.id) == b"a"]
    assert await broker.ack(queue, [(mine[0].id, mine[0].token)]) == [True]
    assert (await broker.group(queue, "a")).capped is False
    again = await broker.claim(queue, 100, 30_000)
    assert len(again.jobs) == 1
    await state(broker, queue)


async def test_group_rate_limit_parks_the_group_and_says_when(broker: Broker, queue: str) -> None:
    # 4 tokens a second: a second token needs a 250 ms overshoot of the exact wait below.
    await broker.set_group(queue, "a", GroupLimits(rate=4, burst=2))
    await add(broker, queue, "a", 10)
    await add(broker, queue, "b", 2)
    got = await broker.claim(queue, 100, 30_000)
    assert len(got.jobs) == 4  # a's burst of 2, and b's 2
    info = await broker.group(queue, "a")
    assert info.limited_until is not None
    nothing = await broker.claim(queue, 100, 30_000)
    assert nothing.jobs == [] and 1 <= nothing.wait_ms <= 250
    await asyncio.sleep((nothing.wait_ms + 2) / 1000)  # the wait is exact (Redis TIME)
    more = await broker.claim(queue, 100, 30_000)
    assert len(more.jobs) == 1
    await state(broker, queue)


async def test_reap_returns_grouped_jobs_to_the_head_of_their_group(
    broker: Broker, queue: str
) -> None:
    await broker.set_group(queue, "a", GroupLimits(max_inflight=1))
    await add(broker, queue, "a", 3)
    first = await broker.claim(queue, 10, 50)
    assert len(first.jobs) == 1
    await asyncio.sleep(0.06)  # past the 50 ms lease (Redis TIME)
    assert (await broker.reap(queue)).requeued == 1
    assert (await broker.group(queue, "a")).in_flight == 0
    again = await broker.claim(queue, 10, 30_000)
    assert [j.id for j in again.jobs] == [first.jobs[0].id] and again.jobs[0].attempts == 2
    await state(broker, queue)


async def test_nack_retries_into_the_group_now_and_later(broker: Broker, queue: str) -> None:
    await add(broker, queue, "a", 2)
    got = await broker.claim(queue, 10, 30_000)
    a, b = got.jobs
    fail = NackMode.FAIL
    await broker.nack(
        queue, [Nack(a.id, a.token, fail, 0, "boom"), Nack(b.id, b.token, fail, 30, "x")]
    )
    k = QueueKeys.for_queue(queue)
    assert await broker.redis.lrange(k.group_ready(5, "a"), 0, -1) == [a.id.encode()]
    assert (await broker.group(queue, "a")).in_flight == 0
    await asyncio.sleep(0.04)  # past the 30 ms retry delay (Redis TIME)
    assert (await broker.promote(queue)).moved == 1
    assert await broker.redis.llen(k.group_ready(5, "a")) == 2
    await state(broker, queue)


async def test_cancel_a_ready_grouped_job(broker: Broker, queue: str) -> None:
    ids = [r.id for r in await broker.enqueue_many(queue, [spec("a", i) for i in range(2)])]
    assert (await broker.cancel(queue, ids[0])).state == "cancelled"
    assert (await broker.group(queue, "a")).backlog == 1
    got = await broker.claim(queue, 10, 30_000)
    assert [j.id for j in got.jobs] == [ids[1]]
    await state(broker, queue)


async def test_finished_groups_are_forgotten(broker: Broker, queue: str) -> None:
    await add(broker, queue, "a", 2)
    got = await broker.claim(queue, 10, 30_000)
    assert await broker.ack(queue, [(j.id, j.token) for j in got.jobs]) == [True, True]
    assert (await broker.groups(queue)).total == 0
    k = QueueKeys.for_queue(queue)
    assert not await broker.redis.exists(k.group("a"), k.group_inflight)


async def test_bad_group_and_limits_are_refused(broker: Broker, queue: str) -> None:
    for bad in ("", "x" * 129, "tab\there", "é"):
        with pytest.raises(ConfigError, match="group"):
            spec(bad)
    for limits, field in (
        (GroupLimits(weight=0), "weight"),
        (GroupLimits(max_inflight=0), "max_inflight"),
        (GroupLimits(rate=0.0, burst=1), "rate"),
        (GroupLimits(rate=1.0, burst=0), "burst"),
        (GroupLimits(rate=1.0), "burst"),
    ):
        with pytest.raises(ConfigError, match=field):
            await broker.set_group(queue, "a", limits)
    assert (await broker.groups(queue)).total == 0


async def test_small_groups_finish_before_the_big_one_runs_ten_percent(
    broker: Broker, queue: str
) -> None:
    """The issue's fairness figure: 50,000 jobs of one group first, then 20 groups of 100;
    one worker claiming 10 at a time: every small group is done before the big group has run
    10 % of its jobs."""
    await add(broker, queue, "big", 50_000)
    for g in range(20):
        await add(broker, queue, f"small{g}", 100)
    k = QueueKeys.for_queue(queue)
    big = small = 0
    while small < 2000:
        got = await broker.claim(queue, 10, 60_000)
        gs = await broker.redis.hmget(k.group_of, [j.id for j in got.jobs])
        big += sum(1 for g in gs if g == b"big")
        small += sum(1 for g in gs if g != b"big")
        await broker.ack(queue, [(j.id, j.token) for j in got.jobs])
    assert big < 5000, f"the big group ran {big} jobs before the small ones were done"
    assert big <= 110


async def test_requeued_and_promoted_jobs_go_back_to_their_group(
    broker: Broker, queue: str
) -> None:
    k = QueueKeys.for_queue(queue)
    await add(broker, queue, "a", 2)
    delayed = (await broker.enqueue(queue, "t", group="a", delay_ms=60_000)).id
    got = await broker.claim(queue, 10, 30_000)
    dead = [Nack(j.id, j.token, NackMode.DEAD, 0, "x") for j in got.jobs]
    await broker.nack(queue, dead)
    assert await broker.requeue_dead(queue, dead[0].id) == 1  # one by id
    assert await broker.requeue_dead(queue) == 1  # all
    await broker.promote_job(queue, delayed)  # the browser's "run now"
    assert await broker.redis.llen(k.group_ready(5, "a")) == 3
    assert await broker.redis.llen(k.ready(5)) == 0
    assert (await broker.group(queue, "a")).backlog == 3
    assert (await broker.get_job(queue, delayed)).group == "a"
    assert (await broker.enqueue(queue, "t")).id  # and an ungrouped one says so
    await state(broker, queue)


async def test_deleting_a_dead_grouped_job_deletes_its_group_record(
    broker: Broker, queue: str
) -> None:
    await add(broker, queue, "a", 2)
    got = await broker.claim(queue, 10, 30_000)
    await broker.nack(queue, [Nack(j.id, j.token, NackMode.DEAD, 0, "x") for j in got.jobs])
    await broker.delete_dead(queue, got.jobs[0].id)
    assert await broker.delete_jobs(queue, "dead") == 1
    assert not await broker.redis.exists(QueueKeys.for_queue(queue).group_of)


async def test_the_queue_limiter_gives_back_tokens_a_capped_group_left(
    broker: Broker, queue: str
) -> None:
    await broker.set_group(queue, "a", GroupLimits(max_inflight=1))
    await add(broker, queue, "a", 10)
    await broker.set_rate_limit(queue, 0.001, 5)  # no refill to speak of during the test
    first = await broker.claim(queue, 10, 30_000)
    assert len(first.jobs) == 1  # the cap, not the bucket
    await broker.ack(queue, [(first.jobs[0].id, first.jobs[0].token)])
    for _ in range(4):  # the 4 tokens the cap left unused were given back
        got = await broker.claim(queue, 10, 30_000)
        assert len(got.jobs) == 1
        await broker.ack(queue, [(got.jobs[0].id, got.jobs[0].token)])
    limited = await broker.claim(queue, 10, 30_000)
    assert limited.jobs == [] and limited.wait_ms > 0
    await state(broker, queue)


async def test_a_claimed_job_knows_its_group(broker: Broker, queue: str) -> None:
    """Job.group: the group it was enqueued in (None for an ungrouped job), on every claim."""
    await broker.enqueue_many(queue, [JobSpec.of("t", 1, group="acme"), JobSpec.of("t", 2)])
    await broker.set_group(queue, "capped", GroupLimits(max_inflight=5))
    await broker.enqueue(queue, "t", 3, group="capped")
    jobs = (await broker.claim(queue, 10, 30_000)).jobs
    assert sorted((j.payload, j.group) for j in jobs) == [(1, "acme"), (2, None), (3, "capped")]
    await broker.ack(queue, [(j.id, j.token) for j in jobs])
