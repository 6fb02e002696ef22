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
    for key in await group_lists(redis, queue):  # grouped ready jobs (decision 0053)
        ready += [i.decode() for i in await redis.lrange(key, 0, -1)]
    zs = {}
    for name, key in (
        ("delayed", k.delayed),
        ("inflight", k.inflight),
        ("dead", k.dead),
        ("completed", k.done),
        ("cancelled", k.cancelled),
        ("waiting", k.blocked),
    ):
        zs[name] = [i.decode() for i in await redis.zrange(key, 0, -1)]
    if not zs["waiting"]:  # flows' parents: listed only where there are some
        del zs["waiting"]
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


async def group_lists(redis: Any, queue: str) -> list[str]:
    """Every group's ready list, found by SCAN (not through the index it checks)."""
    pattern = QueueKeys.for_queue(queue).group_ready(0, "*").replace(":0:*", ":*")
    return sorted({k.decode() async for k in redis.scan_iter(match=pattern, count=1000)})


async def check_groups(redis: Any, queue: str, states: dict[str, list[str]]) -> None:
    """Group counters reconcile (T22): each group's in-flight count is its share of the
    in-flight ledger, the ledger is part of the in-flight set, and each group's backlog score
    is the length of its ready lists."""
    k = QueueKeys.for_queue(queue)
    ledger = {i.decode(): g.decode() for i, g in (await redis.hgetall(k.group_inflight)).items()}
    off = set(ledger) - set(states["inflight"])
    assert not off, f"group ledger entries off flight: {sorted(off)[:10]}"
    counts = {g.decode(): int(n) for g, n in (await redis.hgetall(k.group_counts)).items()}
    assert counts == dict(Counter(ledger.values())), f"in flight {counts} vs ledger"
    backlog: Counter[str] = Counter()
    prefix = len(k.group_ready(0, ""))
    for key in await group_lists(redis, queue):
        backlog[key[prefix:]] += await redis.llen(key)
    index = {g.decode(): int(n) for g, n in await redis.zrange(k.groups, 0, -1, withscores=True)}
    assert index == dict(backlog), f"backlog index {index} vs lists {dict(backlog)}"
    gready = int(await redis.hget(k.stats, "gready") or 0)
    assert gready == sum(backlog.values()), f"stats gready {gready}, grouped ready {backlog}"
