"""T18: security end to end: a real server with a token, an ACL-restricted Redis user, TLS.

Payload rendering in a real browser (`<script>` payloads never execute) is the dashboard's
e2e test (tests/e2e/test_dashboard.py); the in-process checks of the headers and the access-log
redaction are in tests/server/test_security.py. This adds the real processes and Redis side.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from relay import Broker
from tests.chaos.checker import check, final_state
from tests.chaos.conftest import BIG
from tests.chaos.harness import Run, drained, enqueue_recorded, record_figures, specs_of, wait_for
from tests.chaos.history import read_history
from tests.server.conftest import start_server, stop_server
from tests.support.redis_server import RedisServer, free_port

TOKEN = "chaos-token-5f1b9c2e7a"  # noqa: S105 - a test secret, to look for in logs
REDIS_PASSWORD = "relay-secret-pw-8c1d"  # noqa: S105 - a test secret, as above
CSP = "default-src 'self'; object-src 'none'; frame-ancestors 'none'"


def _call(
    url: str, method: str = "GET", body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310 - loopback test URL
        url, data=data, method=method, headers=headers or {}
    )
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback test URL
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


async def _acl_user(server: RedisServer) -> str:
    """Create an ACL user limited to relay's keys; the URL that logs in as it."""
    admin = Broker.from_url(server.url)
    try:
        await admin.redis.execute_command(
            "ACL", "SETUSER", "relay", "on", f">{REDIS_PASSWORD}", "~relay:*", "&*",
            "+@all", "-@dangerous",
        )  # fmt: skip
    finally:
        await admin.close()
    return f"redis://relay:{REDIS_PASSWORD}@127.0.0.1:{server.port}/0"


@pytest.mark.timeout(90)
async def test_t18_token_same_origin_headers_and_no_secrets_in_logs(
    private_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    url = await _acl_user(private_redis())
    srv = start_server(url, tmp_path, token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    jobs = f"{srv.url}/api/queues/sec/jobs"
    evil = "<script>window.__pwned = 1</script>"
    try:
        no_token = _call(f"{srv.url}/api/queues")[0]
        bad_token = _call(f"{srv.url}/api/queues", headers={"Authorization": "Bearer nope"})[0]
        cross_site = _call(jobs, "POST", {"type": "t"}, {**auth, "Sec-Fetch-Site": "cross-site"})[0]
        other_origin = _call(jobs, "POST", {"type": "t"}, {**auth, "Origin": "http://evil.test"})[0]
        status, _, body = _call(jobs, "POST", {"type": "t", "payload": evil}, auth)
        job = json.loads(body)["id"]
        _, headers, got = _call(f"{jobs}/{job}", headers=auth)
        _, index_headers, index = _call(f"{srv.url}/")
        query_token = _call(f"{srv.url}/api/queues?token={TOKEN}")[0]  # logged, redacted
    finally:
        stop_server(srv)
    log = srv.log.read_text()
    inline = re.findall(rb"<script(?![^>]*\bsrc=)[^>]*>", index)
    figures = {
        "no_token": no_token,
        "token_in_query_off_the_event_stream": query_token,
        "bad_token": bad_token,
        "cross_site_post": cross_site,
        "foreign_origin_post": other_origin,
        "script_payload_enqueue": status,
        "payload_served_as": headers.get("Content-Type"),
        "csp": index_headers.get("Content-Security-Policy"),
        "inline_scripts_in_dashboard": len(inline),
        "token_in_server_log": TOKEN in log,
        "redis_password_in_server_log": REDIS_PASSWORD in log,
    }
    record_figures("T18_http", figures)
    assert (no_token, bad_token, query_token) == (401, 401, 401), figures
    assert (cross_site, other_origin) == (403, 403), figures
    assert status == 201 and json.loads(got)["payload"] == evil, figures
    assert str(headers.get("Content-Type")).startswith("application/json"), figures
    assert figures["csp"] == CSP and not inline, figures
    assert not figures["token_in_server_log"] and not figures["redis_password_in_server_log"]


@pytest.mark.timeout(90)
async def test_t18_workers_run_as_an_acl_user_and_never_log_its_password(
    private_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    url = await _acl_user(private_redis())
    run = Run(dir=tmp_path, redis_url=url, queue="acl")
    broker = Broker.from_url(url, BIG)
    try:
        await run.start_worker(concurrency=4).started()
        await enqueue_recorded(broker, run, specs_of("work", 50))
        await wait_for(lambda: drained(broker, run.queue), 30, run.logs)
        wrong = run.start_worker(redis_url=url.replace(REDIS_PASSWORD, "wrong-pw-123"))
        await asyncio.to_thread(wrong.proc.wait, 30)
        await run.stop_all()
        report = check(read_history(run.history_dir), await final_state(broker.redis, run.queue))
    finally:
        run.cleanup(keep=True)
        await broker.close()
    logs = run.logs()
    figures = {
        **report.figures(),
        "wrong_password_exit": wrong.proc.returncode,
        "password_in_worker_logs": REDIS_PASSWORD in logs or "wrong-pw-123" in logs,
    }
    record_figures("T18_acl", figures)
    report.assert_correct()
    assert report.completed == 50 and wrong.proc.returncode != 0, figures
    assert not figures["password_in_worker_logs"], logs[-3000:]


def _certs(d: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1, made with openssl."""
    ca_key, ca, key, csr, crt = (d / n for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem"))
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    for cmd in (
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=relay-test-ca", "-keyout", ca_key, "-out", ca],
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", key, "-out", csr],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", crt],
    ):  # fmt: skip
        subprocess.run([str(c) for c in cmd], check=True, capture_output=True)
    return ca, crt, key


@pytest.mark.timeout(90)
async def test_t18_rediss_with_a_verified_certificate_works_end_to_end(
    private_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    ca, crt, key = _certs(tmp_path)
    tls_port = free_port()
    private_redis(
        "--tls-port", str(tls_port), "--tls-cert-file", str(crt), "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
    )  # fmt: skip
    url = f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={ca}"
    run = Run(dir=tmp_path / "run", redis_url=url, queue="tls")
    broker = Broker.from_url(url, BIG)
    try:
        await run.start_worker(concurrency=4).started()
        await enqueue_recorded(broker, run, specs_of("work", 50))
        await wait_for(lambda: drained(broker, run.queue), 30, run.logs)
        await run.stop_all()
        report = check(read_history(run.history_dir), await final_state(broker.redis, run.queue))
        untrusted = Broker.from_url(f"rediss://127.0.0.1:{tls_port}/0")
        try:
            with pytest.raises(Exception, match="certificate verify failed"):
                await untrusted.stats("tls")
        finally:
            await untrusted.close()
    finally:
        run.cleanup(keep=True)
        await broker.close()
    record_figures("T18_tls", {**report.figures(), "unverified_certificate_refused": True})
    report.assert_correct()
    assert report.completed == 50
