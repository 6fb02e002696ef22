"""One table of bad calls, run against all four faces: the same failure, the same exception.

The Redis faces talk to the session's real Redis, the HTTP faces to a real `relay server` on
it. Bad arguments run against faces whose Redis or server does not exist: a ConfigError there
proves the call was refused before any I/O (an attempt would have met a connection error).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from typing import Any

import pytest

from relay import (
    AsyncClient,
    Broker,
    Client,
    ConfigError,
    Flow,
    FlowIdConflict,
    IdempotencyConflict,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobInfo,
    JobNotFound,
    JobSpec,
    JobStateConflict,
    PayloadTooLarge,
    Producer,
    QueueFull,
    QueueStats,
    ReplicationTimeout,
    Schedule,
    ScheduleNotFound,
    SyncProducer,
)
from relay.broker.ops import keysets
from relay.browse import encode_cursor
from relay.results import result_record
from relay.wire import CancelOutcome
from tests.server.conftest import ServerProcess
from tests.support.redis_server import free_port

Faces = dict[str, Any]
NOWHERE_QUEUE = "never-had-a-job"


async def call(face: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """`face.name(*args, **kwargs)`: awaited on an async face, in a thread on a blocking one
    (so a blocking call never stalls the loop the Redis faces share). An iterator call
    (`jobs`) answers the list of everything it yields."""
    fn = getattr(face, name)
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    if inspect.isasyncgenfunction(fn):
        return [item async for item in fn(*args, **kwargs)]
    if inspect.isgeneratorfunction(fn):
        return await asyncio.to_thread(lambda: list(fn(*args, **kwargs)))
    return await asyncio.to_thread(fn, *args, **kwargs)


async def error_of(face: Any, name: str, *args: Any, **kwargs: Any) -> Exception | None:
    """What `face.name(...)` raised; None when it returned."""
    try:
        await call(face, name, *args, **kwargs)
    except Exception as exc:
        return exc
    return None


async def _close(faces: Faces) -> None:
    for face in faces.values():
        await call(face, "close")


@pytest.fixture
async def faces(redis_url: str, server: ServerProcess) -> AsyncIterator[Faces]:
    """The four faces on the session's Redis and server."""
    if "+cluster" in redis_url:
        pytest.skip("SyncProducer talks to a single Redis")
    made = _make_faces(redis_url, server)
    yield made
    await _close(made)


def _make_faces(redis_url: str, server: ServerProcess) -> Faces:
    return {
        "Producer": Producer.from_url(redis_url),
        "SyncProducer": SyncProducer.from_url(redis_url),
        "AsyncClient": AsyncClient(server.url, token=server.token),
        "Client": Client(server.url, token=server.token),
    }


@pytest.fixture
async def unreachable() -> AsyncIterator[Faces]:
    """The four faces, on a port where nothing listens (no retries: one attempt would show)."""
    redis, http = f"redis://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    made: Faces = {
        "Producer": Producer.from_url(redis),
        "SyncProducer": SyncProducer.from_url(redis),
        "AsyncClient": AsyncClient(http, retries=0),
        "Client": Client(http, retries=0),
    }
    yield made
    await _close(made)


