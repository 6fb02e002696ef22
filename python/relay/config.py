"""Frozen settings objects: what a broker keeps, and how to reach Redis."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from relay.errors import ConfigError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """What the broker keeps and for how long; the defaults bound every structure."""

    keep_completed: int = 1000  # completed jobs kept per queue for lookups (0 keeps none)
    keep_completed_ms: int = 3_600_000  # ... and for at most this long
    idempotency_window_ms: int = 86_400_000
    events_cap: int = 1000  # entries per queue's lifecycle stream (0 disables events)
    crash_limit: int = 3  # lost leases before a job is quarantined to the dead set
    max_payload_bytes: int = 1 << 20
    batch_limit: int = 1000  # jobs per script call (claim, enqueue chunk, reap, promote)
    wait_replicas: int = 0  # enqueue returns once WAIT saw this many replicas take the jobs
    wait_timeout_ms: int = 1000  # ... or raises ReplicationTimeout after this long
    failover_retry_ms: int = 10_000  # on a cluster: how long a call retries across a failover
    max_result_bytes: int = 1 << 20  # a bigger handler result is not kept (result_error)

    def __post_init__(self) -> None:
        for name in ("keep_completed", "events_cap", "wait_replicas", "failover_retry_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0")
        for name in (
            "keep_completed_ms",
            "idempotency_window_ms",
            "crash_limit",
            "max_payload_bytes",
            "batch_limit",
            "wait_timeout_ms",
            "max_result_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0")


def redis_url_from_env(url: str | None = None) -> str:
    """The Redis URL to use: the argument, else RELAY_REDIS_URL, else localhost."""
    url = url or os.environ.get("RELAY_REDIS_URL") or DEFAULT_REDIS_URL
    scheme = urlsplit(url).scheme
    if scheme not in _SCHEMES:
        raise ConfigError(
            f"unsupported Redis URL scheme {scheme!r} in {redact_url(url)}; "
            f"use one of {', '.join(s + '://' for s in _SCHEMES)}"
        )
    return url


def redact_url(url: str) -> str:
    """The URL with any password replaced by '***', safe for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
