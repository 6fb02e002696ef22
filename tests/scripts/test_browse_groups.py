"""The job browser and groups (decision 0053): a group's ready jobs are listed with `group=`,
in the group's claim order, and a grouped ready job can be deleted like any ready job, alone or
in a bulk delete."""

from __future__ import annotations

import pytest

from relay import Broker, ConfigError, JobNotFound, JobSpec
from relay.browse import JobPage
from relay.keys import QueueKeys
from tests.scripts.helpers import state


async def _pages(broker: Broker, queue: str, limit: int, group: str | None) -> list[JobPage]:
    return [p async for p in broker.iter_jobs(queue, "ready", limit=limit, group=group)]


def _ids(pages: list[JobPage]) -> list[str]:
    return [j.id for p in pages for j in p.jobs]


async def test_a_groups_ready_jobs_are_listed_in_its_claim_order(
    broker: Broker, queue: str
) -> None:
    prios = [1, 9, 5, 9, 1, 5, 0]
    specs = [JobSpec.of("t", f"a{i}", priority=p, group="a") for i, p in enumerate(prios)]
    specs += [JobSpec.of("t", f"b{i}", priority=9, group="b") for i in range(3)]
    specs += [JobSpec.of("t", f"u{i}", priority=5) for i in range(2)]
    ids = [r.id for r in await broker.enqueue_many(queue, specs)]
    pages = await _pages(broker, queue, 2, "a")
    listed = _ids(pages)
    assert listed == [ids[i] for i in (1, 3, 2, 5, 0, 4, 6)]
    assert [len(p.jobs) for p in pages] == [2, 2, 2, 1] and pages[-1].next_cursor is None
    assert all(j.state.value == "ready" for p in pages for j in p.jobs)
    assert _ids(await _pages(broker, queue, 500, "b")) == ids[7:10]
    assert _ids(await _pages(broker, queue, 500, None)) == ids[10:]  # no group: ungrouped only
    claimed = (await broker.claim(queue, 12, 30_000)).jobs
    of_a = [j.id for j in claimed if j.payload_bytes.startswith(b'"a')]
    assert of_a == listed  # the order the group's jobs are claimed in
    await broker.ack(queue, [(j.id, j.token) for j in claimed])


async def test_paging_a_large_group_misses_nothing_while_it_moves(
    broker: Broker, queue: str
) -> None:
    specs = [JobSpec.of("t", i, group="g", priority=i % 2) for i in range(1200)]
    for start in range(0, 1200, 1000):
        await broker.enqueue_many(queue, specs[start : start + 1000])
    first = await broker.list_jobs(queue, "ready", limit=500, group="g")
    held = (await broker.claim(queue, 100, 60_000)).jobs  # claimed from the group's head
    await broker.enqueue(queue, "t", "late", group="g", priority=1)
    seen = [j.id for j in first.jobs]
    cursor = first.next_cursor
    while cursor:
        page = await broker.list_jobs(queue, "ready", limit=500, cursor=cursor, group="g")
        seen += [j.id for j in page.jobs]
        cursor = page.next_cursor
    ready = set((await state(broker, queue))["ready"])
    assert ready <= set(seen) and len(ready) == 1101
    assert len(seen) == len(set(seen))  # the anchor stayed: no repeats
    await broker.ack(queue, [(j.id, j.token) for j in held])


@pytest.mark.parametrize(
    ("st", "group", "word"),
    [
        ("ready", "é", "group"),
        ("ready", "x" * 129, "group"),
        ("dead", "a", "group"),
        ("delayed", "a", "only state=ready"),
    ],
)
async def test_bad_group_filters_name_the_group(
    broker: Broker, queue: str, st: str, group: str, word: str
) -> None:
    with pytest.raises(ConfigError, match=word):
        await broker.list_jobs(queue, st, group=group)


async def test_a_cursor_belongs_to_its_group(broker: Broker, queue: str) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i, group="a") for i in range(3)])
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(3)])
    grouped = (await broker.list_jobs(queue, "ready", limit=1, group="a")).next_cursor
    plain = (await broker.list_jobs(queue, "ready", limit=1)).next_cursor
    assert grouped and plain
    for cursor, group in ((grouped, "b"), (grouped, None), (plain, "a")):
        with pytest.raises(ConfigError, match="cursor"):
            await broker.list_jobs(queue, "ready", limit=1, cursor=cursor, group=group)


async def test_deleting_a_grouped_ready_job_keeps_the_group_counters(
    broker: Broker, queue: str
) -> None:
    k = QueueKeys.for_queue(queue)
    a = [
        r.id
        for r in await broker.enqueue_many(queue, [JobSpec.of("t", i, group="a") for i in range(2)])
    ]
    await broker.delete_job(queue, a[0])
    await broker.delete_job(queue, a[1], "ready")
    with pytest.raises(JobNotFound):
        await broker.delete_job(queue, a[1], "ready")
    assert await broker.redis.hlen(k.group_of) == 0
    assert await broker.redis.zcard(k.groups) == 0
    assert not await broker.redis.exists(*k.group_rings())
    assert (await state(broker, queue))["ready"] == []
    b = await broker.enqueue(queue, "t", 1, group="b", priority=3)
    c = await broker.enqueue(queue, "t", 2, group="b", priority=3)
    await broker.delete_job(queue, b.id)
    assert _ids(await _pages(broker, queue, 10, "b")) == [c.id]
    assert await broker.redis.zscore(k.group_ring(3), "b") is not None  # still has a job
    claimed = (await broker.claim(queue, 10, 30_000)).jobs
    assert [j.id for j in claimed] == [c.id]
    await broker.ack(queue, [(j.id, j.token) for j in claimed])
    await state(broker, queue)


async def test_a_bulk_delete_of_ready_jobs_reaches_every_groups_lists(
    broker: Broker, queue: str
) -> None:
    """ "Delete all ready of type t" leaves no grouped job behind, keeps other types, and
    leaves the groups' counters as the claims need them."""
    k = QueueKeys.for_queue(queue)
    specs = [JobSpec.of("t", i, group=f"g{i % 3}", priority=i % 2 * 5) for i in range(30)]
    specs += [JobSpec.of("t", 1), JobSpec.of("t", 2), JobSpec.of("keep", 3, group="g1")]
    keep = (await broker.enqueue_many(queue, specs))[-1]
    assert await broker.delete_jobs(queue, "ready", "t") == 32
    assert _ids(await _pages(broker, queue, 100, None)) == []
    assert [_ids(await _pages(broker, queue, 100, g)) for g in ("g0", "g1", "g2")] == [
        [],
        [keep.id],
        [],
    ]
    assert await broker.redis.zrange(k.groups, 0, -1, withscores=True) == [(b"g1", 1.0)]
    assert (await broker.stats(queue)).counts.ready == 1
    claimed = (await broker.claim(queue, 10, 30_000)).jobs
    assert [j.id for j in claimed] == [keep.id]
    await broker.ack(queue, [(j.id, j.token) for j in claimed])
    await state(broker, queue)
