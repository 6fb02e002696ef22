"""Every Redis operation once, sans I/O: what to send, and what the replies mean.

An operation is a generator (h11's shape: the protocol apart from the socket). It yields the
steps to run — an `Eval` of a Lua script, a plain `Command`, or a `Multi` — receives each reply,
and returns the result narrowed to relay's types, or raises relay's error. It validates its
arguments before its first step, so a bad argument is a ConfigError before any I/O. The async
`Broker.perform` and the blocking `SyncProducer.perform` drive the same generators; `Run` is
the bookkeeping both share. The enqueue hot path is a plain pair instead (`enqueue_args`,
`enqueue_reply`), so it pays for no generator.

No I/O and no redis-py here: a module both transports import.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from relay import _core
from relay.broker import replies
from relay.broker.scripts import SCRIPTS
from relay.broker.types import Code
from relay.config import BrokerSettings
from relay.errors import (
    ConfigError,
    IdempotencyConflict,
    JobNotFound,
    PayloadTooLarge,
    QueueFull,
    RelayError,
)
from relay.job import check_job_type, new_job_ids
from relay.keys import QUEUES_KEY, QueueKeys
from relay.wire import (
    DeadPage,
    EnqueueResult,
    JobInfo,
    JobSpec,
    QueueStats,
    check_dead_page,
    check_rate_limit,
    check_wait_replicas,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Eval:
    """Run the Lua script `name` (relay.broker.scripts) with these KEYS and ARGV."""

    name: str
    keys: Sequence[str]
    args: Sequence[object]


@dataclass(frozen=True, slots=True)
class Command:
    """One plain Redis command; `name` says what for, in errors."""

    name: str
    args: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Multi:
    """Commands run as one MULTI/EXEC transaction; the reply is the list of their replies."""

    name: str
    commands: tuple[tuple[object, ...], ...]


Step = Eval | Command | Multi
Steps = Generator[Step, Any, T]


class Run(Generic[T]):
    """One operation's progress: hands a driver each step and takes back the reply (or the
    relay error the step raised, which the operation may catch) until a result comes out."""

    def __init__(self, steps: Steps[T]) -> None:
        self._steps = steps
        self.value: T | None = None

    def start(self) -> Step | None:
        """The first step; None when the operation needs no I/O (its result is `value`)."""
        return self.send(None)

    def send(self, reply: Any) -> Step | None:
        """The next step after `reply`, or None once the result is in `value`."""
        try:
            return self._steps.send(reply)
        except StopIteration as done:
            self.value = done.value
            return None

    def fail(self, error: RelayError) -> Step | None:
        """The next step after a step raised `error` (raised again unless the operation
        catches it)."""
        try:
            return self._steps.throw(error)
        except StopIteration as done:
            self.value = done.value
            return None


class QueueKeySets:
    """The KEYS lists of every script for one queue, built once (see `keysets`)."""

    def __init__(self, k: QueueKeys) -> None:
        ready = k.ready_all()
        self.keys = k
        self.enqueue = [*ready, k.delayed, k.jobs, k.conf, k.stats, k.events, k.wake]
        self.claim = [*ready, k.inflight, k.jobs, k.run, k.paused, k.bucket]
        self.claim += [k.stats, k.events, k.wake]
        self.ack = [k.inflight, k.run, k.jobs, k.err, k.done, k.stats, k.events]
        self.ack += [k.results, k.progress, k.cancel, k.cancelled, k.waiting, k.parent, k.outbox]
        self.nack = [*ready, k.inflight, k.delayed, k.dead, k.jobs, k.run, k.err]
        self.nack += [k.stats, k.events, k.wake, k.progress, k.cancel, k.cancelled, k.waiting]
        self.nack += [k.parent, k.outbox]
        self.extend = [k.inflight, k.run, k.cancel, k.progress, k.events]
        self.reap = [*ready, k.inflight, k.dead, k.jobs, k.run, k.err, k.stats, k.events, k.wake]
        self.reap += [k.progress, k.cancel, k.cancelled, k.waiting, k.parent, k.outbox]
        self.promote = [*ready, k.delayed, k.jobs, k.wake, k.schedules_due]
        self.get_job = [k.jobs, k.run, k.err, k.inflight, k.delayed, k.dead, k.done]
        self.get_job += [k.cancelled, k.results, k.progress, k.cancel, k.blocked]
        self.dead = [k.dead, k.jobs, k.run, k.err]
        self.requeue = [*ready, k.dead, k.jobs, k.run, k.stats, k.events, k.wake]
        self.stats = [*ready, k.delayed, k.inflight, k.dead, k.done, k.stats, k.paused]
        self.stats += [k.bucket, k.conf, k.cancelled, k.blocked]
        self.cancel = [*ready, k.delayed, k.inflight, k.done, k.dead, k.cancelled, k.cancel]
        self.cancel += [k.jobs, k.run, k.err, k.results, k.progress, k.stats, k.events]
        self.cancel += [k.waiting, k.blocked, k.parent, k.outbox]
        # flows (relay.broker.flows): the child's and the parent's sides of one queue
        self.flow_enqueue = [*ready, k.delayed, k.jobs, k.stats, k.events, k.wake, k.blocked]
        self.flow_enqueue += [k.parent]
        self.flow_apply = [*ready, k.blocked, k.dead, k.err, k.jobs, k.stats, k.events, k.wake]
        self.flow_apply += [k.waiting, k.parent, k.outbox]
        self.flow_results = [k.jobs]


@lru_cache(maxsize=4096)
def keysets(queue: str) -> QueueKeySets:
    """The queue's KEYS lists (cached); ConfigError for an invalid queue name."""
    return QueueKeySets(QueueKeys.for_queue(queue))


