"""Workflows (decision 0050): flow_enqueue, flow_apply and the outbox blocks of ack, nack, reap
and cancel, against real Redis; queues of one flow sit in different slots on a cluster."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from relay import Broker, ConfigError, Flow, FlowIdConflict, JobNotFound, JobOptions, Producer
from relay.broker import Nack, NackMode, flows
from relay.broker.ops import Eval, keysets
from relay.flows import plan
from relay.job import Job
from relay.keys import QUEUES_KEY
from relay.results import result_record
from tests.support.invariant import check_invariant


def _q(queue: str, n: int) -> str:
    return f"{queue}-{n}"  # other queue names: other hash tags, other slots on a cluster


async def _run(broker: Broker, queue: str, result: Any = None, n: int = 1000) -> list[Job]:
    """Claim every ready job of `queue` and ack it with `result`."""
    jobs = (await broker.claim(queue, n, 30_000)).jobs
    held = [(j.id, j.token, result_record(result, 1 << 20)[0]) for j in jobs]
    assert await broker.ack(queue, held) == [True] * len(jobs)
    return jobs


async def _state(broker: Broker, queue: str, job_id: str) -> str:
    return str((await broker.get_job(queue, job_id)).state)


async def _check(broker: Broker, *queues: str) -> None:
    for q in queues:
        await check_invariant(broker.redis, q)


async def test_a_parent_waits_for_children_in_other_queues(broker: Broker, queue: str) -> None:
    a, b = _q(queue, 1), _q(queue, 2)
    flow = Flow(
        queue,
        "album",
        {"name": "x"},
        children=[Flow(a, "resize", {"n": i}) for i in range(2)] + [Flow(b, "resize", 9)],
    )
    out = await Producer(broker).enqueue_flow(flow)
    assert [(j.queue, j.parent) for j in out.jobs] == [(queue, None)] + [
        (q, out.id) for q in (a, a, b)
    ]
    assert await _state(broker, queue, out.id) == "waiting"
    assert (await broker.stats(queue)).counts.waiting == 1
    assert (await broker.claim(queue, 10, 30_000)).jobs == []  # not ready
    kids = {j.id: j for j in out.jobs[1:]}

    await _run(broker, a, "small")
    info = await Producer(broker).get_job(queue, out.id)
    assert info.state == "waiting" and info.children is not None
    assert {c.id: c.state for c in info.children} == {
        i: ("ready" if j.queue == b else "completed") for i, j in kids.items()
    }
    await _run(broker, b, {"big": True})
    assert await _state(broker, queue, out.id) == "ready"
    [parent] = (await broker.claim(queue, 10, 30_000)).jobs
    got = await broker.perform(flows.children_results(broker.settings, queue, parent.id))
    assert got == {i: ({"big": True} if j.queue == b else "small") for i, j in kids.items()}
    await _check(broker, a, b)


async def test_a_dead_child_kills_its_parent_naming_it(broker: Broker, queue: str) -> None:
    a = _q(queue, 1)
    flow = Flow(queue, "p", children=[Flow(a, "c1"), Flow(a, "c2")])
    out = await Producer(broker).enqueue_flow(flow)
    [c1, c2] = (await broker.claim(a, 10, 30_000)).jobs
    nack = Nack(c1.id, c1.token, NackMode.DEAD, 0, "boom")
    await broker.nack(a, [nack])
    info = await broker.get_job(queue, out.id)
    assert info.state == "dead"
    assert info.last_error is not None and c1.id in info.last_error and "boom" in info.last_error
    assert await broker.ack(a, [(c2.id, c2.token)]) == [True]  # the sibling still completes
    assert await _state(broker, queue, out.id) == "dead"
    await _check(broker, a)


async def test_ignore_runs_the_parent_after_a_dead_child(broker: Broker, queue: str) -> None:
    a = _q(queue, 1)
    flow = Flow(queue, "p", on_child_failure="ignore", children=[Flow(a, "c1"), Flow(a, "c2")])
    out = await Producer(broker).enqueue_flow(flow)
    [c1, c2] = (await broker.claim(a, 10, 30_000)).jobs
    await broker.nack(a, [Nack(c1.id, c1.token, NackMode.DEAD, 0, "boom")])
    assert await _state(broker, queue, out.id) == "waiting"
    await broker.ack(a, [(c2.id, c2.token, result_record(7, 100)[0])])
    assert await _state(broker, queue, out.id) == "ready"
    got = await broker.perform(flows.children_results(broker.settings, queue, out.id))
    assert got == {c2.id: 7}
    await _check(broker, a)


async def test_a_chain_runs_in_order_at_depth_three(broker: Broker, queue: str) -> None:
    a, b = _q(queue, 1), _q(queue, 2)
    out = await Producer(broker).enqueue_flow(
        Flow.chain(Flow(a, "first"), Flow(b, "second"), Flow(queue, "third"))
    )
    assert [j.queue for j in out.jobs] == [queue, b, a] and out.jobs[0].id == out.id
    assert (await broker.claim(queue, 10, 30_000)).jobs == []
    assert (await broker.claim(b, 10, 30_000)).jobs == []
    [first] = await _run(broker, a, 1)
    [second] = await _run(broker, b, 2)
    assert await broker.perform(flows.children_results(broker.settings, b, second.id)) == {
        first.id: 1
    }
    [third] = await _run(broker, queue, 3)
    assert third.id == out.id
    await _check(broker, a, b)


async def test_a_dead_leaf_kills_every_ancestor(broker: Broker, queue: str) -> None:
    a, b = _q(queue, 1), _q(queue, 2)
    out = await Producer(broker).enqueue_flow(
        Flow(queue, "root", children=[Flow(b, "mid", children=[Flow(a, "leaf")])])
    )
    [leaf] = (await broker.claim(a, 10, 30_000)).jobs
    await broker.nack(a, [Nack(leaf.id, leaf.token, NackMode.DEAD, 0, "bad")])
    mid = out.jobs[1].id
    assert await _state(broker, b, mid) == "dead"
    info = await broker.get_job(queue, out.id)
    assert info.state == "dead" and info.last_error and mid in info.last_error
    await _check(broker, a, b)


async def test_cancelling_a_parent_cancels_its_unfinished_children(
    broker: Broker, queue: str
) -> None:
    a, b = _q(queue, 1), _q(queue, 2)
    out = await Producer(broker).enqueue_flow(
        Flow(
            queue,
            "root",
            children=[Flow(a, "done"), Flow(a, "running"), Flow(b, "mid", children=[Flow(b, "x")])],
        )
    )
    done_id, running_id, mid_id, x_id = (j.id for j in out.jobs[1:])
    jobs = {j.id: j for j in (await broker.claim(a, 10, 30_000)).jobs}
    await broker.ack(a, [(done_id, jobs[done_id].token)])
    assert (await Producer(broker).cancel(queue, out.id)).state == "cancelled"
    assert await _state(broker, a, done_id) == "completed"
    assert (await broker.get_job(a, running_id)).cancel_requested
    assert await _state(broker, b, mid_id) == "cancelled"
    assert await _state(broker, b, x_id) == "cancelled"
    assert await broker.ack(a, [(running_id, jobs[running_id].token)]) == [True]
    assert await _state(broker, a, running_id) == "cancelled"
    await _check(broker, a, b)


async def test_an_outbox_entry_left_by_a_crash_is_replayed(broker: Broker, queue: str) -> None:
    a = _q(queue, 1)
    out = await Producer(broker).enqueue_flow(Flow(queue, "p", children=[Flow(a, "c")]))
    [child] = (await broker.claim(a, 10, 30_000)).jobs
    s, ks = broker.settings, keysets(a)
    args = [s.keep_completed, s.keep_completed_ms, s.events_cap, ks.keys.prefix]

    def ack_only() -> Any:  # the ack script alone: the worker dies before telling the parent
        yield Eval("ack", ks.ack, [*args, b"", child.id, child.token, b"=5"])

    await broker.perform(ack_only())
    assert await broker.redis.hlen(ks.keys.outbox) == 1
    assert await _state(broker, queue, out.id) == "waiting"
    assert await broker.flow_upkeep(a) == 1  # a promoter's replay
    assert await _state(broker, queue, out.id) == "ready"
    assert await broker.redis.hlen(ks.keys.outbox) == 0
    entry = f"{queue} {out.id} c=5".encode()  # the same entry once more: a replay changes nothing
    await broker.redis.hset(ks.keys.outbox, child.id, entry)
    assert await broker.flow_upkeep(a) == 1
    assert await _state(broker, queue, out.id) == "ready"
    await _check(broker, a)


async def test_one_apply_call_settles_many_children_of_many_parents(
    broker: Broker, queue: str
) -> None:
    """flow_apply groups a batch by parent: the codes are those of one child at a time."""
    a = _q(queue, 1)
    producer = Producer(broker)
    doomed = await producer.enqueue_flow(Flow(queue, "p", children=[Flow(a, "c")] * 3))
    lucky = await producer.enqueue_flow(Flow(queue, "p", children=[Flow(a, "c")] * 2))
    c1, c2, c3 = (f"{a} {j.id}" for j in doomed.jobs[1:])
    l1, l2 = (f"{a} {j.id}" for j in lucky.jobs[1:])
    batch = [(doomed.id, c1, "c=1"), (lucky.id, l1, "c=2"), (doomed.id, c1, "c=1"),
             (doomed.id, c2, "dboom"), (doomed.id, c3, "c=3"), (lucky.id, l2, "c=4"),
             ("nope", c1, "c=1")]  # fmt: skip
    s, ks = broker.settings, keysets(queue)

    def apply() -> Any:
        args: list[object] = [s.events_cap, ks.keys.prefix, 60_000]
        for pid in (doomed.id, lucky.id, "nope"):  # each parent's children together
            mine = [(f, o) for p, f, o in batch if p == pid]
            args += [pid, len(mine), *(x for pair in mine for x in pair)]
        return (yield Eval("flow_apply", ks.flow_apply, args))

    # doomed: recorded and waits, a replay, kills, recorded after death;
    # lucky: recorded, releases; nope: unknown
    assert await broker.perform(apply()) == [1, 2, 4, 5, 1, 3, 0]
    assert await _state(broker, queue, doomed.id) == "dead"
    assert await _state(broker, queue, lucky.id) == "ready"
    kids = await broker.redis.hgetall(ks.keys.flow(doomed.id))
    assert kids[b"#"] == b"0" and kids[c3.encode()] == b"c=3" and kids[c2.encode()] == b"dboom"
    assert await broker.perform(apply()) == [2, 2, 2, 2, 2, 2, 0]  # the whole batch replayed


async def test_a_deleted_child_is_cancelled_for_its_parent(broker: Broker, queue: str) -> None:
    """Deleting a ready or delayed child (the browser's delete) never strands its parent."""
    a = _q(queue, 1)
    producer = Producer(broker)
    later = JobOptions(delay_ms=60_000)
    strict = await producer.enqueue_flow(Flow(queue, "p", children=[Flow(a, "c")] * 2))
    lenient = await producer.enqueue_flow(
        Flow(queue, "p", on_child_failure="ignore",
             children=[Flow(a, "c"), Flow(a, "c", options=later)])
    )  # fmt: skip
    await broker.delete_job(a, strict.jobs[1].id)
    info = await broker.get_job(queue, strict.id)
    assert info.state == "dead" and info.last_error is not None
    assert strict.jobs[1].id in info.last_error and "cancelled" in info.last_error
    assert await broker.delete_jobs(a, "delayed") == 1  # the bulk form
    assert await _state(broker, queue, lenient.id) == "waiting"
    await _run(broker, a, "ok")  # the strict flow's sibling and the lenient one's first child
    assert await _state(broker, queue, lenient.id) == "ready"
    got = await broker.perform(flows.children_results(broker.settings, queue, lenient.id))
    assert got == {lenient.jobs[1].id: "ok"}
    await _check(broker, queue, a)


async def test_a_parent_keeps_its_own_delay(broker: Broker, queue: str) -> None:
    """A parent whose children finish before its delay is over waits, delayed, until then."""
    a = _q(queue, 1)
    producer = Producer(broker)
    slow = await producer.enqueue_flow(
        Flow(queue, "p", options=JobOptions(delay_ms=3_600_000), children=[Flow(a, "c")])
    )
    wake = keysets(queue).keys.wake
    await broker.redis.delete(wake)
    await _run(broker, a)
    assert await _state(broker, queue, slow.id) == "delayed"
    due = await broker.redis.zscore(keysets(queue).keys.delayed, slow.id)
    assert due is not None and due > (await _redis_ms(broker)) + 3_500_000
    assert await broker.redis.llen(wake) == 1  # the promoter must look: it is due first
    info = await Producer(broker).get_job(queue, slow.id)
    assert info.children is not None and [c.state for c in info.children] == ["completed"]
    await _check(broker, queue, a)


async def _redis_ms(broker: Broker) -> int:
    sec, usec = await broker.redis.time()
    return int(sec) * 1000 + int(usec) // 1000


async def test_children_results_survive_odd_ids_and_a_broken_record(
    broker: Broker, queue: str
) -> None:
    a = _q(queue, 1)
    odd = ['q"uote', "back\\slash", "plain"]
    out = await Producer(broker).enqueue_flow(
        Flow(queue, "p", children=[Flow(a, "c", id=i) for i in odd])
    )
    await _run(broker, a, {"n": [1, "x"]})
    read = flows.children_results(broker.settings, queue, out.id)
    assert await broker.perform(read) == {i: {"n": [1, "x"]} for i in odd}
    await broker.redis.hset(keysets(queue).keys.flow(out.id), f"{a} plain", b"c={broken")
    got = await broker.perform(flows.children_results(broker.settings, queue, out.id))
    assert got == {odd[0]: {"n": [1, "x"]}, odd[1]: {"n": [1, "x"]}, "plain": None}


async def test_a_workers_next_ack_deletes_the_entries_it_applied(
    broker: Broker, queue: str
) -> None:
    """In a worker, outbox entries are applied beside the acks and deleted by the next ack of
    their queue (no HDEL of their own); whatever is left goes when the broker closes."""
    a = _q(queue, 1)
    out = await Producer(broker).enqueue_flow(Flow(queue, "p", children=[Flow(a, "c")] * 2))
    outbox = keysets(a).keys.outbox
    broker.settler.background = True
    [c1, c2] = (await broker.claim(a, 10, 30_000)).jobs
    await broker.ack(a, [(c1.id, c1.token)])
    await broker.settler.settled()
    assert await broker.redis.hkeys(outbox) == [c1.id.encode()]  # applied, not yet deleted
    assert await _state(broker, queue, out.id) == "waiting"
    await broker.ack(a, [(c2.id, c2.token)])  # deletes c1's entry, writes c2's
    await broker.settler.settled()
    assert await broker.redis.hkeys(outbox) == [c2.id.encode()]
    assert await _state(broker, queue, out.id) == "ready"
    await broker.settler.close()
    assert await broker.redis.hlen(outbox) == 0
    await _check(broker, queue, a)


async def test_a_reaped_child_on_its_last_attempt_kills_the_parent(
    broker: Broker, queue: str
) -> None:
    a = _q(queue, 1)
    child = Flow(a, "c", options=JobOptions(max_attempts=1))
    out = await Producer(broker).enqueue_flow(Flow(queue, "p", children=[child]))
    await broker.claim(a, 10, 1)
    await broker.redis.zadd(keysets(a).keys.inflight, {out.jobs[1].id: 0})  # lease expired
    r = await broker.reap(a)
    assert r.dead == 1
    assert await _state(broker, queue, out.id) == "dead"
    await _check(broker, a)


async def test_an_intent_stored_before_groups_is_replayed(broker: Broker, queue: str) -> None:
    """An intent of 6 ARGV per job (flows before groups) gains an empty group per job."""
    kids = [Flow(queue, "c", i) for i in range(7)]  # 42 old ARGV: a multiple of 7 as well
    p = plan(Flow(queue, "p", children=kids), 1 << 20)
    old = [[q, [a for i, a in enumerate(w) if i % 7 != 6]] for q, w in p.writes]
    ks = keysets(queue)
    await broker.redis.hset(ks.keys.intents, p.root.id, b"0 " + msgspec.msgpack.encode(old))
    await broker.flow_upkeep(queue)
    assert await broker.redis.hlen(ks.keys.intents) == 0
    assert await _state(broker, queue, p.root.id) == "waiting"
    assert len(await _run(broker, queue)) == 7
    assert await _state(broker, queue, p.root.id) == "ready"
    await _check(broker, queue)


async def test_a_flow_whose_writer_died_is_finished_by_replay(broker: Broker, queue: str) -> None:
    a = _q(queue, 1)
    p = plan(Flow(queue, "p", children=[Flow(a, "c")]), 1 << 20)
    ks = keysets(queue)
    intent = b"0 " + msgspec.msgpack.encode([[q, w] for q, w in p.writes])
    await broker.redis.hset(ks.keys.intents, p.root.id, intent)
    [(q0, args0), _] = p.writes

    def first_only() -> Any:
        k = keysets(q0)
        yield Eval("flow_enqueue", k.flow_enqueue, [k.keys.prefix, 0, *args0])

    await broker.perform(first_only())  # the parent is in, its child is not: then a crash
    assert await _state(broker, queue, p.root.id) == "waiting"
    await broker.flow_upkeep(queue)
    assert await broker.redis.hlen(ks.keys.intents) == 0
    await _run(broker, a)
    assert await _state(broker, queue, p.root.id) == "ready"
    await _check(broker, a)


def _bad_group() -> JobOptions:
    """Options whose group JobOptions itself would refuse (forced past its check)."""
    options = JobOptions()
    object.__setattr__(options, "group", "tab\there")
    return options


async def _group_of(broker: Broker, queue: str, job_id: str) -> str | None:
    g = await broker.redis.hget(keysets(queue).keys.group_of, job_id)
    return g.decode() if g else None


async def test_grouped_jobs_of_a_flow_take_turns_and_the_parent_joins_its_group(
    broker: Broker, queue: str
) -> None:
    def node(i: int, group: str) -> Flow:
        return Flow(queue, "c", i, options=JobOptions(group=group))

    kids = [node(0, "t1"), node(1, "t1"), node(2, "t1"), node(3, "t2"), node(4, "t2")]
    out = await Producer(broker).enqueue_flow(
        Flow(queue, "p", children=kids, options=JobOptions(group="t1"))
    )
    assert await _group_of(broker, queue, out.id) == "t1"  # recorded while it waits
    page = await broker.groups(queue)
    assert sorted((g.name, g.backlog) for g in page.groups) == [("t1", 3), ("t2", 2)]
    await _check(broker, queue)
    order = []
    for _ in range(5):
        [job] = (await broker.claim(queue, 1, 30_000)).jobs
        order.append((await _group_of(broker, queue, job.id), job.payload_bytes.decode()))
        assert await broker.ack(queue, [(job.id, job.token)]) == [True]
    assert order == [("t1", "0"), ("t2", "3"), ("t1", "1"), ("t2", "4"), ("t1", "2")]
    assert await _state(broker, queue, out.id) == "ready"
    gq = keysets(queue).keys.group_ready(5, "t1")
    assert await broker.redis.lrange(gq, 0, -1) == [out.id.encode()]  # released into t1
    await _check(broker, queue)
    [parent] = (await broker.claim(queue, 10, 30_000)).jobs
    assert parent.id == out.id
    assert await broker.ack(queue, [(parent.id, parent.token)]) == [True]
    assert await _state(broker, queue, out.id) == "completed"
    assert (await broker.groups(queue)).groups == []
    await _check(broker, queue)


async def test_a_delayed_grouped_child_is_promoted_into_its_group(
    broker: Broker, queue: str
) -> None:
    soon = JobOptions(group="t9", delay_ms=60_000)
    out = await Producer(broker).enqueue_flow(
        Flow(queue, "p", children=[Flow(queue, "c", options=soon)])
    )
    child = out.jobs[1].id
    assert await _state(broker, queue, child) == "delayed"
    assert (await broker.get_job(queue, child)).group == "t9"
    await broker.promote_job(queue, child)  # "run now": routed by its group record
    gq = keysets(queue).keys.group_ready(5, "t9")
    assert await broker.redis.lrange(gq, 0, -1) == [child.encode()]
    await _check(broker, queue)


@pytest.mark.parametrize(
    ("flow", "path"),
    [
        (
            lambda q: Flow(q, "p", children=[Flow(q, "a"), Flow(q, "b"), Flow(q, "")]),
            "$.children[2].type",
        ),
        (lambda q: Flow(q, "p", children=[Flow("bad queue", "a")]), "$.children[0].queue"),
        (
            lambda q: Flow(q, "p", children=[Flow(q, "a", on_child_failure="x")]),  # type: ignore[arg-type]
            "$.children[0].on_child_failure",
        ),
        (
            lambda q: Flow(q, "p", children=[Flow(q, "c") for _ in range(10_000)]),
            "$.children[9999]",
        ),
        (
            lambda q: Flow(q, "p", children=[Flow(q, "a", options=_bad_group())]),
            "$.children[0].group",
        ),
    ],
)
async def test_a_bad_flow_names_the_path_and_writes_nothing(
    broker: Broker, queue: str, flow: Any, path: str
) -> None:
    with pytest.raises(
        ConfigError, match=path.replace("[", r"\[").replace("]", r"\]").replace("$", r"\$")
    ):
        await Producer(broker).enqueue_flow(flow(queue))
    assert not await broker.redis.sismember(QUEUES_KEY, queue)
    assert await broker.redis.hlen(keysets(queue).keys.jobs) == 0


async def test_a_fixed_id_of_another_job_is_refused_and_nothing_is_written(
    broker: Broker, queue: str
) -> None:
    """Skipping the existing job would leave its new parent waiting for ever: 409-style
    FlowIdConflict naming the node, before anything is written."""
    a = _q(queue, 1)
    plain = (await broker.enqueue(a, "t")).id
    producer = Producer(broker)
    kid = Flow(a, "c", id=plain)
    with pytest.raises(FlowIdConflict, match=rf"\$\.children\[1\]\.id: job '{plain}'") as err:
        await producer.enqueue_flow(Flow(queue, "p", children=[Flow(a, "c"), kid]))
    assert (err.value.path, err.value.job_id, err.value.queue) == ("$.children[1]", plain, a)
    busy = (await broker.enqueue(queue, "t")).id
    with pytest.raises(FlowIdConflict, match=rf"^\$\.id: job '{busy}'"):  # a parent, no children
        await producer.enqueue_flow(Flow(queue, "p", id=busy, children=[Flow(a, "c")]))
    assert (await broker.stats(queue)).counts.waiting == 0
    assert await broker.redis.hlen(keysets(queue).keys.jobs) == 1  # only the plain jobs
    assert await broker.redis.hlen(keysets(a).keys.jobs) == 1
    assert not await broker.redis.exists(keysets(queue).keys.intents)


async def test_the_same_flow_sent_again_with_fixed_ids_is_a_no_op(
    broker: Broker, queue: str
) -> None:
    a = _q(queue, 1)
    flow = Flow(queue, "p", id="root", children=[Flow(a, "c", id=f"k{i}") for i in range(2)])
    producer = Producer(broker)
    first = await producer.enqueue_flow(flow)
    again = await producer.enqueue_flow(flow)
    assert first == again and first.id == "root"
    assert (await broker.stats(a)).counts.ready == 2
    await _run(broker, a, "done")
    assert await _state(broker, queue, "root") == "ready"
    with pytest.raises(FlowIdConflict, match=r"\$\.children\[0\]\.id: job 'k0'"):
        # the same child ids under another parent: those jobs are the first flow's
        await producer.enqueue_flow(
            Flow(queue, "p", children=[Flow(a, "c", id=f"k{i}") for i in range(2)])
        )
    await _check(broker, queue, a)


async def test_a_cycle_is_refused(broker: Broker, queue: str) -> None:
    kids: list[Flow] = []
    loop = Flow(queue, "p", children=kids)
    kids.append(Flow(queue, "c", children=[loop]))
    with pytest.raises(ConfigError, match=r"\$\.children\[0\]\.children\[0\]: a cycle"):
        await Producer(broker).enqueue_flow(loop)


async def test_the_whole_flow_is_reachable_from_any_job(broker: Broker, queue: str) -> None:
    a, b = _q(queue, 1), _q(queue, 2)
    out = await Producer(broker).enqueue_flow(
        Flow(queue, "root", children=[Flow(b, "mid", children=[Flow(a, "leaf")]), Flow(a, "x")])
    )
    await _run(broker, a)  # both leaves complete: mid is released
    root, mid, x, leaf = out.jobs  # breadth first
    for q, i in ((queue, root.id), (b, mid.id), (a, leaf.id)):
        tree = await Producer(broker).get_flow(q, i)
        assert (tree.id, tree.queue) == (root.id, queue)
        got = {(n.id, n.queue, n.parent, n.state, n.type) for n in tree.jobs}
        assert got == {
            (root.id, queue, None, "waiting", "root"),
            (mid.id, b, root.id, "ready", "mid"),
            (x.id, a, root.id, "completed", "x"),
            (leaf.id, a, mid.id, "completed", "leaf"),
        }
    with pytest.raises(JobNotFound):
        await Producer(broker).get_flow(queue, "no-such-job")
    await _check(broker, a, b)


async def test_an_ack_deletes_any_number_of_applied_entries(broker: Broker, queue: str) -> None:
    """The applied entries an ack deletes are not bounded by Lua's unpack (~8,000)."""
    outbox = keysets(queue).keys.outbox
    ids = [f"c{i}".encode() for i in range(12_000)]
    await broker.redis.hset(outbox, mapping={i: b"x" for i in ids})
    job = await broker.enqueue(queue, "t")
    [claimed] = (await broker.claim(queue, 1, 30_000)).jobs
    s, ks = broker.settings, keysets(queue)
    args = [s.keep_completed, s.keep_completed_ms, s.events_cap, ks.keys.prefix, b" ".join(ids)]

    def ack() -> Any:
        return (yield Eval("ack", ks.ack, [*args, claimed.id, claimed.token, b""]))

    assert await broker.perform(ack()) == [1]
    assert await broker.redis.hlen(outbox) == 0
    assert await _state(broker, queue, job.id) == "completed"
