"""Chaos fixtures: a run (history dir, worker processes) and private Redis servers to kill."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from relay import Broker, BrokerSettings
from tests.chaos.harness import Run
from tests.chaos.proxy import FaultProxy
from tests.support.redis_server import RedisServer

BIG = BrokerSettings(keep_completed=10_000_000, keep_completed_ms=7 * 86_400_000)


@pytest.fixture
def run(redis_url: str, queue: str, tmp_path: Path) -> Iterator[Run]:
    """A run on the session's Redis; its processes are killed afterwards."""
    r = Run(dir=tmp_path, redis_url=redis_url, queue=queue)
    yield r
    r.cleanup(keep=True)


@pytest.fixture
async def big_broker(redis_url: str) -> AsyncIterator[Broker]:
    """A broker that keeps every completed job (so the checker sees them all)."""
    b = Broker.from_url(redis_url, BIG)
    yield b
    await b.close()


@pytest.fixture
def private_redis() -> Iterator[Callable[..., RedisServer]]:
    """Start redis-servers of the test's own (to kill, restart or misconfigure)."""
    servers: list[RedisServer] = []

    def start(*extra: str) -> RedisServer:
        s = RedisServer(extra=extra).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def proxy(redis_url: str) -> Iterator[FaultProxy]:
    """A fault proxy in front of the session's Redis."""
    port = urlsplit(redis_url).port
    if not redis_url.startswith("redis://") or port is None:
        pytest.skip("the fault proxy fronts a plain redis:// server")
    p = FaultProxy(upstream_port=port).start()
    yield p
    p.stop()
