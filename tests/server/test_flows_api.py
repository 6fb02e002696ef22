"""`POST /api/flows` (decision 0050): 201 with every job, 400 naming the bad node's JSON path
with nothing written, and `GET …/jobs/{id}` listing a parent's children with their states."""

from __future__ import annotations

from typing import Any

import pytest

from relay import Broker, Flow, Producer
from relay.broker.ops import Eval, keysets
from relay.http import upkeep
from relay.keys import QUEUES_KEY
from tests.server.conftest import Client
from tests.server.test_api import _error, _json


def _tree(queue: str, kids: list[dict[str, Any]]) -> dict[str, Any]:
    return {"queue": queue, "type": "album", "payload": {"n": 1}, "children": kids}


async def test_a_flow_is_written_and_its_parent_lists_its_children(
    client: Client, broker: Broker, queue: str
) -> None:
    other = f"{queue}-img"
    kids = [{"queue": other, "type": "resize", "payload": i} for i in range(3)]
    body = await _json(await client.post("/api/flows", json=_tree(queue, kids)), 201)
    root, jobs = body["id"], body["jobs"]
    assert jobs[0] == {"id": root, "queue": queue, "parent": None}
    assert [(j["queue"], j["parent"]) for j in jobs[1:]] == [(other, root)] * 3
    got = await _json(await client.get(f"/api/queues/{queue}/jobs/{root}"), 200)
    assert got["state"] == "waiting"
    assert {c["id"]: c["state"] for c in got["children"]} == {j["id"]: "ready" for j in jobs[1:]}
    first = jobs[1]["id"]
    child = await _json(await client.get(f"/api/queues/{other}/jobs/{first}"), 200)
    assert child["children"] is None


@pytest.mark.parametrize(
    ("kids", "path"),
    [
        (
            [{"queue": "a", "type": "t"}, {"queue": "a", "type": "t"}, {"queue": "a", "type": 5}],
            "$.children[2].type",
        ),
        ([{"queue": "bad queue", "type": "t"}], "$.children[0].queue"),
        (
            [{"queue": "a", "type": "t", "children": [{"queue": "a{b}", "type": "t"}]}],
            "$.children[0].children[0].queue",
        ),
        (
            [{"queue": "a", "type": "t", "on_child_failure": "retry"}],
            "$.children[0].on_child_failure",
        ),
        ([{"queue": "a", "type": "t", "idempotency_key": "k"}], "$.children[0]"),
        ([{"queue": "a", "type": "t", "colour": "red"}], "$.children[0]"),
        ([{"queue": "a", "type": "t"}] * 10_000, "$.children["),
        (
            [{"queue": "a", "type": "t", "id": "x"}, {"queue": "b", "type": "t", "id": "x"}],
            "$.children[1].id",
        ),
        ([{"queue": "a", "type": "t", "id": "has space"}], "$.children[0].id"),
        ([{"queue": "a", "type": "t", "group": "tab\there"}], "$.children[0].group"),
        ([{"queue": "a", "type": "t", "group": "x" * 129}], "$.children[0].group"),
        ([{"queue": "a", "type": "t", "group": ""}], "$.children[0].group"),
    ],
)
async def test_a_bad_flow_is_a_400_naming_the_path_and_writes_nothing(
    client: Client, broker: Broker, queue: str, kids: list[dict[str, Any]], path: str
) -> None:
    body = await _json(await client.post("/api/flows", json=_tree(queue, kids)), 400)
    message = _error(body, "invalid_request")
    assert path in message, message
    assert not await broker.redis.sismember(QUEUES_KEY, queue)
    assert not await broker.redis.exists(f"relay:{{{queue}}}:jobs")


async def test_a_fixed_id_of_another_job_is_a_409_naming_the_node(
    client: Client, broker: Broker, queue: str
) -> None:
    other = f"{queue}-img"
    taken = (await broker.enqueue(other, "resize")).id
    kids = [{"queue": other, "type": "resize"}, {"queue": other, "type": "resize", "id": taken}]
    body = await _json(await client.post("/api/flows", json=_tree(queue, kids)), 409)
    message = _error(body, "id_conflict")
    assert message.startswith(f"$.children[1].id: job '{taken}' already exists"), message
    assert not await broker.redis.exists(f"relay:{{{queue}}}:jobs")
    assert await broker.redis.hlen(f"relay:{{{other}}}:jobs") == 1


async def test_a_flows_nodes_go_into_their_groups(
    client: Client, broker: Broker, queue: str
) -> None:
    kids = [{"queue": queue, "type": "c", "payload": i, "group": f"t{i % 2}"} for i in range(4)]
    tree = {**_tree(queue, kids), "group": "t1"}
    body = await _json(await client.post("/api/flows", json=tree), 201)
    k = keysets(queue).keys
    assert await broker.redis.hget(k.group_of, body["id"]) == b"t1"
    assert await broker.redis.llen(k.group_ready(5, "t0")) == 2
    assert await broker.redis.llen(k.group_ready(5, "t1")) == 2
    assert await broker.redis.llen(k.ready(5)) == 0
    got = await _json(await client.get(f"/api/queues/{queue}/jobs/{body['jobs'][1]['id']}"), 200)
    assert got["group"] == "t0"


async def test_the_servers_upkeep_replays_a_childs_outbox(broker: Broker, queue: str) -> None:
    """Queues served by HTTP workers only: the server's upkeep replays what a crash left."""
    kids = f"{queue}-kids"
    out = await Producer(broker).enqueue_flow(Flow(queue, "p", children=[Flow(kids, "c")]))
    [child] = (await broker.claim(kids, 1, 30_000)).jobs
    s, ks = broker.settings, keysets(kids)

    def ack_only() -> Any:  # the ack script alone: the server died before telling the parent
        args = [s.keep_completed, s.keep_completed_ms, s.events_cap, ks.keys.prefix]
        yield Eval("ack", ks.ack, [*args, b"", child.id, child.token, b""])

    await broker.perform(ack_only())
    assert (await broker.get_job(queue, out.id)).state == "waiting"
    await upkeep.tick(broker, [kids])
    assert (await broker.get_job(queue, out.id)).state == "ready"
