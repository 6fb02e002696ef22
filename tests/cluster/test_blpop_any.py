"""The idle wait over several cluster slots (`blpop_any`): one BLPOP per slot, and however it
ends (a pop, a failure, a cancel) no BLPOP outlives it to swallow a later wake-up, and every
failure of a slot's wait is read (none is left for the event loop to report)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest

from relay import Broker
from relay.broker.connection import blpop_any
from relay.keys import QueueKeys
from tests.chaos.harness import wait_for
from tests.cluster.cluster import Cluster
from tests.cluster.conftest import queues_on_distinct_masters


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What the event loop would report as unhandled (e.g. a task's exception never read)."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    before = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    loop.set_exception_handler(before)


def _blpops(cluster: Cluster, port: int) -> list[int]:
    """Ids of the clients blocked in (or last running) BLPOP on one node."""
    clients = cluster.node(port).client_list()
    return [int(c["id"]) for c in clients if c.get("cmd") == "blpop" and "b" in c.get("flags", "")]


async def _blocked_on(cluster: Cluster, ports: list[int], n: int) -> None:
    async def ready() -> bool:
        return all(len(_blpops(cluster, p)) >= n for p in ports)

    await wait_for(ready, 10)


async def test_a_cancelled_wait_leaves_no_blpop_to_swallow_the_next_wake_up(
    broker: Broker, healthy_cluster: Cluster
) -> None:
    qa, qb = queues_on_distinct_masters(healthy_cluster, 2, "cancel")
    keys = [QueueKeys.for_queue(q).wake for q in (qa, qb)]
    ports = [healthy_cluster.master_of(k) for k in keys]
    for _ in range(3):
        waiter = asyncio.create_task(blpop_any(broker.redis, keys, 30.0))
        await _blocked_on(healthy_cluster, ports, 1)
        waiter.cancel()
        await asyncio.sleep(0)
        waiter.cancel()  # a second cancel (a stopping worker's) lands while it settles
        with pytest.raises(asyncio.CancelledError):
            await waiter

        async def none_blocked() -> bool:
            return not any(_blpops(healthy_cluster, p) for p in ports)

        await wait_for(none_blocked, 3)  # well inside one 4 s BLPOP slice
        await broker.redis.rpush(keys[1], "1")
        assert await broker.redis.lpop(keys[1]) == b"1"  # still there: nobody swallowed it


async def test_a_failed_slot_is_raised_and_read_and_the_other_wait_ends(
    broker: Broker, healthy_cluster: Cluster, loop_errors: list[dict[str, Any]]
) -> None:
    qa, qb = queues_on_distinct_masters(healthy_cluster, 2, "killed")
    keys = [QueueKeys.for_queue(q).wake for q in (qa, qb)]
    ports = [healthy_cluster.master_of(k) for k in keys]
    waiter = asyncio.create_task(blpop_any(broker.redis, keys, 30.0))
    await _blocked_on(healthy_cluster, ports, 1)
    for port in ports:  # both slots' connections cut at once, as a node restart would
        for client_id in _blpops(healthy_cluster, port):
            healthy_cluster.node(port).client_kill_filter(_id=str(client_id))
    with pytest.raises(Exception, match=r"(?i)connection"):
        await waiter
    assert not any(_blpops(healthy_cluster, p) for p in ports)
    gc.collect()
    await asyncio.sleep(0.05)
    assert [c.get("message") for c in loop_errors] == []
