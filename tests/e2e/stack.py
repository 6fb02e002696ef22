"""Real processes for browser tests: `relay server` and `relay worker`, and a tiny API client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
E2E_QUEUES = (
    "e2e-flow-kids",  # a flow's children (the parent's queue, e2e-flow, has no worker)
    "e2e-load",
    "e2e-counts",
    "e2e-pause",
    "e2e-requeue",
    "e2e-xss",
    "e2e-browse-run",
    "e2e-sched",
    "e2e-lifecycle",
)


@dataclass
class Proc:
    """A process we started and the file its output goes to."""

    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass
class Server(Proc):
    """A `relay server`; `url` is its base URL (no trailing slash)."""

    url: str = ""
    token: str | None = None

    def api(self, method: str, path: str, body: object = None) -> Any:
        """Call the API as a program would (token in the header); the decoded JSON reply."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)  # noqa: S310
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - our loopback URL
            return json.loads(r.read() or b"null")

    def enqueue(self, queue: str, job_type: str, payload: object = None, **opts: object) -> str:
        reply = self.api(
            "POST", f"/api/queues/{queue}/jobs", {"type": job_type, "payload": payload, **opts}
        )
        return str(reply["id"])

    def job_state(self, queue: str, job_id: str) -> str:
        return str(self.api("GET", f"/api/queues/{queue}/jobs/{job_id}")["state"])


def _env(redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RELAY_TOKEN"}
    return {**env, "RELAY_REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}


def start_server(redis_url: str, logs: Path, token: str | None = None) -> Server:
    """`relay server` on a free port (with `--token` if given), once /healthz answers 200."""
    port = free_port()
    log = logs / f"server-{port}.log"
    argv = [sys.executable, "-m", "relay", "server", "--port", str(port), "--producer-rate", "0"]
    if token:
        argv += ["--token", token]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=_env(redis_url))
    server = Server(proc, log, url=f"http://127.0.0.1:{port}", token=token)
    try:
        wait_for(lambda: _healthy(server), 20, "relay server to answer /healthz")
    except BaseException:
        server.stop()
        raise
    return server


def _healthy(server: Server) -> bool:
    if server.proc.poll() is not None:
        raise RuntimeError(f"relay server exited: {server.log.read_text()}")
    try:
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=1) as r:  # noqa: S310
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_worker(redis_url: str, logs: Path) -> Proc:
    """`relay worker` running tests/e2e/app.py's handlers on the e2e queues."""
    log = logs / "worker.log"
    argv = [
        *(sys.executable, "-m", "relay", "worker", "--app", "tests.e2e.app:registry"),
        *("--queue", ",".join(E2E_QUEUES), "--concurrency", "4", "--shutdown-grace", "1s"),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=_env(redis_url), cwd=ROOT
        )
    return Proc(proc, log)


def wait_for(check: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `check` until it returns something true; AssertionError naming `what` after."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
