"""Group commit of single-job HTTP enqueues (relay.http.coalesce), against real Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from relay import Broker, JobSpec
from relay.errors import IdempotencyConflict, QueueFull
from relay.http.coalesce import COALESCER, Coalescer
from tests.server.conftest import Client
from tests.support.invariant import states_of


async def test_jobs_enqueued_in_one_loop_turn_share_one_script_call(
    broker: Broker, queue: str
) -> None:
    c = Coalescer(broker)
    got = await asyncio.gather(*(c.enqueue(queue, JobSpec.of("t", i), None) for i in range(50)))
    # The first finds the queue idle and goes at once, alone; the 49 behind it share one call.
    assert c.calls == 2 and c.jobs == 50
    assert len({r.id for r in got}) == 50 and not any(r.duplicate for r in got)
    ready = (await states_of(broker.redis, queue))["ready"]
    assert sorted(ready) == sorted(r.id for r in got)
    for r, i in zip(got, range(50), strict=True):  # each answer is its own job's
        assert (await broker.get_job(queue, r.id)).payload == i
    jobs = (await broker.claim(queue, 50, 5000)).jobs
    await broker.ack(queue, [(j.id, j.token) for j in jobs])


async def test_a_lone_job_is_sent_at_once_and_a_full_batch_does_not_wait(
    broker: Broker, queue: str
) -> None:
    c = Coalescer(broker)
    one = await c.enqueue(queue, JobSpec.of("t", 0), None)
    assert c.calls == 1 and not one.duplicate
    limit = broker.settings.batch_limit
    got = await asyncio.gather(
        *(c.enqueue(queue, JobSpec.of("t", i), None) for i in range(limit + 5))
    )
    # 1 alone; then 1 alone (idle again), a full batch sent at once, and the 4 left over.
    assert c.calls == 4 and len({r.id for r in got}) == limit + 5
    jobs = (await broker.claim(queue, limit, 5000)).jobs
    jobs += (await broker.claim(queue, limit, 5000)).jobs
    await broker.ack(queue, [(j.id, j.token) for j in jobs])


async def test_a_conflicting_job_fails_alone_and_its_neighbours_are_stored(
    broker: Broker, queue: str
) -> None:
    [first] = await broker.enqueue_many(queue, [JobSpec.of("t", "a", idempotency_key="k")])
    c = Coalescer(broker)
    specs = [JobSpec.of("t", i) for i in range(5)]
    specs.insert(2, JobSpec.of("t", "other", idempotency_key="k"))  # 409 alone
    specs.insert(4, JobSpec.of("t", "a", idempotency_key="k"))  # a repeat: duplicate
    got: list[Any] = await asyncio.gather(
        *(c.enqueue(queue, s, None) for s in specs), return_exceptions=True
    )
    assert isinstance(got[2], IdempotencyConflict)
    assert got[4].id == first.id and got[4].duplicate
    stored = [r.id for i, r in enumerate(got) if i not in (2, 4)]
    assert len(stored) == 5 and not any(r.duplicate for i, r in enumerate(got) if i not in (2, 4))
    ready = (await states_of(broker.redis, queue))["ready"]
    assert sorted(ready) == sorted([first.id, *stored])  # nothing else, nothing twice
    jobs = (await broker.claim(queue, 10, 5000)).jobs
    await broker.ack(queue, [(j.id, j.token) for j in jobs])


async def test_a_full_queue_refuses_only_the_jobs_that_do_not_fit(
    broker: Broker, queue: str
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", 0)])
    await broker.set_max_depth(queue, 3)
    c = Coalescer(broker)
    got: list[Any] = await asyncio.gather(
        *(c.enqueue(queue, JobSpec.of("t", i), None) for i in range(5)), return_exceptions=True
    )
    full = [r for r in got if isinstance(r, QueueFull)]
    ok = [r for r in got if not isinstance(r, BaseException)]
    assert len(ok) == 2 and len(full) == 3  # room for two more (depth 1 of 3), as one by one
    assert len((await states_of(broker.redis, queue))["ready"]) == 3
    await broker.set_max_depth(queue, None)
    jobs = (await broker.claim(queue, 10, 5000)).jobs
    await broker.ack(queue, [(j.id, j.token) for j in jobs])


@pytest.mark.parametrize("coalesce", [True, False])
async def test_concurrent_http_enqueues_each_get_their_own_answer(
    make_client: Any, broker: Broker, queue: str, coalesce: bool
) -> None:
    client: Client = await make_client(producer_rate=0, coalesce=coalesce)
    await broker.enqueue_many(queue, [JobSpec.of("t", "a", idempotency_key="k")])
    url = f"/api/queues/{queue}/jobs"
    bodies: list[dict[str, Any]] = [{"type": "t", "payload": i} for i in range(40)]
    bodies[7] = {"type": "t", "payload": "other", "idempotency_key": "k"}  # 409
    bodies[9] = {"type": "t", "payload": "a", "idempotency_key": "k"}  # 200, duplicate
    resps = await asyncio.gather(*(client.post(url, json=b) for b in bodies))
    status = [r.status for r in resps]
    assert status[7] == 409 and status[9] == 200
    assert status.count(201) == 38
    ids = [(await r.json()).get("id") for r in resps]
    for i, r in enumerate(resps):
        if r.status == 201:
            assert (await broker.get_job(queue, ids[i])).payload == i
    assert len((await states_of(broker.redis, queue))["ready"]) == 39
    if not coalesce:  # the previous server's way: one script call per request
        assert client.app[COALESCER].calls == 40
    jobs = (await broker.claim(queue, 100, 5000)).jobs
    await broker.ack(queue, [(j.id, j.token) for j in jobs])
