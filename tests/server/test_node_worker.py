"""The Node example worker (examples/node-worker, standard library only) drains a queue of a real
`relay server` over the HTTP claim protocol: results acked, a fatal failure dead-lettered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from relay import Client
from tests.server.conftest import ServerProcess

WORKER = Path(__file__).resolve().parents[2] / "examples" / "node-worker" / "worker.mjs"


def test_node_worker_drains_a_queue(server: ServerProcess, queue: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    with Client(server.url, token=server.token) as client:
        ids = client.enqueue_many(
            queue,
            [Client.job("add", {"a": i, "b": 1}) for i in range(250)]
            + [Client.job("upper", "hi"), Client.job("fail", "bad")],
        )
        env = {**os.environ, "RELAY_URL": server.url, "RELAY_TOKEN": server.token}
        env["RELAY_BATCH"] = "64"
        out = subprocess.run(
            [node, str(WORKER), queue, "--drain"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        assert summary == {"queue": queue, "done": 251, "failed": 1}, out.stderr
        stats = client.stats(queue)
        assert stats.counts.completed == 251 and stats.counts.dead == 1
        assert stats.counts.ready == stats.counts.inflight == 0
        dead = client.get_job(queue, ids[-1])
        assert dead.state == "dead" and dead.last_error == "bad"
