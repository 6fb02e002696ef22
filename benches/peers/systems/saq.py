"""SAQ adapter: asyncio worker, Redis list + Lua, listen/notify via pubsub.

default: Worker(concurrency=10) (SAQ default).
tuned:   concurrency=100 (SAQ's knob for I/O-bound async jobs).
"""

from __future__ import annotations

import saq  # noqa: F401  (fail `info` early if the library is missing)

from systems._common import record_async, redis_url

INFO = {
    "name": "saq",
    "packages": ["saq", "redis"],
    "default": "concurrency=10 (SAQ default)",
    "tuned": "concurrency=100",
    "bulk": False,
    "notes": "no bulk enqueue API (Queue.map waits for results; Queue.batch is a context manager over single enqueues)",
}
QUEUE = "race"


async def noop(ctx, *, p: str) -> None:
    await record_async(p)


class Client:
    async def connect(self) -> None:
        from saq import Queue

        self.queue = Queue.from_url(redis_url(), name=QUEUE)
        await self.queue.connect()

    async def send(self, p: str) -> None:
        await self.queue.enqueue("noop", p=p)

    async def close(self) -> None:
        await self.queue.disconnect()


def run_worker(profile: str, concurrency: int | None) -> None:
    import asyncio

    from saq import Queue, Worker

    from systems._common import quiet_logging

    quiet_logging()
    conc = concurrency or (10 if profile == "default" else 100)

    async def go() -> None:
        queue = Queue.from_url(redis_url(), name=QUEUE)
        await queue.connect()
        worker = Worker(queue, functions=[noop], concurrency=conc)
        try:
            await worker.start()
        finally:
            await queue.disconnect()

    # saq.worker.start() does the same: queue.connect(); worker.start()
    asyncio.run(go())


if __name__ == "__main__":
    from systems._common import main

    main("systems.saq")
