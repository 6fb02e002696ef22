"""The demo's load generator: a burst of mixed jobs, then a trickle that rises and falls, and
now and then an album: a flow of thumbnails that a build job waits for (fan-out, fan-in)."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from relay.broker import Broker, JobSpec, calls
from relay.flows import Flow
from relay.job import JobOptions, JsonValue
from relay.wire import GroupLimits

QUEUES = ("emails", "thumbnails", "reports")
POISON_RATE = 0.04  # jobs that fail on every attempt and end in the dead set
MAX_ATTEMPTS = 3  # so a doomed job is dead within seconds
DELAYED_RATE = 0.1  # jobs scheduled 5-45 s ahead
CHUNK = 200  # jobs per enqueue call during the burst
# Emails are sent for tenants (fair scheduling, decision 0053): acme sends most of them and is
# capped, so the others' mail never waits behind acme's.
TENANTS = (("acme", 0.6), ("globex", 0.15), ("initech", 0.1), ("umbrella", 0.1), ("hooli", 0.05))
TENANT_LIMITS = {"acme": GroupLimits(weight=1, max_inflight=4, rate=25.0, burst=25)}
ALBUM_EVERY_S = 15.0  # a flow: 4 thumbnails, then the album build that waits for them
ALBUM_SIZE = 4

_NAMES = ("ada", "grace", "linus", "barbara", "ken", "margaret", "dennis", "frances", "alan")
_TEMPLATES = ("welcome", "receipt", "password-reset", "weekly-digest")
_REPORTS = ("daily-revenue", "churn", "inventory", "signups-by-region")
_SIZES = ((64, 64), (256, 256), (1024, 768))

PayloadMaker = Callable[[random.Random, int, bool], JsonValue]


def _email(rng: random.Random, n: int, poison: bool) -> JsonValue:
    name = rng.choice(_NAMES)
    domain = "example.invalid" if poison else "example.com"
    return {"to": f"{name}{n}@{domain}", "template": rng.choice(_TEMPLATES), "bounce": poison}


def _thumbnail(rng: random.Random, n: int, poison: bool) -> JsonValue:
    w, h = rng.choice(_SIZES)
    return {"src": f"uploads/{n:06d}.jpg", "width": w, "height": h, "corrupt": poison}


def _report(rng: random.Random, n: int, poison: bool) -> JsonValue:
    return {
        "report": rng.choice(_REPORTS),
        "month": f"2025-{rng.randint(1, 12):02d}",
        "requested_by": rng.choice(_NAMES),
        "broken": poison,
    }


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of job the demo makes: where it goes, its type, and how common it is."""

    queue: str
    type: str
    weight: float
    payload: PayloadMaker


KINDS = (
    Kind("emails", "email.send", 0.55, _email),
    Kind("thumbnails", "thumbnail.resize", 0.30, _thumbnail),
    Kind("reports", "report.generate", 0.15, _report),
)


class Load:
    """Makes demo jobs and enqueues them through a Broker."""

    def __init__(self, broker: Broker, seed: int | None = None) -> None:
        self.broker = broker
        self.rng = random.Random(seed)
        self.seq = itertools.count(1)
        self.enqueued = 0

    def job(self) -> tuple[str, JobSpec]:
        """One random job: its queue and spec (priority, maybe a delay, maybe doomed)."""
        rng = self.rng
        kind = rng.choices(KINDS, weights=[k.weight for k in KINDS])[0]
        roll = rng.random()
        priority = 9 if roll < 0.1 else 7 if roll < 0.25 else 1 if roll > 0.85 else 5
        delay_ms = rng.randint(5_000, 45_000) if rng.random() < DELAYED_RATE else 0
        payload = kind.payload(rng, next(self.seq), rng.random() < POISON_RATE)
        group = None
        if kind.queue == "emails":
            group = rng.choices([t for t, _ in TENANTS], weights=[w for _, w in TENANTS])[0]
        spec = JobSpec.of(
            kind.type,
            payload,
            priority=priority,
            delay_ms=delay_ms,
            max_attempts=MAX_ATTEMPTS,
            group=group,
        )
        return kind.queue, spec

    async def set_limits(self) -> None:
        """The tenants' limits on the emails queue."""
        for tenant, limits in TENANT_LIMITS.items():
            await self.broker.set_group("emails", tenant, limits)

    async def enqueue(self, n: int) -> None:
        """Enqueue `n` random jobs, batched per queue."""
        by_queue: dict[str, list[JobSpec]] = defaultdict(list)
        for _ in range(n):
            queue, spec = self.job()
            by_queue[queue].append(spec)
        for queue, specs in by_queue.items():
            for i in range(0, len(specs), CHUNK):
                await self.broker.enqueue_many(queue, specs[i : i + CHUNK])
        self.enqueued += n

    async def album(self) -> str:
        """Enqueue an album flow: thumbnails in parallel, then `album.build`; the build's id."""
        n = next(self.seq)
        opts = JobOptions(max_attempts=MAX_ATTEMPTS)
        thumbs = [
            Flow("thumbnails", "thumbnail.resize", _thumbnail(self.rng, n * 10 + i, False),
                 options=opts)
            for i in range(ALBUM_SIZE)
        ]  # fmt: skip
        flow = Flow("reports", "album.build", {"album": f"album-{n}"}, children=thumbs)
        out = await self.broker.perform(calls.enqueue_flow(self.broker.settings, flow))
        self.enqueued += len(out.jobs)
        return out.id

    async def trickle(self, rate: float) -> None:
        """Keep jobs coming, about `rate` a second on average, until cancelled.

        The rate swings over a two-minute cycle, with a burst now and then, so the charts have
        something to show.
        """
        start = time.monotonic()
        next_burst = start + self.rng.uniform(30, 60)
        next_album = start + ALBUM_EVERY_S
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            if now >= next_album:
                await self.album()
                next_album = now + ALBUM_EVERY_S
            level = rate * (1 + 0.6 * math.sin(2 * math.pi * (now - start) / 120))
            n = _poisson(self.rng, max(level, 0.0))
            if now >= next_burst:
                n += self.rng.randint(40, 120)
                next_burst = now + self.rng.uniform(45, 90)
            if n:
                await self.enqueue(n)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson sample (Knuth's method; fine for the small means used here)."""
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
