"""Workflows on the 6-node cluster (decision 0050): a flow whose queues are served by three
different masters, a crash between a child's ack and its parent's update replayed, and
failure climbing a tree across shards. No script touches two slots (a CROSSSLOT would fail)."""

from __future__ import annotations

from typing import Any

from relay import Broker, Flow, Producer
from relay.broker import Nack, NackMode
from relay.broker.ops import Eval, keysets
from tests.cluster.cluster import Cluster
from tests.cluster.conftest import queues_on_distinct_masters
from tests.support.invariant import check_invariant


async def test_a_flow_over_three_masters_fans_in(broker: Broker, healthy_cluster: Cluster) -> None:
    root_q, a, b = queues_on_distinct_masters(healthy_cluster, 3, "flowfan")
    producer = Producer(broker)
    out = await producer.enqueue_flow(
        Flow(root_q, "album", children=[Flow(a, "img", 1), Flow(b, "img", 2), Flow(a, "img", 3)])
    )
    assert (await broker.get_job(root_q, out.id)).state == "waiting"
    for q in (a, b):
        jobs = (await broker.claim(q, 10, 30_000)).jobs
        held = [(j.id, j.token, b"=" + str(j.payload).encode()) for j in jobs]
        assert await broker.ack(q, held) == [True] * len(jobs)
    [parent] = (await broker.claim(root_q, 10, 30_000)).jobs
    assert parent.id == out.id
    info = await producer.get_job(root_q, out.id)
    assert info.children is not None and {c.state for c in info.children} == {"completed"}
    tree = await producer.get_flow(b, out.jobs[2].id)
    assert tree.id == out.id and len(tree.jobs) == 4
    for q in (root_q, a, b):
        await check_invariant(broker.redis, q)


async def test_a_crash_after_the_childs_ack_is_replayed(
    broker: Broker, healthy_cluster: Cluster
) -> None:
    root_q, child_q = queues_on_distinct_masters(healthy_cluster, 2, "flowcrash")
    out = await Producer(broker).enqueue_flow(Flow(root_q, "p", children=[Flow(child_q, "c")]))
    [child] = (await broker.claim(child_q, 10, 30_000)).jobs
    s, ks = broker.settings, keysets(child_q)

    def ack_only() -> Any:  # the child's script alone: the worker is killed right after it
        args = [s.keep_completed, s.keep_completed_ms, s.events_cap, ks.keys.prefix]
        yield Eval("ack", ks.ack, [*args, b"", child.id, child.token, b"=1"])

    await broker.perform(ack_only())
    assert (await broker.get_job(root_q, out.id)).state == "waiting"
    assert await broker.flow_upkeep(child_q) == 1  # any worker's promoter
    assert (await broker.get_job(root_q, out.id)).state == "ready"


async def test_a_dead_leaf_kills_its_ancestors_across_shards(
    broker: Broker, healthy_cluster: Cluster
) -> None:
    top, mid, leaf = queues_on_distinct_masters(healthy_cluster, 3, "flowdead")
    out = await Producer(broker).enqueue_flow(
        Flow(top, "root", children=[Flow(mid, "mid", children=[Flow(leaf, "leaf")])])
    )
    [job] = (await broker.claim(leaf, 10, 30_000)).jobs
    await broker.nack(leaf, [Nack(job.id, job.token, NackMode.DEAD, 0, "bad")])
    assert (await broker.get_job(mid, out.jobs[1].id)).state == "dead"
    assert (await broker.get_job(top, out.id)).state == "dead"
