"""T19: schedules under chaos: kill -9 workers, one worker's clock skewed; one job per tick.

Five `every_ms` schedules (500-2000 ms), each PUT through two `relay server`s at once (one
creates it, 201; the other finds it unchanged, 200), fired by three workers' promoters, one of
them under libfaketime (+120 s; Redis keeps true time). Every 3 s a random worker is killed
with SIGKILL and a replacement (same clock) starts, so at least two always live. Then:
- every tick from each schedule's first to its last is enqueued exactly once (0 duplicates,
  0 missing): a tick's job id derives from (schedule, tick), and its created_ms is the tick;
- each tick's job is first claimed within 1 s of its tick (Redis clock), recorded as a figure.
Servers never fire ticks (only workers' promoters do); they serve the schedule routes.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import urllib.request
from collections import Counter, defaultdict

import pytest

from relay import Broker
from relay.keys import QueueKeys
from tests.chaos.harness import Run, drained, faketime_env, record_figures, size, wait_for
from tests.chaos.history import read_history
from tests.server.conftest import ServerProcess, start_server, stop_server

EVERY_MS = (500, 700, 1000, 1500, 2000)
WORKERS, SKEW = 3, "+120s"
CHAOS_S, KILL_EVERY_S = size(24, 120), 3.0


@pytest.mark.timeout(size(90, 300))
async def test_t19_every_tick_is_enqueued_exactly_once_through_kills_and_skew(
    run: Run, big_broker: Broker
) -> None:
    skewed = faketime_env(SKEW)
    envs = [skewed, {}, {}] if skewed else [{}, {}, {}]
    for env in envs:
        run.start_worker(concurrency=8, visibility="2s", env=env)
    await asyncio.gather(*(w.started() for w in run.workers))
    servers = [start_server(run.redis_url, run.dir) for _ in range(2)]
    try:
        statuses = await _put_through_both(servers, run.queue)
        kills = await _kill_and_replace(run, envs)
        for ms in EVERY_MS:  # no tick after this point: the ones before it are what we check
            await big_broker.delete_schedule(run.queue, f"every{ms}")
    finally:
        for s in servers:
            stop_server(s)
    assert all(sorted(v) == [200, 201] for v in statuses.values()), statuses
    await wait_for(lambda: drained(big_broker, run.queue), 30, run.logs)
    await run.stop_all()

    ticks, dups, ticks_by_job = await _ticks(big_broker, run.queue)
    missing = {ms: _gaps(sorted(t), ms) for ms, t in ticks.items()}
    first_claim: dict[str, int] = {}
    for e in read_history(run.history_dir):
        if e.kind == "claim":
            first_claim.setdefault(e.job, e.redis_ms)
    late = [first_claim[j] - tick for j, tick in ticks_by_job.items() if j in first_claim]
    figures = {
        "schedules_every_ms": list(EVERY_MS),
        "workers": WORKERS,
        "skewed_worker": SKEW if skewed else "none (libfaketime missing)",
        "chaos_s": CHAOS_S,
        "kills": kills,
        "ticks_enqueued": {ms: len(t) for ms, t in ticks.items()},
        "duplicate_ticks": dups,
        "missing_ticks": sum(len(m) for m in missing.values()),
        "start_after_tick_ms_median_p99_max": [
            statistics.median(late),
            sorted(late)[int(len(late) * 0.99)],
            max(late),
        ],
        "starts_over_1s": sum(1 for x in late if x > 1000),
    }
    record_figures("T19", figures)
    assert dups == 0 and not any(missing.values()), figures
    assert len(late) == sum(len(t) for t in ticks.values()), "a tick's job was never claimed"
    for ms in EVERY_MS:  # each schedule ticked all through the chaos
        assert len(ticks[ms]) >= CHAOS_S * 1000 // ms - 2, figures


async def _put_through_both(servers: list[ServerProcess], queue: str) -> dict[int, list[int]]:
    """PUT each schedule through both servers at the same moment; the statuses per schedule."""

    def put(server: ServerProcess, ms: int) -> int:
        body = {"every_ms": ms, "type": "work", "payload": {"sched": ms}}
        req = urllib.request.Request(  # noqa: S310 - our own loopback server
            f"{server.url}/api/queues/{queue}/schedules/every{ms}",
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
            return int(r.status)

    out: dict[int, list[int]] = {}
    for ms in EVERY_MS:
        out[ms] = list(await asyncio.gather(*(asyncio.to_thread(put, s, ms) for s in servers)))
    return out


async def _kill_and_replace(run: Run, envs: list[dict[str, str]]) -> int:
    """SIGKILL a random live worker every KILL_EVERY_S, starting one with the same clock."""
    loop = asyncio.get_running_loop()
    end = loop.time() + CHAOS_S
    kills = 0
    rng = random.Random(19)
    live = list(zip(run.workers, envs, strict=True))
    while loop.time() < end:
        await asyncio.sleep(KILL_EVERY_S)
        i = rng.randrange(len(live))
        victim, env = live[i]
        victim.kill()
        run.fault("kill", pid=victim.pid)
        kills += 1
        fresh = run.start_worker(concurrency=8, visibility="2s", env=env)
        live[i] = (fresh, env)
        await fresh.started()
    return kills


async def _ticks(broker: Broker, queue: str) -> tuple[dict[int, list[int]], int, dict[str, int]]:
    """The ticks that got a job per schedule, how many got more than one, each job's tick."""
    ids = [i.decode() for i in await broker.redis.hkeys(QueueKeys.for_queue(queue).jobs)]
    per: dict[int, list[int]] = defaultdict(list)
    ticks_by_job: dict[str, int] = {}
    for job_id in ids:
        job = await broker.get_job(queue, job_id)
        tick = round(job.created_at * 1000)
        per[job.payload["sched"]].append(tick)
        ticks_by_job[job_id] = tick
    dups = sum(n - 1 for t in per.values() for n in Counter(t).values() if n > 1)
    return {ms: per.get(ms, []) for ms in EVERY_MS}, dups, ticks_by_job


def _gaps(ticks: list[int], every_ms: int) -> list[int]:
    """Ticks between the first and the last that have no job."""
    if not ticks:
        return []
    have = set(ticks)
    return [t for t in range(ticks[0], ticks[-1] + 1, every_ms) if t not in have]
