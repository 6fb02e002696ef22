"""The Broker: the only code that talks to Redis; one method per Lua script."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

from redis import exceptions as rexc

from relay.broker import calls, flows, lifecycle, ops, packed, replies
from relay.broker.browse import BrowseOps
from relay.broker.connection import (
    STALE_SOCKET,
    blpop_any,
    connect,
    eval_then_wait,
    eviction_policy,
    is_cluster,
    relay_error,
    retrying,
)
from relay.broker.groups import GroupMethods
from relay.broker.ops import (
    QueueKeySets,
    check_replicas,
    enqueue_args,
    enqueue_reply,
    fingerprint,
    keysets,
    own_ids,
)
from relay.broker.registry import Registrations
from relay.broker.schedules import ScheduleMethods
from relay.broker.scripts import SCRIPTS
from relay.broker.settling import Settler
from relay.broker.types import (
    Claimed,
    Code,
    DeadPage,
    Nack,
    NackOutcome,
    Promoted,
    QueueStats,
    Reaped,
)
from relay.config import BrokerSettings
from relay.errors import ConfigError, RedisUnavailable, RelayError, ReplicationTimeout
from relay.faces import AsyncEnqueue
from relay.job import EnqueueResult, JobInfo, JsonValue, check_worker
from relay.keys import QUEUES_KEY
from relay.wire import CancelOutcome, JobSpec

__all__ = ["Broker", "JobSpec", "enqueue_args", "enqueue_reply", "fingerprint"]

log = logging.getLogger("relay.broker")
T = TypeVar("T")
_ACKED = (Code.OK, Code.ALREADY, Code.CANCEL)


class Broker(AsyncEnqueue, BrowseOps, ScheduleMethods, GroupMethods):
    """Queue operations on one Redis (or Redis Cluster); each is one atomic Lua script."""

    def __init__(self, client: Any, settings: BrokerSettings | None = None) -> None:
        self.redis = client
        self.settings = settings or BrokerSettings()
        self._registered = Registrations()
        # Only a cluster heals itself within seconds (a replica is promoted), so only there
        # does a call wait out the gap; a single Redis outage goes straight to the caller.
        self._retry_s = self.settings.failover_retry_ms / 1000 if is_cluster(client) else 0.0
        # redis-py 8.1's cluster client can break a connection when many tasks make their first
        # call at once; reading the topology once, up front, avoids it.
        self._topology_known = not is_cluster(client)
        self._topology_lock = asyncio.Lock()
        self.settler = Settler(self.perform)  # flows' outbox entries (relay.broker.settling)

    @classmethod
    def from_url(cls, url: str | None = None, settings: BrokerSettings | None = None) -> Broker:
        """A broker on the Redis at `url` (default: RELAY_REDIS_URL, then localhost)."""
        return cls(connect(url), settings)

    async def close(self) -> None:
        """Close the connections (after the flows' outbox entries being applied)."""
        await self.settler.close()
        await self.redis.aclose()

    def _ks(self, queue: str) -> QueueKeySets:
        return keysets(queue)

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[object]) -> Any:
        return await self._retrying(name, lambda: SCRIPTS[name].run(self.redis, keys, args))

    async def _retrying(self, name: str, op: Callable[[], Awaitable[T]]) -> T:
        """`op`, retried across a cluster failover; Redis errors mapped to relay's."""
        try:
            if not self._topology_known:
                async with self._topology_lock:
                    await retrying(self.redis.initialize, self._retry_s)
                    self._topology_known = True
            return await retrying(op, self._retry_s)
        except (rexc.RedisError, rexc.RedisClusterException, OSError, AttributeError) as exc:
            err = relay_error(name, exc)
            if err is exc:
                raise
            raise err from exc

    # -- producing ---------------------------------------------------------------------------

    async def _enqueue_one(
        self, queue: str, spec: JobSpec, wait_replicas: int | None
    ) -> EnqueueResult:
        return (await self.enqueue_many(queue, [spec], wait_replicas=wait_replicas))[0]

    async def enqueue_many(
        self, queue: str, specs: Sequence[JobSpec], *, wait_replicas: int | None = None
    ) -> list[EnqueueResult]:
        """Enqueue many jobs in one round trip (atomic per chunk of `batch_limit` jobs).

        With `wait_replicas` > 0 (default: the settings') each chunk is confirmed by WAIT on
        the connection that wrote it; too few replicas in time raises ReplicationTimeout.
        """
        replicas = check_replicas(self.settings, wait_replicas)
        ks = self._ks(queue)
        chunks = [
            enqueue_args(self.settings, ks.keys.prefix, specs[i : i + self.settings.batch_limit])
            for i in range(0, len(specs), self.settings.batch_limit)
        ]
        await self._register(queue)
        out: list[EnqueueResult] = []
        for start, args in zip(
            range(0, len(specs), self.settings.batch_limit), chunks, strict=True
        ):
            reply, retried, acked = await self._enqueue_chunk(ks, args, replicas)
            got = enqueue_reply(queue, specs, start, reply)
            if retried:  # our own first attempt may have landed before its reply was lost
                own = own_ids(args, specs[start : start + len(got)])
                got = [EnqueueResult(r.id, False) if r.id in own else r for r in got]
            out.extend(got)
            if acked < replicas:
                timeout = self.settings.wait_timeout_ms
                raise ReplicationTimeout([r.id for r in got], acked, replicas, timeout)
        return out

    async def _enqueue_chunk(
        self, ks: QueueKeySets, args: list[object], replicas: int
    ) -> tuple[Any, bool, int]:
        """The script's reply, whether it took more than one attempt, replicas that acked."""
        attempts = 0

        async def once() -> tuple[Any, int]:
            nonlocal attempts
            attempts += 1
            if replicas == 0:
                return await SCRIPTS["enqueue"].run(self.redis, ks.enqueue, args), 0
            fence = ("HINCRBY", ks.keys.stats, "enqueued", 0)
            timeout = self.settings.wait_timeout_ms
            script = SCRIPTS["enqueue"]
            return await eval_then_wait(
                self.redis, script, ks.enqueue, args, fence, replicas, timeout
            )

        try:
            reply, acked = await self._retrying("enqueue", once)
        except RedisUnavailable as exc:
            # A pooled socket that went stale (Redis restarted, a proxy dropped it) fails the
            # first call on it. One resend on a fresh connection is safe: the enqueue is
            # idempotent by id, and `attempts` marks our own ids so a landed first attempt is
            # not reported as a duplicate. (A cluster's `_retrying` already resends.)
            if attempts != 1 or not isinstance(exc.__cause__, STALE_SOCKET):
                raise
            reply, acked = await self._retrying("enqueue", once)
        return reply, attempts > 1, acked

    async def _register(self, queue: str) -> None:
        if self._registered.due(queue):  # again every few seconds: a lost registry heals
            await self._retrying("register", lambda: self.redis.sadd(QUEUES_KEY, queue))
            self._registered.done(queue)

    # -- consuming ---------------------------------------------------------------------------

    async def claim(self, queue: str, count: int, lease_ms: int, worker: str = "") -> Claimed:
        """Lease up to `count` jobs for `lease_ms`; honours pause and the rate limit. `worker`
        names the claimer in the jobs' run records (the job browser shows who holds a job)."""
        if not 1 <= count <= self.settings.batch_limit:
            raise ConfigError(f"claim count must be 1..{self.settings.batch_limit}, got {count}")
        if lease_ms <= 0:
            raise ConfigError(f"lease must be positive, got {lease_ms} ms")
        args = [count, lease_ms, self.settings.events_cap, check_worker(worker)]
        reply = await self._run("claim", self._ks(queue).claim, args)
        return replies.claimed(queue, reply)

    async def ack(
        self, queue: str, held: Iterable[tuple[str, int] | tuple[str, int, bytes]]
    ) -> list[bool]:
        """Complete jobs, each (id, token) or (id, token, result record from
        `relay.results.result_record`); False for each whose lease was lost (its ack changed
        nothing). A job whose cancel was asked for ends cancelled instead (True)."""
        ks = self._ks(queue)
        s = self.settings
        args: list[object] = [s.keep_completed, s.keep_completed_ms, s.events_cap, ks.keys.prefix]
        args.append(b"")  # flows: the applied outbox entries it deletes, taken below
        for item in held:
            args += item if len(item) == 3 else (*item, b"")
        if len(args) == 5:
            return []
        args[4] = self.settler.take_applied(queue)
        reply = await self._run("ack", ks.ack, args)
        n = (len(args) - 5) // 3
        if len(reply) > n:  # flows: children's outbox entries, for their parents (0050)
            await self.settler.settle(s, queue, reply[n])
        return [c in _ACKED for c in reply[:n]]

    async def nack(self, queue: str, nacks: Sequence[Nack]) -> list[NackOutcome]:
        """Give jobs back: retry now or after a delay, or dead-letter them."""
        if not nacks:
            return []
        args: list[object] = [self.settings.events_cap, self._ks(queue).keys.prefix]
        for n in nacks:
            args += [n.id, n.token, n.mode.value, max(0, n.delay_ms), n.error[:4000]]
        reply = await self._run("nack", self._ks(queue).nack, args)
        if len(reply) > len(nacks):  # flows: a dead or cancelled child (decision 0050)
            await self.settler.settle(self.settings, queue, reply[len(nacks)])
        return [NackOutcome(c) for c in reply[: len(nacks)]]

    async def extend(
        self,
        queue: str,
        held: Iterable[tuple[str, int] | tuple[str, int, bytes]],
        lease_ms: int,
    ) -> list[Code]:
        """Extend leases to Redis now + lease_ms, each (id, token) or (id, token, progress JSON
        to store); per job OK, CANCEL (extended, and its cancel was asked for: stop it) or
        STALE (the lease was already lost)."""
        args: list[object] = [lease_ms, self.settings.events_cap]
        for item in held:
            args += item if len(item) == 3 else (*item, b"")
        if len(args) == 2:
            return []
        reply = await self._run("extend", self._ks(queue).extend, args)
        return [Code(c) for c in reply]

    async def reap(self, queue: str) -> Reaped:
        """Take back jobs whose lease expired (at most batch_limit per call)."""
        s, ks = self.settings, self._ks(queue)
        r = await self._run(
            "reap", ks.reap, [s.batch_limit, s.crash_limit, s.events_cap, ks.keys.prefix]
        )
        if r[4]:  # flows: a dead or cancelled child (decision 0050)
            await self.settler.settle(s, queue, r[4])
        return Reaped(requeued=int(r[0]), dead=int(r[1]), more=bool(r[2]), cancelled=int(r[3]))

    async def flow_upkeep(self, queue: str) -> int:
        """Replay `queue`'s flow outbox and stale flow intents (decision 0050); entries applied."""
        return await self.perform(flows.upkeep(self.settings, queue))

    async def promote(self, queue: str) -> Promoted:
        """Move due delayed jobs to ready (at most batch_limit per call)."""
        ks = self._ks(queue)
        r = await self._run("promote", ks.promote, [self.settings.batch_limit, ks.keys.prefix])
        return Promoted(moved=int(r[0]), wait_ms=int(r[1]), tick_ms=int(r[2]))

    async def wait_for_work(self, queues: Sequence[str], timeout_s: float) -> str | None:
        """Block until an enqueue signals one of `queues`; the queue name, or None on timeout."""
        keys = [self._ks(q).keys.wake for q in queues]
        # On a cluster the queues' wake lists live in different slots: one BLPOP per slot.
        got = await self._retrying("wait_for_work", lambda: blpop_any(self.redis, keys, timeout_s))
        if got is None:
            return None
        key = got[0].decode()
        return next(q for q in queues if self._ks(q).keys.wake == key)

    @property
    def can_wait_then_claim(self) -> bool:
        """Whether `wait_then_claim` works here: on one Redis, not on a cluster."""
        return packed.packs(self.redis)

    async def wait_then_claim(
        self,
        wait_on: Sequence[str],
        timeout_s: float,
        claim: Sequence[tuple[str, int]],
        lease_ms: int,
        worker: str = "",
    ) -> tuple[str | None, list[tuple[str, Claimed | None]]]:
        """Block until an enqueue signals one of `wait_on` (or `timeout_s`), then claim at once.

        One round trip: the claims are pipelined behind the BLPOP on the same connection, and
        Redis runs a blocked client's queued commands as soon as the BLPOP is served, so a job
        enqueued on an idle queue is claimed in the same instant its wake-up is popped: the
        worker learns of the job and holds it in one reply. `claim` is (queue, count) pairs,
        asked in that order; they run on a timeout too (they find what the safety polls would).
        `worker` names the claimer, as for `claim`.
        When the client was made with `client_name=name`, `unblock_waiter(name)` ends the wait.

        Returns the woken queue (None on timeout) and each queue's claim; None for a claim that
        met NOSCRIPT (a flush or restart during the wait: claim it again the usual way).
        """
        wake = {self._ks(q).keys.wake: q for q in wait_on}
        pipe = self.redis.pipeline(transaction=False)
        pipe.execute_command("BLPOP", *wake, timeout_s)
        script = SCRIPTS["claim"]
        worker = check_worker(worker)
        for queue, count in claim:
            if not 1 <= count <= self.settings.batch_limit:
                raise ConfigError(
                    f"claim count must be 1..{self.settings.batch_limit}, got {count}"
                )
            keys = self._ks(queue).claim
            cmd: list[Any] = [
                "EVALSHA",
                script.sha,
                script.nkeys,
                *keys,
                count,
                lease_ms,
                self.settings.events_cap,
                worker,
            ]
            pipe.execute_command(packed.packed(cmd))

        async def run() -> list[Any]:
            return list(await pipe.execute(raise_on_error=False))

        out = await self._retrying("wait_for_work", run)
        got = out[0]
        if isinstance(got, Exception):
            raise relay_error("wait_for_work", got) from got
        woke = None if got is None else wake.get(got[0].decode())
        claims: list[tuple[str, Claimed | None]] = []
        for (queue, _), reply in zip(claim, out[1:], strict=True):
            if isinstance(reply, rexc.NoScriptError):
                claims.append((queue, None))
            elif isinstance(reply, Exception):
                raise relay_error("claim", reply) from reply
            else:
                claims.append((queue, replies.claimed(queue, reply)))
        return woke, claims

    async def unblock_waiter(self, name: str) -> bool:
        """End a `wait_then_claim` on connections named `name` now, as if it timed out; whether
        one was blocked.

        Its pipelined claims still run and come back to the waiter (a cancelled read could
        strand them: leased, but held by no one until the lease ran out)."""
        listing = await self._retrying(
            "unblock", lambda: self.redis.execute_command("CLIENT", "LIST")
        )
        text = listing.decode() if isinstance(listing, bytes) else str(listing)
        found = False
        for line in text.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if fields.get("name") == name:
                found = await self._unblock(fields["id"]) or found
        return found

    async def _unblock(self, client_id: str) -> bool:
        async def once() -> Any:
            return await self.redis.execute_command("CLIENT", "UNBLOCK", client_id)

        return bool(await self._retrying("unblock", once))

    # -- inspecting and operating ------------------------------------------------------------

    async def perform(self, steps: ops.Steps[T]) -> T:
        """Run a sans-I/O operation (relay.broker.ops, relay.broker.calls) on this Redis."""
        run = ops.Run(steps)
        step = run.start()
        while step is not None:
            try:
                reply = await self._retrying(step.name, partial(self._step, step))
            except RelayError as exc:
                step = run.fail(exc)
            else:
                step = run.send(reply)
        return run.value  # type: ignore[return-value]  # set once the operation returned

    async def _step(self, step: ops.Step) -> Any:
        if isinstance(step, ops.Eval):
            return await SCRIPTS[step.name].run(self.redis, step.keys, step.args)
        if isinstance(step, ops.Command):
            return await self.redis.execute_command(*self._packed(step.args))
        async with self.redis.pipeline(transaction=True) as pipe:
            for command in step.commands:
                pipe.execute_command(*self._packed(command))
            return await pipe.execute()

    def _packed(self, args: tuple[object, ...]) -> tuple[object, ...]:
        """On one Redis, a command packed by the Rust core (a few µs less per argument); a
        two-word name ("SCRIPT EXISTS") goes to redis-py, which splits it."""
        if " " in str(args[0]) or not packed.packs(self.redis):
            return args
        return (packed.packed(args),)  # type: ignore[arg-type]

    async def get_job(self, queue: str, job_id: str) -> JobInfo:
        """A job and its state; JobNotFound when unknown or trimmed."""
        return await self.perform(ops.job_info(self.settings, queue, job_id))

    async def cancel(self, queue: str, job_id: str) -> CancelOutcome:
        """Cancel a job (relay.broker.lifecycle.cancel_job); a flow's parent, its unfinished
        children too (relay.broker.flows)."""
        return await self.perform(calls.cancel(self.settings, queue, job_id))

    async def wait_job(self, queue: str, job_id: str, wait_ms: int | None) -> JobInfo:
        """The job once finished, or after `wait_ms` as it is (relay.broker.lifecycle)."""
        return await self.perform(lifecycle.wait_job(self.settings, queue, job_id, wait_ms))

    async def result(
        self,
        queue: str,
        job_id: str,
        timeout: float | None = None,  # noqa: ASYNC109 - DESIGN.md names it `timeout`
    ) -> JsonValue:
        """The job's result once completed; JobFailed, JobCancelled or TimeoutError."""
        return await self.perform(lifecycle.job_result(self.settings, queue, job_id, timeout))

    async def dead_jobs(self, queue: str, limit: int = 50, cursor: str | None = None) -> DeadPage:
        """A page of dead jobs, newest first."""
        return await self.perform(ops.dead_page(self.settings, queue, limit, cursor))

    async def requeue_dead(self, queue: str, job_id: str | None = None) -> int:
        """Move one dead job (or all, when job_id is None) back to ready; how many moved."""
        return await self.perform(ops.requeue_dead(self.settings, queue, job_id))

    async def delete_dead(self, queue: str, job_id: str) -> None:
        """Delete one dead job for good."""
        await self.perform(ops.delete_dead(self.settings, queue, job_id))

    async def stats(self, queue: str) -> QueueStats:
        """Counts per state, totals, pause flag and limits of one queue."""
        return await self.perform(ops.queue_stats(self.settings, queue))

    async def queues(self) -> list[str]:
        """Every queue that has ever had a job enqueued, sorted."""
        return await self.perform(ops.queue_names(self.settings))

    async def has_queue(self, queue: str) -> bool:
        """Whether `queue` is registered (re-registering it when its keys exist)."""
        return await self.perform(calls.has_queue(self.settings, queue))

    async def pause(self, queue: str) -> None:
        """Stop claims from the queue (enqueues still land)."""
        await self.perform(ops.set_paused(self.settings, queue, True))

    async def resume(self, queue: str) -> None:
        """Let claims from the queue go on."""
        await self.perform(ops.set_paused(self.settings, queue, False))

    async def set_rate_limit(self, queue: str, rate: float, burst: int) -> None:
        """Limit claims to `rate` jobs/s with bursts of `burst`; the bucket starts full."""
        await self.perform(ops.put_rate_limit(self.settings, queue, rate, burst))

    async def clear_rate_limit(self, queue: str) -> None:
        """Remove the queue's rate limit."""
        await self.perform(ops.drop_rate_limit(self.settings, queue))

    async def set_max_depth(self, queue: str, max_depth: int | None) -> None:
        """Refuse enqueues (QueueFull) while ready + delayed jobs exceed max_depth."""
        await self.perform(ops.put_max_depth(self.settings, queue, max_depth))

    async def check_eviction_policy(self) -> str | None:
        """Warn loudly unless Redis runs with `noeviction`; returns the policy when readable."""
        try:
            policy = await eviction_policy(self.redis)  # on a cluster: every master's
        except rexc.ResponseError:  # CONFIG may be disabled on managed Redis
            return None
        except (rexc.RedisError, OSError) as exc:  # unreachable: relay's error, like every call
            raise relay_error("check_eviction_policy", exc) from exc
        policy = policy.decode() if isinstance(policy, bytes) else policy
        if policy != "noeviction":
            log.warning(
                "Redis maxmemory-policy is %r, not 'noeviction': Redis may evict queued "
                "jobs under memory pressure. Set `maxmemory-policy noeviction`.",
                policy,
            )
        return str(policy) if policy is not None else None
