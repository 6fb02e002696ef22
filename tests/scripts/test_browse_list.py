"""list_ready / list_scored: a page of any state, in its order, from a cursor that holds."""

from __future__ import annotations

import asyncio

import pytest

from relay import Broker, ConfigError, JobSpec, Nack, NackMode
from relay.browse import PREVIEW_BYTES, JobPage, encode_cursor
from tests.scripts.helpers import state


async def _all(broker: Broker, queue: str, st: str, limit: int, **kw: str) -> list[JobPage]:
    return [p async for p in broker.iter_jobs(queue, st, limit=limit, **kw)]


def _ids(pages: list[JobPage]) -> list[str]:
    return [j.id for p in pages for j in p.jobs]


async def test_ready_pages_follow_claim_order(broker: Broker, queue: str) -> None:
    specs = [JobSpec.of("t", i, priority=p) for i, p in enumerate([1, 9, 5, 9, 1, 5, 0])]
    ids = [r.id for r in await broker.enqueue_many(queue, specs)]
    pages = await _all(broker, queue, "ready", 2)
    listed = _ids(pages)
    assert listed == [ids[1], ids[3], ids[2], ids[5], ids[0], ids[4], ids[6]]
    assert [len(p.jobs) for p in pages] == [2, 2, 2, 1]
    assert pages[-1].next_cursor is None
    claimed = (await broker.claim(queue, 7, 5000)).jobs
    assert [j.id for j in claimed] == listed  # the listing is the order workers see
    await broker.ack(queue, [(j.id, j.token) for j in claimed])


async def test_a_ready_job_that_stays_is_never_skipped_while_others_move(
    broker: Broker, queue: str
) -> None:
    ids = [r.id for r in await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(60)])]
    page = await broker.list_jobs(queue, "ready", limit=10)
    seen = [j.id for j in page.jobs]
    # Between pages: workers claim from the head, an operator deletes a job further on, a
    # reaped job comes back to the head and new jobs arrive at the tail.
    held = (await broker.claim(queue, 15, 20)).jobs
    await broker.delete_job(queue, ids[30])
    await asyncio.sleep(0.03)
    await broker.reap(queue)
    late = [r.id for r in await broker.enqueue_many(queue, [JobSpec.of("t", "new")])]
    cursor = page.next_cursor
    while cursor:
        page = await broker.list_jobs(queue, "ready", limit=10, cursor=cursor)
        seen += [j.id for j in page.jobs]
        cursor = page.next_cursor
    stayed = [i for i in ids[15:] if i != ids[30]]
    assert set(stayed) <= set(seen)
    assert late[0] in seen and ids[30] not in seen[10:]
    assert len(held) == 15


async def test_ready_cursor_survives_the_anchor_being_claimed(broker: Broker, queue: str) -> None:
    ids = [r.id for r in await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(20)])]
    page = await broker.list_jobs(queue, "ready", limit=5)
    jobs = (await broker.claim(queue, 8, 60_000)).jobs  # the anchors are gone (in flight)
    rest = await _ids_after(broker, queue, page.next_cursor)
    assert rest == ids[8:]  # restarts at the list's head: the first job that stayed
    await broker.ack(queue, [(j.id, j.token) for j in jobs])


async def _ids_after(broker: Broker, queue: str, cursor: str | None) -> list[str]:
    out: list[str] = []
    while cursor:
        page = await broker.list_jobs(queue, "ready", limit=5, cursor=cursor)
        out += [j.id for j in page.jobs]
        cursor = page.next_cursor
    return out


async def test_delayed_by_run_at_with_preview_and_size(broker: Broker, queue: str) -> None:
    big = {"text": "é" * 400}
    a = await broker.enqueue(queue, "t", big, delay_ms=90_000)
    b = await broker.enqueue(queue, "t", [1], delay_ms=30_000)
    page = await broker.list_jobs(queue, "delayed")
    assert [j.id for j in page.jobs] == [b.id, a.id] and page.next_cursor is None
    first, second = page.jobs
    assert first.payload_preview == "[1]" and not first.payload_truncated
    assert first.run_at is not None and second.run_at is not None and first.run_at < second.run_at
    assert second.payload_truncated and second.payload_size > PREVIEW_BYTES
    assert len(second.payload_preview.encode()) <= PREVIEW_BYTES
    assert second.payload_preview.startswith('{"text":"éé')


async def test_inflight_by_lease_deadline(broker: Broker, queue: str) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(3)])
    long = (await broker.claim(queue, 1, 60_000)).jobs
    short = (await broker.claim(queue, 2, 10_000)).jobs
    page = await broker.list_jobs(queue, "inflight")
    assert [j.id for j in page.jobs] == [*sorted(j.id for j in short), long[0].id]
    assert all(j.lease_deadline and j.started_at and j.attempts == 1 for j in page.jobs)
    held = long + short
    await broker.ack(queue, [(j.id, j.token) for j in held])


