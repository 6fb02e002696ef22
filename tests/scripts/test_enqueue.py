"""enqueue.lua: ids, priorities, delays, idempotency, depth limits; refusals write nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from relay import (
    Broker,
    ConfigError,
    IdempotencyConflict,
    JobSpec,
    PayloadTooLarge,
    QueueFull,
)
from relay.keys import QueueKeys
from tests.scripts.helpers import claim_all, state


async def test_enqueue_one_lands_in_ready_at_its_priority(broker: Broker, queue: str) -> None:
    r = await broker.enqueue(queue, "email", {"to": "a@b.c"}, priority=7)
    assert not r.duplicate and len(r.id) == 20
    assert await broker.redis.lrange(QueueKeys.for_queue(queue).ready(7), 0, -1) == [r.id.encode()]
    assert (await state(broker, queue))["ready"] == [r.id]
    st = await broker.stats(queue)
    assert st.counts.ready == 1 and st.totals.enqueued == 1
    assert queue in await broker.queues()


async def test_priorities_are_strict_and_fifo_within_a_level(broker: Broker, queue: str) -> None:
    plan = [3, 9, 3, 0, 9, 5, 3]
    ids = [(await broker.enqueue(queue, "t", i, priority=p)).id for i, p in enumerate(plan)]
    got = await claim_all(broker, queue)
    order = sorted(range(len(plan)), key=lambda i: (-plan[i], i))
    assert [j.id for j in got.jobs] == [ids[i] for i in order]
    assert [j.payload for j in got.jobs] == order


async def test_delay_and_run_at_put_jobs_in_delayed(broker: Broker, queue: str) -> None:
    a = await broker.enqueue(queue, "t", delay_ms=60_000)
    b = await broker.enqueue(queue, "t", run_at_ms=1)  # in the past: ready now
    s = await state(broker, queue)
    assert s["delayed"] == [a.id] and s["ready"] == [b.id]
    info = await broker.get_job(queue, a.id)
    assert info.state == "delayed" and info.run_at is not None


async def test_repeated_idempotency_key_returns_the_first_id(broker: Broker, queue: str) -> None:
    first = await broker.enqueue(queue, "t", {"n": 1}, idempotency_key="k1")
    again = await broker.enqueue(queue, "t", {"n": 1}, idempotency_key="k1")
    assert again.id == first.id and again.duplicate
    assert (await state(broker, queue))["ready"] == [first.id]
    assert (await broker.stats(queue)).totals.enqueued == 1


async def test_same_key_other_payload_is_a_conflict_and_writes_nothing(
    broker: Broker, queue: str
) -> None:
    first = await broker.enqueue(queue, "t", {"n": 1}, idempotency_key="k1")
    with pytest.raises(IdempotencyConflict) as exc:
        await broker.enqueue_many(
            queue, [JobSpec.of("t", {"n": 9}), JobSpec.of("t", {"n": 2}, idempotency_key="k1")]
        )
    assert exc.value.existing_id == first.id
    assert (await state(broker, queue))["ready"] == [first.id]


async def test_conflict_inside_one_batch_writes_nothing(broker: Broker, queue: str) -> None:
    with pytest.raises(IdempotencyConflict):
        await broker.enqueue_many(
            queue,
            [JobSpec.of("t", 1, idempotency_key="k"), JobSpec.of("t", 2, idempotency_key="k")],
        )
    assert (await state(broker, queue))["ready"] == []


async def test_retried_enqueue_with_the_same_id_is_a_no_op(broker: Broker, queue: str) -> None:
    spec = JobSpec(type="t", payload=b"{}", id="fixed-id-0000000001")
    a, b = await broker.enqueue_many(queue, [spec]), await broker.enqueue_many(queue, [spec])
    assert a[0].id == b[0].id and b[0].duplicate
    assert (await state(broker, queue))["ready"] == [spec.id]


async def test_concurrent_enqueues_with_one_key_make_exactly_one_job(
    broker: Broker, queue: str
) -> None:
    results = await asyncio.gather(
        *(broker.enqueue(queue, "t", {"x": 1}, idempotency_key="once") for _ in range(50))
    )
    assert len({r.id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert len((await state(broker, queue))["ready"]) == 1


async def test_batch_enqueue_is_in_order(broker: Broker, queue: str) -> None:
    specs = [JobSpec.of("t", i) for i in range(2500)]  # three chunks
    res = await broker.enqueue_many(queue, specs)
    assert len({r.id for r in res}) == 2500
    assert (await state(broker, queue))["ready"] == [r.id for r in res]


async def test_full_queue_refuses_and_writes_nothing(broker: Broker, queue: str) -> None:
    await broker.set_max_depth(queue, 3)
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(2)])
    with pytest.raises(QueueFull) as exc:
        await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(2)])
    assert exc.value.depth == 2 and exc.value.max_depth == 3
    assert len((await state(broker, queue))["ready"]) == 2


async def test_oversize_payload_is_refused_before_any_write(broker: Broker, queue: str) -> None:
    with pytest.raises(PayloadTooLarge):
        await broker.enqueue(queue, "t", "x" * (2 << 20))
    assert (await broker.stats(queue)).totals.enqueued == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", 10),
        ("priority", -1),
        ("max_attempts", 0),
        ("timeout_ms", -5),
        ("delay_ms", "soon"),
        ("idempotency_key", ""),
    ],
)
async def test_bad_options_raise_config_error(
    broker: Broker, queue: str, field: str, value: object
) -> None:
    options: dict[str, Any] = {field: value}
    with pytest.raises(ConfigError, match=field):
        await broker.enqueue(queue, "t", None, **options)


@pytest.mark.parametrize("name", ["", "a b", "a{b", "a}b", "a:b", "tab\t", "x" * 200])
async def test_bad_queue_names_are_refused(broker: Broker, name: str) -> None:
    with pytest.raises(ConfigError, match="queue name"):
        await broker.enqueue(name, "t")


async def test_a_delayed_job_due_first_wakes_an_idle_worker_and_a_later_one_does_not(
    broker: Broker, queue: str
) -> None:
    """A worker's promoter sleeps until the next delayed job it knows of (at most 1 s); a job
    enqueued by another process that is due sooner wakes an idle worker, whose promoter then
    sleeps until exactly its run_at instead of finding it up to 1 s late."""
    wake = QueueKeys.for_queue(queue).wake
    await broker.enqueue(queue, "t", delay_ms=60_000)
    assert await broker.redis.llen(wake) == 1  # the first delayed job: due before all others
    await broker.redis.delete(wake)
    await broker.enqueue(queue, "t", delay_ms=120_000)
    assert await broker.redis.llen(wake) == 0  # due after the head: the promoter knows in time
    await broker.enqueue_many(
        queue, [JobSpec.of("t", delay_ms=90_000), JobSpec.of("t", delay_ms=30_000)]
    )
    assert await broker.redis.llen(wake) == 1  # one of the batch is the new head
