"""The job browser over HTTP for grouped ready jobs (decision 0053): `group=` on the listing,
its 400s, and deleting a grouped ready job."""

from __future__ import annotations

from typing import Any

import pytest

from relay import Broker, JobSpec
from tests.server.conftest import Client
from tests.support.invariant import check_invariant


async def _json(resp: Any, status: int) -> Any:
    body = await resp.json()
    assert resp.status == status, body
    return body


async def test_a_groups_ready_jobs_page_by_page(client: Client, broker: Broker, queue: str) -> None:
    specs = [JobSpec.of("t", {"i": i}, priority=i % 2, group="acme co") for i in range(5)]
    ids = [r.id for r in await broker.enqueue_many(queue, [*specs, JobSpec.of("t", "plain")])]
    url = f"/api/queues/{queue}/jobs"
    got: list[str] = []
    params = {"state": "ready", "limit": "2", "group": "acme co"}
    while True:
        page = await _json(await client.get(url, params=params), 200)
        got += [j["id"] for j in page["jobs"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert got == [ids[i] for i in (1, 3, 0, 2, 4)]
    plain = await _json(await client.get(url, params={"state": "ready"}), 200)
    assert [j["id"] for j in plain["jobs"]] == [ids[5]]  # without group=: ungrouped only
    other = await _json(await client.get(url, params={"state": "ready", "group": "b"}), 200)
    assert other == {"jobs": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"state": "ready", "group": ""}, "group"),
        ({"state": "ready", "group": "x" * 129}, "group"),
        ({"state": "ready", "group": "caf\u00e9"}, "group"),
        ({"state": "dead", "group": "a"}, "group"),
        ({"state": "delayed", "group": "a"}, "only state=ready"),
    ],
)
async def test_a_bad_group_filter_is_400_naming_group(
    client: Client, broker: Broker, queue: str, params: dict[str, str], word: str
) -> None:
    await broker.enqueue(queue, "t", group="a")
    body = await _json(await client.get(f"/api/queues/{queue}/jobs", params=params), 400)
    assert body["error"]["code"] == "invalid_request"
    assert word in body["error"]["message"]


async def test_a_cursor_of_another_group_is_400(client: Client, broker: Broker, queue: str) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i, group="a") for i in range(3)])
    url = f"/api/queues/{queue}/jobs"
    page = await _json(
        await client.get(url, params={"state": "ready", "limit": "1", "group": "a"}), 200
    )
    params = {"state": "ready", "cursor": page["next_cursor"], "group": "b"}
    body = await _json(await client.get(url, params=params), 400)
    assert "cursor" in body["error"]["message"]


async def test_deleting_a_grouped_ready_job(client: Client, broker: Broker, queue: str) -> None:
    r = await broker.enqueue(queue, "t", group="a")
    url = f"/api/queues/{queue}/jobs/{r.id}"
    assert (await _json(await client.delete(url, params={"state": "ready"}), 200)) == {"changed": 1}
    assert (await check_invariant(broker.redis, queue))["ready"] == []
    assert (await client.delete(url)).status == 404
