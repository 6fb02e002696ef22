"""relay adapter: its own worker runtime (`relay worker`), Lua claim/ack in batches.

default: --concurrency 64 (relay's default).
tuned:   --concurrency 500 (more jobs per claim and ack batch for no-op work).
Runs in relay's own venv (`make race` sets RACE_PYTHON_RELAY), so relay is importable.
"""

from __future__ import annotations

import os
import sys

import relay

from systems._common import record_async, redis_url

INFO = {
    "name": "relay",
    "packages": ["relay", "redis", "hiredis"],
    "default": "relay worker --concurrency 64 (default)",
    "tuned": "relay worker --concurrency 500",
    "bulk": True,
    "notes": "bulk = Producer.enqueue_many (one Lua call per 1000 jobs)",
}
QUEUE = "race"

registry = relay.Registry()


@registry.task("noop")
async def noop(job: relay.Job) -> None:
    await record_async(job.payload)


class Client:
    async def connect(self) -> None:
        self.producer = relay.Producer.from_url(redis_url())
        await self.producer.enqueue_many(QUEUE, [])  # loads nothing, but opens the pool

    async def send(self, p: str) -> None:
        await self.producer.enqueue(QUEUE, "noop", p)

    async def send_bulk(self, ps: list[str]) -> None:
        await self.producer.enqueue_many(QUEUE, [relay.Producer.job("noop", p) for p in ps])

    async def close(self) -> None:
        await self.producer.close()


def run_worker(profile: str, concurrency: int | None) -> None:
    conc = concurrency or (64 if profile == "default" else 500)
    args = [sys.executable, "-m", "relay", "--log-level", "WARNING", "worker",
            "--app", "systems.relay:registry", "--queue", QUEUE, "--concurrency", str(conc),
            "--redis", redis_url()]
    os.execv(sys.executable, args)


if __name__ == "__main__":
    from systems._common import main

    main("systems.relay")
