"""The worker protocol over HTTP (claim, ack, nack, extend) against real Redis."""

from __future__ import annotations

import asyncio
from typing import Any

from relay import Broker, JobSpec
from relay.http.work import WAITERS
from tests.integration.worker_apps.harness import eventually
from tests.server.conftest import AUTH, TOKEN, Client, MakeClient
from tests.support.invariant import states_of


async def _json(resp: Any, status: int) -> Any:
    body = await resp.json()
    assert resp.status == status, body
    return body


async def _blocked(client: Client) -> None:
    async def waiting() -> bool:
        return client.app[WAITERS].now > 0

    await eventually(waiting)


async def _claim(client: Client, queue: str, **body: Any) -> list[dict[str, Any]]:
    got = await _json(await client.post(f"/api/queues/{queue}/claim", json=body), 200)
    jobs: list[dict[str, Any]] = got["jobs"]
    return jobs


async def test_claim_then_ack_completes_with_the_same_fencing_as_python_workers(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("email", {"i": i}, priority=i) for i in range(3)])
    jobs = await _claim(client, queue, max=10, lease_ms=5000)
    assert [j["payload"] for j in jobs] == [{"i": 2}, {"i": 1}, {"i": 0}]  # priority first
    j = jobs[0]
    assert j["type"] == "email" and j["attempts"] == 1 and j["max_attempts"] == 5
    assert j["group"] is None
    assert j["timeout_ms"] == 300_000 and isinstance(j["token"], int) and j["priority"] == 2
    now = await broker.redis.time()
    assert abs(j["lease_until"] - (now[0] + now[1] / 1e6 + 5)) < 1  # Redis now + lease_ms
    assert len((await states_of(broker.redis, queue))["inflight"]) == 3
    acks = [{"id": x["id"], "token": x["token"], "result": {"ok": True}} for x in jobs]
    acks.append({"id": jobs[0]["id"], "token": jobs[0]["token"] + 99})  # a repeat: refused
    got = await _json(await client.post(f"/api/queues/{queue}/ack", json={"jobs": acks}), 200)
    assert [o["outcome"] for o in got["jobs"]] == ["ok", "ok", "ok", "invalid"]
    assert got["jobs"][3]["status"] == 400 and got["jobs"][3]["error"]["code"] == "invalid_request"
    assert set(got["jobs"][0]) == {"id", "outcome", "status"}
    assert len((await states_of(broker.redis, queue))["completed"]) == 3
    # A resend of the same acks (a lost reply) is still ok; nothing changes twice.
    again = await _json(await client.post(f"/api/queues/{queue}/ack", json={"jobs": acks[:3]}), 200)
    assert [o["outcome"] for o in again["jobs"]] == ["ok"] * 3


async def test_stale_and_unknown_jobs_get_their_own_outcome_and_never_fail_the_others(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(2)])
    a, b = await _claim(client, queue, max=2, lease_ms=5000)
    body = {
        "jobs": [
            {"id": a["id"], "token": a["token"] + 1},  # not this claim's token
            {"id": "no-such-job", "token": 1},
            {"id": b["id"], "token": b["token"]},
        ]
    }
    got = await _json(await client.post(f"/api/queues/{queue}/ack", json=body), 200)
    stale, unknown, ok = got["jobs"]
    assert stale["outcome"] == "stale" and stale["status"] == 409
    assert stale["error"]["code"] == "stale"
    assert unknown["outcome"] == "not_found" and unknown["status"] == 404
    assert unknown["error"] == {"code": "not_found", "message": "no such job in this queue"}
    assert ok == {"id": b["id"], "outcome": "ok", "status": 200}
    for path in ("nack", "extend"):
        got = await _json(await client.post(f"/api/queues/{queue}/{path}", json=body), 200)
        assert [o["outcome"] for o in got["jobs"]] == ["stale", "not_found", "stale"], path
    await broker.ack(queue, [(a["id"], a["token"])])


