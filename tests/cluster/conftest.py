"""The cluster suite: one private 6-node Redis Cluster (3 masters, 3 replicas) per session.

Inside tests/cluster the `redis_url` fixture is the cluster's `redis+cluster://` URL, so the
shared `redis` and `broker` fixtures give cluster clients here.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from relay import Broker, BrokerSettings
from relay.keys import QueueKeys
from tests.cluster.cluster import Cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    # e.g. RELAY_CLUSTER_ARGS="--cluster-require-full-coverage no" to try a server setting
    c = Cluster(extra=tuple(os.environ.get("RELAY_CLUSTER_ARGS", "").split())).start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def redis_url(cluster: Cluster) -> str:
    return cluster.url


@pytest.fixture
def healthy_cluster(cluster: Cluster) -> Cluster:
    """The cluster, after any earlier test's failover has healed (all replicas in sync)."""
    cluster.wait_healthy()
    return cluster


def queues_on_distinct_masters(cluster: Cluster, n: int, prefix: str) -> list[str]:
    """`n` queue names whose slots are served by `n` different masters."""
    found: dict[int, str] = {}
    for i in range(10_000):
        name = f"{prefix}{i}"
        found.setdefault(cluster.master_of(QueueKeys.for_queue(name).wake), name)
        if len(found) == n:
            return list(found.values())
    raise LookupError(f"no {n} queues on distinct masters")


@pytest.fixture
async def make_broker(redis_url: str) -> AsyncIterator[Callable[[BrokerSettings], Broker]]:
    """Cluster brokers with custom settings, all closed after the test."""
    made: list[Broker] = []

    def make(settings: BrokerSettings) -> Broker:
        made.append(Broker.from_url(redis_url, settings))
        return made[-1]

    yield make
    for b in made:
        await b.close()
