"""T24: coalesced enqueue. 64 HTTP clients enqueue single jobs into a real `relay server` (group
commit on, several processes); one client sends only bad jobs (invalid bodies, an idempotency
key reused with another payload); the others repeat some of their own keys. Then the server is
killed with SIGKILL while every client is mid-request.

Pass: every 201 is a stored job with exactly its payload; every 200 names the job its key first
made; every 4xx stored nothing; no good request failed before the kill (a bad job never fails
its neighbours); after the kill each job is wholly stored or absent (the every-record-in-one-
state invariant holds, and every stored job is one a client sent)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from relay import Broker, JobSpec, _core
from relay.keys import QueueKeys
from tests.chaos.harness import record_figures, size
from tests.server.conftest import start_server, stop_server
from tests.support.invariant import check_invariant

CLIENTS = 64


@dataclass
class Seen:
    """Every answer, by payload (each payload is sent once, except a key's deliberate repeat)."""

    created: dict[str, str] = field(default_factory=dict)  # payload -> id (201)
    repeats: list[tuple[str, str]] = field(default_factory=list)  # (key, id) answered 200
    first_by_key: dict[str, str] = field(default_factory=dict)  # key -> id of its 201
    refused: dict[str, int] = field(default_factory=dict)  # payload -> 4xx status
    unknown: set[str] = field(default_factory=set)  # sent, no answer (the kill)
    good_failed: list[tuple[str, int]] = field(default_factory=list)
    killed: bool = False


def _bad(n: int) -> tuple[dict[str, Any], str]:
    payload = {"bad": n}
    if n % 2:  # an invalid body: 400 before any Redis call
        return {"type": "", "payload": payload}, json.dumps(payload)
    return (
        {"type": "t", "payload": payload, "idempotency_key": "taken"},  # 409: another payload
        json.dumps(payload),
    )


def _good(c: int, n: int) -> tuple[dict[str, Any], str]:
    payload = {"c": c, "n": n}
    body: dict[str, Any] = {"type": "t", "payload": payload}
    if n % 5 == 0:
        body["idempotency_key"] = f"k-{c}-{n}"
    return body, json.dumps(payload)


async def _client(base: str, token: str, queue: str, c: int, seen: Seen) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base}/api/queues/{queue}/jobs"
    async with aiohttp.ClientSession(headers=headers) as http:
        n = 0
        while True:
            n += 1
            body, key = _bad(n) if c == 0 else _good(c, n)
            try:
                async with http.post(url, json=body) as r:
                    got = await r.json()
                    status = r.status
            except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError):
                seen.unknown.add(key)
                return  # the server is gone
            if status == 201:
                seen.created[key] = got["id"]
                if "idempotency_key" in body:
                    seen.first_by_key[body["idempotency_key"]] = got["id"]
                    # Its repeat, same payload: 200 with the same id, nothing new stored.
                    try:
                        async with http.post(url, json=body) as r2:
                            again = await r2.json()
                            if r2.status == 200:
                                seen.repeats.append((body["idempotency_key"], again["id"]))
                    except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError):
                        return
            elif c == 0:
                seen.refused[key] = status
            elif not seen.killed:
                seen.good_failed.append((key, status))


async def _stored(broker: Broker, queue: str) -> dict[str, str]:
    """payload text (normalised) -> id, for every job record in Redis."""
    raw = await broker.redis.hgetall(QueueKeys.for_queue(queue).jobs)
    out = {}
    for job_id, env in raw.items():
        payload = _core.decode_job(env)[1]
        out[json.dumps(msgspec.json.decode(payload))] = job_id.decode()
    return out


@pytest.mark.timeout(120)
async def test_t24_coalesced_enqueue_with_bad_neighbours_and_a_kill(
    redis_url: str, queue: str, tmp_path: Path, broker: Broker
) -> None:
    srv = start_server(redis_url, tmp_path, "--producer-rate", "0")
    [taken] = await broker.enqueue_many(
        queue, [JobSpec.of("t", {"orig": True}, idempotency_key="taken")]
    )
    seen = Seen()
    start = time.monotonic()
    tasks = [
        asyncio.create_task(_client(srv.url, srv.token, queue, c, seen)) for c in range(CLIENTS)
    ]
    try:
        await asyncio.sleep(size(3.0, 20.0))  # load with bad neighbours, then the kill
        seen.killed = True
        srv.proc.kill()  # SIGKILL: its server processes die with it, mid-batch
        srv.proc.wait(10)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    finally:
        stop_server(srv)
    await check_invariant(broker.redis, queue)  # wholly stored or absent, never half-written
    stored = await _stored(broker, queue)
    stored_ids = set(stored.values())
    wrong_201 = [k for k, i in seen.created.items() if stored.get(k) != i]
    wrong_200 = [(k, i) for k, i in seen.repeats if seen.first_by_key.get(k) != i]
    refused_stored = [k for k in seen.refused if k in stored]
    sent = set(seen.created) | set(seen.unknown) | {json.dumps({"orig": True})}
    strays = [k for k in stored if k not in sent]
    landed_unanswered = len([k for k in seen.unknown if k in stored])
    figures = {
        "clients": CLIENTS,
        "answered_201": len(seen.created),
        "answered_200_repeat": len(seen.repeats),
        "answered_4xx_bad_client": len(seen.refused),
        "statuses_4xx": sorted(set(seen.refused.values())),
        "good_requests_failed_before_kill": len(seen.good_failed),
        "in_flight_at_kill": len(seen.unknown),
        "in_flight_stored_whole": landed_unanswered,
        "stored_jobs": len(stored_ids),
        "201_not_stored_as_sent": len(wrong_201),
        "200_with_another_id": len(wrong_200),
        "4xx_that_stored_something": len(refused_stored),
        "stored_jobs_never_sent": len(strays),
        "seconds": round(time.monotonic() - start, 1),
    }
    record_figures("t24_coalesced_enqueue", figures)
    assert not wrong_201 and not wrong_200 and not refused_stored and not strays, figures
    assert not seen.good_failed, seen.good_failed[:5]
    assert set(seen.refused.values()) == {400, 409}, figures
    assert len(stored_ids) == len(seen.created) + landed_unanswered + 1  # + the "taken" job
    assert taken.id in stored_ids and len(seen.created) > 0 and len(seen.unknown) > 0
