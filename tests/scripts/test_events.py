"""broker/events.py and broker/health.py: reading lifecycle streams; Redis and scripts health."""

from __future__ import annotations

from relay import Broker, JobSpec
from relay.broker.events import START, event_tips, read_events
from relay.broker.health import check_health
from relay.broker.scripts import SCRIPTS
from tests.support.redis_server import free_port


async def test_tips_then_reads_give_each_event_once_in_order(broker: Broker, queue: str) -> None:
    assert await event_tips(broker.redis, [queue]) == {queue: START}
    first = await broker.enqueue(queue, "t")
    tips = await event_tips(broker.redis, [queue])
    assert tips[queue] != START
    assert await read_events(broker.redis, tips) == []
    more = await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(60)])
    jobs = (await broker.claim(queue, 100, 5000)).jobs
    got = await read_events(broker.redis, tips)
    assert [e.kind for e in got] == ["enqueued", "claimed"]
    assert got[0].n == 60 and got[0].ids == [r.id for r in more[:50]]  # at most 50 ids listed
    assert got[1].n == 61 and first.id in got[1].ids
    assert got[0].ts > 1.7e9 and got[0].stream_id < got[1].stream_id
    everything = await read_events(broker.redis, {queue: START})
    assert [e.kind for e in everything] == ["enqueued", "enqueued", "claimed"]
    assert await read_events(broker.redis, {queue: got[-1].stream_id}) == []
    await broker.ack(queue, [(j.id, j.token) for j in jobs])


async def test_health_loads_missing_scripts(broker: Broker) -> None:
    await broker.redis.script_flush()
    assert await check_health(broker.redis) == (True, True)
    assert all(await broker.redis.script_exists(*(s.sha for s in SCRIPTS.values())))


async def test_health_reports_an_unreachable_redis() -> None:
    b = Broker.from_url(f"redis://127.0.0.1:{free_port()}/0")
    assert await check_health(b.redis) == (False, False)
    await b.close()
