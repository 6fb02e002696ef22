"""Security defaults: bearer auth, same-origin writes, strict headers, limits, redaction."""

from __future__ import annotations

import argparse
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from relay import Broker, ConfigError
from relay.http.app import AccessLogger
from relay.http.command import add_arguments, settings_from_args
from tests.server.conftest import AUTH, TOKEN, Client, MakeClient


async def _code(resp: Any) -> tuple[int, str]:
    body = await resp.json()
    return resp.status, body["error"]["code"]


@pytest.fixture
async def secured(make_client: MakeClient) -> Client:
    return await make_client(tokens=(TOKEN, "second-token-xyz"), producer_rate=0)


async def test_api_needs_the_bearer_token(secured: Client, queue: str) -> None:
    assert await _code(await secured.get("/api/queues")) == (401, "unauthorized")
    resp = await secured.get("/api/queues", headers={"Authorization": "Bearer wrong-token"})
    assert await _code(resp) == (401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = await secured.get("/api/queues", headers={"Authorization": f"Basic {TOKEN}"})
    assert resp.status == 401
    assert (await secured.get("/api/queues", headers=AUTH)).status == 200
    other = {"Authorization": "Bearer second-token-xyz"}
    assert (await secured.get("/api/queues", headers=other)).status == 200
    post = await secured.post(f"/api/queues/{queue}/jobs", json={"type": "t"})
    assert post.status == 401
    assert (await secured.get("/metrics")).status == 401
    assert (await secured.get("/api/openapi.json")).status == 401
    assert (await secured.get("/healthz")).status == 200  # load balancers probe without a token


async def test_token_in_query_is_accepted_only_on_the_event_stream(secured: Client) -> None:
    assert (await secured.get(f"/api/queues?token={TOKEN}")).status == 401
    resp = await secured.get(f"/api/events?token={TOKEN}")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    resp.close()
    assert (await secured.get("/api/events?token=nope")).status == 401


async def test_openapi_declares_bearer_auth_when_a_token_is_set(secured: Client) -> None:
    doc = await (await secured.get("/api/openapi.json", headers=AUTH)).json()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/healthz"]["get"]["security"] == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},
    ],
)
async def test_cross_site_state_change_is_403(
    secured: Client, broker: Broker, queue: str, headers: dict[str, str]
) -> None:
    await broker.enqueue(queue, "t")
    resp = await secured.post(f"/api/queues/{queue}/pause", headers={**AUTH, **headers})
    assert await _code(resp) == (403, "forbidden")
    assert not (await broker.stats(queue)).paused
    # reads stay allowed: the browser enforces CORS on them, and they change nothing
    resp = await secured.get(f"/api/queues/{queue}", headers={**AUTH, **headers})
    assert resp.status == 200


async def test_cross_site_is_refused_even_without_auth(client: Client, queue: str) -> None:
    resp = await client.post(
        f"/api/queues/{queue}/jobs",
        data=b'{"type": "t"}',
        headers={"Origin": "https://evil.example", "Content-Type": "text/plain"},
    )
    assert await _code(resp) == (403, "forbidden")


async def test_same_origin_and_headerless_programs_may_write(
    secured: Client, broker: Broker, queue: str
) -> None:
    await broker.enqueue(queue, "t")
    host = f"{secured.host}:{secured.port}"
    same = {"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
    resp = await secured.post(f"/api/queues/{queue}/pause", headers={**AUTH, **same})
    assert resp.status == 200
    resp = await secured.post(f"/api/queues/{queue}/resume", headers=AUTH)  # curl, the SDK
    assert resp.status == 200


async def test_strict_headers_on_every_answer(secured: Client) -> None:
    for path in ("/", "/healthz", "/api/queues", "/api/nope", "/static/../../etc/passwd"):
        resp = await secured.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert csp == "default-src 'self'; object-src 'none'; frame-ancestors 'none'"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert (await secured.get("/static/../../etc/passwd")).status == 404
    index = await secured.get("/")
    assert index.status == 200 and index.headers["Content-Type"].startswith("text/html")


async def test_producer_rate_limit_is_per_token_429_with_retry_after(
    make_client: MakeClient, queue: str
) -> None:
    client = await make_client(
        tokens=(TOKEN, "second-token-xyz"), producer_rate=0.05, producer_burst=2
    )
    url = f"/api/queues/{queue}/jobs"
    statuses = [(await client.post(url, json={"type": "t"}, headers=AUTH)).status for _ in range(3)]
    assert statuses == [201, 201, 429]
    resp = await client.post(url, json={"type": "t"}, headers=AUTH)
    assert await _code(resp) == (429, "rate_limited")
    assert int(resp.headers["Retry-After"]) >= 1
    other = {"Authorization": "Bearer second-token-xyz"}
    assert (await client.post(url, json={"type": "t"}, headers=other)).status == 201
    assert (await client.get("/api/queues", headers=AUTH)).status == 200  # reads are not limited
    metrics = await (await client.get("/metrics", headers=AUTH)).text()
    assert f'relay_rate_limit_waits_total{{queue="{queue}",source="producer"}} 2.0' in metrics


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


ANY_ADDRESS = "0.0.0.0"  # noqa: S104 (the bind these tests check is refused)


def test_non_loopback_bind_needs_a_token_or_insecure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="without a token"):
        settings_from_args(_args("--host", ANY_ADDRESS))
    assert settings_from_args(_args("--host", ANY_ADDRESS, "--insecure")).tokens == ()
    assert settings_from_args(_args("--host", ANY_ADDRESS, "--token", TOKEN)).tokens == (TOKEN,)
    assert settings_from_args(_args("--host", "::1")).tokens == ()
    monkeypatch.setenv("RELAY_TOKEN", f"{TOKEN}, another-token-1")
    assert settings_from_args(_args("--host", "10.1.2.3")).tokens == (TOKEN, "another-token-1")
    with pytest.raises(ConfigError, match="at least 8"):
        settings_from_args(_args("--token", "short"))


def test_access_log_redacts_the_query_token(caplog: pytest.LogCaptureFixture) -> None:
    logger = AccessLogger(logging.getLogger("relay.test.access"), "")
    request = make_mocked_request(
        "GET", f"/api/events?token={TOKEN}&x=1", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with caplog.at_level(logging.INFO, logger="relay.test.access"):
        logger.log(request, web.Response(status=200), 0.001)
    assert TOKEN not in caplog.text
    assert "/api/events?token=***&x=1" in caplog.text


async def test_script_payload_comes_back_as_inert_json(client: Client, queue: str) -> None:
    evil = "<script>alert(1)</script>"
    resp = await client.post(f"/api/queues/{queue}/jobs", json={"type": "t", "payload": evil})
    job_id = (await resp.json())["id"]
    got = await client.get(f"/api/queues/{queue}/jobs/{job_id}")
    assert got.headers["Content-Type"].startswith("application/json")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src" not in got.headers["Content-Security-Policy"]  # default-src 'self' only
    assert (await got.json())["payload"] == evil