async def test_completed_newest_first_through_equal_scores(broker: Broker, queue: str) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(9)])
    jobs = (await broker.claim(queue, 9, 60_000)).jobs
    await broker.ack(queue, [(j.id, j.token) for j in jobs[:6]])  # six share one finished ms
    await asyncio.sleep(0.002)
    await broker.ack(queue, [(j.id, j.token) for j in jobs[6:]])
    listed = _ids(await _all(broker, queue, "completed", 2))
    assert sorted(listed[:3]) == sorted(j.id for j in jobs[6:])
    assert sorted(listed[3:]) == sorted(j.id for j in jobs[:6]) and len(listed) == 9
    assert listed[3:] == sorted(listed[3:], reverse=True)  # ties: by id, descending


async def test_scored_cursor_holds_when_its_job_leaves(broker: Broker, queue: str) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(8)])
    jobs = (await broker.claim(queue, 8, 60_000)).jobs
    for j in jobs:
        await broker.nack(queue, [Nack(j.id, j.token, NackMode.DEAD, 0, "boom")])
    page = await broker.list_jobs(queue, "dead", limit=3)
    await broker.delete_job(queue, page.jobs[-1].id)  # the cursor's own job
    rest = _ids([p async for p in _pages_from(broker, queue, "dead", page.next_cursor)])
    assert sorted(rest + [j.id for j in page.jobs[:2]]) == sorted(
        j.id for j in jobs if j.id != page.jobs[-1].id
    )


async def _pages_from(broker: Broker, queue: str, st: str, cursor: str | None):  # type: ignore[no-untyped-def]
    while cursor:
        page = await broker.list_jobs(queue, st, limit=3, cursor=cursor)
        yield page
        cursor = page.next_cursor


async def test_type_filter_pages_may_be_short_but_find_everything(
    redis_url: str, broker: Broker, queue: str
) -> None:
    specs = [JobSpec.of("a" if i % 7 == 0 else "b", i) for i in range(6000)]
    ids = [r.id for r in await broker.enqueue_many(queue, specs)]
    want = [i for i, s in zip(ids, specs, strict=True) if s.type == "a"]
    pages = await _all(broker, queue, "ready", 500, job_type="a")
    assert _ids(pages) == want
    assert all(j.type == "a" for p in pages for j in p.jobs)


async def test_empty_states_and_unknown_queues_give_empty_pages(broker: Broker, queue: str) -> None:
    for st in ("ready", "delayed", "inflight", "dead", "completed"):
        assert await broker.list_jobs(queue, st) == JobPage(jobs=[], next_cursor=None)


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"state": "queued"}, "state"),
        ({"state": "running"}, "state"),
        ({"state": "ready", "limit": 0}, "limit"),
        ({"state": "ready", "limit": 501}, "limit"),
        ({"state": "ready", "cursor": "@@@"}, "cursor"),
        ({"state": "ready", "cursor": encode_cursor(["dead", "1", "x"])}, "cursor"),
        ({"state": "dead", "cursor": encode_cursor(["dead", "nan?", "x"])}, "cursor"),
        ({"state": "ready", "cursor": encode_cursor(["ready", 11, 0, []])}, "cursor"),
    ],
)
async def test_bad_input_names_the_parameter(
    broker: Broker, queue: str, kwargs: dict[str, object], names: str
) -> None:
    st = str(kwargs.pop("state"))
    with pytest.raises(ConfigError, match=names):
        await broker.list_jobs(queue, st, **kwargs)  # type: ignore[arg-type]
    assert await state(broker, queue) == {
        "ready": [], "delayed": [], "inflight": [], "dead": [], "completed": [], "cancelled": []
    }  # fmt: skip


async def test_an_anchor_that_moved_far_is_found_again(broker: Broker, queue: str) -> None:
    specs = [JobSpec.of("t", i) for i in range(1500)]
    ids = [r.id for r in await broker.enqueue_many(queue, specs)]
    first = await broker.list_jobs(queue, "ready", limit=500)
    second = await broker.list_jobs(queue, "ready", limit=500, cursor=first.next_cursor)
    held = (await broker.claim(queue, 700, 60_000)).jobs  # the anchor moves 700 places
    third = await broker.list_jobs(queue, "ready", limit=500, cursor=second.next_cursor)
    assert [j.id for j in third.jobs] == ids[1000:1500]  # resumes right after it: no repeats
    await broker.ack(queue, [(j.id, j.token) for j in held])
