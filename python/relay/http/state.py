"""What the server's handlers share: broker, settings, auth, limits, metrics, the stats hub."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web

from relay.broker import Broker, QueueStats
from relay.http.auth import ProducerLimiter, TokenAuth
from relay.http.models import QueueRates, StatsEvent
from relay.http.settings import ServerSettings
from relay.metrics import Metrics

STATS_CONCURRENCY = 16  # stats reads in flight at once: bounds the Redis connections used


async def all_stats(broker: Broker) -> list[QueueStats]:
    """Stats of every known queue, read a few at a time."""
    names = await broker.queues()
    out: list[QueueStats] = []
    for i in range(0, len(names), STATS_CONCURRENCY):
        chunk = names[i : i + STATS_CONCURRENCY]
        out += await asyncio.gather(*(broker.stats(q) for q in chunk))
    return out


class StatsHub:
    """One stats read per interval, shared by every SSE subscriber, with rates between reads."""

    def __init__(self, broker: Broker, interval: float) -> None:
        self._broker = broker
        self._interval = interval
        self._lock = asyncio.Lock()
        self._last: StatsEvent | None = None

    async def snapshot(self) -> StatsEvent:
        """The latest snapshot, read afresh when the cached one is older than half an interval."""
        async with self._lock:
            last = self._last
            if last is not None and time.time() - last.ts < self._interval / 2:
                return last
            stats = await all_stats(self._broker)
            event = StatsEvent(ts=time.time(), queues=stats, rates=_rates(last, stats))
            self._last = event
            return event


def _rates(prev: StatsEvent | None, stats: list[QueueStats]) -> dict[str, QueueRates]:
    dt = time.time() - prev.ts if prev else 0.0
    before = {s.name: s.totals for s in prev.queues} if prev else {}
    out = {}
    for s in stats:
        b = before.get(s.name)
        if b is None or dt <= 0:
            out[s.name] = QueueRates(0.0, 0.0, 0.0, 0.0)
            continue
        t = s.totals
        out[s.name] = QueueRates(
            enqueued=round(max(0, t.enqueued - b.enqueued) / dt, 3),
            completed=round(max(0, t.completed - b.completed) / dt, 3),
            failed=round(max(0, t.failed - b.failed) / dt, 3),
            dead=round(max(0, t.dead - b.dead) / dt, 3),
        )
    return out


@dataclass
class AppState:
    """The server's shared state, stored on the aiohttp app under STATE."""

    broker: Broker
    settings: ServerSettings
    metrics: Metrics
    owns_broker: bool = False
    auth: TokenAuth = field(init=False)
    limiter: ProducerLimiter = field(init=False)
    hub: StatsHub = field(init=False)
    subscribers: int = 0
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        s = self.settings
        self.auth = TokenAuth(s.tokens)
        self.limiter = ProducerLimiter(s.producer_rate, s.producer_burst)
        self.hub = StatsHub(self.broker, s.sse_interval)


STATE = web.AppKey("relay_state", AppState)


def state(request: web.Request) -> AppState:
    """The AppState of the app serving `request`."""
    return request.app[STATE]
