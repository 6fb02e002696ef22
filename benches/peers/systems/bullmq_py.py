"""BullMQ Python port adapter (PyPI `bullmq`): asyncio Worker.

default: Worker concurrency=1 (BullMQ default).
tuned:   concurrency=100 (BullMQ docs: raise local concurrency for async / I/O-bound processors).
Job options are BullMQ defaults (completed jobs are kept).
"""

from __future__ import annotations

import bullmq  # noqa: F401  (fail `info` early if the library is missing)

from systems._common import record_async, redis_url

INFO = {
    "name": "bullmq-py",
    "packages": ["bullmq", "redis"],
    "default": "concurrency=1 (default)",
    "tuned": "concurrency=100",
    "bulk": True,
    "notes": "bulk = Queue.addBulk (one Lua call per job in a single pipeline per batch)",
}
QUEUE = "race"


async def process(job, token) -> None:
    await record_async(job.data["p"])


class Client:
    async def connect(self) -> None:
        from bullmq import Queue

        self.queue = Queue(QUEUE, {"connection": redis_url()})
        await self.queue.getJobCounts()  # connect + load scripts before the clock starts

    async def send(self, p: str) -> None:
        await self.queue.add("noop", {"p": p})

    async def send_bulk(self, ps: list[str]) -> None:
        await self.queue.addBulk([{"name": "noop", "data": {"p": p}} for p in ps])

    async def close(self) -> None:
        await self.queue.close()


def run_worker(profile: str, concurrency: int | None) -> None:
    import asyncio
    import signal

    from bullmq import Worker

    from systems._common import quiet_logging

    quiet_logging()
    conc = concurrency or (1 if profile == "default" else 100)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        worker = Worker(QUEUE, process, {"connection": redis_url(), "concurrency": conc})
        await stop.wait()
        await worker.close()

    asyncio.run(go())


if __name__ == "__main__":
    from systems._common import main

    main("systems.bullmq_py")
