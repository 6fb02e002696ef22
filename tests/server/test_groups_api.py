"""The group routes and the `group` job option over HTTP (decision 0053): answers and 400s."""

from __future__ import annotations

from typing import Any

import pytest

from relay import Broker
from relay.keys import QueueKeys
from tests.server.conftest import Client


async def _json(resp: Any, status: int) -> Any:
    body = await resp.json()
    assert resp.status == status, body
    return body


def _message(body: Any) -> str:
    assert body["error"]["code"] == "invalid_request", body
    message: str = body["error"]["message"]
    return message


async def test_grouped_jobs_over_http_take_turns(
    client: Client, broker: Broker, queue: str
) -> None:
    url = f"/api/queues/{queue}/jobs"
    batch = [{"type": "t", "group": "big"} for _ in range(4)]
    await _json(await client.post(f"{url}/batch", json={"jobs": batch}), 201)
    await _json(await client.post(url, json={"type": "t", "group": "small"}), 201)
    got = await broker.claim(queue, 2, 30_000)
    k = QueueKeys.for_queue(queue)
    groups = await broker.redis.hmget(k.group_of, [j.id for j in got.jobs])
    assert sorted(groups) == [b"big", b"small"]
    page = await _json(await client.get(f"/api/queues/{queue}/groups"), 200)
    assert [(g["name"], g["backlog"], g["in_flight"]) for g in page["groups"]] == [
        ("big", 3, 1),
        ("small", 0, 1),
    ]
    assert page["total"] == 2


async def test_put_and_get_a_group(client: Client, broker: Broker, queue: str) -> None:
    await broker.enqueue(queue, "t", group="acme corp/eu")
    url = f"/api/queues/{queue}/groups/acme%20corp%2Feu"
    body = {"weight": 3, "max_inflight": 2, "rate": 10.5, "burst": 5}
    got = await _json(await client.put(url, json=body), 200)
    assert got["name"] == "acme corp/eu" and got["backlog"] == 1
    assert got["limits"] == {"weight": 3, "max_inflight": 2, "rate": 10.5, "burst": 5}
    again = await _json(await client.get(url), 200)
    assert again == got
    cleared = await _json(await client.put(url, json={}), 200)
    assert cleared["limits"] == {"weight": 1, "max_inflight": None, "rate": None, "burst": None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weight": 0}, "$.weight"),
        ({"weight": 1.5}, "$.weight"),
        ({"max_inflight": 0}, "$.max_inflight"),
        ({"rate": 0, "burst": 1}, "$.rate"),
        ({"rate": 1, "burst": 0}, "$.burst"),
        ({"rate": 1}, "burst"),
        ({"burst": 1}, "rate"),
        ({"wieght": 1}, "wieght"),
    ],
)
async def test_bad_limits_are_400_naming_the_field(
    client: Client, broker: Broker, queue: str, body: dict[str, Any], field: str
) -> None:
    await broker.enqueue(queue, "t", group="g")
    resp = await client.put(f"/api/queues/{queue}/groups/g", json=body)
    assert field in _message(await _json(resp, 400))
    assert (await broker.group(queue, "g")).limits.max_inflight is None  # nothing written
    assert not await broker.redis.exists(QueueKeys.for_queue(queue).group("g"))


@pytest.mark.parametrize("group", ["", "x" * 129, "tab\there", "caf\u00e9", 5])
async def test_a_bad_group_on_enqueue_is_400_and_writes_nothing(
    client: Client, broker: Broker, queue: str, group: Any
) -> None:
    url = f"/api/queues/{queue}/jobs"
    resp = await client.post(url, json={"type": "t", "group": group})
    assert "group" in _message(await _json(resp, 400))
    jobs = [{"type": "t", "group": "ok"}, {"type": "t", "group": group}]
    resp = await client.post(f"{url}/batch", json={"jobs": jobs})
    assert "group" in _message(await _json(resp, 400))
    assert queue not in await broker.queues()


async def test_a_bad_group_name_in_the_path_is_400(
    client: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue(queue, "t")
    resp = await client.get(f"/api/queues/{queue}/groups/" + "x" * 129)
    assert "group" in _message(await _json(resp, 400))
    resp = await client.get(f"/api/queues/{queue}/groups?limit=0")
    assert "limit" in _message(await _json(resp, 400))


async def test_limits_may_be_set_before_the_queue_exists(
    client: Client, broker: Broker, queue: str
) -> None:
    resp = await client.get(f"/api/queues/{queue}/groups")
    assert (await _json(resp, 404))["error"]["code"] == "not_found"
    got = await _json(await client.put(f"/api/queues/{queue}/groups/g", json={"weight": 2}), 200)
    assert got["limits"]["weight"] == 2 and queue in await broker.queues()
    page = await _json(await client.get(f"/api/queues/{queue}/groups"), 200)
    assert [g["name"] for g in page["groups"]] == ["g"] and page["limited"] == 1