# -- enqueue: the hot path, a plain pair ------------------------------------------------------


def fingerprint(job_type: str, payload: bytes) -> str:
    """What an idempotency key is bound to: the job's type and payload."""
    return hashlib.blake2b(job_type.encode() + b"\0" + payload, digest_size=8).hexdigest()


def check_replicas(s: BrokerSettings, wait_replicas: int | None) -> int:
    """The replicas an enqueue waits for: `wait_replicas`, else the settings'."""
    return s.wait_replicas if wait_replicas is None else check_wait_replicas(wait_replicas)


def enqueue_args(s: BrokerSettings, prefix: str, specs: Sequence[JobSpec]) -> list[object]:
    """The enqueue script's ARGV for `specs`: validated, encoded, ids generated."""
    args: list[object] = [prefix, s.idempotency_window_ms, s.events_cap]
    now_ns = time.time_ns()
    ids = iter(new_job_ids(sum(1 for spec in specs if not spec.id), now_ns))
    for spec in specs:
        check_job_type(spec.type)
        if len(spec.payload) > s.max_payload_bytes:
            raise PayloadTooLarge(
                f"payload of {len(spec.payload)} bytes is over the limit "
                f"of {s.max_payload_bytes} bytes; nothing was written"
            )
        o = spec.options
        env = _core.encode_job(
            spec.type,
            spec.payload,
            o.priority,
            o.max_attempts,
            o.timeout_ms,
            now_ns // 1_000_000,
            o.idempotency_key,
        )
        key = o.idempotency_key or ""
        args += [
            spec.id or next(ids),
            env,
            o.delay_ms,
            -1 if o.run_at_ms is None else o.run_at_ms,
            key,
            fingerprint(spec.type, spec.payload) if key else "",
            o.group or "",
        ]
    return args


def own_ids(args: Sequence[object], specs: Sequence[JobSpec]) -> set[str]:
    """The ids `enqueue_args` generated (not the callers' fixed ones): when a resend finds one
    of these already there, it is this call's own first landing, not a duplicate."""
    return {str(args[i]) for i in range(3, len(args), 7)} - {s.id for s in specs if s.id}


def enqueue_reply(
    queue: str, specs: Sequence[JobSpec], start: int, reply: list[Any]
) -> list[EnqueueResult]:
    """The results of one enqueue script call, or its refusal raised as relay's error."""
    code = reply[0]
    if code == Code.CONFLICT:
        spec = specs[start + int(reply[1]) - 1]
        raise IdempotencyConflict(spec.options.idempotency_key or "", reply[2].decode())
    if code == Code.QUEUE_FULL:
        raise QueueFull(queue, int(reply[1]), int(reply[2]))
    if code == Code.MALFORMED:
        raise ConfigError(f"job {start + int(reply[1])} of the batch is malformed")
    return [
        EnqueueResult(id=i.decode(), duplicate=bool(d))
        for i, d in zip(reply[1::2], reply[2::2], strict=True)
    ]


# -- inspecting and operating: one generator per Broker method ---------------------------------


def job_info(s: BrokerSettings, queue: str, job_id: str) -> Steps[JobInfo]:
    """A job and its state; JobNotFound when unknown or trimmed."""
    r = yield Eval("get_job", keysets(queue).get_job, [job_id])
    if not r:
        raise JobNotFound(f"no job {job_id!r} in queue {queue!r}")
    return replies.job_info(queue, job_id, *r)


