"""list_dead / requeue_dead / delete_dead: inspect, requeue one or all, delete."""

from __future__ import annotations

import pytest

from relay import Broker, JobNotFound, JobSpec, Nack, NackMode
from tests.scripts.helpers import state


async def _kill(broker: Broker, queue: str, n: int) -> list[str]:
    await broker.enqueue_many(queue, [JobSpec.of("t", {"i": i}) for i in range(n)])
    got = (await broker.claim(queue, n, 5000)).jobs
    for j in got:  # one by one so each gets its own dead-at time order
        await broker.nack(queue, [Nack(j.id, j.token, NackMode.DEAD, 0, f"err {j.payload['i']}")])
    return [j.id for j in got]


async def test_dead_jobs_list_newest_first_with_a_cursor(broker: Broker, queue: str) -> None:
    ids = await _kill(broker, queue, 5)
    page1 = await broker.dead_jobs(queue, limit=3)
    assert page1.total == 5 and page1.next_cursor is not None
    page2 = await broker.dead_jobs(queue, limit=3, cursor=page1.next_cursor)
    assert page2.next_cursor is None
    listed = [j.id for j in page1.jobs + page2.jobs]
    assert sorted(listed) == sorted(ids) and len(listed) == 5
    assert all(j.state == "dead" and j.last_error for j in page1.jobs)
    times = [j.finished_at or 0 for j in page1.jobs + page2.jobs]
    assert times == sorted(times, reverse=True)


async def test_requeue_one_gives_fresh_attempts(broker: Broker, queue: str) -> None:
    ids = await _kill(broker, queue, 2)
    assert await broker.requeue_dead(queue, ids[0]) == 1
    s = await state(broker, queue)
    assert s["ready"] == [ids[0]] and s["dead"] == [ids[1]]
    [job] = (await broker.claim(queue, 1, 5000)).jobs
    assert job.attempts == 1
    assert (await broker.stats(queue)).totals.requeued == 1
    await broker.ack(queue, [(job.id, job.token)])


async def test_requeue_all_and_delete(broker: Broker, queue: str) -> None:
    ids = await _kill(broker, queue, 4)
    await broker.delete_dead(queue, ids[0])
    with pytest.raises(JobNotFound):
        await broker.get_job(queue, ids[0])
    assert await broker.requeue_dead(queue) == 3
    s = await state(broker, queue)
    assert sorted(s["ready"]) == sorted(ids[1:]) and s["dead"] == []


async def test_unknown_dead_ids_are_not_found(broker: Broker, queue: str) -> None:
    with pytest.raises(JobNotFound):
        await broker.requeue_dead(queue, "nope")
    with pytest.raises(JobNotFound):
        await broker.delete_dead(queue, "nope")
    with pytest.raises(JobNotFound):
        await broker.get_job(queue, "nope")
