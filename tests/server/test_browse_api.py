"""The job browser over HTTP: listing by state with a cursor, actions, errors, auth and CSRF."""

from __future__ import annotations

from typing import Any

import pytest

from relay import Broker, JobNotFound, JobSpec, JobStateConflict, Nack, NackMode
from relay.http.calls import bulk_call, delete_job_call, job_action_call, jobs_call
from tests.server.conftest import AUTH, TOKEN, Client, MakeClient
from tests.support.invariant import states_of


async def _json(resp: Any, status: int) -> Any:
    body = await resp.json()
    assert resp.status == status, body
    return body


async def _dead(broker: Broker, queue: str, types: list[str]) -> list[str]:
    await broker.enqueue_many(queue, [JobSpec.of(t, {"t": t}) for t in types])
    jobs = (await broker.claim(queue, len(types), 60_000)).jobs
    await broker.nack(queue, [Nack(j.id, j.token, NackMode.DEAD, 0, "boom") for j in jobs])
    return [j.id for j in jobs]


async def test_pages_of_ready_jobs_in_claim_order(
    client: Client, broker: Broker, queue: str
) -> None:
    specs = [JobSpec.of("t", {"i": i}, priority=i % 3) for i in range(7)]
    await broker.enqueue_many(queue, specs)
    url = f"/api/queues/{queue}/jobs"
    got: list[dict[str, Any]] = []
    params: dict[str, str] = {"state": "ready", "limit": "3"}
    while True:
        page = await _json(await client.get(url, params=params), 200)
        assert set(page) == {"jobs", "next_cursor"}
        got += page["jobs"]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert [j["priority"] for j in got] == [2, 2, 1, 1, 0, 0, 0]
    first = got[0]
    assert first["state"] == "ready" and first["type"] == "t"
    assert first["payload_preview"] == '{"i":2}' and first["payload_size"] == 7
    assert first["lease_deadline"] is None and first["run_at"] is None


