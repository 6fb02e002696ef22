"""Celery adapter: Redis broker (kombu), the `celery worker` CLI runtime (exec'd in the adapter's PID).

default: prefork pool, concurrency = CPU count (Celery default; 2 here), so the
         worker tree is 1 parent + N pool children.
tuned:   --pool threads --concurrency 64 (Celery docs: thread/gevent pools for I/O-bound work).
No result backend is configured (Celery's default), so no result writes.
"""

from __future__ import annotations

from celery import Celery

from systems._common import record_sync, redis_url

INFO = {
    "name": "celery",
    "packages": ["celery", "kombu", "redis"],
    "default": "prefork pool, concurrency=CPU count (default)",
    "tuned": "--pool threads --concurrency 64",
    "bulk": False,
    "notes": "no bulk publish API; no result backend (Celery default)",
}
QUEUE = "race"
TUNED = ("threads", 64)

app = Celery("race", broker=redis_url())
app.conf.update(
    task_default_queue=QUEUE,
    worker_hijack_root_logger=True,
    broker_connection_retry_on_startup=True,
)


@app.task(name="race.noop", ignore_result=True)
def noop(p: str) -> None:
    record_sync(p)


class Client:
    async def connect(self) -> None:
        # establish the producer connection before the clock starts
        with app.producer_or_acquire() as _:
            pass

    async def send(self, p: str) -> None:
        noop.delay(p)

    async def close(self) -> None:
        app.close()


def run_worker(profile: str, concurrency: int | None) -> None:
    """profile: default | tuned | prefork:N | threads:N | gevent:N."""
    import os

    argv = ["worker", "--loglevel", "WARNING", "-Q", QUEUE, "-n", f"race{os.getpid()}@%h"]
    if profile == "tuned":
        argv += ["--pool", TUNED[0], "--concurrency", str(TUNED[1])]
    elif ":" in profile:
        pool, n = profile.split(":", 1)
        argv += ["--pool", pool, "--concurrency", n]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    # exec the real `celery` CLI in this PID (its __main__ applies gevent/eventlet
    # monkey-patching before anything else is imported, as `-P gevent` needs)
    import sys

    os.execv(sys.executable, [sys.executable, "-m", "celery", "-A", "systems.celery:app", *argv])


if __name__ == "__main__":
    from systems._common import main

    main("systems.celery")
