"""T4, one reply lost exactly: an ack that Redis applied but whose reply never came back.

The worker must resend it (fenced by the claim token, so harmless) and, when the resend is
answered "stale" because the first one landed, must not report a lost lease: no
`relay_worker_stale_acks`, no "ack rejected as stale" warning.
"""

from __future__ import annotations

import asyncio

from relay import Broker
from relay.broker.connection import connect
from relay.worker.completions import Completions, Ledger
from relay.worker.metrics import WorkerMetrics
from relay.worker.outage import Connectivity
from relay.worker.worker import redis_options
from tests.chaos.proxy import FaultProxy


async def test_an_ack_applied_but_whose_reply_was_lost_is_not_reported_stale(
    redis_url: str, queue: str, proxy: FaultProxy
) -> None:
    direct = Broker.from_url(redis_url)
    broker = Broker(connect(proxy.url, **redis_options(proxy.url)))
    metrics = WorkerMetrics(lambda: 0, lambda: True)
    try:
        await direct.enqueue(queue, "work")
        [job] = (await direct.claim(queue, 1, 60_000)).jobs
        ledger = Ledger()
        ledger.held[job.id] = job
        completions = Completions(broker, ledger, Connectivity(), metrics, lambda _ms: None)
        await broker.redis.ping()  # connected (and its handshake answered) before the fault
        proxy.drop_next(1)  # the ack runs; its reply is lost, the connection reset
        flusher = asyncio.create_task(completions.run())
        completions.ack(job)
        async with asyncio.timeout(10):
            await completions.drain()
        flusher.cancel()
        state = (await direct.get_job(queue, job.id)).state
    finally:
        await broker.close()
        await direct.close()
    assert state == "completed" and proxy.dropped == 1
    assert metrics.queue(queue).stale_acks == 0