async def test_nack_retries_with_backoff_or_given_delay_and_fatal_goes_dead(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(3)])
    a, b, c = await _claim(client, queue, max=3, lease_ms=5000)
    body = {
        "jobs": [
            {"id": a["id"], "token": a["token"], "error": "boom", "retry_after_ms": 0},
            {"id": b["id"], "token": b["token"], "error": "later"},
            {"id": c["id"], "token": c["token"], "error": "bad input", "fatal": True},
        ]
    }
    got = await _json(await client.post(f"/api/queues/{queue}/nack", json=body), 200)
    assert [(o["outcome"], o["state"]) for o in got["jobs"]] == [
        ("ok", "ready"),
        ("ok", "delayed"),
        ("ok", "dead"),
    ]
    assert (await broker.get_job(queue, c["id"])).last_error == "bad input"
    [again] = await _claim(client, queue, max=5, lease_ms=5000)
    assert again["id"] == a["id"] and again["attempts"] == 2 and again["token"] > a["token"]
    await broker.ack(queue, [(again["id"], again["token"])])
    await broker.requeue_dead(queue, None)
    await broker.promote(queue)


async def test_extend_pushes_the_lease_and_a_reaped_job_is_stale(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", 1)])
    [j] = await _claim(client, queue, lease_ms=100)
    body = {"jobs": [{"id": j["id"], "token": j["token"]}], "lease_ms": 60_000}
    got = await _json(await client.post(f"/api/queues/{queue}/extend", json=body), 200)
    assert got["jobs"][0]["outcome"] == "ok"
    score = await broker.redis.zscore(f"relay:{{{queue}}}:inflight", j["id"])
    now = await broker.redis.time()
    assert score - (now[0] * 1000 + now[1] // 1000) > 50_000
    # Another claim takes it over after the lease: the first token is stale from then on.
    await broker.redis.zadd(f"relay:{{{queue}}}:inflight", {j["id"]: 0})
    assert (await broker.reap(queue)).requeued == 1
    [k] = await _claim(client, queue)
    assert k["id"] == j["id"] and k["token"] > j["token"]
    old = {"jobs": body["jobs"]}
    got = await _json(await client.post(f"/api/queues/{queue}/ack", json=old), 200)
    assert got["jobs"][0]["outcome"] == "stale"
    new = {"jobs": [{"id": k["id"], "token": k["token"]}]}
    got = await _json(await client.post(f"/api/queues/{queue}/ack", json=new), 200)
    assert got["jobs"][0]["outcome"] == "ok"


async def test_long_poll_answers_when_a_job_arrives_and_after_wait_ms_when_none(
    client: Client, broker: Broker, queue: str
) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await _claim(client, queue, wait_ms=200) == []
    assert loop.time() - start >= 0.19  # it waited, then answered with no jobs
    waiting = asyncio.ensure_future(_claim(client, queue, max=5, wait_ms=30_000))
    await _blocked(client)  # the claim waits on the wake-up list
    await broker.enqueue_many(queue, [JobSpec.of("t", {"n": 1})])
    [j] = await asyncio.wait_for(waiting, 10)
    assert j["payload"] == {"n": 1}
    await broker.ack(queue, [(j["id"], j["token"])])


async def test_paused_queue_answers_paused_after_the_wait(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", 1)])
    await broker.pause(queue)
    got = await _json(await client.post(f"/api/queues/{queue}/claim", json={"wait_ms": 50}), 200)
    assert got == {"jobs": [], "paused": True}
    await broker.resume(queue)
    [j] = await _claim(client, queue)
    await broker.ack(queue, [(j["id"], j["token"])])


async def test_bad_bodies_are_400_naming_the_field_and_change_nothing(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", 1)])
    cases: dict[str, list[dict[str, Any]]] = {
        "claim": [
            {"max": 0},
            {"max": 1001},
            {"wait_ms": 30_001},
            {"lease_ms": 5},
            {"x": 1},
            {"worker": ""},
            {"worker": "a\nb"},
        ],
        "ack": [{"jobs": [{"id": "a"}]}, {"jobs": [{"token": 1}]}, {}, {"jobs": "a"}],
        "nack": [{"jobs": [{"id": "a", "token": 0}]}, {"jobs": [{"id": "a", "token": 1.5}]}],
        "extend": [{"jobs": [], "lease_ms": 0}, {"jobs": [{"id": "", "token": 1}]}],
    }
    for path, bodies in cases.items():
        for body in bodies:
            resp = await client.post(f"/api/queues/{queue}/{path}", json=body)
            got = await _json(resp, 400)
            assert got["error"]["code"] == "invalid_request", (path, body, got)
    assert (await client.post("/api/queues/a%20b/claim", json={})).status == 400
    assert len((await states_of(broker.redis, queue))["ready"]) == 1
    [j] = await _claim(client, queue)
    await broker.ack(queue, [(j["id"], j["token"])])


async def test_routes_need_the_token_and_the_waiters_are_capped(
    make_client: MakeClient, broker: Broker, queue: str
) -> None:
    client = await make_client(tokens=(TOKEN,), claim_waiters=1)
    url = f"/api/queues/{queue}/claim"
    for path in ("claim", "ack", "nack", "extend"):
        resp = await client.post(f"/api/queues/{queue}/{path}", json={"jobs": []})
        assert resp.status == 401, path
    first = asyncio.ensure_future(client.post(url, json={"wait_ms": 30_000}, headers=AUTH))
    await _blocked(client)
    resp = await client.post(url, json={"wait_ms": 1000}, headers=AUTH)
    got = await _json(resp, 503)
    assert got["error"]["code"] == "too_many_waiters" and resp.headers["Retry-After"] == "1"
    await broker.enqueue_many(queue, [JobSpec.of("t", 1)])
    [j] = (await _json(await first, 200))["jobs"]
    await broker.ack(queue, [(j["id"], j["token"])])


async def test_the_server_reaps_and_promotes_what_http_workers_hold_with_no_python_worker(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", 1)])
    [j] = await _claim(client, queue, lease_ms=200)  # then the claimer vanishes
    [again] = await _claim(client, queue, wait_ms=10_000)  # reaped by the server's upkeep
    assert again["id"] == j["id"] and again["token"] > j["token"] and again["attempts"] == 2
    body = {"jobs": [{"id": j["id"], "token": again["token"], "retry_after_ms": 300}]}
    got = await _json(await client.post(f"/api/queues/{queue}/nack", json=body), 200)
    assert got["jobs"][0]["state"] == "delayed"
    [third] = await _claim(client, queue, wait_ms=10_000)  # promoted by the server when due
    assert third["id"] == j["id"] and third["attempts"] == 3
    await broker.ack(queue, [(third["id"], third["token"])])


async def test_an_http_workers_result_is_stored_and_a_cancel_reaches_it_through_extend(
    client: Client, broker: Broker, queue: str
) -> None:
    """The same lifecycle as a Python worker's: an ack's result is the job's result, and a job
    cancelled while held is told on the next extend (state cancelling) and ends cancelled."""
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(2)])
    a, b = await _claim(client, queue, max=2, lease_ms=5000)
    done = {"jobs": [{"id": a["id"], "token": a["token"], "result": {"rows": 3}}]}
    await _json(await client.post(f"/api/queues/{queue}/ack", json=done), 200)
    got = await _json(await client.get(f"/api/queues/{queue}/jobs/{a['id']}"), 200)
    assert got["state"] == "completed" and got["result"] == {"rows": 3}
    cancel = await client.post(f"/api/queues/{queue}/jobs/{b['id']}/cancel")
    assert (await _json(cancel, 202))["state"] == "cancelling"
    held = {"jobs": [{"id": b["id"], "token": b["token"]}], "lease_ms": 5000}
    ext = await _json(await client.post(f"/api/queues/{queue}/extend", json=held), 200)
    assert ext["jobs"][0]["outcome"] == "ok" and ext["jobs"][0]["state"] == "cancelling"
    fin = await _json(
        await client.post(f"/api/queues/{queue}/ack", json={"jobs": held["jobs"]}), 200
    )
    assert fin["jobs"][0]["state"] == "cancelled"
    got = await _json(await client.get(f"/api/queues/{queue}/jobs/{b['id']}"), 200)
    assert got["state"] == "cancelled" and got.get("result") is None


async def test_the_inflight_listing_names_the_http_claimer(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(2)])
    [named] = await _claim(client, queue, worker="go-worker 7")
    [anon] = await _claim(client, queue)
    listing = await _json(await client.get(f"/api/queues/{queue}/jobs?state=inflight"), 200)
    held = {j["id"]: j["worker"] for j in listing["jobs"]}
    assert held == {named["id"]: "http:go-worker 7", anon["id"]: "http:127.0.0.1"}
    one = await _json(await client.get(f"/api/queues/{queue}/jobs/{named['id']}"), 200)
    assert one["worker"] == "http:go-worker 7" and one["lease_deadline"] > one["started_at"]
    acks = [{"id": j["id"], "token": j["token"]} for j in (named, anon)]
    await _json(await client.post(f"/api/queues/{queue}/ack", json={"jobs": acks}), 200)


async def test_a_claimed_grouped_job_names_its_group(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue(queue, "email", {"i": 1}, group="acme")
    [j] = await _claim(client, queue, max=10, lease_ms=5000)
    assert j["group"] == "acme"
