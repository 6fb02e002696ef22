"""taskiq-redis adapter: RedisStreamBroker (stream + consumer group, acks; the
broker taskiq-redis' README leads with), `taskiq worker` runtime with ONE worker process.

default: `taskiq worker systems.taskiq_redis:broker --workers 1` (max_async_tasks=100 default).
tuned:   `--workers 1 --max-async-tasks 500`.
No result backend (taskiq's default).  The CLI's parent process supervises one
worker process; the harness counts the RSS of both.
"""

from __future__ import annotations

from taskiq_redis import RedisStreamBroker

from systems._common import record_async, redis_url

INFO = {
    "name": "taskiq-redis",
    "packages": ["taskiq-redis", "taskiq", "redis"],
    "default": "taskiq worker --workers 1 (max_async_tasks=100, default)",
    "tuned": "--workers 1 --max-async-tasks 500",
    "bulk": False,
    "notes": "RedisStreamBroker, no result backend; no bulk kick API",
}
TUNED = ["--max-async-tasks", "500"]

broker = RedisStreamBroker(url=redis_url(), queue_name="race")


@broker.task(task_name="race.noop")
async def noop(p: str) -> None:
    await record_async(p)


class Client:
    async def connect(self) -> None:
        # startup() also declares the consumer group (from "$"), so it must run
        # before any job is added or the worker would skip them.
        await broker.startup()

    async def send(self, p: str) -> None:
        await noop.kiq(p)

    async def close(self) -> None:
        await broker.shutdown()


def run_worker(profile: str, concurrency: int | None) -> None:
    import sys

    from taskiq.cli.worker.args import WorkerArgs
    from taskiq.cli.worker.run import run_worker as taskiq_run_worker

    argv = ["systems.taskiq_redis:broker", "--workers", "1", "--log-level", "WARNING"]
    if profile == "tuned":
        argv += TUNED
    if concurrency:
        argv += ["--max-async-tasks", str(concurrency)]
    sys.exit(taskiq_run_worker(WorkerArgs.from_cli(argv)) or 0)


if __name__ == "__main__":
    from systems._common import main

    main("systems.taskiq_redis")