async def test_delayed_listing_filtered_by_type(client: Client, broker: Broker, queue: str) -> None:
    await broker.enqueue_many(
        queue, [JobSpec.of("a" if i % 2 else "b", i, delay_ms=60_000 + i) for i in range(10)]
    )
    url = f"/api/queues/{queue}/jobs"
    page = await _json(await client.get(url, params={"state": "delayed", "type": "a"}), 200)
    assert [j["payload_preview"] for j in page["jobs"]] == ["1", "3", "5", "7", "9"]
    assert all(j["run_at"] for j in page["jobs"])


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"state": "sleeping"}, "state"),
        ({"state": "running"}, "state"),
        ({}, "state"),
        ({"state": "ready", "limit": "0"}, "limit"),
        ({"state": "ready", "limit": "501"}, "limit"),
        ({"state": "ready", "limit": "ten"}, "limit"),
        ({"state": "ready", "limit": "nan"}, "limit"),
        ({"state": "null"}, "state"),
        ({"state": "ready", "cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_bad_listing_parameters_are_400_naming_them(
    client: Client, broker: Broker, queue: str, params: dict[str, str], word: str
) -> None:
    await broker.enqueue(queue, "t")
    body = await _json(await client.get(f"/api/queues/{queue}/jobs", params=params), 400)
    assert body["error"]["code"] == "invalid_request"
    assert word in body["error"]["message"]


async def test_unknown_queue_is_404(client: Client, queue: str) -> None:
    body = await _json(await client.get(f"/api/queues/{queue}/jobs?state=ready"), 404)
    assert body["error"]["code"] == "not_found"


async def test_promote_then_409_naming_the_state_once_it_moved(
    client: Client, broker: Broker, queue: str
) -> None:
    r = await broker.enqueue(queue, "t", priority=8, delay_ms=3_600_000)
    url = f"/api/queues/{queue}/jobs/{r.id}/promote"
    assert await _json(await client.post(url), 200) == {"changed": 1}
    assert (await states_of(broker.redis, queue))["ready"] == [r.id]
    body = await _json(await client.post(url), 409)
    assert body["error"]["code"] == "state_conflict"
    assert "is ready, not delayed" in body["error"]["message"]
    missing = await _json(await client.post(f"/api/queues/{queue}/jobs/nope/promote"), 404)
    assert missing["error"]["code"] == "not_found"


async def test_delete_and_requeue_single_jobs(client: Client, broker: Broker, queue: str) -> None:
    dead = await _dead(broker, queue, ["t", "t"])
    base = f"/api/queues/{queue}/jobs"
    assert await _json(await client.post(f"{base}/{dead[0]}/requeue"), 200) == {"changed": 1}
    assert await _json(await client.delete(f"{base}/{dead[1]}?state=dead"), 200) == {"changed": 1}
    conflict = await _json(await client.delete(f"{base}/{dead[0]}?state=dead"), 409)
    assert "is ready, not dead" in conflict["error"]["message"]
    assert await _json(await client.delete(f"{base}/{dead[0]}"), 200) == {"changed": 1}
    for wrong in ("inflight", "null"):
        bad = await _json(await client.delete(f"{base}/{dead[0]}?state={wrong}"), 400)
        assert "state" in bad["error"]["message"]
    assert await states_of(broker.redis, queue) == {
        "ready": [], "delayed": [], "inflight": [], "dead": [], "completed": [], "cancelled": []
    }  # fmt: skip


async def test_bulk_actions_by_type(client: Client, broker: Broker, queue: str) -> None:
    await broker.enqueue_many(
        queue, [JobSpec.of("a" if i % 2 else "b", i, delay_ms=60_000) for i in range(20)]
    )
    url = f"/api/queues/{queue}/jobs/bulk"
    promote = {"action": "promote", "state": "delayed", "type": "a"}
    assert await _json(await client.post(url, json=promote), 200) == {"changed": 10}
    delete = {"action": "delete", "state": "ready"}
    assert await _json(await client.post(url, json=delete), 200) == {"changed": 10}
    s = await states_of(broker.redis, queue)
    assert s["ready"] == [] and len(s["delayed"]) == 10
    wrong = await _json(await client.post(url, json={"action": "promote", "state": "dead"}), 400)
    assert "state" in wrong["error"]["message"]
    bad = await _json(await client.post(url, json={"action": "explode", "state": "dead"}), 400)
    assert "action" in bad["error"]["message"]
    inflight = await client.post(url, json={"action": "delete", "state": "inflight"})
    assert "state" in (await _json(inflight, 400))["error"]["message"]


async def test_actions_need_the_token_and_refuse_cross_site_calls(
    make_client: MakeClient, broker: Broker, queue: str
) -> None:
    client = await make_client(tokens=(TOKEN,), producer_rate=0)
    r = await broker.enqueue(queue, "t", delay_ms=60_000)
    url = f"/api/queues/{queue}/jobs/{r.id}/promote"
    assert (await client.post(url)).status == 401
    assert (await client.get(f"/api/queues/{queue}/jobs?state=delayed")).status == 401
    evil = {**AUTH, "Origin": "https://evil.example"}
    assert (await client.post(url, headers=evil)).status == 403
    bulk = {"action": "delete", "state": "delayed"}
    resp = await client.post(f"/api/queues/{queue}/jobs/bulk", json=bulk, headers=evil)
    assert resp.status == 403
    assert (await states_of(broker.redis, queue))["delayed"] == [r.id]
    assert (await client.post(url, headers=AUTH)).status == 200


async def test_openapi_lists_the_browse_routes(client: Client) -> None:
    doc = await _json(await client.get("/api/openapi.json"), 200)
    ops = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert {"listJobs", "promoteJob", "requeueJob", "deleteJob", "bulkJobs"} <= ops
    listing = doc["paths"]["/api/queues/{queue}/jobs"]["get"]
    assert [p["name"] for p in listing["parameters"]] == [
        "queue",
        "state",
        "limit",
        "cursor",
        "type",
        "group",
    ]
    assert "409" in doc["paths"]["/api/queues/{queue}/jobs/{id}/promote"]["post"]["responses"]


async def test_the_sdk_calls_round_trip(client: Client, broker: Broker, queue: str) -> None:
    """The `Call`s the HTTP clients will send (relay.http.calls) decode the answers."""
    r = await broker.enqueue(queue, "t", {"x": 1}, delay_ms=60_000)
    for call in (
        jobs_call(queue, "delayed", 10, None, "t"),
        job_action_call(queue, r.id, "promote"),
        delete_job_call(queue, r.id, "ready"),
        bulk_call(queue, "delete", "ready", None),
    ):
        resp = await client.request(call.method, call.target(""), data=call.body)
        got = call.result(resp.status, await resp.read(), None)
        assert got is not None
    assert (await states_of(broker.redis, queue))["ready"] == []
    call = job_action_call(queue, r.id, "promote")  # gone: 404
    resp = await client.request(call.method, call.target(""), data=call.body)
    with pytest.raises(JobNotFound):
        call.result(resp.status, await resp.read(), None)


async def test_a_state_conflict_is_a_typed_sdk_error(
    client: Client, broker: Broker, queue: str
) -> None:
    r = await broker.enqueue(queue, "t")
    call = job_action_call(queue, r.id, "requeue")
    resp = await client.request(call.method, call.target(""), data=call.body)
    with pytest.raises(JobStateConflict) as info:
        call.result(resp.status, await resp.read(), None)
    assert (info.value.job_id, info.value.state, info.value.wanted) == (r.id, "ready", ("dead",))
