"""T23: HTTP workers cut off. Claimers speak the claim protocol to a real `relay server` through
the fault proxy; their replies are dropped and their connections reset mid-request (claims that
leased jobs the claimer never learns of, acks that landed unseen). No Python worker runs: the
server's own upkeep reaps the orphaned leases. Then a claimer holds its jobs past the lease and
acks late, after others have re-claimed them.

Pass: stale acks accepted 0 (no job acked ok under two different tokens; every late ack is
refused); every orphaned job is re-claimed after its lease; lost 0 (every job completed exactly
once, nothing left ready, in flight, delayed or dead)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from relay import Broker, JobSpec
from tests.chaos.harness import record_figures, size, wait_for, wait_while_progressing
from tests.chaos.proxy import FaultProxy, Mode
from tests.server.conftest import ServerProcess, start_server, stop_server

LEASE_MS = 1000


class Claimers:
    """HTTP workers that record every ack outcome they see, by job id and token."""

    def __init__(self, base: str, token: str, queue: str) -> None:
        self.base, self.queue = base, queue
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.ok: dict[str, set[int]] = defaultdict(set)  # id -> tokens acked ok
        self.claimed: dict[str, set[int]] = defaultdict(set)  # id -> tokens seen claimed
        self.stale = 0
        self.again = 0  # claims of a job an earlier claim had leased (re-claimed after its lease)
        self.errors = 0
        self.stop = False

    async def _post(
        self, http: aiohttp.ClientSession, path: str, body: Any, base: str | None = None
    ) -> Any:
        url = f"{base or self.base}/api/queues/{self.queue}/{path}"
        async with http.post(url, data=json.dumps(body), headers=self.headers) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def one(self) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while not self.stop:
                try:
                    got = await self._post(
                        http, "claim", {"max": 20, "lease_ms": LEASE_MS, "wait_ms": 300}
                    )
                    jobs = got["jobs"]
                    for j in jobs:
                        self.claimed[j["id"]].add(j["token"])
                        self.again += j["attempts"] > 1
                    if jobs:
                        acks = [{"id": j["id"], "token": j["token"]} for j in jobs]
                        self.record(await self._post(http, "ack", {"jobs": acks}), acks)
                except (aiohttp.ClientError, TimeoutError):
                    self.errors += 1  # cut off: whatever it held comes back after the lease
                    await asyncio.sleep(0.05)

    def record(self, got: Any, sent: list[dict[str, Any]]) -> None:
        for o, s in zip(got["jobs"], sent, strict=True):
            if o["outcome"] == "ok":
                self.ok[s["id"]].add(s["token"])
            else:
                assert o["outcome"] == "stale", o
                self.stale += 1


async def _late_acks(c: Claimers, broker: Broker, held: list[dict[str, Any]], direct: str) -> int:
    """Hold the jobs past the lease until another claim took each over (or completed it),
    then ack with the old tokens: how many of those acks were accepted."""
    async with aiohttp.ClientSession() as http:

        async def taken_over() -> bool:
            runs = await broker.redis.hmget(f"relay:{{{c.queue}}}:run", [h["id"] for h in held])
            done = await broker.redis.zmscore(f"relay:{{{c.queue}}}:done", [h["id"] for h in held])
            # No run record: completed by another and trimmed from the kept completed jobs.
            return all(
                d is not None or r is None or int(r.split()[1]) > h["token"]
                for h, r, d in zip(held, runs, done, strict=True)
            )

        await wait_for(taken_over, 30)
        late = await c._post(http, "ack", {"jobs": held}, direct)  # not through the proxy
    return sum(1 for o in late["jobs"] if o["outcome"] == "ok")


@pytest.mark.timeout(300)
async def test_t23_http_claimers_cut_off(
    redis_url: str, queue: str, tmp_path: Path, broker: Broker
) -> None:
    n = size(3000, 30_000)
    srv: ServerProcess = start_server(redis_url, tmp_path, "--producer-rate", "0")
    proxy = FaultProxy(upstream_port=int(srv.url.rsplit(":", 1)[1])).start()
    base = f"http://127.0.0.1:{proxy.port}"
    start = time.monotonic()
    try:
        await broker.enqueue_many(queue, [JobSpec.of("t", {"i": i}) for i in range(n)])
        c = Claimers(base, srv.token, queue)
        async with aiohttp.ClientSession() as http:  # a claimer that will ack too late
            got = await c._post(http, "claim", {"max": 20, "lease_ms": LEASE_MS}, srv.url)
        held = [{"id": j["id"], "token": j["token"]} for j in got["jobs"]]
        late = asyncio.create_task(_late_acks(c, broker, held, srv.url))
        tasks = [asyncio.create_task(c.one()) for _ in range(6)]
        for _ in range(size(3, 10)):  # chaos rounds: lost replies, then resets, then calm
            proxy.set(Mode.DROP_REPLY, drop=0.3)
            await asyncio.sleep(0.6)
            proxy.set(Mode.RESET)
            await asyncio.sleep(0.1)
            proxy.set(Mode.OPEN)
            await asyncio.sleep(0.3)
        late_sent, late_accepted = len(held), await late

        async def drained() -> tuple[bool, object]:
            s = await broker.stats(queue)
            k = s.counts
            done = s.totals.completed + k.dead >= n and k.ready + k.inflight + k.delayed == 0
            return done, (s.totals.completed, k.ready, k.inflight, k.delayed, k.dead)

        await wait_while_progressing(drained, 30)
        c.stop = True
        await asyncio.gather(*tasks)
        stats = await broker.stats(queue)
        dead = (await broker.list_jobs(queue, "dead", limit=500)).jobs
    finally:
        with contextlib.suppress(Exception):
            proxy.stop()
        stop_server(srv)
    twice = {i: t for i, t in c.ok.items() if len(t) > 1}
    reclaimed = c.again
    figures = {
        "jobs": n,
        "claimers": 6,
        "lease_ms": LEASE_MS,
        "client_errors_cut_off": c.errors,
        "replies_dropped": proxy.dropped,
        "connections_reset": proxy.resets,
        "jobs_claimed_more_than_once": reclaimed,
        "stale_ack_refusals": c.stale,
        "late_acks_sent": late_sent,
        "stale_acks_accepted": late_accepted + len(twice),
        "completed": stats.totals.completed,
        "lost": n - stats.totals.completed - stats.counts.dead,
        "dead": stats.counts.dead,
        "seconds": round(time.monotonic() - start, 1),
    }
    record_figures("t23_http_workers_cut_off", figures)
    assert figures["stale_acks_accepted"] == 0, twice
    assert late_sent == 20
    assert figures["lost"] == 0, figures
    # A claim reply the proxy drops strands its jobs until the lease ends, and the reaper cannot
    # tell that from a worker that died holding them: a job whose claim was lost 3 times (the
    # crash limit; 30 % of replies are dropped, and a requeued batch goes back to the head, so
    # it is claimed together again) is quarantined as a crash loop, as designed. Nothing else
    # may end dead.
    quarantined = "quarantined: the worker running it was lost 3 times"
    assert all((j.last_error or "").startswith(quarantined) for j in dead), dead[:3]
    assert reclaimed > 0 and c.errors > 0  # the faults did cut claimers off
