"""RQ adapter: SimpleWorker (executes jobs in the worker process, no fork per job).

RQ runs one job at a time per worker process; there is no in-process concurrency
knob (scaling RQ means more worker processes, e.g. `rq worker-pool`, which this
one-worker-process race excludes), so tuned == default.
"""

from __future__ import annotations

import rq  # noqa: F401  (fail `info` early if the library is missing)

from systems._common import record_sync, redis_url

INFO = {
    "name": "rq",
    "packages": ["rq", "redis"],
    "default": "SimpleWorker, 1 job at a time",
    "tuned": "same (no per-process concurrency in RQ)",
    "tuned_same_as_default": True,
    "bulk": True,
    "notes": "bulk = Queue.enqueue_many(prepare_data(...)) in one pipeline per batch",
}
QUEUE = "race"
FUNC = "systems.rq.noop"


def noop(p: str) -> None:
    record_sync(p)


class Client:
    async def connect(self) -> None:
        import redis
        from rq import Queue

        self.conn = redis.Redis.from_url(redis_url())
        self.q = Queue(QUEUE, connection=self.conn)

    async def send(self, p: str) -> None:
        self.q.enqueue(FUNC, p)

    async def send_bulk(self, ps: list[str]) -> None:
        from rq import Queue

        # enqueue_many() writes all jobs in one pipeline and executes it
        self.q.enqueue_many([Queue.prepare_data(FUNC, (p,)) for p in ps])

    async def close(self) -> None:
        self.conn.close()


def run_worker(profile: str, concurrency: int | None) -> None:
    import redis
    from rq import Queue, SimpleWorker

    conn = redis.Redis.from_url(redis_url())
    w = SimpleWorker([Queue(QUEUE, connection=conn)], connection=conn)
    w.work(burst=False, logging_level="WARNING")


if __name__ == "__main__":
    from systems._common import main

    main("systems.rq")
