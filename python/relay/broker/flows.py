"""Workflows over Redis, sans I/O (decision 0050): writing a flow, the child→parent outbox,
children's states and results, and cancelling a parent's unfinished children.

No script touches two queues' slots. Writing a flow: its plan is stored first as an intent in
the root's queue (one HSET), then each level's jobs go in, parents before children, one
`flow_enqueue` call per level and queue; then the intent is deleted. A writer that dies midway
leaves the intent, and a worker's promoter replays it (every write is a no-op for a job already
there), so a flow is wholly written or, when its checks fail, not at all.

A child that finishes (ack, nack to dead, reap, cancel) writes an outbox entry in its own
queue in the same script; `drain_outbox` applies each to the parent's queue with `flow_apply`
(idempotent) and only then deletes it, so a crash between the two replays the entry.
"""

from __future__ import annotations

import time
from collections import defaultdict

import msgspec

from relay import _core
from relay.broker.lifecycle import cancel_job
from relay.broker.ops import Command, Eval, Multi, Steps, keysets
from relay.config import BrokerSettings
from relay.errors import (
    CodecError,
    ConfigError,
    FlowIdConflict,
    JobFinished,
    JobNotFound,
    RelayError,
)
from relay.flows import (
    MAX_FLOW_JOBS,
    WIDTH,
    Fixed,
    Flow,
    FlowNode,
    FlowResult,
    FlowTree,
    plan,
)
from relay.job import FlowChild, JobState, JsonValue
from relay.keys import QUEUES_KEY
from relay.results import read_record

INTENT_REPLAY_MS = 30_000  # an intent this old belongs to a writer that died: replay it
MIN_KEEP_MS = 7 * 86_400_000  # children's outcomes outlive a released parent at least this long
_NOT_CHILDREN = (b"#", b"?", b"@")  # a children hash's count, policy, parent's due time
_OUTCOMES = {b"c": JobState.COMPLETED, b"d": JobState.DEAD, b"x": JobState.CANCELLED}


def enqueue_flow(s: BrokerSettings, flow: Flow) -> Steps[FlowResult]:
    """Write a whole flow; ConfigError naming the bad node's path before anything is written."""
    p = plan(flow, s.max_payload_bytes, chunk=min(s.batch_limit, 500))
    yield from _check_fixed(p.fixed)
    root_keys = keysets(p.root.queue).keys
    intent = msgspec.msgpack.encode([[q, a] for q, a in p.writes])
    stamp = f"{int(time.time() * 1000)} ".encode()
    yield Command("flow", ("HSET", root_keys.intents, p.root.id, stamp + intent))
    yield from _write(s, p.writes)
    yield Command("flow", ("HDEL", root_keys.intents, p.root.id))
    return FlowResult(id=p.root.id, jobs=p.jobs)


def _check_fixed(fixed: list[Fixed]) -> Steps[None]:
    """FlowIdConflict when a fixed id names a job that is there and not this flow's: a child
    not linked to this parent, or a parent without its children (the write would skip it, and
    its parent would wait for ever). The same flow sent again passes. One MULTI per queue;
    generated ids are new by construction and cost nothing."""
    by_queue: dict[str, list[Fixed]] = defaultdict(list)
    for f in fixed:
        by_queue[f.queue].append(f)
    for queue, nodes in by_queue.items():
        k = keysets(queue).keys
        cmds: list[tuple[object, ...]] = []
        for f in nodes:
            cmds += [("HSTRLEN", k.jobs, f.id), ("HGET", k.parent, f.id), ("EXISTS", k.flow(f.id))]
        r = yield Multi("flow", tuple(cmds))
        for i, f in enumerate(nodes):
            there, link, has_flow = r[3 * i : 3 * i + 3]
            if not there:
                continue
            if (f.parent and (link or b"").decode() != f.parent) or (
                f.has_children and not has_flow
            ):
                raise FlowIdConflict(f.path, f.id, queue)


def _write(s: BrokerSettings, writes: list[tuple[str, list[object]]]) -> Steps[None]:
    queues = sorted({q for q, _ in writes})
    for queue, args in writes:
        ks = keysets(queue)
        r = yield Eval("flow_enqueue", ks.flow_enqueue, [ks.keys.prefix, s.events_cap, *args])
        if int(r[0]) != 1:
            raise ConfigError(f"a job of the flow in queue {queue!r} is malformed")
    yield Command("register", ("SADD", QUEUES_KEY, *queues))


