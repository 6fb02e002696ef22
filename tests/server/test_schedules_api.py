"""The schedule routes through aiohttp's test client, against real Redis."""

from __future__ import annotations

from typing import Any

import pytest

from relay import AsyncClient, Broker, Schedule
from relay.http import calls
from relay.keys import QueueKeys
from tests.server.conftest import Client


async def _json(resp: Any, status: int) -> Any:
    body = await resp.json()
    assert resp.status == status, body
    return body


async def test_put_creates_then_replaces_and_get_list_delete(
    client: Client, broker: Broker, queue: str
) -> None:
    url = f"/api/queues/{queue}/schedules/nightly"
    body = {"cron": "30 2 * * *", "timezone": "Europe/Paris", "type": "report", "payload": [1]}
    got = await _json(await client.put(url, json=body), 201)
    assert got["cron"] == "30 2 * * *" and got["timezone"] == "Europe/Paris"
    assert got["type"] == "report" and got["payload"] == [1] and got["misfire"] == "once"
    assert got["next_run_at"] > 0 and got["last_run_at"] is None and got["last_job_id"] is None
    again = await _json(await client.put(url, json={**body, "priority": 7}), 200)
    assert again["priority"] == 7 and again["next_run_at"] == got["next_run_at"]
    listed = await _json(await client.get(f"/api/queues/{queue}/schedules"), 200)
    assert [s["name"] for s in listed["schedules"]] == ["nightly"]
    assert (await _json(await client.get(url), 200))["priority"] == 7
    assert (await _json(await client.delete(url), 200)) == {"deleted": 1}
    await _json(await client.get(url), 404)
    await _json(await client.delete(url), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cron": "61 * * * *"}, "minute"),
        ({"cron": "0 6 * * *", "timezone": "Europe/Atlantis"}, "timezone"),
        ({"every_ms": 50}, "every_ms"),
        ({"every_ms": 1000, "cron": "@daily"}, "cron/every_ms"),
        ({}, "cron/every_ms"),
        ({"every_ms": 1000, "misfire": "burst"}, "misfire"),
        ({"every_ms": 1000, "priority": 10}, "priority"),
        ({"every_ms": 1000, "colour": "red"}, "colour"),
        ({"every_ms": 1000, "group": "tab\there"}, "group"),
        ({"every_ms": 1000, "group": "x" * 129}, "group"),
    ],
)
async def test_bad_input_is_400_naming_the_field_and_stores_nothing(
    client: Client, broker: Broker, queue: str, body: dict[str, Any], field: str
) -> None:
    resp = await client.put(f"/api/queues/{queue}/schedules/s", json=body)
    got = await _json(resp, 400)
    assert got["error"]["code"] == "invalid_request" and field in got["error"]["message"], got
    assert await broker.redis.hgetall(QueueKeys.for_queue(queue).schedules) == {}


async def test_a_schedule_with_a_group(client: Client, broker: Broker, queue: str) -> None:
    url = f"/api/queues/{queue}/schedules/g"
    got = await _json(await client.put(url, json={"cron": "@hourly", "group": "acme"}), 201)
    assert got["group"] == "acme"
    assert (await _json(await client.get(url), 200))["group"] == "acme"
    job = await _json(await client.post(f"{url}/trigger"), 201)
    assert (await broker.get_job(queue, job["id"])).group == "acme"
    k = QueueKeys.for_queue(queue)
    assert await broker.redis.lrange(k.group_ready(5, "acme"), 0, -1) == [job["id"].encode()]
    plain = await _json(await client.put(f"{url}x", json={"cron": "@hourly"}), 201)
    assert plain["group"] is None


async def test_trigger_pause_resume(client: Client, broker: Broker, queue: str) -> None:
    base = f"/api/queues/{queue}/schedules/hourly"
    await _json(await client.put(base, json={"cron": "@hourly"}), 201)
    job = await _json(await client.post(f"{base}/trigger"), 201)
    assert (await broker.get_job(queue, job["id"])).type == "hourly"
    paused = await _json(await client.post(f"{base}/pause"), 200)
    assert paused["paused"] is True and paused["next_run_at"] is None
    resumed = await _json(await client.post(f"{base}/resume"), 200)
    assert resumed["paused"] is False and resumed["next_run_at"] > 0
    await _json(await client.post(f"/api/queues/{queue}/schedules/nope/trigger"), 404)
    bad = await _json(await client.get(f"/api/queues/{queue}/schedules/a%20b"), 400)
    assert "name" in bad["error"]["message"]


async def test_openapi_documents_the_schedule_routes(client: Client) -> None:
    doc = await _json(await client.get("/api/openapi.json"), 200)
    paths = doc["paths"]
    assert set(paths["/api/queues/{queue}/schedules/{name}"]) == {"put", "get", "delete"}
    assert "post" in paths["/api/queues/{queue}/schedules/{name}/trigger"]
    assert "ScheduleRequest" in doc["components"]["schemas"]


async def test_the_sdk_calls_round_trip(client: Client, queue: str) -> None:
    """The Calls the four producer faces will send (wired by relay.client later)."""
    async with AsyncClient(str(client.make_url("")).rstrip("/")) as sdk:
        s = Schedule(name="sdk", every_ms=60_000, payload={"x": 1}, group="acme")
        got = await sdk._send(calls.put_schedule_call(queue, s))
        assert got.every_ms == 60_000 and got.payload == {"x": 1} and got.group == "acme"
        listed = await sdk._send(calls.list_schedules_call(queue))
        assert [x.name for x in listed.schedules] == ["sdk"]
        assert (await sdk._send(calls.get_schedule_call(queue, "sdk"))) == got
        job = await sdk._send(calls.trigger_schedule_call(queue, "sdk"))
        assert job.id
        paused = await sdk._send(calls.pause_schedule_call(queue, "sdk", True))
        assert paused.paused
        assert (await sdk._send(calls.delete_schedule_call(queue, "sdk"))).deleted == 1
