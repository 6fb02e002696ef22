"""move_jobs / delete_scored / delete_ready: per-state actions, one job or a selection by type."""

from __future__ import annotations

import pytest

from relay import (
    Broker,
    BrokerSettings,
    ConfigError,
    JobNotFound,
    JobSpec,
    Nack,
    NackMode,
    SyncProducer,
)
from relay.broker.browse import list_plan
from relay.broker.browse_plans import bulk_plan, one_plan
from relay.errors import JobStateConflict
from tests.scripts.helpers import state


async def _dead(broker: Broker, queue: str, types: list[str]) -> list[str]:
    ids = [r.id for r in await broker.enqueue_many(queue, [JobSpec.of(t, 0) for t in types])]
    jobs = (await broker.claim(queue, len(types), 60_000)).jobs
    await broker.nack(queue, [Nack(j.id, j.token, NackMode.DEAD, 0, "boom") for j in jobs])
    return ids


async def test_promote_runs_a_delayed_job_now_keeping_its_priority(
    broker: Broker, queue: str
) -> None:
    low = await broker.enqueue(queue, "t", priority=1)
    later = await broker.enqueue(queue, "t", priority=7, delay_ms=3_600_000)
    await broker.promote_job(queue, later.id)
    assert (await state(broker, queue))["ready"] == [later.id, low.id]
    [job] = (await broker.claim(queue, 1, 5000)).jobs
    assert job.id == later.id and job.priority == 7
    await broker.ack(queue, [(job.id, job.token)])
    with pytest.raises(JobStateConflict, match="completed, not delayed") as info:
        await broker.promote_job(queue, later.id)  # promoted and run already
    assert info.value.state == "completed"
    with pytest.raises(JobNotFound):
        await broker.promote_job(queue, "nope")


async def test_requeue_one_dead_job_and_conflict_once_it_moved(broker: Broker, queue: str) -> None:
    [a] = await _dead(broker, queue, ["t"])
    await broker.requeue_job(queue, a)
    assert (await state(broker, queue))["ready"] == [a]
    with pytest.raises(JobStateConflict, match="ready, not dead"):
        await broker.requeue_job(queue, a)
    assert (await broker.stats(queue)).totals.requeued == 1


async def test_delete_one_job_of_each_deletable_state(broker: Broker, queue: str) -> None:
    [dead] = await _dead(broker, queue, ["t"])
    ready = await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(5)])
    delayed = await broker.enqueue(queue, "t", delay_ms=60_000)
    await broker.delete_job(queue, ready[2].id)
    await broker.delete_job(queue, delayed.id, "delayed")
    await broker.delete_job(queue, dead, "dead")
    s = await state(broker, queue)
    assert s["ready"] == [r.id for r in ready if r is not ready[2]]
    assert s["delayed"] == [] and s["dead"] == []
    with pytest.raises(JobNotFound):
        await broker.get_job(queue, ready[2].id)
    with pytest.raises(JobStateConflict, match="ready, not delayed"):
        await broker.delete_job(queue, ready[0].id, "delayed")


async def test_jobs_in_flight_cannot_be_deleted(broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    [job] = (await broker.claim(queue, 1, 60_000)).jobs
    with pytest.raises(JobStateConflict, match="inflight"):
        await broker.delete_job(queue, job.id)
    with pytest.raises(ConfigError, match="state must be ready or delayed or dead"):
        await broker.delete_job(queue, job.id, "inflight")
    assert (await state(broker, queue))["inflight"] == [job.id]
    await broker.ack(queue, [(job.id, job.token)])


@pytest.mark.parametrize("st", ["ready", "delayed"])
async def test_bulk_delete_by_type_leaves_other_types_alone(
    redis_url: str, queue: str, st: str
) -> None:
    b = Broker.from_url(redis_url, BrokerSettings(batch_limit=100))  # several chunks
    try:
        delay = 60_000 if st == "delayed" else 0
        specs = [JobSpec.of("x" if i % 3 else "y", i, priority=i % 10, delay_ms=delay)
                 for i in range(1000)]  # fmt: skip
        ids = [r.id for r in await b.enqueue_many(queue, specs)]
        assert await b.delete_jobs(queue, st, "x") == sum(1 for s in specs if s.type == "x")
        kept = {i for i, s in zip(ids, specs, strict=True) if s.type == "y"}
        assert set((await state(b, queue))[st]) == kept
        assert await b.delete_jobs(queue, st) == len(kept)
        assert (await state(b, queue))[st] == []
        assert (await b.stats(queue)).counts.ready == 0
    finally:
        await b.close()


async def test_bulk_promote_and_requeue_by_type(redis_url: str, queue: str) -> None:
    b = Broker.from_url(redis_url, BrokerSettings(batch_limit=50))
    try:
        specs = [JobSpec.of("x" if i % 2 else "y", i, delay_ms=60_000) for i in range(300)]
        await b.enqueue_many(queue, specs)
        assert await b.promote_jobs(queue, "x") == 150
        s = await state(b, queue)
        assert len(s["ready"]) == 150 and len(s["delayed"]) == 150
        assert all(j.type == "y" for j in (await b.list_jobs(queue, "delayed", limit=500)).jobs)
        assert await b.delete_jobs(queue, "ready") == 150
        dead = await _dead(b, queue, ["a", "b", "a"])
        assert await b.requeue_jobs(queue, "a") == 2
        assert (await state(b, queue))["dead"] == [dead[1]]
    finally:
        await b.close()


async def test_actions_refuse_states_that_do_not_allow_them(broker: Broker, queue: str) -> None:
    with pytest.raises(ConfigError, match="state must be ready or delayed or dead"):
        await broker.delete_jobs(queue, "inflight")
    with pytest.raises(ConfigError, match="state must be"):
        await broker.delete_jobs(queue, "nope")


async def test_the_plans_run_on_a_blocking_client_too(
    broker: Broker, queue: str, redis_url: str
) -> None:
    if "+cluster" in redis_url:
        pytest.skip("SyncProducer talks to a single Redis")
    r = await broker.enqueue(queue, "t", {"n": 1}, delay_ms=60_000)
    with SyncProducer.from_url(redis_url) as producer:
        page = producer.perform(list_plan(queue, "delayed", 10, None, None))
        assert [j.id for j in page.jobs] == [r.id]
        producer.perform(one_plan(broker.settings, queue, "promote", r.id))
        with pytest.raises(JobStateConflict, match="is ready, not delayed"):
            producer.perform(one_plan(broker.settings, queue, "promote", r.id))
        plan = bulk_plan(broker.settings, queue, "delete", "ready", None)
        assert producer.perform(plan) == 1
