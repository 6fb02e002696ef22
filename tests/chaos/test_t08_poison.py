"""T8: poison jobs, a job that kills its worker, an undecodable record, an oversize payload."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from relay import Broker, BrokerSettings
from relay.errors import PayloadTooLarge
from relay.http import create_app
from relay.keys import QueueKeys
from tests.chaos.checker import check, final_state
from tests.chaos.harness import (
    Run,
    drained,
    enqueue_recorded,
    id_of,
    record_figures,
    size,
    specs_of,
    wait_for,
)
from tests.chaos.history import read_history


@pytest.mark.timeout(60)
async def test_t8_an_always_raising_job_is_dead_lettered_after_max_attempts(
    run: Run, big_broker: Broker
) -> None:
    poison = specs_of("fail", size(5, 50))
    good = specs_of("work", 50)
    await enqueue_recorded(big_broker, run, poison + good)
    await run.start_worker(concurrency=4, visibility="2s").started()
    await wait_for(lambda: drained(big_broker, run.queue), 30, run.logs)
    await run.stop_all()
    report = check(read_history(run.history_dir), await final_state(big_broker.redis, run.queue))
    infos = [await big_broker.get_job(run.queue, id_of(s)) for s in poison]
    figures = {**report.figures(), "poison_attempts": sorted({i.attempts for i in infos})}
    record_figures("T8_poison", figures)
    report.assert_correct()
    assert report.dead == len(poison) and report.completed == len(good)
    assert all(i.state == "dead" and i.attempts == 3 for i in infos), infos[0]
    assert all("poison job: this handler always raises" in (i.last_error or "") for i in infos)
    assert report.executions == 3 * len(poison) + len(good)


@pytest.mark.timeout(90)
async def test_t8_a_job_that_kills_its_worker_is_quarantined_after_3_crashes(
    run: Run, big_broker: Broker
) -> None:
    [crash] = specs_of("crash", 1, max_attempts=100)
    good = specs_of("work", 5)
    await enqueue_recorded(big_broker, run, [crash, *good])
    workers = 0
    while (await big_broker.get_job(run.queue, id_of(crash))).state != "dead":
        assert workers < 6, run.logs()
        w = run.start_worker(concurrency=1, visibility="500ms")
        workers += 1
        for _ in range(200):  # until it crashes, or its reaper quarantines the job
            if not w.alive() or (await big_broker.get_job(run.queue, id_of(crash))).state == "dead":
                break
            await asyncio.sleep(0.05)
    await wait_for(lambda: drained(big_broker, run.queue), 30, run.logs)
    await run.stop_all()
    report = check(read_history(run.history_dir), await final_state(big_broker.redis, run.queue))
    info = await big_broker.get_job(run.queue, id_of(crash))
    crashes = sum(w.proc.returncode == 3 for w in run.workers)
    figures = {**report.figures(), "crashes": crashes, "workers_started": workers}
    record_figures("T8_crash_loop", figures)
    report.assert_correct()
    assert crashes == 3, figures
    assert (info.last_error or "").startswith("quarantined: the worker running it was lost 3")
    assert report.completed == len(good)


@pytest.mark.timeout(60)
async def test_t8_an_undecodable_record_goes_to_the_dead_set_and_the_worker_runs_on(
    run: Run, big_broker: Broker
) -> None:
    k = QueueKeys.for_queue(run.queue)
    bad = ["bad-record-1", "bad-record-2"]
    await big_broker.redis.hset(k.jobs, mapping={bad[0]: b"\xff\x00garbage", bad[1]: b""})
    await big_broker.redis.rpush(k.ready(5), *bad)
    for b in bad:
        run.driver.emit("enqueue_ok", job=b, injected=True)
    good = specs_of("work", 20)
    await enqueue_recorded(big_broker, run, good)
    w = await run.start_worker(concurrency=4, visibility="2s").started()
    await wait_for(lambda: drained(big_broker, run.queue), 30, run.logs)
    late = specs_of("work", 5)  # the worker still takes work afterwards
    await enqueue_recorded(big_broker, run, late)
    await wait_for(lambda: drained(big_broker, run.queue), 30, run.logs)
    assert w.alive()
    assert await w.stop() == 0
    report = check(read_history(run.history_dir), await final_state(big_broker.redis, run.queue))
    errors = [(await big_broker.get_job(run.queue, b)).last_error or "" for b in bad]
    record_figures("T8_undecodable", {**report.figures(), "dead_reasons": errors})
    report.assert_correct()
    assert report.dead == 2 and report.completed == 25
    assert all(e.startswith("undecodable job record") for e in errors), errors


async def _footprint(broker: Broker, queue: str) -> tuple[int, list[bytes], bool]:
    keys = sorted(await broker.redis.keys(f"relay:{{{queue}}}:*"))
    registered = queue in await broker.queues()
    return int(await broker.redis.dbsize()), keys, registered


@pytest.mark.timeout(60)
async def test_t8_an_oversize_payload_is_refused_before_any_write(
    redis_url: str, queue: str
) -> None:
    limit = 4096
    broker = Broker.from_url(redis_url, BrokerSettings(max_payload_bytes=limit))
    client = TestClient(TestServer(create_app(broker)))
    await client.start_server()
    try:
        before = await _footprint(broker, queue)
        with pytest.raises(PayloadTooLarge):
            await broker.enqueue(queue, "work", "x" * limit)
        resp = await client.post(
            f"/api/queues/{queue}/jobs", json={"type": "work", "payload": "x" * limit}
        )
        body = await resp.json()
        after = await _footprint(broker, queue)
    finally:
        await client.close()
        await broker.close()
    figures = {"http_status": resp.status, "http_code": body["error"]["code"], "keys_written": 0}
    figures["keys_written"] = after[0] - before[0]
    record_figures("T8_oversize", figures)
    assert (resp.status, body["error"]["code"]) == (413, "payload_too_large")
    assert after == before