def replay_intents(
    s: BrokerSettings, queue: str, older_than_ms: int = INTENT_REPLAY_MS
) -> Steps[int]:
    """Finish the flows whose writer died midway (intents older than `older_than_ms`)."""
    key = keysets(queue).keys.intents
    now, done, cursor = int(time.time() * 1000), 0, b"0"
    while True:
        cursor, items = yield Command("flow", ("HSCAN", key, cursor, "COUNT", 100))
        for root, value in _pairs(items):
            stamp, _, body = value.partition(b" ")
            if now - int(stamp) < older_than_ms:
                continue
            writes = [_widen(q, a) for q, a in msgspec.msgpack.decode(body)]
            yield from _write(s, writes)
            yield Command("flow", ("HDEL", key, root))
            done += 1
        if int(cursor) == 0:
            return done


def _widen(queue: str, args: list[object]) -> tuple[str, list[object]]:
    """An intent's write; one stored before flows took groups (6 ARGV per job, a length that
    is no multiple of 7 or a 7th that is not text) gains an empty group per job."""
    if len(args) % WIDTH == 0 and all(isinstance(a, str) for a in args[WIDTH - 1 :: WIDTH]):
        return queue, list(args)
    out: list[object] = []
    for i in range(0, len(args), 6):
        out += [*args[i : i + 6], ""]
    return queue, out


