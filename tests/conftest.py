"""Session fixtures: a real redis-server (or RELAY_TEST_REDIS_URL) and a broker per test."""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aredis

from relay import Broker, BrokerSettings
from relay.broker.connection import connect
from tests.support.invariant import check_invariant
from tests.support.redis_server import RedisServer, test_redis_url

_names = itertools.count()
_RUN = secrets.token_hex(3)  # a persistent Redis (a cluster) keeps queues from earlier runs


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = test_redis_url()
    if url:
        yield url
        return
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aredis.Redis]:
    client = connect(redis_url)  # a cluster client for redis+cluster:// URLs
    yield client
    await client.aclose()


@pytest.fixture
def queue(request: pytest.FixtureRequest) -> str:
    """A queue name of its own for each test, so tests never see each other's jobs."""
    return f"t{_RUN}{next(_names)}-" + re.sub(r"[^A-Za-z0-9._-]", "_", request.node.name[:40])


@pytest.fixture
async def broker(redis_url: str, queue: str) -> AsyncIterator[Broker]:
    """A broker; after the test, the every-job-in-one-state invariant must hold."""
    b = Broker.from_url(redis_url, BrokerSettings())
    yield b
    await check_invariant(b.redis, queue)
    await b.close()
