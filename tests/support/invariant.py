"""The invariant: every job record is in exactly one state, and no state names a ghost."""

from __future__ import annotations

from collections import Counter
from typing import Any

from relay.keys import QueueKeys


async def states_of(redis: Any, queue: str) -> dict[str, list[str]]:
    """Every job id per state, read straight from Redis."""
    k = QueueKeys.for_queue(queue)
    ready: list[str] = []
    for key in k.ready_all():
        ready += [i.decode() for i in await redis.lrange(key, 0, -1)]
    for g in await redis.zrange(k.groups, 0, -1):  # grouped ready jobs (decision 0053)
        for p in range(10):
            ready += [i.decode() for i in await redis.lrange(k.group_ready(p, g.decode()), 0, -1)]
    zs = {}
    for name, key in (
        ("delayed", k.delayed),
        ("inflight", k.inflight),
        ("dead", k.dead),
        ("completed", k.done),
        ("cancelled", k.cancelled),
    ):
        zs[name] = [i.decode() for i in await redis.zrange(key, 0, -1)]
    return {"ready": ready, **zs}


async def check_invariant(redis: Any, queue: str) -> dict[str, list[str]]:
    """Assert the invariant for one queue and return the ids per state."""
    k = QueueKeys.for_queue(queue)
    states = await states_of(redis, queue)
    seen = Counter(i for ids in states.values() for i in ids)
    twice = [i for i, n in seen.items() if n > 1]
    assert not twice, f"jobs in more than one state (or twice in one): {twice[:10]}"
    records = {i.decode() for i in await redis.hkeys(k.jobs)}
    ghosts = set(seen) - records
    assert not ghosts, f"ids in a state without a job record: {sorted(ghosts)[:10]}"
    orphans = records - set(seen)
    assert not orphans, f"job records in no state (lost): {sorted(orphans)[:10]}"
    runs = {i.decode() for i in await redis.hkeys(k.run)}
    assert runs <= records, f"run records without a job: {sorted(runs - records)[:10]}"
    for name, key in (("result", k.results), ("progress", k.progress)):
        extra = {i.decode() for i in await redis.hkeys(key)} - records
        assert not extra, f"{name} records without a job: {sorted(extra)[:10]}"
    await check_groups(redis, queue, states)
    flags = {i.decode() for i in await redis.smembers(k.cancel)}
    assert flags <= set(states["inflight"]), f"cancel flags off flight: {sorted(flags)[:10]}"
    return states


async def check_groups(redis: Any, queue: str, states: dict[str, list[str]]) -> None:
    """Group counters reconcile (T22): each group's in-flight count is its share of the
    in-flight ledger, the ledger is part of the in-flight set, and each group's backlog score
    is the length of its ready lists."""
    k = QueueKeys.for_queue(queue)
    ledger = {i.decode(): g.decode() for i, g in (await redis.hgetall(k.group_inflight)).items()}
    off = set(ledger) - set(states["inflight"])
    assert not off, f"group ledger entries off flight: {sorted(off)[:10]}"
    per = Counter(ledger.values())
    total = 0
    for raw, score in await redis.zrange(k.groups, 0, -1, withscores=True):
        g = raw.decode()
        n = int(await redis.hget(k.group(g), "n") or 0)
        assert n == per.pop(g, 0), f"group {g!r}: counter {n}, ledger {per.get(g, 0)}"
        lengths = 0
        for p in range(10):
            lengths += await redis.llen(k.group_ready(p, g))
        assert lengths == int(score), f"group {g!r}: backlog {score}, lists {lengths}"
        total += lengths
    assert not per, f"in-flight groups missing from the index: {dict(per)}"
    gready = int(await redis.hget(k.stats, "gready") or 0)
    assert gready == total, f"stats gready {gready}, grouped ready {total}"
