"""The producer SDK (sync Client and AsyncClient) against a real `relay server` process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp
import pytest

from relay import (
    AsyncClient,
    Broker,
    Client,
    ConfigError,
    IdempotencyConflict,
    JobNotFound,
    JobSpec,
    Nack,
    NackMode,
)
from relay.client import BadRequest, Conflict, NotFound, TooLarge, Unauthorized
from tests.server.conftest import WRONG_TOKEN, ServerProcess
from tests.support.redis_server import free_port

T = TypeVar("T")


async def sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking SDK call off the event loop (the server's Redis shares this loop)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def _dead(broker: Broker, queue: str, n: int) -> list[str]:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(n)])
    jobs = (await broker.claim(queue, n, 5000)).jobs
    await broker.nack(queue, [Nack(j.id, j.token, NackMode.DEAD, 0, "boom") for j in jobs])
    return [j.id for j in jobs]


async def test_sync_client_enqueues_inspects_and_operates(
    server: ServerProcess, broker: Broker, queue: str
) -> None:
    with Client(server.url, token=server.token) as c:
        r = await sync(c.enqueue, queue, "email", {"to": "x"}, priority=8, idempotency_key="k")
        assert not r.duplicate
        again = await sync(c.enqueue, queue, "email", {"to": "x"}, priority=8, idempotency_key="k")
        assert again.duplicate and again.id == r.id
        with pytest.raises(Conflict) as conflict:
            await sync(c.enqueue, queue, "email", {"to": "y"}, idempotency_key="k")
        assert isinstance(conflict.value, IdempotencyConflict)
        assert conflict.value.existing_id == r.id and conflict.value.key == "k"
        info = await sync(c.get_job, queue, r.id)
        assert info.payload == {"to": "x"} and info.priority == 8 and info.state == "ready"
        with pytest.raises(NotFound) as missing:
            await sync(c.get_job, queue, "nope")
        assert isinstance(missing.value, JobNotFound) and missing.value.status == 404
        stats = await sync(c.stats, queue)
        assert stats.counts.ready == 1 and stats.totals.enqueued == 1
        assert queue in [q.name for q in await sync(c.queues)]
        assert (await sync(c.pause, queue)).paused
        assert not (await sync(c.resume, queue)).paused
        limited = await sync(c.set_rate_limit, queue, 5.0, 2)
        assert limited.rate_limit is not None and limited.rate_limit.burst == 2
        assert (await sync(c.clear_rate_limit, queue)).rate_limit is None
        assert await sync(c.health)


async def test_sync_client_dead_letters_and_batches(
    server: ServerProcess, broker: Broker, queue: str
) -> None:
    ids = await _dead(broker, queue, 3)
    with Client(server.url, token=server.token) as c:
        page = await sync(c.dead_jobs, queue, limit=2)
        assert page.total == 3 and len(page.jobs) == 2 and page.next_cursor == "2"
        rest = await sync(c.dead_jobs, queue, limit=2, cursor=page.next_cursor)
        assert sorted(j.id for j in page.jobs + rest.jobs) == sorted(ids)
        assert await sync(c.requeue, queue, ids[0]) == 1
        await sync(c.delete_dead, queue, ids[1])
        assert await sync(c.requeue, queue) == 1
        specs = [JobSpec.of("t", i) for i in range(1500)]  # two batches: 1000 + 500
        got = await sync(c.enqueue_many, queue, specs)
        assert len(got) == 1500 and len(set(got)) == 1500
        assert (await sync(c.stats, queue)).counts.ready == 1502


async def test_sync_client_errors_are_typed(server: ServerProcess, queue: str) -> None:
    with Client(server.url, token=server.token) as c:
        with pytest.raises(ConfigError) as local:  # a bad queue name is never sent
            await sync(c.enqueue, "bad queue", "t")
        assert not isinstance(local.value, BadRequest) and "queue" in str(local.value)
        with pytest.raises(BadRequest) as bad:  # what only the server refuses: a 400
            await sync(c.enqueue, queue, "t\x01")
        assert isinstance(bad.value, ConfigError) and "type" in bad.value.message
        with pytest.raises(ConfigError):  # options are checked before anything is sent
            await sync(c.enqueue, queue, "t", priority=12)
        with pytest.raises(TooLarge):
            await sync(c.enqueue, queue, "t", "x" * (2 << 20))
    with Client(server.url, token=WRONG_TOKEN) as c, pytest.raises(Unauthorized):
        await sync(c.queues)


def test_sync_client_retries_then_gives_up_when_nothing_listens() -> None:
    c = Client(f"http://127.0.0.1:{free_port()}", retries=2)
    start = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        c.queues()
    assert time.monotonic() - start < 5
    assert not c.health()


async def test_async_client_round_trip(server: ServerProcess, broker: Broker, queue: str) -> None:
    async with AsyncClient(server.url, token=server.token) as c:
        r = await c.enqueue(queue, "t", [1, 2], delay_ms=60_000)
        info = await c.get_job(queue, r.id)
        assert info.state == "delayed" and info.payload == [1, 2]
        ids = await c.enqueue_many(queue, [JobSpec.of("t", i, priority=9) for i in range(10)])
        assert len(ids) == 10
        stats = await c.stats(queue)
        assert stats.counts.ready == 10 and stats.counts.delayed == 1
        assert queue in [q.name for q in await c.queues()]
        with pytest.raises(NotFound):
            await c.get_job(queue, "nope")
        dead = await _dead(broker, f"{queue}-d", 1)
        assert (await c.dead_jobs(f"{queue}-d")).jobs[0].id == dead[0]
        assert await c.requeue(f"{queue}-d") == 1
        assert (await c.pause(queue)).paused and not (await c.resume(queue)).paused
        assert (await c.set_rate_limit(queue, 1.5, 3)).rate_limit is not None
        assert (await c.clear_rate_limit(queue)).rate_limit is None
        assert await c.health()
        results = await asyncio.gather(*(c.enqueue(queue, "t", i) for i in range(50)))
        assert len({x.id for x in results}) == 50
    await broker.redis.delete(*[k for k in await broker.redis.keys(f"relay:{{{queue}-d}}:*")])
    await broker.redis.srem("relay:queues", f"{queue}-d")


async def test_async_client_errors(server: ServerProcess) -> None:
    async with AsyncClient(server.url, token=WRONG_TOKEN) as c:
        with pytest.raises(Unauthorized):
            await c.queues()
    async with AsyncClient(f"http://127.0.0.1:{free_port()}", retries=1) as c:
        with pytest.raises(aiohttp.ClientConnectorError):
            await c.queues()
        assert not await c.health()


def test_server_log_never_shows_the_token(server: ServerProcess) -> None:
    with Client(server.url, token=server.token) as c:
        c.queues()
    assert server.token not in server.log.read_text()
