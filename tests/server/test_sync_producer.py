"""relay.SyncProducer: enqueue from blocking code, the same jobs and errors as Producer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from redis import Redis

from relay import (
    Broker,
    BrokerSettings,
    ConfigError,
    IdempotencyConflict,
    JobSpec,
    QueueFull,
    RedisUnavailable,
    ReplicationTimeout,
    SyncProducer,
)


@pytest.fixture
def producer(redis_url: str) -> Iterator[SyncProducer]:
    if "+cluster" in redis_url:
        pytest.skip("SyncProducer talks to a single Redis")
    with SyncProducer.from_url(redis_url) as p:
        yield p


async def test_jobs_it_enqueues_are_claimed_with_their_options(
    producer: SyncProducer, broker: Broker, queue: str
) -> None:
    r = producer.enqueue(queue, "email", {"to": "x"}, priority=9, idempotency_key="k")
    again = producer.enqueue(queue, "email", {"to": "x"}, priority=9, idempotency_key="k")
    assert again.id == r.id and again.duplicate and not r.duplicate
    ids = producer.enqueue_many(queue, [producer.job("t", i, delay_ms=60_000) for i in range(3)])
    assert len(set(ids)) == 3
    stats = await broker.stats(queue)
    assert (stats.counts.ready, stats.counts.delayed) == (1, 3)
    got = await broker.claim(queue, 10, 30_000)
    [job] = got.jobs
    assert (job.id, job.type, job.payload, job.priority) == (r.id, "email", {"to": "x"}, 9)
    await broker.ack(queue, [(job.id, job.token)])


async def test_refusals_raise_relays_errors_and_write_nothing(
    producer: SyncProducer, broker: Broker, queue: str
) -> None:
    producer.enqueue(queue, "t", 1, idempotency_key="same")
    with pytest.raises(IdempotencyConflict):
        producer.enqueue(queue, "t", 2, idempotency_key="same")
    with pytest.raises(ConfigError):
        producer.job("t", None, priority=10)
    with pytest.raises(ConfigError):
        producer.enqueue(queue, "")
    await broker.set_max_depth(queue, 2)
    with pytest.raises(QueueFull):
        producer.enqueue_many(queue, [JobSpec("t"), JobSpec("t")])
    assert (await broker.stats(queue)).counts.ready == 1
    await broker.set_max_depth(queue, None)


async def test_a_script_flush_falls_back_to_the_source(
    producer: SyncProducer, broker: Broker, queue: str
) -> None:
    producer.redis.script_flush()
    producer.enqueue(queue, "t")
    assert (await broker.stats(queue)).counts.ready == 1


async def test_wait_replicas_without_replicas_times_out_after_writing(
    redis_url: str, broker: Broker, queue: str
) -> None:
    if "+cluster" in redis_url:
        pytest.skip("SyncProducer talks to a single Redis")
    settings = BrokerSettings(wait_timeout_ms=50)
    with SyncProducer.from_url(redis_url, settings) as p:
        with pytest.raises(ReplicationTimeout) as info:
            p.enqueue(queue, "t", wait_replicas=1)
        assert info.value.ids and (await broker.stats(queue)).counts.ready == 1
        p.redis.script_flush()  # the EVAL fallback inside the WAIT pipeline
        with pytest.raises(ReplicationTimeout):
            p.enqueue(queue, "t", wait_replicas=1)
        assert p.enqueue(queue, "t", wait_replicas=0).id
        with pytest.raises(ConfigError):
            p.enqueue(queue, "t", wait_replicas=-1)
    assert (await broker.stats(queue)).counts.ready == 3


async def test_threads_share_one_producer(
    producer: SyncProducer, broker: Broker, queue: str
) -> None:
    ids: list[str] = []

    def send() -> None:
        ids.extend(producer.enqueue(queue, "t", i).id for i in range(100))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 400
    assert (await broker.stats(queue)).counts.ready == 400


def test_an_unreachable_redis_is_redis_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with (
        SyncProducer(Redis(port=port, socket_connect_timeout=1)) as p,
        pytest.raises(RedisUnavailable),
    ):
        p.enqueue("q", "t")


def test_a_cluster_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Producer"):
        SyncProducer.from_url("redis+cluster://127.0.0.1:7000")
