"""Queues spread over shards: one slot per queue, the registry, per-shard wake-ups, WAIT."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from redis import exceptions as rexc

from relay import Broker, BrokerSettings, ConfigError, JobSpec
from relay.broker.connection import connect
from relay.errors import ReplicationTimeout
from relay.keys import QueueKeys
from tests.cluster.cluster import Cluster
from tests.cluster.conftest import queues_on_distinct_masters
from tests.scripts.helpers import state
from tests.support.invariant import check_invariant
from tests.support.redis_server import RedisServer

MakeBroker = Callable[[BrokerSettings], Broker]


async def test_every_key_of_a_queue_is_in_one_slot(redis: Any) -> None:
    k = QueueKeys.for_queue("emails")
    keys = [*k.all_fixed(), k.idem("order-42")]
    slots = {int(await redis.execute_command("CLUSTER KEYSLOT", key)) for key in keys}
    assert len(slots) == 1


async def test_queues_on_three_masters_work_side_by_side(
    broker: Broker, healthy_cluster: Cluster
) -> None:
    queues = queues_on_distinct_masters(healthy_cluster, 3, "spread")
    for q in queues:
        await broker.enqueue_many(q, [JobSpec.of("t", i) for i in range(5)])
        await broker.enqueue(q, "t", "once", idempotency_key="k")  # derived key, same slot
        claimed = await broker.claim(q, 10, 5000)
        assert len(claimed.jobs) == 6
        assert await broker.ack(q, [(j.id, j.token) for j in claimed.jobs]) == [True] * 6
        assert (await broker.stats(q)).counts.completed == 6
        await check_invariant(broker.redis, q)
    assert set(queues) <= set(await broker.queues())  # the registry sits in its own slot


async def _wake_latency(broker: Broker, producer: Broker, queues: list[str], target: str) -> float:
    waiter = asyncio.create_task(broker.wait_for_work(queues, 5.0))
    await asyncio.sleep(0.2)  # every per-shard BLPOP is blocked by now
    assert not waiter.done()
    t0 = time.monotonic()
    await producer.enqueue(target, "t")
    assert await waiter == target
    return time.monotonic() - t0


async def test_a_waiter_on_two_shards_wakes_on_either(
    broker: Broker, make_broker: MakeBroker, healthy_cluster: Cluster, capsys: Any
) -> None:
    qa, qb = queues_on_distinct_masters(healthy_cluster, 2, "wake")
    producer = make_broker(BrokerSettings())
    latencies = [await _wake_latency(broker, producer, [qa, qb], t) for t in (qb, qa, qb)]
    with capsys.disabled():
        print(f"\nwake-up across shards: {', '.join(f'{s * 1000:.1f} ms' for s in latencies)}")
    # Far below the 5 s timeout: woken by the signal, not by a poll (the latency itself, a
    # few ms on loopback, is reported above; a loaded CI box must not fail on it).
    assert max(latencies) < 1.0


async def test_a_waiter_on_two_shards_times_out_and_loses_no_signal(
    broker: Broker, healthy_cluster: Cluster
) -> None:
    qa, qb = queues_on_distinct_masters(healthy_cluster, 2, "quiet")
    t0 = time.monotonic()
    assert await broker.wait_for_work([qa, qb], 0.3) is None
    assert 0.25 < time.monotonic() - t0 < 2.0
    for _ in range(10):
        await broker.enqueue(qa, "t")
        await broker.enqueue(qb, "t")  # both shards signal before anyone waits
        first = await broker.wait_for_work([qa, qb], 1.0)
        second = await broker.wait_for_work([qa, qb], 1.0)
        assert {first, second} == {qa, qb}  # the loser's signal was left (or put back) in place
        for q in (qa, qb):  # empty again, so the next enqueue signals anew
            claimed = await broker.claim(q, 10, 5000)
            await broker.ack(q, [(j.id, j.token) for j in claimed.jobs])


async def test_wait_replicas_returns_once_the_replica_has_the_job(
    make_broker: MakeBroker, healthy_cluster: Cluster, queue: str
) -> None:
    b = make_broker(BrokerSettings(wait_replicas=1))
    r = await b.enqueue(queue, "t", {"n": 1})
    k = QueueKeys.for_queue(queue)
    replica = healthy_cluster.node(healthy_cluster.replica_of(healthy_cluster.master_of(k.jobs)))
    with replica.pipeline(transaction=False) as p:  # one connection: READONLY, then read
        p.execute_command("READONLY")  # type: ignore[no-untyped-call]  # untyped in redis-py
        p.hexists(k.jobs, r.id)
        assert p.execute()[1]  # on the replica already, without waiting for it


async def test_too_few_replicas_raise_replication_timeout_and_a_retry_is_safe(
    make_broker: MakeBroker, healthy_cluster: Cluster, queue: str
) -> None:
    b = make_broker(BrokerSettings(wait_timeout_ms=100))
    spec = JobSpec(type="t", id="01durable00000000001")
    with pytest.raises(ReplicationTimeout) as err:
        await b.enqueue_many(queue, [spec], wait_replicas=2)  # each master has one replica
    assert (err.value.acked, err.value.wanted, err.value.ids) == (1, 2, [spec.id])
    [again] = await b.enqueue_many(queue, [spec], wait_replicas=1)
    assert again.id == spec.id and again.duplicate  # written once, now confirmed
    assert (await state(b, queue))["ready"] == [spec.id]


async def test_wait_replicas_on_a_single_redis_without_replicas() -> None:
    server = RedisServer().start()
    b = Broker.from_url(server.url, BrokerSettings(wait_timeout_ms=50))
    try:
        with pytest.raises(ReplicationTimeout) as err:
            await b.enqueue("solo", "t", wait_replicas=1)
        assert err.value.acked == 0
        assert (await b.get_job("solo", err.value.ids[0])).state == "ready"  # written anyway
        assert not (await b.enqueue("solo", "t", wait_replicas=0)).duplicate
        with pytest.raises(ConfigError):
            await b.enqueue("solo", "t", wait_replicas=-1)
    finally:
        await b.close()
        server.stop()


@pytest.mark.parametrize("key", [None, "order-7"])
async def test_an_enqueue_retried_after_a_lost_reply_is_not_a_duplicate(
    make_broker: MakeBroker, queue: str, key: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = make_broker(BrokerSettings())
    real = type(b.redis).evalsha
    calls = 0

    async def reply_lost_once(self: Any, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        reply = await real(self, *args)
        if calls == 1:  # the script ran; its reply never arrived
            raise rexc.ConnectionError("connection reset (injected)")
        return reply

    await b.queues()  # read the topology before patching
    monkeypatch.setattr(type(b.redis), "evalsha", reply_lost_once)
    r = await b.enqueue(queue, "t", {"n": 1}, idempotency_key=key)
    assert calls == 2 and not r.duplicate
    assert (await state(b, queue))["ready"] == [r.id]


async def test_a_master_that_evicts_is_noticed(
    broker: Broker, healthy_cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    assert await broker.check_eviction_policy() == "noeviction"
    port = healthy_cluster.masters_ports()[-1]
    healthy_cluster.cmd(port, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    try:
        assert await broker.check_eviction_policy() == "allkeys-lru"
        assert "noeviction" in caplog.text
    finally:
        healthy_cluster.cmd(port, "CONFIG", "SET", "maxmemory-policy", "noeviction")


async def test_fresh_cluster_clients_take_a_burst_of_first_calls(redis_url: str) -> None:
    # redis-py closes every connection after each 5th MOVED by default: a burst of first calls
    # (all MOVED, the slot table still empty) broke the connections of the others.
    for n in range(30):
        client = connect(redis_url)
        try:
            await asyncio.gather(*(client.rpush(f"relay:{{burst{n}}}:x", i) for i in range(100)))
        finally:
            await client.aclose()


async def test_a_durable_enqueue_after_a_script_flush(
    make_broker: MakeBroker, healthy_cluster: Cluster, queue: str
) -> None:
    b = make_broker(BrokerSettings(wait_replicas=1))
    await b.enqueue(queue, "t")
    for port in healthy_cluster.masters_ports():  # as after a failover to a fresh replica
        healthy_cluster.cmd(port, "SCRIPT", "FLUSH")
    r = await b.enqueue(queue, "t")
    assert not r.duplicate
    assert len((await state(b, queue))["ready"]) == 2
