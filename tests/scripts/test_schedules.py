"""Schedule scripts: upsert/list/delete, and firing: one job per tick, misfires, races."""

from __future__ import annotations

import asyncio

import pytest

from relay import Broker, BrokerSettings, ConfigError, SyncProducer
from relay.errors import ScheduleNotFound
from relay.keys import QueueKeys
from relay.schedules import Schedule, engine, steps
from relay.schedules.engine import tick_job_id
from tests.scripts.helpers import redis_ms, state


async def _stored(broker: Broker, queue: str) -> dict[bytes, bytes]:
    got: dict[bytes, bytes] = await broker.redis.hgetall(QueueKeys.for_queue(queue).schedules)
    return got


async def _due_now(broker: Broker, queue: str, name: str, at_ms: int) -> None:
    """Seed the schedule's next tick (as the state a stopped worker fleet leaves)."""
    await broker.redis.zadd(QueueKeys.for_queue(queue).schedules_due, {name: at_ms})


async def test_upsert_creates_then_replaces_and_an_unchanged_resend_keeps_the_tick(
    broker: Broker, queue: str
) -> None:
    now = await redis_ms(broker.redis)
    got, created = await broker.upsert_schedule(queue, Schedule(name="s", every_ms=60_000))
    assert created and got.next_run_at is not None
    assert now < got.next_run_at * 1000 <= now + 60_000
    assert got.next_run_at * 1000 % 60_000 == 0  # epoch-aligned
    again, created = await broker.upsert_schedule(queue, Schedule(name="s", every_ms=60_000))
    assert not created and again.next_run_at == got.next_run_at
    moved, _ = await broker.upsert_schedule(queue, Schedule(name="s", every_ms=60_000, payload=1))
    assert moved.next_run_at == got.next_run_at and moved.payload == 1  # same timing: same tick
    cron, _ = await broker.upsert_schedule(
        queue, Schedule(name="s", cron="0 6 * * *", timezone="Europe/Paris")
    )
    assert cron.every_ms is None and cron.cron == "0 6 * * *" and cron.type == "s"
    assert [s.name for s in await broker.schedules(queue)] == ["s"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"cron": "61 * * * *"}, "minute"),
        ({"cron": "* * * *"}, "5 fields"),
        ({"cron": "0 6 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"every_ms": 5}, "every_ms"),
        ({}, "cron/every_ms"),
        ({"cron": "@daily", "every_ms": 1000}, "cron/every_ms"),
        ({"every_ms": 1000, "priority": 12}, "priority"),
        ({"every_ms": 1000, "timezone": "Europe/Paris"}, "timezone"),
        ({"every_ms": 1000, "misfire": "burst"}, "misfire"),
        ({"every_ms": 1000, "group": "tab\there"}, "group"),
        ({"every_ms": 1000, "group": ""}, "group"),
    ],
)
async def test_bad_input_names_the_field_and_stores_nothing(
    broker: Broker, queue: str, fields: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        await broker.upsert_schedule(queue, Schedule(name="bad", **fields))  # type: ignore[arg-type]
    assert await _stored(broker, queue) == {}


async def test_a_due_tick_enqueues_one_job_with_the_tick_id(broker: Broker, queue: str) -> None:
    await broker.upsert_schedule(
        queue, Schedule(name="tick", type="report", every_ms=3_600_000, payload={"a": 1})
    )
    now = await redis_ms(broker.redis)
    tick = now // 1000 * 1000 - 1000
    await _due_now(broker, queue, "tick", tick)
    fired = await broker.fire_schedules(queue)
    assert (fired.enqueued, fired.missed, fired.lost) == (1, 0, 0)
    again = await broker.fire_schedules(queue)
    assert again.enqueued == 0 and again.wait_ms > 0
    job = await broker.get_job(queue, tick_job_id("tick", tick))
    assert job.type == "report" and job.payload == {"a": 1} and job.state == "ready"
    s = await broker.get_schedule(queue, "tick")
    assert s.last_run_at == tick / 1000 and s.last_job_id == job.id
    assert s.next_run_at is not None and s.next_run_at * 1000 > now
    assert (await state(broker, queue))["ready"] == [job.id]


async def test_a_grouped_schedules_ticks_and_triggers_go_into_its_group(
    broker: Broker, queue: str
) -> None:
    k = QueueKeys.for_queue(queue)
    await broker.upsert_schedule(queue, Schedule(name="g", every_ms=3_600_000, group="t1"))
    await broker.upsert_schedule(queue, Schedule(name="h", every_ms=3_600_000, group="t2"))
    assert (await broker.get_schedule(queue, "g")).group == "t1"
    tick = (await redis_ms(broker.redis)) // 1000 * 1000 - 1000
    await _due_now(broker, queue, "g", tick)
    await _due_now(broker, queue, "h", tick)
    assert (await broker.fire_schedules(queue)).enqueued == 2
    first = tick_job_id("g", tick)
    assert (await broker.get_job(queue, first)).group == "t1"
    triggered = (await broker.trigger_schedule(queue, "g")).id
    assert await broker.redis.lrange(k.group_ready(5, "t1"), 0, -1) == [
        first.encode(),
        triggered.encode(),
    ]
    assert await broker.redis.lrange(k.group_ready(5, "t2"), 0, -1) == [
        tick_job_id("h", tick).encode()
    ]
    assert await broker.redis.llen(k.ready(5)) == 0
    got = await broker.claim(queue, 10, 30_000)  # the groups take turns
    assert [j.id for j in got.jobs] == [first, tick_job_id("h", tick), triggered]
    await state(broker, queue)


async def test_an_ungrouped_schedules_record_is_unchanged(broker: Broker, queue: str) -> None:
    await broker.upsert_schedule(queue, Schedule(name="u", every_ms=60_000))
    [rec] = (await _stored(broker, queue)).values()
    assert b"group" not in rec  # records stored before groups keep their SHA1 (the CAS)


async def test_workers_racing_on_one_tick_enqueue_exactly_one_job(
    broker: Broker, queue: str, redis_url: str
) -> None:
    await broker.upsert_schedule(queue, Schedule(name="race", every_ms=3_600_000))
    others = [Broker.from_url(redis_url, BrokerSettings()) for _ in range(7)]
    try:
        now = await redis_ms(broker.redis)
        for round_ in range(5):
            await _due_now(broker, queue, "race", now - 10 - round_ * 100)
            got = await asyncio.gather(*(b.fire_schedules(queue) for b in [broker, *others]))
            assert sum(f.enqueued for f in got) == 1
    finally:
        for b in others:
            await b.close()
    assert len((await state(broker, queue))["ready"]) == 5


@pytest.mark.parametrize(("misfire", "jobs"), [("once", 1), ("skip", 0)])
async def test_missed_ticks_give_one_catch_up_job_or_none_never_a_burst(
    broker: Broker, queue: str, misfire: str, jobs: int
) -> None:
    await broker.upsert_schedule(
        queue,
        Schedule(name="m", every_ms=1000, misfire=misfire),  # type: ignore[arg-type]
    )
    now = await redis_ms(broker.redis)
    await _due_now(broker, queue, "m", now // 1000 * 1000 - 60_000)  # a minute of no workers
    fired = await broker.fire_schedules(queue)
    assert fired.enqueued == jobs
    assert 59 <= fired.missed + fired.enqueued <= 62
    again = await broker.fire_schedules(queue)
    assert again.enqueued == 0  # resumed from now: the next tick is in the future
    s = await broker.get_schedule(queue, "m")
    assert s.next_run_at is not None and s.next_run_at * 1000 > now
    assert len((await state(broker, queue))["ready"]) == jobs


async def test_a_tick_fired_after_the_schedule_changed_is_refused(
    broker: Broker, queue: str
) -> None:
    await broker.upsert_schedule(queue, Schedule(name="c", every_ms=3_600_000))
    now = await redis_ms(broker.redis)
    await _due_now(broker, queue, "c", now - 5)
    k = QueueKeys.for_queue(queue)
    due = engine.due_reply(await broker._run("due_schedules", engine.due_keys(k), [10]))
    plan = engine.plan(due.ticks[0], due.now_ms)
    assert plan is not None
    await broker.upsert_schedule(queue, Schedule(name="c", every_ms=3_600_000, payload="v2"))
    await _due_now(broker, queue, "c", now - 5)
    reply = await broker._run("fire_schedules", engine.fire_keys(k), engine.fire_args(0, [plan]))
    assert reply == [0]
    assert (await state(broker, queue))["ready"] == []


async def test_paused_schedules_do_not_fire_and_resume_from_now(broker: Broker, queue: str) -> None:
    await broker.upsert_schedule(queue, Schedule(name="p", every_ms=1000))
    paused = await broker.pause_schedule(queue, "p")
    assert paused.paused and paused.next_run_at is None
    assert (await broker.fire_schedules(queue)).wait_ms == -1
    resumed = await broker.pause_schedule(queue, "p", paused=False)
    assert not resumed.paused and resumed.next_run_at is not None


async def test_trigger_enqueues_now_and_leaves_the_schedule(broker: Broker, queue: str) -> None:
    before, _ = await broker.upsert_schedule(queue, Schedule(name="t", cron="@yearly"))
    got = await broker.trigger_schedule(queue, "t")
    assert (await broker.get_job(queue, got.id)).type == "t"
    after = await broker.get_schedule(queue, "t")
    assert after == before


async def test_delete_and_unknown_names(broker: Broker, queue: str) -> None:
    await broker.upsert_schedule(queue, Schedule(name="d", every_ms=1000))
    await broker.delete_schedule(queue, "d")
    assert await broker.schedules(queue) == []
    with pytest.raises(ScheduleNotFound):
        await broker.delete_schedule(queue, "d")
    with pytest.raises(ScheduleNotFound):
        await broker.get_schedule(queue, "d")
    with pytest.raises(ConfigError, match="name"):
        await broker.get_schedule(queue, "a b")
    assert (await broker.fire_schedules(queue)).wait_ms == -1


async def test_listing_pages_through_many_schedules(broker: Broker, queue: str) -> None:
    for i in range(1200):
        await broker.redis.hset(
            QueueKeys.for_queue(queue).schedules,
            f"s{i:04}",
            b'every 1000\n{"name":"s%04d","every_ms":1000}' % i,
        )
    got = await broker.schedules(queue)
    assert [s.name for s in got] == [f"s{i:04}" for i in range(1200)]


def test_the_blocking_face_runs_the_same_operations(redis_url: str, queue: str) -> None:
    """SyncProducer.perform drives relay.schedules.steps as Broker.perform does."""
    if redis_url.startswith("redis+cluster://"):
        pytest.skip("SyncProducer talks to a single Redis (Producer covers a cluster)")
    with SyncProducer.from_url(redis_url) as p:
        s = Schedule(name="sync", cron="@hourly")
        got, created = p.perform(steps.upsert(p.settings, queue, s))
        assert created and got.next_run_at is not None
        assert [x.name for x in p.perform(steps.listing(p.settings, queue))] == ["sync"]
        job = p.perform(steps.trigger(p.settings, queue, "sync"))
        assert p.perform(steps.set_paused(p.settings, queue, "sync", True)).paused
        p.perform(steps.delete(p.settings, queue, "sync"))
        with pytest.raises(ScheduleNotFound):
            p.perform(steps.get(p.settings, queue, "sync"))
        assert job.id
