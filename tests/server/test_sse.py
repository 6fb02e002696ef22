"""GET /api/events: stats snapshots, job events, Last-Event-ID resume, keep-alive, the cap."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientResponse

from relay import Broker, JobSpec
from relay.http.feed import FEED
from relay.http.sse import decode_cursor
from tests.server.conftest import Client, MakeClient

FAST = {"producer_rate": 0, "sse_interval": 0.2, "sse_poll": 0.05, "sse_keepalive": 0.3}


@dataclass
class Event:
    event: str = "message"
    id: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.data)


async def next_event(resp: ClientResponse, within: float = 5.0) -> Event:
    """The next event (comment-only blocks come back as event 'comment')."""
    ev = Event()
    seen = False
    async with asyncio.timeout(within):
        while True:
            raw = await resp.content.readline()
            if not raw:
                raise EOFError("stream ended")
            line = raw.decode().rstrip("\n")
            if not line:
                if seen:
                    return ev
                continue
            seen = True
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                ev.event = "comment"
                ev.comments.append(value)
            elif name == "data":
                ev.data += value
            elif name in ("event", "id"):
                setattr(ev, name, value)


async def events_until(
    resp: ClientResponse, want: int, kind: str, within: float = 5.0
) -> list[Event]:
    """Read until `want` events of `kind` arrived; returns every event read."""
    got: list[Event] = []
    async with asyncio.timeout(within):
        while sum(e.event == kind for e in got) < want:
            got.append(await next_event(resp))
    return got


@pytest.fixture
async def fast(make_client: MakeClient) -> Client:
    return await make_client(**FAST)


async def test_two_snapshots_then_resume_with_last_event_id_gets_missed_events(
    fast: Client, broker: Broker, queue: str
) -> None:
    first = await broker.enqueue(queue, "t")
    resp = await fast.get("/api/events")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    seen = await events_until(resp, 2, "stats")
    snapshots = [e.json() for e in seen if e.event == "stats"]
    assert all(any(q["name"] == queue for q in s["queues"]) for s in snapshots)
    assert snapshots[1]["ts"] > snapshots[0]["ts"]
    mine = next(q for q in snapshots[1]["queues"] if q["name"] == queue)
    assert mine["counts"]["ready"] == 1 and queue in snapshots[1]["rates"]
    last_id = [e.id for e in seen if e.id][-1]
    assert last_id is not None
    resp.close()

    # While nobody listens: two enqueues, a claim and an ack.
    missed = await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(2)])
    claimed = (await broker.claim(queue, 3, 5000)).jobs
    await broker.ack(queue, [(j.id, j.token) for j in claimed])

    resp = await fast.get("/api/events", headers={"Last-Event-ID": last_id})
    got = await events_until(resp, 3, "job")
    jobs = [e.json() for e in got if e.event == "job"]
    assert [j["kind"] for j in jobs] == ["enqueued", "claimed", "completed"]
    assert jobs[0] == {
        "queue": queue,
        "kind": "enqueued",
        "ids": [m.id for m in missed],
        "n": 2,
        "ts": jobs[0]["ts"],
    }
    assert sorted(jobs[1]["ids"]) == sorted([first.id, *(m.id for m in missed)])
    assert all(first.id not in j["ids"] for j in jobs if j["kind"] == "enqueued")
    # The last job event of a read carries the new resume point, a later Redis time.
    before, after = decode_cursor(last_id), decode_cursor([e.id for e in got if e.id][-1])
    assert before is not None and after is not None and after > before
    resp.close()


async def test_live_job_events_and_keep_alive(fast: Client, broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    resp = await fast.get("/api/events")
    await events_until(resp, 1, "stats")
    r = await broker.enqueue(queue, "t", {"x": 1})
    got = await events_until(resp, 1, "job")
    job = next(e.json() for e in got if e.event == "job")
    assert job["kind"] == "enqueued" and job["ids"] == [r.id] and job["queue"] == queue
    more = await events_until(resp, 1, "comment", within=3)
    assert "keep-alive" in next(e for e in more if e.event == "comment").comments
    resp.close()


async def test_a_fresh_subscriber_starts_from_now(fast: Client, broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    resp = await fast.get("/api/events")
    got = await events_until(resp, 3, "stats")
    assert not [e for e in got if e.event == "job" and e.json()["queue"] == queue]
    resp.close()


async def test_subscriber_cap_is_503(make_client: MakeClient) -> None:
    client = await make_client(**FAST, sse_max_clients=1)
    first = await client.get("/api/events")
    await next_event(first)
    second = await client.get("/api/events")
    body = await second.json()
    assert second.status == 503 and body["error"]["code"] == "too_many_subscribers"
    first.close()
    for _ in range(50):  # the slot frees once the server notices the disconnect
        third = await client.get("/api/events")
        if third.status == 200:
            third.close()
            return
        await asyncio.sleep(0.05)
    pytest.fail("the subscriber slot was never freed")


def test_cursor_is_a_redis_time_and_garbage_means_start_from_now() -> None:
    assert decode_cursor("1790000000123") == 1790000000123
    for bad in (None, "", "x", "12-0", "1" * 16, "-5", "q=1-0"):
        assert decode_cursor(bad) is None


async def test_a_cut_mid_read_resumes_from_the_read_before(
    fast: Client, broker: Broker, queue: str
) -> None:
    """Only the last job event of a read carries an id, so a client that saw part of a read
    resumes at the previous point: it may see events twice, never miss one."""
    await broker.enqueue(queue, "t")
    resp = await fast.get("/api/events")
    seen = await events_until(resp, 1, "stats")
    start_id = [e.id for e in seen if e.id][-1]
    for i in range(3):  # three separate stream entries, likely read together
        await broker.enqueue(queue, "t", i)
    got = await events_until(resp, 3, "job")
    jobs = [e for e in got if e.event == "job"]
    assert jobs[-1].id is not None  # the read ends with an id
    resp.close()
    assert start_id is not None
    again = await fast.get("/api/events", headers={"Last-Event-ID": start_id})
    wanted = [e.json()["ids"] for e in jobs]
    replayed: list[list[str]] = []
    async with asyncio.timeout(5):
        while not all(w in replayed for w in wanted):
            ev = await next_event(again)
            if ev.event == "job":
                replayed.append(ev.json()["ids"])
    # in the same order (an event from just before start_id may come first, as a duplicate)
    assert [r for r in replayed if r in wanted] == wanted
    again.close()


async def test_head_cannot_hold_a_subscriber_slot(make_client: MakeClient) -> None:
    client = await make_client(**FAST, sse_max_clients=1)
    for _ in range(3):
        resp = await client.head("/api/events")
        assert resp.status == 405 and resp.headers["Allow"] == "GET"
    stream = await client.get("/api/events")
    assert stream.status == 200
    stream.close()


async def test_subscribers_share_one_read_of_the_job_events_per_poll(
    fast: Client, broker: Broker, queue: str
) -> None:
    """One read of the streams per poll for the whole process, however many subscribers; each
    still gets every event, and one resuming from long ago catches up on its own."""
    await broker.enqueue(queue, "t")
    subs = [await fast.get("/api/events") for _ in range(8)]
    for s in subs:
        await events_until(s, 1, "stats")
    old_id = next(e.id for e in await events_until(subs[0], 1, "stats") if e.id)
    feed = fast.app[FEED]
    r = await broker.enqueue(queue, "t", {"x": 1})
    reads_before = feed.reads
    loop = asyncio.get_running_loop()
    start = loop.time()
    for s in subs:
        got = await events_until(s, 1, "job")
        job = next(e.json() for e in got if e.event == "job" and e.json()["queue"] == queue)
        assert job["ids"] == [r.id]
    polls = (loop.time() - start) / FAST["sse_poll"] + 1
    assert feed.reads - reads_before <= 2 * polls  # at most 2 a poll (fresh for half), not 8
    late = await fast.get("/api/events", headers={"Last-Event-ID": old_id})
    got = await events_until(late, 1, "job")
    assert next(e.json() for e in got if e.event == "job")["ids"] == [r.id]
    for s in [*subs, late]:
        s.close()
