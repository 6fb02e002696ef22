"""SyncProducer: enqueue from synchronous code (a Django view, a Flask handler, a script).

The same jobs, options, scripts and errors as `Producer`, without an event loop: one blocking
round trip per call (per 1,000 jobs for `enqueue_many`). It is also the quickest way to send
single jobs from Python: redis-py's blocking client costs far less per call than its asyncio
client, and the command goes out already packed by the Rust core (`relay.broker.packed`).

A single Redis only (`redis://`, `rediss://`, `unix://`); for a Redis Cluster use `Producer`,
whose retries ride out a failover. A SyncProducer is safe to share between threads: each call
takes a connection from redis-py's pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self
from urllib.parse import urlsplit

from redis import Redis
from redis import exceptions as rexc

from relay.broker import packed
from relay.broker.broker import (
    _STALE_SOCKET,
    _QueueKeySets,
    _relay_error,
    enqueue_args,
    enqueue_reply,
)
from relay.broker.scripts import SCRIPTS
from relay.config import BrokerSettings, redis_url_from_env
from relay.errors import ConfigError, RedisUnavailable, ReplicationTimeout
from relay.job import EnqueueResult, JsonValue
from relay.keys import QUEUES_KEY, QueueKeys
from relay.wire import JobSpec


class SyncProducer:
    """The producing half of the broker, blocking; the same calls as `Producer`, without await.

    Args:
        client: A redis-py `redis.Redis` (blocking) client; see `from_url` to make one.
        settings: Limits and defaults (batch size, payload limit, `wait_replicas`, ...).
    """

    def __init__(self, client: Redis, settings: BrokerSettings | None = None) -> None:
        self.redis = packed.enable(client)
        self.settings = settings or BrokerSettings()
        self._keysets: dict[str, _QueueKeySets] = {}
        self._registered: set[str] = set()
        self._owns = False

    @classmethod
    def from_url(
        cls, url: str | None = None, settings: BrokerSettings | None = None
    ) -> SyncProducer:
        """A producer on the Redis at `url` (default: RELAY_REDIS_URL, then localhost).

        Raises:
            ConfigError: A `redis+cluster://` URL (use `Producer`) or an unusable URL.
        """
        url = redis_url_from_env(url)
        if urlsplit(url).scheme.endswith("+cluster"):
            raise ConfigError(
                "SyncProducer talks to a single Redis; use relay.Producer for a Redis Cluster"
            )
        try:
            client = Redis.from_url(
                url, decode_responses=False, health_check_interval=15, socket_keepalive=True
            )
        except ValueError as exc:
            raise ConfigError(f"invalid Redis URL: {exc}") from exc
        producer = cls(client, settings)
        producer._owns = True
        return producer

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the Redis connections when this producer made them."""
        if self._owns:
            self.redis.close()

    def enqueue(
        self,
        queue: str,
        job_type: str,
        payload: JsonValue = None,
        *,
        wait_replicas: int | None = None,
        **options: Any,
    ) -> EnqueueResult:
        """Enqueue one job; options are JobOptions' (priority, delay_ms, idempotency_key, ...)."""
        spec = JobSpec.of(job_type, payload, **options)
        return self._enqueue(queue, [spec], wait_replicas)[0]

    def enqueue_many(
        self, queue: str, specs: Sequence[JobSpec], *, wait_replicas: int | None = None
    ) -> list[str]:
        """Enqueue jobs in one round trip per 1000 (each chunk atomic); the ids in order."""
        return [r.id for r in self._enqueue(queue, specs, wait_replicas)]

    @staticmethod
    def job(job_type: str, payload: JsonValue = None, **options: Any) -> JobSpec:
        """A JobSpec for enqueue_many, validated now (ConfigError on a bad option)."""
        return JobSpec.of(job_type, payload, **options)

    # -- internals ---------------------------------------------------------------------------

    def _enqueue(
        self, queue: str, specs: Sequence[JobSpec], wait_replicas: int | None
    ) -> list[EnqueueResult]:
        replicas = self.settings.wait_replicas if wait_replicas is None else wait_replicas
        if replicas < 0:
            raise ConfigError(f"wait_replicas must be >= 0, got {replicas}")
        ks = self._keysets.get(queue)
        if ks is None:
            ks = self._keysets[queue] = _QueueKeySets(QueueKeys.for_queue(queue))
        limit = self.settings.batch_limit
        chunks = [
            enqueue_args(self.settings, ks.keys.prefix, specs[i : i + limit])
            for i in range(0, len(specs), limit)
        ]
        if queue not in self._registered:
            self._call("register", lambda: self.redis.sadd(QUEUES_KEY, queue))
            self._registered.add(queue)
        out: list[EnqueueResult] = []
        for start, args in zip(range(0, len(specs), limit), chunks, strict=True):
            try:
                reply, acked = self._call("enqueue", lambda a=args: self._run(ks, a, replicas))
            except RedisUnavailable as exc:
                # A stale pooled socket (Redis restarted): resend once on a fresh connection;
                # safe, as the enqueue is idempotent by id and our own ids are recognised below.
                if not isinstance(exc.__cause__, _STALE_SOCKET):
                    raise
                reply, acked = self._call("enqueue", lambda a=args: self._run(ks, a, replicas))
            got = enqueue_reply(queue, specs, start, reply)
            # redis-py resends a command after a reset socket; an id this call generated can
            # only come back as a "duplicate" of that resend's first landing.
            mine = {str(args[i]) for i in range(3, len(args), 6)}
            mine -= {s.id for s in specs[start : start + len(got)] if s.id}
            out += [EnqueueResult(r.id, False) if r.duplicate and r.id in mine else r for r in got]
            if acked < replicas:
                timeout = self.settings.wait_timeout_ms
                raise ReplicationTimeout([r.id for r in got], acked, replicas, timeout)
        return out

    def _run(self, ks: _QueueKeySets, args: list[Any], replicas: int) -> tuple[Any, int]:
        """The enqueue script's reply and (with `replicas` > 0) how many replicas have it."""
        script = SCRIPTS["enqueue"]
        head: list[Any] = ["EVALSHA", script.sha, script.nkeys, *ks.enqueue]
        if replicas == 0:
            try:
                return self.redis.execute_command(packed.packed([*head, *args])), 0
            except rexc.NoScriptError:  # Redis restarted or flushed its scripts
                return self.redis.eval(script.source, script.nkeys, *ks.enqueue, *args), 0
        # WAIT counts the connection's writes: run, fence (a write even when every job was a
        # duplicate; see connection.eval_then_wait) and WAIT on one connection, in one trip.
        for cmd in (packed.packed([*head, *args]), None):
            pipe = self.redis.pipeline(transaction=False)
            if cmd is None:
                pipe.eval(script.source, script.nkeys, *ks.enqueue, *args)
            else:
                pipe.execute_command(cmd)
            pipe.hincrby(ks.keys.stats, "enqueued", 0)
            pipe.execute_command("WAIT", replicas, self.settings.wait_timeout_ms)
            reply, _, acked = pipe.execute(raise_on_error=False)
            if isinstance(reply, rexc.NoScriptError) and cmd is not None:
                continue
            for r in (reply, acked):
                if isinstance(r, Exception):
                    raise r
            return reply, int(acked)
        raise rexc.NoScriptError("script enqueue: NOSCRIPT in reply to EVAL")

    def _call(self, name: str, op: Any) -> Any:
        """`op()`, with Redis errors mapped to relay's (RedisUnavailable, ScriptError)."""
        try:
            return op()
        except (rexc.RedisError, OSError) as exc:
            err = _relay_error(name, exc)
            if err is exc:
                raise
            raise err from exc
