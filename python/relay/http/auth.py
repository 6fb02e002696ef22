"""Who may call: bearer tokens (constant time), same-origin writes, per-token producer limits."""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from urllib.parse import urlsplit

from aiohttp import web

from relay._core import TokenBucket
from relay.http.errors import Problem

_UNSAFE = frozenset({"POST", "PUT", "DELETE", "PATCH"})
_SAME_SITE_OK = frozenset({"same-origin", "none"})  # "none": typed in the address bar


class TokenAuth:
    """Checks `Authorization: Bearer <token>` against the configured tokens."""

    def __init__(self, tokens: tuple[str, ...]) -> None:
        self._tokens = [t.encode() for t in tokens]

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def identify(self, request: web.Request, *, allow_query: bool = False) -> int | None:
        """Index of the token the request carries; raises 401 when auth is on and it is wrong.

        Returns None when auth is off. `allow_query` admits `?token=` (only for EventSource,
        which cannot send headers).
        """
        if not self._tokens:
            return None
        given = _bearer(request)
        if given is None and allow_query:
            given = request.query.get("token")
        if given is None:
            raise _unauthorized("missing bearer token")
        raw = given.encode()
        match = None
        for i, token in enumerate(self._tokens):  # no early exit: every token is compared
            if hmac.compare_digest(raw, token) and match is None:
                match = i
        if match is None:
            raise _unauthorized("invalid bearer token")
        return match


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def _unauthorized(message: str) -> Problem:
    return Problem(401, message, headers={"WWW-Authenticate": 'Bearer realm="relay"'})


def check_same_origin(request: web.Request, allowed: tuple[str, ...] = ()) -> None:
    """Refuse a state-changing call that a browser made on behalf of another site (CSRF).

    Browsers send Sec-Fetch-Site and Origin; programs (curl, the SDK) send neither and are let
    through, since they still need the token.
    """
    if request.method not in _UNSAFE:
        return
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if origin is not None and origin in allowed:
        return
    if site is not None and site not in _SAME_SITE_OK:
        raise Problem(403, f"cross-site request refused (Sec-Fetch-Site: {site})", "forbidden")
    if origin is not None and not _origin_matches_host(origin, request.host):
        raise Problem(403, "cross-origin request refused (Origin does not match Host)", "forbidden")


def _origin_matches_host(origin: str, host: str) -> bool:
    o = urlsplit(origin)
    if o.scheme not in ("http", "https") or not o.hostname:
        return False  # includes the opaque origin "null"
    default = 443 if o.scheme == "https" else 80
    h = urlsplit("//" + host)
    try:
        return o.hostname == h.hostname and (o.port or default) == (h.port or default)
    except ValueError:  # a port that is not a number
        return False


class ProducerLimiter:
    """One Rust token bucket per token (or client address when auth is off), LRU-bounded."""

    def __init__(self, rate: float, burst: int, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> int:
        """0 when the request may go ahead, else the milliseconds until it may."""
        if not self.enabled:
            return 0
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, float(self.burst))
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        granted, wait_ms = bucket.take(time.monotonic_ns() // 1_000_000, 1)
        return 0 if granted else max(1, wait_ms)


def too_many(wait_ms: int) -> Problem:
    """The 429 a throttled producer gets, with Retry-After in whole seconds."""
    return Problem(
        429,
        f"producer rate limit reached; retry in {wait_ms} ms",
        "rate_limited",
        {"Retry-After": str(max(1, math.ceil(wait_ms / 1000)))},
    )