Q = "q"  # a valid name: these calls fail on another argument
BAD_ARGUMENTS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("enqueue", (Q, "t"), {"priority": 10}),
    ("enqueue", (Q, "t"), {"no_such_option": 1}),
    ("enqueue", (Q, "t"), {"idempotency_key": ""}),
    ("enqueue", (Q, ""), {}),
    ("enqueue", ("bad queue", "t"), {}),
    ("enqueue", ("a{b}", "t"), {}),
    ("enqueue", (Q, "t"), {"wait_replicas": -1}),
    ("enqueue_many", (Q, [JobSpec.of("t")]), {"wait_replicas": -1}),
    ("enqueue_many", ("bad:queue", [JobSpec.of("t")]), {}),
    ("enqueue_many", (Q, [JobSpec.of("")]), {}),
    ("job", ("t",), {"max_attempts": 0}),
    ("job", ("t",), {"unknown": True}),
    ("get_job", ("bad queue", "id"), {}),
    ("stats", ("bad queue",), {}),
    ("dead_jobs", (Q,), {"limit": 0}),
    ("dead_jobs", (Q,), {"limit": 1001}),
    ("dead_jobs", (Q,), {"cursor": "abc"}),
    ("requeue", ("bad queue",), {}),
    ("delete_dead", ("bad queue", "id"), {}),
    ("pause", ("bad queue",), {}),
    ("resume", ("",), {}),
    ("set_rate_limit", (Q, 0, 1), {}),
    ("set_rate_limit", (Q, 1.5, 0), {}),
    ("set_rate_limit", (Q, float("nan"), 1), {}),
    ("clear_rate_limit", ("bad queue",), {}),
    # groups (decision 0053)
    ("enqueue", (Q, "t"), {"group": ""}),
    ("enqueue", (Q, "t"), {"group": "x" * 129}),
    ("enqueue", (Q, "t"), {"group": "tab\there"}),
    ("enqueue", (Q, "t"), {"group": "caf\u00e9"}),
    ("set_group", (Q, ""), {}),
    ("set_group", ("bad queue", "g"), {}),
    ("set_group", (Q, "g"), {"weight": 0}),
    ("set_group", (Q, "g"), {"weight": 1001}),
    ("set_group", (Q, "g"), {"max_inflight": 0}),
    ("set_group", (Q, "g"), {"max_inflight": True}),
    ("set_group", (Q, "g"), {"rate": 5.0}),
    ("set_group", (Q, "g"), {"rate": 0, "burst": 1}),
    ("set_group", (Q, "g"), {"rate": 1, "burst": 0}),
    ("group", (Q, "x" * 129), {}),
    ("groups", (Q,), {"limit": 0}),
    ("groups", (Q,), {"limit": 1001}),
    ("list_jobs", ("bad queue", "ready"), {}),
    ("list_jobs", (Q, "nope"), {}),
    ("list_jobs", (Q, "running"), {}),
    ("list_jobs", (Q, "ready"), {"limit": 0}),
    ("list_jobs", (Q, "ready"), {"limit": 501}),
    ("list_jobs", (Q, "ready"), {"limit": True}),
    ("list_jobs", (Q, "ready"), {"cursor": "abc"}),
    ("list_jobs", (Q, "delayed"), {"cursor": encode_cursor(["ready", 1, 0, []])}),
    ("list_jobs", (Q, "dead"), {"cursor": encode_cursor(["dead", "soon", "id"])}),
    ("list_jobs", (Q, "ready"), {"cursor": encode_cursor(["ready", 11, 0, []])}),
    ("list_jobs", (Q, "ready"), {"job_type": "x" * 256}),
    ("list_jobs", (Q, "ready"), {"group": "x" * 129}),
    ("list_jobs", (Q, "dead"), {"group": "g"}),  # only ready jobs are listed by group
    ("list_jobs", (Q, "ready"), {"group": "g", "cursor": encode_cursor(["ready", 1, 0, []])}),
    ("jobs", (Q, "ready"), {"group": "tab\there"}),
    ("jobs", (Q, "nope"), {}),
    ("jobs", (Q, "ready"), {"limit": 0}),
    ("jobs", ("bad queue", "ready"), {}),
    ("promote_job", ("bad queue", "id"), {}),
    ("promote_job", (Q, ""), {}),  # the scripts read "" as a selection: never sent
    ("requeue_job", (Q, ""), {}),
    ("delete_job", (Q, ""), {}),
    ("delete_job", (Q, "id"), {"state": "inflight"}),
    ("delete_job", (Q, "id"), {"state": "nope"}),
    ("promote_jobs", (Q,), {"job_type": "x" * 256}),
    ("requeue_jobs", ("bad queue",), {}),
    ("delete_jobs", (Q, "completed"), {}),
    ("delete_jobs", (Q, "nope"), {}),
    # results and cancellation
    ("get_job", (Q, "id"), {"wait_ms": -1}),
    ("get_job", (Q, "id"), {"wait_ms": 60_001}),
    ("get_job", (Q, "id"), {"wait_ms": 1.5}),
    ("get_job", (Q, "id"), {"wait_ms": True}),
    ("get_job", ("bad queue", "id"), {"wait_ms": 10}),
    ("result", ("bad queue", "id"), {}),
    ("result", (Q, ""), {}),
    ("result", (Q, "id"), {"timeout": -1}),
    ("result", (Q, "id"), {"timeout": float("nan")}),
    ("result", (Q, "id"), {"timeout": float("inf")}),
    ("result", (Q, "id"), {"timeout": "5"}),
    ("result", (Q, "id"), {"timeout": True}),
    ("cancel", ("bad queue", "id"), {}),
    ("cancel", (Q, ""), {}),
    ("upsert_schedule", (Q, Schedule(name="s", cron="61 * * * *")), {}),
    ("upsert_schedule", (Q, Schedule(name="s", cron="0 0 31 2 *")), {}),  # never a day
    ("upsert_schedule", (Q, Schedule(name="s", cron="* * * * *", timezone="Mars/Base")), {}),
    ("upsert_schedule", (Q, Schedule(name="s", cron="* * * * *", every_ms=1000)), {}),
    ("upsert_schedule", (Q, Schedule(name="s")), {}),  # neither cron nor every_ms
    ("upsert_schedule", (Q, Schedule(name="s", every_ms=0)), {}),
    ("upsert_schedule", (Q, Schedule(name="s", every_ms=1000, timezone="Europe/Paris")), {}),
    ("upsert_schedule", (Q, Schedule(name="a/b", every_ms=1000)), {}),
    ("upsert_schedule", (Q, Schedule(name="s", every_ms=1000, priority=10)), {}),
    ("upsert_schedule", (Q, Schedule(name="s", every_ms=1000, type="x" * 256)), {}),
    ("upsert_schedule", (Q, Schedule(name="s", every_ms=1000, misfire="never")), {}),  # type: ignore[arg-type]
    ("upsert_schedule", ("bad queue", Schedule(name="s", every_ms=1000)), {}),
    ("get_schedule", (Q, "a b"), {}),
    ("get_schedule", ("bad queue", "s"), {}),
    ("schedules", ("bad:queue",), {}),
    ("delete_schedule", (Q, ""), {}),
    ("pause_schedule", (Q, "a:b"), {}),
    ("resume_schedule", (Q, "{s}"), {}),
    ("trigger_schedule", (Q, "x" * 129), {}),
    ("enqueue_flow", (Flow(Q, "p", children=[Flow(Q, "c"), Flow(Q, "")]),), {}),
    ("enqueue_flow", (Flow(Q, "p", children=[Flow("bad queue", "c")]),), {}),
]


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    BAD_ARGUMENTS,
    ids=[f"{n}-{i}" for i, (n, *_) in enumerate(BAD_ARGUMENTS)],
)
async def test_a_bad_argument_is_a_config_error_before_any_io_on_every_face(
    unreachable: Faces, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    for face_name, face in unreachable.items():
        with pytest.raises(ConfigError) as got:
            await call(face, name, *args, **kwargs)
        assert type(got.value).__module__ == "relay.errors", f"{face_name}.{name}: {got.value!r}"


async def _dead_job(broker: Broker, queue: str, job_type: str = "t") -> str:
    await broker.enqueue_many(queue, [JobSpec.of(job_type, priority=9)])  # claimed first
    [job] = (await broker.claim(queue, 1, 60_000)).jobs
    from relay.broker import Nack, NackMode  # noqa: PLC0415 - the one test that makes dead jobs

    await broker.nack(queue, [Nack(job.id, job.token, NackMode.DEAD, 0, "boom")])
    return job.id


async def _completed_job(broker: Broker, queue: str, value: object = None) -> str:
    await broker.enqueue_many(queue, [JobSpec.of("t", priority=9)])  # claimed first
    [job] = (await broker.claim(queue, 1, 60_000)).jobs
    record, _ = result_record(value, 1 << 20)
    assert await broker.ack(queue, [(job.id, job.token, record)]) == [True]
    return job.id


async def _cancelled_job(broker: Broker, queue: str) -> str:
    job_id = (await broker.enqueue(queue, "t", delay_ms=60_000)).id
    assert (await broker.cancel(queue, job_id)).state == "cancelled"
    return job_id


async def test_the_same_failure_raises_the_same_exception_from_every_face(
    faces: Faces, broker: Broker, queue: str
) -> None:
    ready = (await broker.enqueue(queue, "t", {"a": 1}, idempotency_key="k")).id
    completed = await _completed_job(broker, queue)
    dead = await _dead_job(broker, queue)
    cancelled = await _cancelled_job(broker, queue)
    big_schedule = Schedule(name="big", every_ms=60_000, payload="x" * (2 << 20))
    table: list[tuple[str, tuple[Any, ...], dict[str, Any], type[Exception]]] = [
        ("get_job", (queue, "no-such-id"), {}, JobNotFound),
        ("stats", (NOWHERE_QUEUE,), {}, JobNotFound),
        ("dead_jobs", (NOWHERE_QUEUE,), {}, JobNotFound),
        ("pause", (NOWHERE_QUEUE,), {}, JobNotFound),
        ("resume", (NOWHERE_QUEUE,), {}, JobNotFound),
        ("set_rate_limit", (NOWHERE_QUEUE, 5, 5), {}, JobNotFound),
        ("clear_rate_limit", (NOWHERE_QUEUE,), {}, JobNotFound),
        ("group", (NOWHERE_QUEUE, "g"), {}, JobNotFound),
        ("groups", (NOWHERE_QUEUE,), {}, JobNotFound),
        ("requeue", (NOWHERE_QUEUE,), {}, JobNotFound),
        ("requeue", (queue, "no-such-id"), {}, JobNotFound),
        ("delete_dead", (queue, "no-such-id"), {}, JobNotFound),
        ("enqueue", (queue, "t", {"a": 2}), {"idempotency_key": "k"}, IdempotencyConflict),
        ("enqueue", (queue, "t", "x" * (2 << 20)), {}, PayloadTooLarge),
        ("list_jobs", (NOWHERE_QUEUE, "ready"), {}, JobNotFound),
        ("jobs", (NOWHERE_QUEUE, "delayed"), {}, JobNotFound),
        ("promote_jobs", (NOWHERE_QUEUE,), {}, JobNotFound),
        ("requeue_jobs", (NOWHERE_QUEUE,), {}, JobNotFound),
        ("delete_jobs", (NOWHERE_QUEUE, "ready"), {}, JobNotFound),
        ("promote_job", (queue, "no-such-id"), {}, JobNotFound),
        ("requeue_job", (queue, "no-such-id"), {}, JobNotFound),
        ("delete_job", (queue, "no-such-id"), {}, JobNotFound),
        ("promote_job", (queue, ready), {}, JobStateConflict),  # moved on: ready already
        ("requeue_job", (queue, ready), {}, JobStateConflict),
        ("delete_job", (queue, ready), {"state": "dead"}, JobStateConflict),
        ("promote_job", (queue, dead), {}, JobStateConflict),
        ("delete_job", (queue, dead), {"state": "delayed"}, JobStateConflict),
        # results and cancellation
        ("get_job", (queue, "no-such-id"), {"wait_ms": 10}, JobNotFound),
        ("get_job", (NOWHERE_QUEUE, "no-such-id"), {"wait_ms": 10}, JobNotFound),
        ("result", (queue, "no-such-id"), {}, JobNotFound),
        ("result", (queue, "no-such-id"), {"timeout": 0}, JobNotFound),
        ("result", (queue, dead), {}, JobFailed),
        ("result", (queue, cancelled), {"timeout": 5}, JobCancelled),
        ("result", (queue, ready), {"timeout": 0}, TimeoutError),
        ("result", (queue, ready), {"timeout": 0.05}, TimeoutError),
        ("cancel", (queue, "no-such-id"), {}, JobNotFound),
        ("cancel", (NOWHERE_QUEUE, "no-such-id"), {}, JobNotFound),
        ("cancel", (queue, completed), {}, JobFinished),
        ("cancel", (queue, dead), {}, JobFinished),
        ("get_schedule", (queue, "no-such"), {}, ScheduleNotFound),
        ("delete_schedule", (queue, "no-such"), {}, ScheduleNotFound),
        ("pause_schedule", (queue, "no-such"), {}, ScheduleNotFound),
        ("resume_schedule", (queue, "no-such"), {}, ScheduleNotFound),
        ("trigger_schedule", (queue, "no-such"), {}, ScheduleNotFound),
        ("trigger_schedule", (NOWHERE_QUEUE, "no-such"), {}, ScheduleNotFound),
        ("upsert_schedule", (queue, big_schedule), {}, PayloadTooLarge),
        (
            "enqueue_flow",
            (Flow(queue, "p", children=[Flow(queue, "c", "x" * (2 << 20))]),),
            {},
            PayloadTooLarge,
        ),
        (
            "enqueue_flow",
            (Flow(queue, "p", children=[Flow(queue, "c", id=ready)]),),
            {},
            FlowIdConflict,
        ),
    ]
    for name, args, kwargs, error in table:
        for face_name, face in faces.items():
            got = await error_of(face, name, *args, **kwargs)
            assert isinstance(got, error), f"{face_name}.{name}{args[:2]}: {got!r}"
            assert not isinstance(got, ScheduleNotFound) or not isinstance(got, JobNotFound)
            if isinstance(got, JobStateConflict):  # names where the job is now
                assert got.state == ("ready" if args[1] == ready else "dead"), got
            if isinstance(got, JobFailed):
                assert (got.job_id, got.last_error) == (dead, "boom"), got
            if isinstance(got, FlowIdConflict):  # names the node and the job
                assert (got.path, got.job_id, got.queue) == ("$.children[0]", ready, queue), got
    await broker.set_max_depth(queue, 1)
    for face_name, face in faces.items():
        got = await error_of(face, "enqueue", queue, "t")
        assert isinstance(got, QueueFull), f"{face_name}.enqueue: {got!r}"
    await broker.set_max_depth(queue, None)
    counts = (await broker.stats(queue)).counts  # none of the refusals wrote or moved a job
    assert (counts.ready, counts.dead, counts.cancelled, counts.waiting) == (1, 1, 1, 0)
    assert await broker.schedules(queue) == []
    for face_name, face in faces.items():  # this Redis has no replica to confirm a write
        got = await error_of(face, "enqueue", queue, "t", wait_replicas=1)
        assert isinstance(got, ReplicationTimeout), f"{face_name}.enqueue: {got!r}"
        assert (got.acked, got.wanted) == (0, 1)


async def test_every_face_answers_each_call_alike(faces: Faces, broker: Broker, queue: str) -> None:
    dead = await _dead_job(broker, queue)
    for face_name, face in faces.items():
        r = await call(face, "enqueue", queue, "t", [face_name], delay_ms=60_000)
        info = await call(face, "get_job", queue, r.id)
        assert (info.state, info.payload) == ("delayed", [face_name])
        [other] = await call(face, "enqueue_many", queue, [call_job(face, face_name)])
        assert (await call(face, "get_job", queue, other)).priority == 7
        paused = await call(face, "pause", queue)
        assert isinstance(paused, QueueStats) and paused.paused
        assert not (await call(face, "resume", queue)).paused
        limited = await call(face, "set_rate_limit", queue, 2.5, 3)
        assert limited.rate_limit is not None and limited.rate_limit.burst == 3
        assert (await call(face, "clear_rate_limit", queue)).rate_limit is None
        g = await call(face, "set_group", queue, f"{face_name} / tenant", max_inflight=2)
        assert (g.name, g.limits.max_inflight, g.limits.weight) == (f"{face_name} / tenant", 2, 1)
        r = await call(face, "enqueue", queue, "t", group=f"{face_name} / tenant")
        assert (await call(face, "group", queue, f"{face_name} / tenant")).backlog == 1
        assert f"{face_name} / tenant" in [
            x.name for x in (await call(face, "groups", queue)).groups
        ]
        assert (
            await call(face, "set_group", queue, f"{face_name} / tenant")
        ).limits.max_inflight is None
        assert queue in [q.name for q in await call(face, "queues")]
        assert (await call(face, "dead_jobs", queue, limit=1)).total == 1
        assert await call(face, "health") is True
    stats = {n: await call(f, "stats", queue) for n, f in faces.items()}
    assert len({s.counts for s in stats.values()}) == 1, stats
    assert await call(faces["Client"], "requeue", queue, dead) == 1
    dead = await _dead_job(broker, queue)
    assert await call(faces["SyncProducer"], "delete_dead", queue, dead) is None


def call_job(face: Any, tag: str) -> JobSpec:
    spec: JobSpec = face.job("t", [tag], priority=7)
    return spec


async def test_every_face_enqueues_a_flow_alike(faces: Faces, broker: Broker, queue: str) -> None:
    other = f"{queue}-kids"
    for face_name, face in faces.items():
        flow = Flow(queue, "p", face_name, children=[Flow(other, "c", i) for i in range(2)])
        out = await call(face, "enqueue_flow", flow)
        assert [j.parent for j in out.jobs] == [None, out.id, out.id]
        info = await call(face, "get_job", queue, out.id)
        assert (info.state, info.payload) == ("waiting", face_name)
        assert info.children is not None
        assert sorted(c.id for c in info.children) == sorted(j.id for j in out.jobs[1:])
        tree = await call(face, "get_flow", other, out.jobs[2].id)
        assert (tree.id, [n.parent for n in tree.jobs]) == (out.id, [None, out.id, out.id])
        assert (await call(face, "cancel", queue, out.id)).state == "cancelled"
        assert (await call(face, "get_job", other, out.jobs[1].id)).state == "cancelled"


async def test_every_face_pages_through_the_same_jobs(
    faces: Faces, broker: Broker, queue: str
) -> None:
    specs = [JobSpec.of("a" if i % 3 else "b", {"i": i}, priority=i % 4) for i in range(23)]
    specs += [JobSpec.of("a", {"d": i}, delay_ms=60_000 + i * 1000) for i in range(7)]
    await broker.enqueue_many(queue, specs)
    for _ in range(3):
        await _dead_job(broker, queue, "b")
    for state, limit, job_type, want in [
        ("ready", 4, None, 23),
        ("ready", 5, "b", 8),
        ("delayed", 3, None, 7),
        ("dead", 2, None, 3),
        ("inflight", 10, None, 0),
    ]:
        pages = {
            name: await call(face, "jobs", queue, state, limit=limit, job_type=job_type)
            for name, face in faces.items()
        }
        reference = pages["Producer"]
        for name, got in pages.items():
            assert got == reference, f"{name} pages {state} differently from Producer"
        rows = [row for page in reference for row in page.jobs]
        assert len(rows) == want and len({r.id for r in rows}) == want, (state, job_type)
        assert all(r.type == job_type for r in rows) or job_type is None
        if state == "ready":  # claim order: priority first
            assert [r.priority for r in rows] == sorted((r.priority for r in rows), reverse=True)
        # list_jobs, driven by hand from each page's cursor, gives the same pages
        cursor, by_hand = None, []
        for _ in reference:
            page = await call(
                faces["Client"],
                "list_jobs",
                queue,
                state,
                limit=limit,
                cursor=cursor,
                job_type=job_type,
            )
            by_hand.append(page)
            cursor = page.next_cursor
        assert by_hand == reference and cursor is None


async def test_every_face_lists_a_groups_ready_jobs_alike(
    faces: Faces, broker: Broker, queue: str
) -> None:
    specs = [JobSpec.of("t", i, priority=i % 3, group="g") for i in range(9)]
    ids = [r.id for r in await broker.enqueue_many(queue, [*specs, JobSpec.of("t", "plain")])]
    want = [ids[i] for i in (2, 5, 8, 1, 4, 7, 0, 3, 6)]  # priority first, FIFO inside
    for name, face in faces.items():
        pages = await call(face, "jobs", queue, "ready", limit=4, group="g")
        assert [j.id for p in pages for j in p.jobs] == want, name
        plain = await call(face, "list_jobs", queue, "ready")
        assert [j.id for j in plain.jobs] == [ids[9]], name


async def test_every_face_acts_on_jobs_alike(faces: Faces, broker: Broker, queue: str) -> None:
    for name, face in faces.items():
        tag = f"t-{name}"
        made = await broker.enqueue_many(queue, [JobSpec.of(tag, delay_ms=60_000)] * 4)
        delayed = [r.id for r in made]
        dead = [await _dead_job(broker, queue, tag) for _ in range(3)]
        assert await call(face, "promote_job", queue, delayed[0]) == 1
        assert await call(face, "delete_job", queue, delayed[1], "delayed") == 1
        assert await call(face, "requeue_job", queue, dead[0]) == 1
        assert await call(face, "delete_job", queue, dead[1]) == 1
        assert await call(face, "promote_jobs", queue, tag) == 2
        assert await call(face, "requeue_jobs", queue, tag) == 1
        assert await call(face, "delete_jobs", queue, "ready", tag) == 5
        assert await call(face, "delete_jobs", queue, "ready", tag) == 0
    counts = (await broker.stats(queue)).counts
    assert (counts.ready, counts.delayed, counts.dead) == (0, 0, 0)


async def test_every_face_names_the_worker_of_an_inflight_job(
    faces: Faces, broker: Broker, queue: str
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(2)])
    named, anon = (await broker.claim(queue, 1, 60_000, "host/w-1")).jobs + (
        await broker.claim(queue, 1, 60_000)
    ).jobs
    for name, face in faces.items():
        [page] = await call(face, "jobs", queue, "inflight")
        held = {row.id: row.worker for row in page.jobs}
        assert held == {named.id: "host/w-1", anon.id: None}, name
        info = await call(face, "get_job", queue, named.id)
        assert info.worker == "host/w-1" and info.lease_deadline is not None, name
    await broker.ack(queue, [(named.id, named.token), (anon.id, anon.token)])


