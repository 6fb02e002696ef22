"""Connecting to Redis (single node, TLS, or Cluster) from a URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from relay.config import redis_url_from_env
from relay.errors import ConfigError


def connect(url: str | None = None, **kwargs: Any) -> Any:
    """A redis-py asyncio client for `url`; `redis+cluster://h:p[,h:p...]` gives a cluster one."""
    url = redis_url_from_env(url)
    opts: dict[str, Any] = {
        "decode_responses": False,
        "health_check_interval": 15,
        "socket_keepalive": True,
        **kwargs,
    }
    scheme = urlsplit(url).scheme
    if scheme.endswith("+cluster"):
        return RedisCluster(
            startup_nodes=_cluster_nodes(url),
            ssl=scheme.startswith("rediss"),
            **_cluster_auth(url),
            **opts,
        )
    return Redis.from_url(url, **opts)


def _cluster_nodes(url: str) -> list[ClusterNode]:
    netloc = urlsplit(url).netloc.rsplit("@", 1)[-1]
    nodes = []
    for part in netloc.split(","):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"cluster node {part!r} must be host:port")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))
    return nodes


def _cluster_auth(url: str) -> dict[str, Any]:
    netloc = urlsplit(url).netloc
    if "@" not in netloc:
        return {}
    user, _, password = netloc.rsplit("@", 1)[0].partition(":")
    return {"username": user or None, "password": password or None}
