"""Dramatiq adapter: Redis broker, the `dramatiq` CLI runtime with ONE worker process.

default: `dramatiq systems.dramatiq --processes 1` -> 8 worker threads (Dramatiq default).
tuned:   `--processes 1 --threads 16` (gevent, which Dramatiq's docs suggest for I/O-bound
         actors, was slower for no-op jobs here; see README).
The CLI's parent process supervises one forked worker process; the harness
counts the RSS of both (the process tree).
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from systems._common import record_sync, redis_url

DEFAULT_THREADS = 8
TUNED = ("threads", 16)

INFO = {
    "name": "dramatiq",
    "packages": ["dramatiq", "redis"],
    "default": "dramatiq CLI, --processes 1, 8 threads (default)",
    "tuned": f"--processes 1 --threads {TUNED[1]}",
    "bulk": False,
    "notes": "no bulk enqueue API (group().run() sends one message at a time)",
}

broker = RedisBroker(url=redis_url())
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="race")
def noop(p: str) -> None:
    record_sync(p)


class Client:
    async def connect(self) -> None:
        pass

    async def send(self, p: str) -> None:
        noop.send(p)

    async def close(self) -> None:
        broker.close()


def run_worker(profile: str, concurrency: int | None) -> None:
    """profile: default | tuned | threads:N | gevent:N (gevent = `dramatiq-gevent`)."""
    import os
    import sys

    kind, threads = "threads", DEFAULT_THREADS
    if profile == "tuned":
        kind, threads = TUNED
    elif ":" in profile:
        kind, n = profile.split(":", 1)
        threads = int(n)
    if concurrency:
        threads = concurrency
    argv = ["systems.dramatiq", "--processes", "1", "--threads", str(threads)]
    if kind == "gevent":
        # exactly what the `dramatiq-gevent` console script does, in this PID
        code = "from gevent import monkey; monkey.patch_all(); import sys; from dramatiq.cli import main; sys.exit(main())"
        os.execv(sys.executable, [sys.executable, "-c", code, *argv])
    from dramatiq import cli

    sys.exit(cli.main(cli.make_argument_parser().parse_args(argv)))


if __name__ == "__main__":
    from systems._common import main

    main("systems.dramatiq")
