"""Server fixtures: the app on aiohttp's test server, and a real `relay server` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from relay import Broker
from relay.http import ServerSettings, create_app
from tests.support.redis_server import free_port

TOKEN = "test-token-0123456789"  # noqa: S105 (a test credential)
WRONG_TOKEN = "wrong-token-000"  # noqa: S105 (a test credential)
Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def make_client(broker: Broker) -> AsyncIterator[MakeClient]:
    """Builds a test client for an app on the test's broker, with settings given as keywords."""
    clients: list[Client] = []

    async def make(**settings: Any) -> Client:
        app = create_app(broker, settings=ServerSettings(**settings))
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    """An app without auth and without the producer limit."""
    return await make_client(producer_rate=0)


@dataclass
class ServerProcess:
    """A `relay server` we started; `url` is its base URL."""

    url: str
    token: str
    proc: subprocess.Popen[bytes]
    log: Path


def start_server(redis_url: str, tmp: Path, *extra: str, token: str = TOKEN) -> ServerProcess:
    """Start `relay server` on a free port and wait until /healthz answers 200."""
    port = free_port()
    log = tmp / f"server-{port}.log"
    env = {**os.environ, "RELAY_REDIS_URL": redis_url, "RELAY_TOKEN": token}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "relay", "server", "--port", str(port), *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"relay server exited: {log.read_text()}")
        try:
            # the URL is our own server's http:// address
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:  # noqa: S310
                if r.status == 200:
                    return ServerProcess(url, token, proc, log)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"relay server did not start: {log.read_text()}")


def stop_server(server: ServerProcess) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(10)


@pytest.fixture(scope="session")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server process for the session, with a token and no producer limit."""
    proc = start_server(redis_url, tmp_path_factory.mktemp("server"), "--producer-rate", "0")
    try:
        yield proc
    finally:
        stop_server(proc)
