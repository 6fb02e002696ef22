"""Schedules fired by in-process Workers: declared in code, one job per tick, metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from itertools import pairwise

import pytest
from prometheus_client import generate_latest

from relay import Broker, ConfigError, Cron, Every, Job, Registry, Schedule, Worker
from tests.integration.worker_apps.harness import eventually


@contextlib.asynccontextmanager
async def running(
    registry: Registry, queues: Sequence[str], redis_url: str
) -> AsyncIterator[Worker]:
    worker = Worker(registry, queues, redis_url=redis_url, concurrency=4)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        assert await asyncio.wait_for(task, 20) == 0


async def test_a_declared_schedule_is_synced_and_three_workers_run_each_tick_once(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()
    ran: Counter[str] = Counter()  # job id -> runs
    ticks: list[int] = []

    @reg.task("beat", schedule=Every(ms=200, payload={"hello": "world"}))
    async def beat(job: Job) -> None:
        ran[job.id] += 1
        ticks.append(job.created_ms)
        assert job.payload == {"hello": "world"}

    async with (
        running(reg, [queue], redis_url) as w1,
        running(reg, [queue], redis_url),
        running(reg, [queue], redis_url),
    ):

        async def ten() -> bool:
            return len(ran) >= 10

        await eventually(ten, 15)
        text = generate_latest(w1.metrics.registry).decode()
    info = await broker.get_schedule(queue, "beat")
    assert info.every_ms == 200 and info.type == "beat" and info.last_job_id is not None
    assert set(ran.values()) == {1}  # every tick's job ran once
    assert sorted(ticks) == list(range(min(ticks), max(ticks) + 200, 200))  # none missed
    assert "relay_worker_schedule_ticks_fired_total" in text


async def test_a_schedule_added_while_workers_run_fires_within_a_second(
    broker: Broker, queue: str, redis_url: str
) -> None:
    reg = Registry()
    seen: list[Job] = []

    @reg.task("later")
    async def later(job: Job) -> None:
        seen.append(job)

    async with running(reg, [queue], redis_url):
        await broker.upsert_schedule(queue, Schedule(name="later", every_ms=300))

        async def three() -> bool:
            return len(seen) >= 3

        await eventually(three, 10)
    gaps = [b.created_ms - a.created_ms for a, b in pairwise(seen)]
    assert all(g == 300 for g in gaps), gaps  # consecutive ticks, none twice
    await broker.delete_schedule(queue, "later")


async def test_a_schedule_is_removed_only_when_the_app_says_so(
    broker: Broker, queue: str, redis_url: str
) -> None:
    await broker.upsert_schedule(queue, Schedule(name="old", every_ms=60_000))
    await broker.upsert_schedule(queue, Schedule(name="kept", every_ms=60_000))
    reg = Registry()
    reg.unschedule("old")

    @reg.task("new", schedule=Every(ms=60_000))
    async def new(job: Job) -> None:
        pass

    async with running(reg, [queue], redis_url):

        async def synced() -> bool:
            names = [s.name for s in await broker.schedules(queue)]
            return names == ["kept", "new"]

        await eventually(synced, 10)


async def test_a_declared_schedule_takes_a_group(
    broker: Broker, queue: str, redis_url: str
) -> None:
    """`relay.Every(..., group=...)` (and Cron): its jobs run in that group (decision 0053)."""
    reg = Registry()
    ids: list[str] = []

    @reg.task("tenant_beat", schedule=Every(ms=200, group="acme"))
    async def tenant_beat(job: Job) -> None:
        ids.append(job.id)

    async with running(reg, [queue], redis_url):

        async def ran() -> bool:
            return len(ids) >= 1

        await eventually(ran, 10)
    assert (await broker.get_schedule(queue, "tenant_beat")).group == "acme"
    assert (await broker.get_job(queue, ids[0])).group == "acme"
    with pytest.raises(ConfigError, match="group"):
        Cron("0 6 * * *", group="bad group name with spaces and \x00")