# -- results and cancellation ----------------------------------------------------------------


async def test_every_face_waits_for_results_and_cancels_alike(
    faces: Faces, broker: Broker, queue: str
) -> None:
    done = await _completed_job(broker, queue, {"sum": 3})
    for face_name, face in faces.items():
        assert await call(face, "result", queue, done) == {"sum": 3}, face_name
        assert (await call(face, "get_job", queue, done, wait_ms=0)).result == {"sum": 3}
        ready = (await broker.enqueue(queue, "t")).id
        assert (await call(face, "get_job", queue, ready, 10)).state == "ready", face_name
        assert await call(face, "cancel", queue, ready) == CancelOutcome("cancelled")
        assert await call(face, "cancel", queue, ready) == CancelOutcome("cancelled")  # again
        assert (await call(face, "get_job", queue, ready)).state == "cancelled"


async def test_every_face_wakes_when_the_job_it_waits_for_finishes(
    faces: Faces, broker: Broker, queue: str, redis_url: str, server: ServerProcess
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", priority=9)])
    [job] = (await broker.claim(queue, 1, 60_000)).jobs
    for face_name, face in faces.items():  # running: its worker would stop it
        assert await call(face, "cancel", queue, job.id) == CancelOutcome("cancelling"), face_name
    others = _make_faces(redis_url, server)  # a Client waits on its one connection: two sets
    try:
        waits = [
            asyncio.create_task(call(face, "result", queue, job.id, timeout=120))
            for face in faces.values()
        ] + [
            asyncio.create_task(call(face, "get_job", queue, job.id, wait_ms=60_000))
            for face in others.values()
        ]
        await _until_waiting(broker, queue, job.id, len(waits))
        assert not any(t.done() for t in waits)
        record, _ = result_record(7, 1 << 20)
        assert await broker.ack(queue, [(job.id, job.token, record)]) == [True]
        got = await asyncio.gather(*waits, return_exceptions=True)
    finally:
        await _close(others)
    names = [*faces, *others]
    # the cancel was asked for: the ack ends the job cancelled, and every waiter sees it
    for name, r in zip(names[: len(faces)], got, strict=False):
        assert isinstance(r, JobCancelled), (name, r)
    for name, r in zip(names[len(faces) :], got[len(faces) :], strict=True):
        assert isinstance(r, JobInfo) and r.state == "cancelled", (name, r)


async def _until_waiting(broker: Broker, queue: str, job_id: str, n: int) -> None:
    """Until `n` waiters have signed up on the job (wait_job.lua counts them)."""
    key = keysets(queue).keys.waiting
    for _ in range(3000):
        if int(await broker.redis.hget(key, job_id) or 0) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {n} waiters on {job_id}")


async def test_an_http_wait_outlasts_the_clients_own_timeout(
    server: ServerProcess, broker: Broker, queue: str
) -> None:
    """A wait's socket timeout is the client's plus the wait: a 3 s wait on a client whose
    timeout is 1 s answers with the job as it is then, not with a socket timeout."""
    ready = (await broker.enqueue(queue, "t")).id
    made: Faces = {
        "Client": Client(server.url, token=server.token, timeout=1, retries=0),
        "AsyncClient": AsyncClient(server.url, token=server.token, timeout=1, retries=0),
    }
    try:
        for face in made.values():
            assert (await call(face, "get_job", queue, ready, wait_ms=3000)).state == "ready"
            with pytest.raises(TimeoutError):
                await call(face, "result", queue, ready, timeout=3)
    finally:
        await _close(made)


async def test_every_face_sees_and_changes_the_same_schedules(
    faces: Faces, broker: Broker, queue: str
) -> None:
    assert [await call(f, "schedules", queue) for f in faces.values()] == [[]] * 4
    for name, face in faces.items():  # each face makes one: cron in a zone, or an interval
        made = await call(face, "upsert_schedule", queue, _schedule_of(name))
        assert made == await call(face, "get_schedule", queue, name)
        assert made.next_run_at is not None and not made.paused
    seen = {n: await call(f, "schedules", queue) for n, f in faces.items()}
    assert [s.name for s in seen["Client"]] == sorted(faces)
    assert all(got == seen["Producer"] for got in seen.values()), seen
    assert seen["Producer"] == [
        await call(faces["AsyncClient"], "get_schedule", queue, n) for n in sorted(faces)
    ]
    for name, face in faces.items():  # each face pauses, resumes, triggers, deletes another's
        other = sorted(faces)[(sorted(faces).index(name) + 1) % 4]
        paused = await call(face, "pause_schedule", queue, other)
        assert paused.paused and paused.next_run_at is None
        assert paused == await call(faces["SyncProducer"], "get_schedule", queue, other)
        resumed = await call(face, "resume_schedule", queue, other)
        assert not resumed.paused and resumed.next_run_at is not None
        fired = await call(face, "trigger_schedule", queue, other)
        assert not fired.duplicate
        job = await broker.get_job(queue, fired.id)
        assert (job.type, job.payload, job.state) == ("t", {"by": other}, "ready")
    for name, face in faces.items():
        assert await call(face, "delete_schedule", queue, name) is None
        got = await error_of(faces["Client"], "get_schedule", queue, name)
        assert isinstance(got, ScheduleNotFound), got
    assert await broker.schedules(queue) == []
    assert (await broker.stats(queue)).counts.ready == 4  # the triggered jobs stay


def _schedule_of(name: str) -> Schedule:
    """The clients' schedules are cron in a zone, the producers' intervals."""
    if name.endswith("Client"):
        return Schedule(
            name=name, type="t", payload={"by": name}, cron="30 2 * * *", timezone="Europe/Paris"
        )
    return Schedule(name=name, type="t", payload={"by": name}, every_ms=3_600_000)
