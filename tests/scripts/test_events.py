"""broker/events.py and broker/health.py: reading lifecycle streams; Redis and scripts health."""

from __future__ import annotations

import asyncio
import os

import pytest

from relay import Broker, JobSpec
from relay.broker.events import START, event_tips, positions_from, read_events
from relay.broker.health import check_health
from relay.broker.scripts import SCRIPTS
from tests.support.redis_server import free_port

ONE_CLOCK = pytest.mark.skipif(
    "+cluster" in os.environ.get("RELAY_TEST_REDIS_URL", ""),
    reason="exact resume points need TIME and the stream on one node; on a cluster the server "
    "re-reads 1 s to cover clock differences (docs/decisions/0003-http-api.md)",
)


async def test_tips_then_reads_give_each_event_once_in_order(broker: Broker, queue: str) -> None:
    now, tips = await event_tips(broker.redis, [queue])
    assert tips == {queue: START} and now > 1_700_000_000_000
    first = await broker.enqueue(queue, "t")
    _, tips = await event_tips(broker.redis, [queue])
    assert tips[queue] != START
    assert (await read_events(broker.redis, tips)).events == []
    more = await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(60)])
    jobs = (await broker.claim(queue, 100, 5000)).jobs
    batch = await read_events(broker.redis, tips)
    got = batch.events
    assert [e.kind for e in got] == ["enqueued", "claimed"]
    assert got[0].n == 60 and got[0].ids == [r.id for r in more[:50]]  # at most 50 ids listed
    assert got[1].n == 61 and first.id in got[1].ids
    assert got[0].ms <= got[1].ms <= batch.resume_ms
    everything = await read_events(broker.redis, {queue: START})
    assert [e.kind for e in everything.events] == ["enqueued", "enqueued", "claimed"]
    assert (await read_events(broker.redis, {queue: got[-1].stream_id})).events == []
    await broker.ack(queue, [(j.id, j.token) for j in jobs])


def _ms(reply: tuple[int, int]) -> int:
    return int(reply[0]) * 1000 + int(reply[1]) // 1000


@ONE_CLOCK
async def test_a_resume_point_rereads_nothing_older_and_misses_nothing_newer(
    broker: Broker, queue: str
) -> None:
    await broker.enqueue(queue, "t")
    _, tips = await event_tips(broker.redis, [queue])
    # A resume point is a Redis millisecond (decision 0003): an event stamped in that very ms is
    # read again by design. "Older" means an earlier ms, so let Redis' clock pass the event's.
    older_ms = int(tips[queue].split("-")[0])
    while _ms(await broker.redis.time()) <= older_ms:  # a round trip per poll: < 1 ms to spin
        pass
    resume = (await read_events(broker.redis, tips)).resume_ms
    assert resume > older_ms
    later = await broker.enqueue(queue, "t")  # stamped after the read's TIME: at or after resume
    got = (await read_events(broker.redis, positions_from(broker.redis, [queue], resume))).events
    assert [e.ids for e in got] == [[later.id]]


@ONE_CLOCK
async def test_a_read_capped_by_count_resumes_at_its_last_event(broker: Broker, queue: str) -> None:
    for i in range(5):
        await broker.enqueue(queue, "t", i)
        await asyncio.sleep(0.002)
    batch = await read_events(broker.redis, {queue: START}, count=3)
    assert len(batch.events) == 3 and batch.resume_ms == batch.events[-1].ms
    rest = await read_events(broker.redis, positions_from(broker.redis, [queue], batch.resume_ms))
    assert rest.events[0].ms == batch.events[-1].ms and len(rest.events) == 3


async def test_health_loads_missing_scripts(broker: Broker) -> None:
    await broker.redis.script_flush()
    assert await check_health(broker.redis) == (True, True)
    assert all(await broker.redis.script_exists(*(s.sha for s in SCRIPTS.values())))


async def test_health_reports_an_unreachable_redis() -> None:
    b = Broker.from_url(f"redis://127.0.0.1:{free_port()}/0")
    assert await check_health(b.redis) == (False, False)
    await b.close()