def _pairs(items: list[bytes] | dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    if isinstance(items, dict):
        return list(items.items())
    return list(zip(items[::2], items[1::2], strict=True))


Entry = tuple[bytes, bytes]  # (child id, "<parent queue> <parent id> <outcome>")


def drain_outbox(s: BrokerSettings, queue: str, depth: int = 0) -> Steps[int]:
    """Apply every outbox entry of `queue` to its parent, then delete it; how many applied
    (the promoters' replay after a crash, and a parent made dead telling its own parent)."""
    k = keysets(queue).keys
    applied, cursor = 0, b"0"
    while True:
        cursor, items = yield Command("flow", ("HSCAN", k.outbox, cursor, "COUNT", 500))
        applied += yield from apply_entries(s, queue, _pairs(items), depth)
        if int(cursor) == 0:
            return applied


def apply_entries(
    s: BrokerSettings, queue: str, entries: list[Entry], depth: int = 0, delete: bool = True
) -> Steps[int]:
    """Apply outbox entries of `queue` (one flow_apply call per parents' queue), then delete
    them from the outbox (only then: a crash in between leaves them to be replayed), unless
    `delete` is False (the caller deletes them later: a worker's next ack does)."""
    if not entries:
        return 0
    by_parent: dict[bytes, dict[bytes, list[bytes]]] = defaultdict(lambda: defaultdict(list))
    here = f"{queue} ".encode()
    for child, value in entries:
        parents_queue, pid, outcome = value.split(b" ", 2)
        by_parent[parents_queue][pid] += (here + child, outcome)
    keep = max(s.keep_completed_ms, MIN_KEEP_MS)
    for raw, kids in by_parent.items():
        parents = raw.decode()
        ks = keysets(parents)
        args: list[object] = [s.events_cap, ks.keys.prefix, keep]
        for pid, pairs in kids.items():
            args += (pid, len(pairs) // 2, *pairs)
        codes = yield Eval("flow_apply", ks.flow_apply, args)
        if 4 in codes and depth < 100:  # a parent made dead tells its own parent
            yield from drain_outbox(s, parents, depth + 1)
    if delete:
        yield from forget(queue, [c for c, _ in entries])
    return len(entries)


def forget(queue: str, children: list[bytes]) -> Steps[None]:
    """Delete applied outbox entries of `queue`."""
    yield Command("flow", ("HDEL", keysets(queue).keys.outbox, *children))


def upkeep(s: BrokerSettings, queue: str) -> Steps[int]:
    """The promoter's share: replay outbox entries and stale intents of `queue` (one command
    when there are none); how many outbox entries were applied."""
    k = keysets(queue).keys
    if not (yield Command("flow", ("EXISTS", k.outbox, k.intents))):  # an empty hash is gone
        return 0
    applied = yield from drain_outbox(s, queue)
    yield from replay_intents(s, queue)
    return applied


def settle(
    s: BrokerSettings, queue: str, written: list[bytes] | None = None, delete: bool = True
) -> Steps[int]:
    """Apply the outbox entries a call just wrote (`written`: its reply's flat list of child
    id, entry; None: the whole outbox); how many (0 when that failed). A Redis error is left to
    the promoters, which replay the entries: the call that wrote them has landed. `delete`:
    as for `apply_entries`."""
    try:
        if written is None:
            return (yield from drain_outbox(s, queue))
        return (yield from apply_entries(s, queue, _pairs(written), delete=delete))
    except RelayError:
        return 0


# -- a parent's children -----------------------------------------------------------------------


def _children_raw(queue: str, job_id: str) -> Steps[dict[bytes, bytes]]:
    items = yield Command("flow", ("HGETALL", keysets(queue).keys.flow(job_id)))
    pairs = _pairs(items)
    return {f: v for f, v in pairs if f not in _NOT_CHILDREN}


def children(s: BrokerSettings, queue: str, job_id: str) -> Steps[list[FlowChild] | None]:
    """A parent's children with their states (None: the job has no children, or they were
    forgotten with it). Unfinished children are looked up in their queues, one round trip
    per queue."""
    raw = yield from _children_raw(queue, job_id)
    if not raw:
        return None
    out: dict[tuple[str, str], str] = {}
    pending: dict[str, list[str]] = defaultdict(list)
    for field, value in raw.items():
        cq, cid = field.decode().split(" ", 1)
        out[(cq, cid)] = _OUTCOMES[value[:1]].value if value else ""
        if not value:
            pending[cq].append(cid)
    for cq, ids in pending.items():
        states = yield from _states(cq, ids)
        for cid, state in zip(ids, states, strict=True):
            out[(cq, cid)] = state
    return [FlowChild(id=cid, queue=cq, state=st) for (cq, cid), st in out.items()]


def _states(queue: str, ids: list[str]) -> Steps[list[str]]:
    return [st for st, _ in (yield from _lookup(queue, ids))]


def _lookup(queue: str, ids: list[str]) -> Steps[list[tuple[str, bytes | None]]]:
    """(state, envelope) of each job of one queue, in one MULTI ("unknown", None: no record)."""
    k = keysets(queue).keys
    zsets = [
        (k.inflight, "inflight"),
        (k.delayed, "delayed"),
        (k.blocked, "waiting"),
        (k.done, "completed"),
        (k.dead, "dead"),
        (k.cancelled, "cancelled"),
    ]
    cmds = [("ZMSCORE", key, *ids) for key, _ in zsets] + [("HMGET", k.jobs, *ids)]
    r = yield Multi("flow", tuple(cmds))
    out: list[tuple[str, bytes | None]] = []
    for i in range(len(ids)):
        state = next((name for n, (_, name) in enumerate(zsets) if r[n][i] is not None), None)
        env = r[-1][i]
        out.append((state or ("ready" if env is not None else "unknown"), env))
    return out


def children_results(s: BrokerSettings, queue: str, job_id: str) -> Steps[dict[str, JsonValue]]:
    """{child id: result} of the parent's completed children (dead or cancelled ones, which
    only an "ignore" parent runs with, are left out)."""
    return (yield from children_results_many(s, queue, [job_id]))[0]


def children_results_many(
    s: BrokerSettings, queue: str, job_ids: list[str]
) -> Steps[list[dict[str, JsonValue]]]:
    """`children_results` of several parents of one queue, in one round trip."""
    ks = keysets(queue)
    hashes = yield Eval("flow_results", ks.flow_results, [ks.keys.prefix, *job_ids])
    return [_completed_results(h) for h in hashes]


def _completed_results(flat: list[bytes]) -> dict[str, JsonValue]:
    """{child id: result} of a children hash's completed children: their results decoded as
    one JSON array (a record that is no JSON value, '!' why it was not kept, gives None)."""
    fields, docs = [], []
    for field, value in zip(flat[::2], flat[1::2], strict=True):
        if value.startswith(b"c="):
            fields.append(field)
            docs.append(value[2:])
        elif value[:1] == b"c":
            fields.append(field)
            docs.append(b"null")
    try:
        values = msgspec.json.decode(b"[" + b",".join(docs) + b"]")
    except msgspec.DecodeError:  # one stored result that does not decode: that one is None
        values = []
    if len(values) != len(docs):  # or a record that held several values ("1,2"): one by one
        values = [read_record(b"=" + d)[0] for d in docs]
    return {f.partition(b" ")[2].decode(): v for f, v in zip(fields, values, strict=True)}


def cancel_children(s: BrokerSettings, queue: str, job_id: str, depth: int = 0) -> Steps[int]:
    """After a parent was cancelled: cancel its unfinished children (and theirs); how many."""
    raw = yield from _children_raw(queue, job_id)
    n, touched = 0, set()
    for field, value in raw.items():
        if value:
            continue
        cq, cid = field.decode().split(" ", 1)
        try:
            yield from cancel_job(s, cq, cid)
        except (JobFinished, JobNotFound):
            continue
        n += 1
        touched.add(cq)
        if depth < 100:
            n += yield from cancel_children(s, cq, cid, depth + 1)
    for cq in sorted(touched):
        yield from settle(s, cq)
    return n


# -- the whole flow of a job (the dashboard's flow view, `relay flow`) ------------------------


def flow_tree(s: BrokerSettings, queue: str, job_id: str) -> Steps[FlowTree]:
    """The flow `job_id` belongs to, from its root down, each job with its state and type;
    JobNotFound when the job is unknown. Parents are found through the children's links,
    children level by level (one MULTI per queue per level)."""
    k = keysets(queue).keys
    if not (yield Command("flow", ("HEXISTS", k.jobs, job_id))):
        raise JobNotFound(f"no job {job_id!r} in queue {queue!r}")
    root = (queue, job_id)
    for _ in range(MAX_FLOW_JOBS):
        up = yield Command("flow", ("HGET", keysets(root[0]).keys.parent, root[1]))
        if up is None:
            break
        pq, pid = up.decode().split(" ", 1)
        root = (pq, pid)
    nodes: list[FlowNode] = []
    level: list[tuple[str, str, str | None, str]] = [(*root, None, "")]
    while level and len(nodes) < MAX_FLOW_JOBS:
        level = yield from _level(level, nodes)
    return FlowTree(id=root[1], queue=root[0], jobs=nodes)


def _level(
    level: list[tuple[str, str, str | None, str]], nodes: list[FlowNode]
) -> Steps[list[tuple[str, str, str | None, str]]]:
    """Add one level's jobs to `nodes`; the next level (queue, id, parent id, outcome)."""
    by_queue: dict[str, list[int]] = defaultdict(list)
    for n, (q, *_) in enumerate(level):
        by_queue[q].append(n)
    found: dict[int, tuple[str, bytes | None]] = {}
    kids: dict[int, dict[bytes, bytes]] = {}
    for q, idx in by_queue.items():
        got = yield from _lookup(q, [level[n][1] for n in idx])
        found.update(zip(idx, got, strict=True))
        hashes = yield Multi(
            "flow", tuple(("HGETALL", keysets(q).keys.flow(level[n][1])) for n in idx)
        )
        kids.update((n, dict(_pairs(h))) for n, h in zip(idx, hashes, strict=True))
    below: list[tuple[str, str, str | None, str]] = []
    for n, (q, jid, parent, outcome) in enumerate(level):
        state, env = found[n]
        if state == "unknown" and outcome:
            state = outcome  # trimmed since, but its parent recorded how it ended
        nodes.append(FlowNode(id=jid, queue=q, parent=parent, state=state, type=_type(env)))
        for field, value in kids[n].items():
            if field in _NOT_CHILDREN:
                continue
            cq, cid = field.decode().split(" ", 1)
            below.append((cq, cid, jid, _OUTCOMES[value[:1]].value if value else ""))
    return below


def _type(envelope: bytes | None) -> str | None:
    if envelope is None:
        return None
    try:
        return str(_core.decode_job(envelope)[0])
    except CodecError:
        return None
