"""Who holds a job: a real `relay worker` process names itself in the jobs it claims."""

from __future__ import annotations

import socket

from relay import Broker
from relay.job import JobInfo
from tests.integration.worker_apps.harness import (  # stop_stray_workers: autouse fixture
    WorkerProcess,
    eventually,
    stop_stray_workers,  # noqa: F401
)


async def test_the_inflight_listing_names_the_worker_that_holds_the_job(
    broker: Broker, queue: str, redis_url: str
) -> None:
    job_id = (await broker.enqueue(queue, "sleep", {"log": f"{queue}:log", "s": 60})).id
    w = WorkerProcess.start(redis_url, queue)
    try:
        await w.started()

        async def held() -> bool:
            return bool((await broker.list_jobs(queue, "inflight")).jobs)

        await eventually(held, 15, w.output)
        [row] = (await broker.list_jobs(queue, "inflight")).jobs
        info: JobInfo = await broker.get_job(queue, job_id)
    finally:
        w.kill()
    name = f"{socket.gethostname()}/relay-worker-{w.proc.pid}-"
    assert row.id == job_id and row.worker is not None and row.worker.startswith(name)
    assert info.worker == row.worker and info.lease_deadline == row.lease_deadline
    assert row.lease_deadline is not None and row.started_at is not None
