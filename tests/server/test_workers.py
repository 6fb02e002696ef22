"""`relay server --workers N`: N processes on one port; /metrics sums them; none outlives the
server, however it stops."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

from tests.integration.worker_apps.harness import eventually
from tests.server.conftest import ServerProcess, start_server
from tests.support.redis_server import RedisServer


def _children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return {int(p) for p in out.stdout.split()}


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            os.kill(p, 0)
        except ProcessLookupError:
            continue
        stat = Path(f"/proc/{p}/stat")
        if stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            alive.add(p)
    return alive


def _post(srv: ServerProcess, path: str, body: bytes) -> int:
    req = urllib.request.Request(  # noqa: S310 - our own server, http://
        srv.url + path,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {srv.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
        return int(r.status)


def _metric(srv: ServerProcess, prefix: str) -> float:
    req = urllib.request.Request(  # noqa: S310 - our own server, http://
        srv.url + "/metrics", headers={"Authorization": f"Bearer {srv.token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
        text = r.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def _wait_gone(pids: set[int], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while _alive(pids):
        assert time.monotonic() < deadline, f"still running: {_alive(pids)}"
        time.sleep(0.05)


def test_processes_share_the_port_and_metrics_count_every_request(
    redis_url: str, tmp_path: Path, queue: str
) -> None:
    srv = start_server(redis_url, tmp_path, "--workers", "3", "--producer-rate", "0")
    try:
        kids = _children(srv.proc.pid)
        assert len(kids) >= 3  # three servers (and multiprocessing's resource tracker)
        for i in range(60):  # a new connection each: the kernel spreads them over the three
            assert (
                _post(srv, f"/api/queues/{queue}/jobs", b'{"type": "t", "payload": %d}' % i) == 201
            )
        route = 'relay_http_requests_total{method="POST",route="/api/queues/{queue}/jobs"'
        for _ in range(6):  # whichever process answers the scrape, it counts all of them
            assert _metric(srv, route) == 60
            assert _metric(srv, f'relay_queue_depth{{queue="{queue}",state="ready"}}') == 60
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(30) == 0
        _wait_gone(kids)
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()


def test_a_killed_server_leaves_no_process_behind(redis_url: str, tmp_path: Path) -> None:
    srv = start_server(redis_url, tmp_path, "--workers", "2")
    kids = _children(srv.proc.pid)
    assert kids
    srv.proc.kill()
    srv.proc.wait(10)
    _wait_gone(kids)


async def test_a_stopping_server_ends_its_long_polls_promptly(tmp_path: Path) -> None:
    """A claim waiting 30 s does not hold a SIGTERM'd server: waits are BLPOPs of ≤ 4 s."""
    redis = RedisServer().start()
    srv = start_server(redis.url, tmp_path, "--workers", "1")
    r = aioredis.Redis.from_url(redis.url)
    try:
        headers = {"Authorization": f"Bearer {srv.token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            claim = asyncio.ensure_future(
                http.post(f"{srv.url}/api/queues/q/claim", json={"wait_ms": 30_000})
            )

            async def blocked() -> bool:
                clients = await r.client_list()
                return any(c.get("cmd") == "blpop" for c in clients)

            await eventually(blocked)
            srv.proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(srv.proc.wait, 15) == 0
            with contextlib.suppress(aiohttp.ClientError):
                resp = await claim
                assert resp.status == 200 and (await resp.json())["jobs"] == []
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
        await r.aclose()
        redis.stop()
