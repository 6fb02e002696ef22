"""arq adapter: asyncio worker, jobs in a sorted set polled every poll_delay.

default: arq's defaults (max_jobs=10, poll_delay=0.5s).
tuned:   max_jobs=100 (arq docs: raise max_jobs for I/O-bound jobs); poll_delay unchanged.
"""

from __future__ import annotations

import arq  # noqa: F401  (fail `info` early if the library is missing)

from systems._common import record_async, redis_url

INFO = {
    "name": "arq",
    "packages": ["arq", "redis"],
    "default": "max_jobs=10 (arq default)",
    "tuned": "max_jobs=100",
    "bulk": False,
    "notes": "no bulk enqueue API; worker polls the queue every 0.5 s (poll_delay default)",
}
DEFAULT = {"max_jobs": 10}
TUNED = {"max_jobs": 100}


async def noop(ctx, p: str) -> None:
    await record_async(p)


class Client:
    async def connect(self) -> None:
        from arq import create_pool
        from arq.connections import RedisSettings

        self.pool = await create_pool(RedisSettings.from_dsn(redis_url()))

    async def send(self, p: str) -> None:
        await self.pool.enqueue_job("noop", p)

    async def close(self) -> None:
        await self.pool.aclose()


def run_worker(profile: str, concurrency: int | None) -> None:
    from arq.connections import RedisSettings
    from arq.worker import Worker

    from systems._common import quiet_logging

    quiet_logging()
    opts = dict(DEFAULT if profile == "default" else TUNED)
    if concurrency:
        opts["max_jobs"] = concurrency
    w = Worker(functions=[noop], redis_settings=RedisSettings.from_dsn(redis_url()), handle_signals=True, **opts)
    w.run()


if __name__ == "__main__":
    from systems._common import main

    main("systems.arq")
