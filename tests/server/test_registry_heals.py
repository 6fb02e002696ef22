"""A lost queue registry (`relay:queues`) heals: on the next lookup, and on later enqueues."""

from __future__ import annotations

from typing import Any

import aiohttp

from relay import Broker
from relay.keys import QUEUES_KEY
from tests.server.conftest import ServerProcess


async def _call(s: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with s.request(method, url, **kw) as resp:
        body = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, body


async def test_a_running_server_heals_a_lost_registry(
    server: ServerProcess, broker: Broker, queue: str
) -> None:
    base = f"{server.url}/api/queues"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {server.token}"}) as s:
        assert (await _call(s, "POST", f"{base}/{queue}/jobs", json={"type": "t"}))[0] == 201
        await broker.redis.delete(QUEUES_KEY)  # the registry only: as after a lossy failover
        # The server registered the queue a moment ago; its enqueue does not register it again.
        assert (await _call(s, "POST", f"{base}/{queue}/jobs", json={"type": "t"}))[0] == 201
        status, body = await _call(s, "GET", f"{base}/{queue}")
        assert status == 200 and body["counts"]["ready"] == 2, body
        assert await broker.redis.sismember(QUEUES_KEY, queue)
        status, body = await _call(s, "GET", base)
        assert queue in [q["name"] for q in body["queues"]], body
        for method, path, kw in (
            ("POST", "pause", {}),
            ("POST", "resume", {}),
            ("PUT", "rate-limit", {"json": {"rate": 5, "burst": 5}}),
            ("DELETE", "rate-limit", {}),
        ):
            await broker.redis.delete(QUEUES_KEY)
            status, body = await _call(s, method, f"{base}/{queue}/{path}", **kw)
            assert status < 300, (path, status, body)
        assert (await _call(s, "GET", f"{base}/never-{queue}"))[0] == 404  # no keys: unknown