def dead_page(
    s: BrokerSettings, queue: str, limit: int = 50, cursor: str | None = None
) -> Steps[DeadPage]:
    """A page of dead jobs, newest first."""
    offset = check_dead_page(limit, cursor)
    r = yield Eval("list_dead", keysets(queue).dead, [offset, limit])
    total, rows = int(r[0]), r[1:]
    jobs = [
        replies.job_info(
            queue, rows[i].decode(), rows[i + 1], "dead", rows[i + 2], rows[i + 3], rows[i + 4]
        )
        for i in range(0, len(rows), 5)
    ]
    nxt = offset + len(jobs)
    return DeadPage(jobs=jobs, next_cursor=str(nxt) if nxt < total else None, total=total)


def requeue_dead(s: BrokerSettings, queue: str, job_id: str | None = None) -> Steps[int]:
    """Move one dead job (or all, when job_id is None) back to ready; how many moved."""
    step = Eval("requeue_dead", keysets(queue).requeue, [s.events_cap, job_id or ""])
    moved = 0
    while True:
        r = yield step
        if r[0] == Code.NOT_DEAD:
            raise JobNotFound(f"no dead job {job_id!r} in queue {queue!r}")
        moved += int(r[0])
        if job_id or int(r[0]) == 0 or int(r[1]) == 0:
            return moved


def delete_dead(s: BrokerSettings, queue: str, job_id: str) -> Steps[None]:
    """Delete one dead job for good; JobNotFound when it is not dead."""
    if (yield Eval("delete_dead", keysets(queue).dead, [job_id])) == Code.NOT_DEAD:
        raise JobNotFound(f"no dead job {job_id!r} in queue {queue!r}")


def queue_stats(s: BrokerSettings, queue: str) -> Steps[QueueStats]:
    """Counts per state, totals, pause flag and limits of one queue (zeros when unknown)."""
    return replies.queue_stats(queue, (yield Eval("stats", keysets(queue).stats, [])))


def queue_names(s: BrokerSettings) -> Steps[list[str]]:
    """Every queue that has ever had a job enqueued, sorted."""
    members = yield Command("queues", ("SMEMBERS", QUEUES_KEY))
    return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)


def set_paused(s: BrokerSettings, queue: str, paused: bool) -> Steps[None]:
    """Stop (or let go on) claims from the queue; enqueues land either way."""
    key = keysets(queue).keys.paused
    yield Command("pause", ("SET", key, b"1") if paused else ("DEL", key))


def put_rate_limit(s: BrokerSettings, queue: str, rate: float, burst: int) -> Steps[None]:
    """Limit claims to `rate` jobs/s with bursts of `burst`; the bucket starts full."""
    check_rate_limit(rate, burst)
    key = keysets(queue).keys.bucket
    yield Multi(
        "set_rate_limit", (("DEL", key), ("HSET", key, "rate", repr(float(rate)), "burst", burst))
    )


def drop_rate_limit(s: BrokerSettings, queue: str) -> Steps[None]:
    """Remove the queue's rate limit."""
    yield Command("clear_rate_limit", ("DEL", keysets(queue).keys.bucket))


def put_max_depth(s: BrokerSettings, queue: str, max_depth: int | None) -> Steps[None]:
    """Refuse enqueues (QueueFull) while ready + delayed jobs exceed max_depth (None: never)."""
    key = keysets(queue).keys.conf
    if max_depth is None:
        yield Command("set_max_depth", ("HDEL", key, "max_depth"))
    elif isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
        raise ConfigError("max_depth must be >= 1")
    else:
        yield Command("set_max_depth", ("HSET", key, "max_depth", max_depth))


def scripts_loaded(s: BrokerSettings) -> Steps[bool]:
    """Redis answers and has every relay script (loading the missing ones); raises the
    step's relay error (RedisUnavailable) when Redis does not answer."""
    yield Command("health", ("PING",))
    scripts = list(SCRIPTS.values())
    present = yield Command("health", ("SCRIPT EXISTS", *(x.sha for x in scripts)))
    for script, ok in zip(scripts, per_script(present), strict=True):
        if not ok:
            yield Command("health", ("SCRIPT LOAD", script.source))
    return True


def per_script(reply: Any) -> list[bool]:
    """SCRIPT EXISTS flags; a cluster client may answer per node ({node: [flags]}), and a
    script counts as loaded only when every node has it."""
    if isinstance(reply, dict):
        return [all(col) for col in zip(*reply.values(), strict=True)]
    return [bool(x) for x in reply]
