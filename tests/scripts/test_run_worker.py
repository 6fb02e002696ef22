"""The claimer's name in the run record (decision 0056): written by claim.lua as a fifth field,
read by every script and decoder, and records of four fields (before the upgrade) still work."""

from __future__ import annotations

import pytest

from relay import Broker, ConfigError, JobSpec, Nack, NackMode
from relay.broker.types import Code
from relay.keys import QueueKeys


async def _run(broker: Broker, queue: str, job_id: str) -> str:
    raw = await broker.redis.hget(QueueKeys.for_queue(queue).run, job_id)
    return raw.decode() if raw else ""


async def test_claim_stores_the_worker_as_a_fifth_field(broker: Broker, queue: str) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("t", i) for i in range(3)])
    named = (await broker.claim(queue, 2, 60_000, "host/w 1")).jobs
    [anon] = (await broker.claim(queue, 1, 60_000)).jobs
    fields = (await _run(broker, queue, named[0].id)).split(" ", 4)
    assert fields[1] == str(named[0].token) and fields[3] == "0" and fields[4] == "host/w 1"
    assert len((await _run(broker, queue, anon.id)).split()) == 4
    rows = {j.id: j.worker for j in (await broker.list_jobs(queue, "inflight")).jobs}
    assert rows == {named[0].id: "host/w 1", named[1].id: "host/w 1", anon.id: None}
    assert (await broker.get_job(queue, named[1].id)).worker == "host/w 1"
    held = [*named, anon]
    assert await broker.ack(queue, [(j.id, j.token) for j in held]) == [True] * 3
    done = await broker.get_job(queue, anon.id)
    assert done.worker is None and done.lease_deadline is None  # in flight only


async def test_old_four_field_records_still_read_everywhere(broker: Broker, queue: str) -> None:
    """A record written before the upgrade: listed without a worker; extend, nack and the
    next claim (attempts go on counting) all read it."""
    r = await broker.enqueue(queue, "t", max_attempts=5)
    [job] = (await broker.claim(queue, 1, 60_000, "w")).jobs
    await broker.redis.hset(QueueKeys.for_queue(queue).run, r.id, f"1 {job.token} 17000 0")
    [row] = (await broker.list_jobs(queue, "inflight")).jobs
    assert row.worker is None and row.started_at == 17.0 and row.attempts == 1
    assert (await broker.extend(queue, [(r.id, job.token)], 60_000)) == [Code.OK]
    [out] = await broker.nack(queue, [Nack(r.id, job.token, NackMode.FAIL, 0, "boom")])
    [again] = (await broker.claim(queue, 1, 60_000, "w2")).jobs
    assert again.attempts == 2 and (await _run(broker, queue, r.id)).endswith(" 0 w2")
    await broker.ack(queue, [(again.id, again.token)])
    assert out is not None


async def test_reap_and_nack_read_the_five_field_form(broker: Broker, queue: str) -> None:
    k = QueueKeys.for_queue(queue)
    a, b = await broker.enqueue_many(queue, [JobSpec.of("t", 1), JobSpec.of("t", 2)])
    ja, jb = (await broker.claim(queue, 2, 60_000, "host/w")).jobs
    await broker.redis.zadd(k.inflight, {a.id: 0})  # its lease ran out long ago
    assert (await broker.reap(queue)).requeued == 1
    assert (await _run(broker, queue, a.id)).split()[3] == "1"  # a crash counted, worker gone
    [out] = await broker.nack(queue, [Nack(b.id, jb.token, NackMode.LATER, 50_000, "")])
    assert (await _run(broker, queue, b.id)).split()[0] == "0"  # the attempt given back
    [again] = (await broker.claim(queue, 1, 60_000, "host/x")).jobs
    assert again.id == a.id and again.attempts == 2
    assert (await _run(broker, queue, a.id)).split(" ", 4)[3:] == ["1", "host/x"]
    await broker.ack(queue, [(again.id, again.token)])
    await broker.delete_job(queue, b.id)
    assert out is not None and ja.id == a.id


@pytest.mark.parametrize("bad", ["x" * 201, "a\nb", "tab\there", 7])
async def test_a_bad_worker_name_is_refused_before_any_write(
    broker: Broker, queue: str, bad: object
) -> None:
    await broker.enqueue(queue, "t")
    with pytest.raises(ConfigError, match="worker name"):
        await broker.claim(queue, 1, 60_000, bad)  # type: ignore[arg-type]
    assert (await broker.stats(queue)).counts.ready == 1
    [job] = (await broker.claim(queue, 1, 60_000)).jobs
    await broker.ack(queue, [(job.id, job.token)])
