"""Scripts survive a SCRIPT FLUSH at any moment; a full or read-only Redis is RedisUnavailable.

Regressions found by the chaos battery:
- T17: after NOSCRIPT, `Script.run` did SCRIPT LOAD then EVALSHA; a flush in between (every
  worker's reaper reloads right after a flush, so periodic flushes line up with it) raised
  NOSCRIPT to the caller and stopped the worker. It now falls back to EVAL of the source.
- T15: redis-py strips the `OOM` / `READONLY` prefix off the error message, so a full Redis
  was reported as a ScriptError (HTTP 500) instead of RedisUnavailable (503).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pytest

from relay import Broker, JobSpec
from relay.broker.scripts import SCRIPTS
from relay.errors import RedisUnavailable


class FlushAfterLoad:
    """A client on which every SCRIPT LOAD is followed at once by another client's flush."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    async def evalsha(self, *args: Any) -> Any:
        return await self.redis.evalsha(*args)

    async def eval(self, *args: Any) -> Any:
        return await self.redis.eval(*args)

    async def script_load(self, source: str) -> Any:
        sha = await self.redis.script_load(source)
        await self.redis.script_flush()
        return sha


ON_CLUSTER = pytest.mark.skipif(
    "+cluster" in os.environ.get("RELAY_TEST_REDIS_URL", ""),
    reason="reads one node's script cache and config; tests/cluster/test_shards.py covers a "
    "script flush on a cluster",
)


@ON_CLUSTER
async def test_a_flush_between_reload_and_run_is_not_seen(broker: Broker, queue: str) -> None:
    keys: Sequence[str] = broker._ks(queue).stats
    await broker.redis.script_flush()
    reply = await SCRIPTS["stats"].run(FlushAfterLoad(broker.redis), keys, [])
    assert reply[:5] == [0, 0, 0, 0, 0]
    assert await broker.redis.script_exists(SCRIPTS["stats"].sha) == [True]  # cached again


@ON_CLUSTER
async def test_a_full_redis_refuses_an_enqueue_as_unavailable(broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    conf = await broker.redis.config_get("maxmemory")
    old = next(iter(conf.values()))
    await broker.redis.config_set("maxmemory", 1)
    try:
        with pytest.raises(RedisUnavailable, match="OOM"):
            await broker.enqueue_many(queue, [JobSpec.of("t")])
    finally:
        await broker.redis.config_set("maxmemory", old)
    assert (await broker.stats(queue)).counts.ready == 1
