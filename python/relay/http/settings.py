"""The server's settings: one frozen object, validated once."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from relay.errors import ConfigError

STATIC_DIR = Path(__file__).parent / "static"


def tokens_from_env(value: str | None = None) -> tuple[str, ...]:
    """Tokens from RELAY_TOKEN (several may be given, separated by commas)."""
    raw = os.environ.get("RELAY_TOKEN", "") if value is None else value
    return tuple(t.strip() for t in raw.split(",") if t.strip())


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the HTTP server behaves; the defaults are the safe ones."""

    tokens: tuple[str, ...] = ()  # bearer tokens; empty = no auth (loopback only)
    max_body: int = 1 << 20  # bytes per request body (413 beyond)
    producer_rate: float = 2000.0  # enqueue requests/s per token (or per client address); 0 = off
    producer_burst: int = 4000
    sse_max_clients: int = 64  # concurrent /api/events streams (503 beyond)
    sse_interval: float = 1.0  # seconds between stats snapshots
    sse_poll: float = 0.2  # seconds between reads of the event streams
    sse_keepalive: float = 15.0  # seconds between keep-alive comments
    coalesce: bool = True  # group commit of concurrent single-job enqueues (coalesce.py)
    claim_waiters: int = 256  # HTTP claims long-polling at once, one Redis connection each
    allowed_origins: tuple[str, ...] = ()  # extra origins (e.g. behind a proxy) for POST/PUT/DELETE
    static_dir: Path = field(default=STATIC_DIR)

    def __post_init__(self) -> None:
        if self.max_body < 1024:
            raise ConfigError("max_body must be at least 1024 bytes")
        if self.producer_rate < 0 or (self.producer_rate > 0 and self.producer_burst < 1):
            raise ConfigError("producer_rate must be >= 0 and producer_burst >= 1")
        if self.claim_waiters < 1:
            raise ConfigError("claim_waiters must be >= 1")
        if self.sse_max_clients < 1:
            raise ConfigError("sse_max_clients must be >= 1")
        for name in ("sse_interval", "sse_poll", "sse_keepalive"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0")
        if any(not t or len(t) < 8 for t in self.tokens):
            raise ConfigError("a token must be at least 8 characters")
