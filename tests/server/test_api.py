"""Every API route through aiohttp's test client, against real Redis: answers and errors."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from relay import Broker, JobSpec, Nack, NackMode
from relay.http import ServerSettings, create_app
from relay.http.routes import ROUTES
from relay.keys import QueueKeys
from tests.server.conftest import Client, MakeClient
from tests.support.invariant import states_of
from tests.support.redis_server import free_port


async def _json(resp: Any, status: int) -> Any:
    body = await resp.json()
    assert resp.status == status, body
    return body


def _error(body: Any, code: str) -> str:
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


async def _dead(broker: Broker, queue: str, n: int) -> list[str]:
    await broker.enqueue_many(queue, [JobSpec.of("t", {"i": i}) for i in range(n)])
    jobs = (await broker.claim(queue, n, 5000)).jobs
    await broker.nack(queue, [Nack(j.id, j.token, NackMode.DEAD, 0, "boom") for j in jobs])
    return [j.id for j in jobs]


async def test_enqueue_returns_201_with_the_id_and_stores_the_payload_untouched(
    client: Client, broker: Broker, queue: str
) -> None:
    body = b'{"type": "email", "payload": {"to": "a@b.c", "n": [1, 2.5, null]}, "priority": 7}'
    resp = await client.post(f"/api/queues/{queue}/jobs", data=body)
    got = await _json(resp, 201)
    assert got == {"id": got["id"], "duplicate": False}
    assert resp.headers["Location"] == f"/api/queues/{queue}/jobs/{got['id']}"
    info = await broker.get_job(queue, got["id"])
    assert info.payload == {"to": "a@b.c", "n": [1, 2.5, None]} and info.priority == 7
    [job] = (await broker.claim(queue, 1, 5000)).jobs
    assert job.payload_bytes == b'{"to": "a@b.c", "n": [1, 2.5, null]}'  # byte for byte
    await broker.ack(queue, [(job.id, job.token)])


async def test_enqueue_options_delay_run_at_and_defaults(
    client: Client, broker: Broker, queue: str
) -> None:
    url = f"/api/queues/{queue}/jobs"
    delayed = await _json(await client.post(url, json={"type": "t", "delay_ms": 60_000}), 201)
    at = await _json(await client.post(url, json={"type": "t", "run_at": 4_000_000_000.5}), 201)
    plain = await _json(await client.post(url, json={"type": "t"}), 201)
    s = await states_of(broker.redis, queue)
    assert sorted(s["delayed"]) == sorted([delayed["id"], at["id"]])
    assert s["ready"] == [plain["id"]]
    info = await broker.get_job(queue, at["id"])
    assert info.run_at == 4_000_000_000.5 and info.payload is None
    assert (info.max_attempts, info.timeout_ms, info.priority) == (5, 300_000, 5)


async def test_idempotent_repeat_is_200_duplicate_and_other_payload_409(
    client: Client, queue: str
) -> None:
    url = f"/api/queues/{queue}/jobs"
    job = {"type": "t", "payload": {"n": 1}, "idempotency_key": "order-1"}
    first = await _json(await client.post(url, json=job), 201)
    again = await _json(await client.post(url, json=job), 200)
    assert again == {"id": first["id"], "duplicate": True}
    other = await _json(await client.post(url, json={**job, "payload": {"n": 2}}), 409)
    assert first["id"] in _error(other, "idempotency_conflict")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payload": 1}, "type"),
        ({"type": ""}, "$.type"),
        ({"type": "t", "priority": 10}, "$.priority"),
        ({"type": "t", "priority": "5"}, "$.priority"),
        ({"type": "t", "priorty": 1}, "priorty"),
        ({"type": "t", "max_attempts": 0}, "$.max_attempts"),
        ({"type": "t", "delay_ms": -1}, "$.delay_ms"),
        ({"type": "t", "idempotency_key": ""}, "$.idempotency_key"),
        ({"type": "t\n"}, "type"),
        ({"type": "caf\u00e9"}, "$.type"),
    ],
)
async def test_bad_enqueue_body_is_400_naming_the_field(
    client: Client, broker: Broker, queue: str, body: dict[str, Any], field: str
) -> None:
    resp = await client.post(f"/api/queues/{queue}/jobs", json=body)
    assert field in _error(await _json(resp, 400), "invalid_request")
    assert queue not in await broker.queues()  # nothing was written


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'{"type": "t"} x', b"\xff"])
async def test_malformed_json_is_400(client: Client, queue: str, raw: bytes) -> None:
    resp = await client.post(f"/api/queues/{queue}/jobs", data=raw)
    _error(await _json(resp, 400), "invalid_request")


async def test_invalid_queue_name_is_400(client: Client) -> None:
    resp = await client.post("/api/queues/a%20b/jobs", json={"type": "t"})
    assert "invalid queue name" in _error(await _json(resp, 400), "invalid_request")
    resp = await client.get("/api/queues/a:b")
    _error(await _json(resp, 400), "invalid_request")


QUEUE_ROUTES = [r for r in ROUTES if "{queue}" in r.path]


@pytest.mark.parametrize("name", ["%7Bx%7D", "a%7Bb", "c%7D", "a:b"])
@pytest.mark.parametrize("route", QUEUE_ROUTES, ids=[r.name for r in QUEUE_ROUTES])
async def test_every_queue_route_answers_400_naming_the_rule_for_a_bad_name(
    client: Client, route: Any, name: str
) -> None:
    # `{` and `}` must reach the handler: aiohttp's default pattern would answer 404 no route.
    path = route.path.replace("{queue}", name).replace("{id}", "j1").replace("{name}", "s1")
    body = {"jobs": [{"type": "t"}]} if path.endswith("/batch") else {"type": "t"}
    kw: dict[str, Any] = {"json": {"rate": 1, "burst": 1} if "rate-limit" in path else body}
    resp = await client.request(
        route.method, path, **(kw if route.method in ("POST", "PUT") else {})
    )
    msg = _error(await _json(resp, 400), "invalid_request")
    assert "invalid queue name" in msg and "'{' '}' ':'" in msg, msg


async def test_queue_names_with_url_characters_round_trip(client: Client, broker: Broker) -> None:
    name = "a/b?c#d%e"
    url = "/api/queues/a%2Fb%3Fc%23d%25e"
    got = await _json(await client.post(f"{url}/jobs", json={"type": "t"}), 201)
    info = await _json(await client.get(f"{url}/jobs/{got['id']}"), 200)
    assert info["queue"] == name
    stats = await _json(await client.get(url), 200)
    assert stats["name"] == name and stats["counts"]["ready"] == 1
    await broker.redis.delete(*[k.encode() for k in _queue_keys(name)])
    await broker.redis.srem("relay:queues", name)


def _queue_keys(name: str) -> list[str]:
    return QueueKeys.for_queue(name).all_fixed()


async def test_batch_enqueue_is_atomic_and_ordered(
    client: Client, broker: Broker, queue: str
) -> None:
    jobs = [{"type": "t", "payload": i} for i in range(300)]
    got = await _json(
        await client.post(f"/api/queues/{queue}/jobs/batch", json={"jobs": jobs}), 201
    )
    assert len(got["ids"]) == 300 and len(set(got["ids"])) == 300
    claimed = (await broker.claim(queue, 1000, 5000)).jobs
    assert [j.id for j in claimed] == got["ids"]
    assert [j.payload for j in claimed] == list(range(300))
    await broker.ack(queue, [(j.id, j.token) for j in claimed])


async def test_batch_errors_name_the_job_and_write_nothing(
    client: Client, broker: Broker, queue: str
) -> None:
    url = f"/api/queues/{queue}/jobs/batch"
    bad = [{"type": "t"}, {"type": "t", "priority": 99}]
    msg = _error(await _json(await client.post(url, json={"jobs": bad}), 400), "invalid_request")
    assert "$.jobs[1].priority" in msg
    too_many = [{"type": "t"}] * 1001
    msg = _error(
        await _json(await client.post(url, json={"jobs": too_many}), 400), "invalid_request"
    )
    assert "$.jobs" in msg
    assert await _json(await client.post(url, json={"jobs": []}), 201) == {"ids": []}
    assert queue not in await broker.queues()


async def test_full_queue_is_429_with_retry_after(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue(queue, "t")
    await broker.set_max_depth(queue, 2)
    url = f"/api/queues/{queue}/jobs"
    await _json(await client.post(url, json={"type": "t"}), 201)
    resp = await client.post(url, json={"type": "t"})
    assert "full" in _error(await _json(resp, 429), "queue_full")
    assert int(resp.headers["Retry-After"]) >= 1
    batch = await client.post(f"{url}/batch", json={"jobs": [{"type": "t"}]})
    _error(await _json(batch, 429), "queue_full")
    assert (await broker.stats(queue)).counts.ready == 2


async def test_oversize_body_is_413_and_oversize_payload_too(
    make_client: MakeClient, broker: Broker, queue: str
) -> None:
    client = await make_client(max_body=4096, producer_rate=0)
    big = {"type": "t", "payload": "x" * 5000}
    resp = await client.post(f"/api/queues/{queue}/jobs", json=big)
    _error(await _json(resp, 413), "payload_too_large")
    assert queue not in await broker.queues()


async def test_list_and_get_queue(client: Client, broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    await broker.enqueue(queue, "t", delay_ms=60_000)
    listed = await _json(await client.get("/api/queues"), 200)
    [mine] = [q for q in listed["queues"] if q["name"] == queue]
    assert mine == {
        "name": queue,
        "counts": {
            "ready": 1,
            "delayed": 1,
            "inflight": 0,
            "dead": 0,
            "completed": 0,
            "cancelled": 0,
            "waiting": 0,
        },
        "totals": {
            "enqueued": 2,
            "completed": 0,
            "failed": 0,
            "retried": 0,
            "dead": 0,
            "reaped": 0,
            "requeued": 0,
            "cancelled": 0,
        },
        "paused": False,
        "rate_limit": None,
        "max_depth": None,
    }
    assert await _json(await client.get(f"/api/queues/{queue}"), 200) == mine


async def test_unknown_queue_job_and_route_are_404_json(client: Client, queue: str) -> None:
    _error(await _json(await client.get(f"/api/queues/{queue}"), 404), "not_found")
    _error(await _json(await client.get(f"/api/queues/{queue}/jobs/nope"), 404), "not_found")
    _error(await _json(await client.get(f"/api/queues/{queue}/dead"), 404), "not_found")
    _error(await _json(await client.post(f"/api/queues/{queue}/pause"), 404), "not_found")
    _error(await _json(await client.get("/api/nothing/here"), 404), "not_found")
    resp = await client.patch(f"/api/queues/{queue}")
    _error(await _json(resp, 405), "method_not_allowed")
    assert "GET" in resp.headers["Allow"]


async def test_get_job_shows_state(client: Client, broker: Broker, queue: str) -> None:
    r = await broker.enqueue(queue, "t", {"x": 1})
    info = await _json(await client.get(f"/api/queues/{queue}/jobs/{r.id}"), 200)
    assert info["id"] == r.id and info["state"] == "ready" and info["payload"] == {"x": 1}
    assert info["queue"] == queue and info["attempts"] == 0 and info["last_error"] is None


async def test_dead_listing_pages_newest_first(client: Client, broker: Broker, queue: str) -> None:
    ids = await _dead(broker, queue, 3)
    page = await _json(await client.get(f"/api/queues/{queue}/dead?limit=2"), 200)
    assert page["total"] == 3 and len(page["jobs"]) == 2 and page["next_cursor"] == "2"
    assert all(j["state"] == "dead" and j["last_error"] == "boom" for j in page["jobs"])
    rest = await client.get(f"/api/queues/{queue}/dead?limit=2&cursor={page['next_cursor']}")
    rest_body = await _json(rest, 200)
    assert rest_body["next_cursor"] is None
    assert sorted(j["id"] for j in page["jobs"] + rest_body["jobs"]) == sorted(ids)
    for bad in ("limit=0", "limit=1001", "limit=x", "cursor=abc", "cursor=1234567890123456"):
        resp = await client.get(f"/api/queues/{queue}/dead?{bad}")
        _error(await _json(resp, 400), "invalid_request")


async def test_requeue_one_all_and_delete_dead(client: Client, broker: Broker, queue: str) -> None:
    a, b, c = await _dead(broker, queue, 3)
    base = f"/api/queues/{queue}/dead"
    assert await _json(await client.post(f"{base}/{a}/requeue"), 200) == {"requeued": 1}
    _error(await _json(await client.post(f"{base}/{a}/requeue"), 404), "not_found")
    assert await _json(await client.delete(f"{base}/{b}"), 200) == {"deleted": 1}
    _error(await _json(await client.delete(f"{base}/{b}"), 404), "not_found")
    assert await _json(await client.post(f"{base}/requeue"), 200) == {"requeued": 1}
    s = await states_of(broker.redis, queue)
    assert sorted(s["ready"]) == sorted([a, c]) and s["dead"] == []


async def test_rate_limit_and_pause(client: Client, broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t")
    base = f"/api/queues/{queue}"
    got = await _json(await client.put(f"{base}/rate-limit", json={"rate": 2.5, "burst": 3}), 200)
    assert got["rate_limit"] == {"rate": 2.5, "burst": 3}
    for bad in ({"rate": 0, "burst": 1}, {"rate": 1}, {"rate": 1, "burst": 0, "x": 1}):
        resp = await client.put(f"{base}/rate-limit", json=bad)
        _error(await _json(resp, 400), "invalid_request")
    got = await _json(await client.delete(f"{base}/rate-limit"), 200)
    assert got["rate_limit"] is None
    assert (await _json(await client.post(f"{base}/pause"), 200))["paused"] is True
    assert (await broker.claim(queue, 1, 5000)).paused
    assert (await _json(await client.post(f"{base}/resume"), 200))["paused"] is False


async def test_healthz_is_200_when_redis_answers(client: Client) -> None:
    got = await _json(await client.get("/healthz"), 200)
    assert got == {"status": "ok", "redis": True, "scripts": True}


async def test_healthz_is_503_and_api_503_when_redis_is_down(redis_url: str) -> None:
    dead_url = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(redis_url=dead_url, settings=ServerSettings(producer_rate=0))
    async with TestClient(TestServer(app)) as c:
        resp = await c.get("/healthz")
        _error(await _json(resp, 503), "unhealthy")
        resp = await c.post("/api/queues/q/jobs", json={"type": "t"})
        msg = _error(await _json(resp, 503), "redis_unavailable")
        assert "Retry-After" in resp.headers and "unreachable" in msg


async def test_openapi_document_is_generated_from_the_structs(client: Client) -> None:
    doc = await _json(await client.get("/api/openapi.json"), 200)
    assert doc["openapi"].startswith("3.1")
    op = doc["paths"]["/api/queues/{queue}/jobs"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EnqueueRequest"
    }
    assert set(op["responses"]) >= {"200", "201", "400", "404", "409", "413", "429", "503"}
    req = doc["components"]["schemas"]["EnqueueRequest"]
    assert req["properties"]["priority"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 9,
        "description": "9 runs first",
        "default": 5,
    }
    assert req["additionalProperties"] is False and req["required"] == ["type"]
    assert "QueueStats" in doc["components"]["schemas"]
    assert "securitySchemes" not in doc["components"]  # no token configured


async def test_sub_resources_are_not_job_ids(client: Client, queue: str) -> None:
    """`batch` and `requeue` name sub-resources, so 405 lists exactly their methods."""
    resp = await client.options(f"/api/queues/{queue}/dead/requeue")
    assert resp.status == 405 and resp.headers["Allow"] == "POST"
    resp = await client.delete(f"/api/queues/{queue}/jobs/batch")
    assert resp.status == 405 and resp.headers["Allow"] == "POST"
    resp = await client.options(f"/api/queues/{queue}/dead/some-id")
    assert resp.status == 405 and resp.headers["Allow"] == "DELETE"


async def test_wait_replicas_per_request(client: Client, broker: Broker, queue: str) -> None:
    """`?wait_replicas=N` waits for N replicas; this Redis has none, so 1 is a clean 503."""
    url = f"/api/queues/{queue}/jobs"
    ok = await _json(await client.post(f"{url}?wait_replicas=0", json={"type": "t"}), 201)
    short = await client.post(f"{url}?wait_replicas=1", json={"type": "t", "payload": 1})
    message = _error(await _json(short, 503), "redis_unavailable")
    assert "replica" in message
    batch = await client.post(f"{url}/batch?wait_replicas=1", json={"jobs": [{"type": "t"}]})
    _error(await _json(batch, 503), "redis_unavailable")
    bad = await client.post(f"{url}?wait_replicas=lots", json={"type": "t"})
    assert "wait_replicas" in _error(await _json(bad, 400), "invalid_request")
    # The jobs were written (only the replica count fell short): enqueueing again is safe.
    assert (await broker.get_job(queue, ok["id"])).state == "ready"
