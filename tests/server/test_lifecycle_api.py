"""The HTTP side of results, waiting and cancellation: GET …/jobs/{id}?wait_ms, POST …/cancel."""

from __future__ import annotations

import asyncio
import time

from relay import Broker, Nack, NackMode
from relay.http.calls import cancel_call, wait_call
from relay.http.sdk_errors import Finished, NotFound, error_from_response
from relay.results import result_record
from tests.server.conftest import Client, MakeClient
from tests.server.test_api import _error, _json
from tests.server.test_sse import FAST, events_until


async def test_a_job_shows_its_result_and_progress(
    client: Client, broker: Broker, queue: str
) -> None:
    job_id = (await broker.enqueue(queue, "t")).id
    [job] = (await broker.claim(queue, 1, 30_000)).jobs
    await broker.extend(queue, [(job.id, job.token, b'{"step":2}')], 30_000)
    body = await _json(await client.get(f"/api/queues/{queue}/jobs/{job_id}"), 200)
    assert body["progress"] == {"step": 2} and body["result"] is None
    await broker.ack(queue, [(job.id, job.token, result_record([1, 2], 100)[0])])
    body = await _json(await client.get(f"/api/queues/{queue}/jobs/{job_id}"), 200)
    assert body["state"] == "completed" and body["result"] == [1, 2]
    assert body["result_error"] is None and body["finished_at"]


async def test_wait_ms_answers_when_the_job_finishes(
    client: Client, broker: Broker, queue: str
) -> None:
    job_id = (await broker.enqueue(queue, "t")).id
    [job] = (await broker.claim(queue, 1, 30_000)).jobs
    url = f"/api/queues/{queue}/jobs/{job_id}?wait_ms=20000"
    lookup = asyncio.create_task(client.get(url))
    key = f"relay:{{{queue}}}:waiting"
    for _ in range(1000):
        if await broker.redis.hget(key, job_id):
            break
        await asyncio.sleep(0.005)
    t0 = time.monotonic()
    await broker.ack(queue, [(job.id, job.token, b'="done"')])
    body = await _json(await asyncio.wait_for(lookup, 10), 200)
    assert body["state"] == "completed" and body["result"] == "done"
    assert time.monotonic() - t0 < 5  # woken by the ack, not by the end of the wait


async def test_wait_ms_times_out_with_the_current_state(
    client: Client, broker: Broker, queue: str
) -> None:
    job_id = (await broker.enqueue(queue, "t")).id
    body = await _json(await client.get(f"/api/queues/{queue}/jobs/{job_id}?wait_ms=30"), 200)
    assert body["state"] == "ready"


async def test_wait_ms_out_of_range_is_400(client: Client, broker: Broker, queue: str) -> None:
    job_id = (await broker.enqueue(queue, "t")).id
    for bad in ("60001", "-1", "1.5", "soon"):
        resp = await client.get(f"/api/queues/{queue}/jobs/{job_id}?wait_ms={bad}")
        assert "wait_ms" in _error(await _json(resp, 400), "invalid_request")
    missing = await client.get(f"/api/queues/{queue}/jobs/nope?wait_ms=10")
    _error(await _json(missing, 404), "not_found")


async def test_cancel_answers_200_202_409_404(client: Client, broker: Broker, queue: str) -> None:
    ready = (await broker.enqueue(queue, "t")).id
    resp = await client.post(f"/api/queues/{queue}/jobs/{ready}/cancel")
    assert await _json(resp, 200) == {"state": "cancelled"}
    running = (await broker.enqueue(queue, "t")).id
    [job] = (await broker.claim(queue, 1, 30_000)).jobs
    resp = await client.post(f"/api/queues/{queue}/jobs/{running}/cancel")
    assert await _json(resp, 202) == {"state": "cancelling"}
    body = await _json(await client.get(f"/api/queues/{queue}/jobs/{running}"), 200)
    assert body["state"] == "inflight" and body["cancel_requested"] is True
    await broker.nack(queue, [Nack(job.id, job.token, NackMode.CANCEL, 0, "cancelled")])
    dead = (await broker.enqueue(queue, "t")).id
    [job] = (await broker.claim(queue, 1, 30_000)).jobs
    await broker.nack(queue, [Nack(job.id, job.token, NackMode.DEAD, 0, "boom")])
    resp = await client.post(f"/api/queues/{queue}/jobs/{dead}/cancel")
    assert "already dead" in _error(await _json(resp, 409), "job_finished")
    resp = await client.post(f"/api/queues/{queue}/jobs/nope/cancel")
    _error(await _json(resp, 404), "not_found")
    stats = await _json(await client.get(f"/api/queues/{queue}"), 200)
    assert stats["counts"]["cancelled"] == 2 and stats["totals"]["cancelled"] == 2
    metrics = await (await client.get("/metrics")).text()
    assert f'relay_queue_depth{{queue="{queue}",state="cancelled"}} 2.0' in metrics


async def test_the_sdk_calls_speak_the_routes(client: Client, broker: Broker, queue: str) -> None:
    job_id = (await broker.enqueue(queue, "t")).id
    call = cancel_call(queue, job_id)
    resp = await client.post(call.path)
    assert call.result(resp.status, await resp.read(), None).state == "cancelled"
    call2 = wait_call(queue, job_id, 10)
    resp = await client.get(call2.target(""))
    assert call2.result(resp.status, await resp.read(), None).state == "cancelled"
    body = b'{"error":{"code":"job_finished","message":"job x1 is already completed; ..."}}'
    err = error_from_response(409, body, None)
    assert isinstance(err, Finished) and (err.job_id, err.state) == ("x1", "completed")
    assert isinstance(error_from_response(404, b"", None), NotFound)


async def test_progress_is_pushed_on_sse(
    make_client: MakeClient, broker: Broker, queue: str
) -> None:
    fast = await make_client(**FAST)
    await broker.enqueue(queue, "t")
    [job] = (await broker.claim(queue, 1, 30_000)).jobs
    resp = await fast.get("/api/events")
    await events_until(resp, 1, "stats")
    await broker.extend(queue, [(job.id, job.token, b'{"pct":7}')], 30_000)
    await broker.cancel(queue, job.id)
    got = await events_until(resp, 2, "job")
    jobs = [e.json() for e in got if e.event == "job" and e.json()["queue"] == queue]
    progress = next(j for j in jobs if j["kind"] == "progress")
    assert progress["ids"] == [job.id] and progress["progress"] == {job.id: {"pct": 7}}
    assert "progress" not in next(j for j in jobs if j["kind"] == "cancelling")
    resp.close()
