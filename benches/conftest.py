"""Benchmark fixtures: one private redis-server for the whole run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_server import RedisServer, test_redis_url


@pytest.fixture(scope="session")
def bench_redis_url() -> Iterator[str]:
    url = test_redis_url()
    if url:
        yield url
        return
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()
