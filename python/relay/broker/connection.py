"""Connecting to Redis (single node, TLS, or Cluster) from a URL, and riding out failovers."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from redis import exceptions as rexc
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from relay import _core
from relay.broker import packed
from relay.broker.scripts import Script
from relay.config import redis_url_from_env
from relay.errors import ConfigError, RedisUnavailable, ScriptError

T = TypeVar("T")

# A cluster node that stops answering (not just refusing) is noticed within this; blocking
# commands are sliced below it so a long BLPOP is never mistaken for a hung node.
CLUSTER_SOCKET_TIMEOUT_S = 5.0
BLOCK_SLICE_S = CLUSTER_SOCKET_TIMEOUT_S - 1.0
RETRY_BASE_MS = 50  # backoff between attempts while a cluster fails over: full jitter,
RETRY_CAP_MS = 250  # 50 ms doubling up to 250 ms, so resumption is seen within ~0.25 s

_TRANSIENT = (
    rexc.ConnectionError,  # refused / reset: the master died, or a replica is being promoted
    rexc.TimeoutError,
    rexc.ClusterDownError,  # the cluster marked the failed master FAIL, no replica promoted yet
    rexc.TryAgainError,  # a slot being migrated
    rexc.AskError,  # MovedError too: redirections redis-py gave up following
    rexc.SlotNotCoveredError,
    OSError,
)
_NOT_TRANSIENT = (rexc.AuthenticationError, rexc.AuthorizationError)
# What RedisCluster.initialize() raises while nodes disagree during a failover.
_TOPOLOGY_IN_FLUX = ("cannot be connected", "not covered", "could not agree")


def connect(url: str | None = None, **kwargs: Any) -> Any:
    """A redis-py asyncio client for `url`; `redis+cluster://h:p[,h:p...]` gives a cluster one."""
    url = redis_url_from_env(url)
    opts: dict[str, Any] = {
        "decode_responses": False,
        "health_check_interval": 15,
        "socket_keepalive": True,
        **kwargs,
    }
    scheme = urlsplit(url).scheme
    if scheme.endswith("+cluster"):
        # redis-py retries a refused node by re-reading the topology at once, without sleeping;
        # a few quick tries cover a MOVED after resharding, and the Broker's own backoff
        # (`failover_retry_ms`) covers the seconds a failover takes.
        cluster_opts: dict[str, Any] = {
            "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=3),
            # Every 5th MOVED, redis-py would close *all* connections, under the feet of the
            # other tasks sharing the client; a MOVED patches that one slot instead.
            "reinitialize_steps": 0,
            "socket_timeout": CLUSTER_SOCKET_TIMEOUT_S,
            **opts,
        }
        return RedisCluster(
            startup_nodes=_cluster_nodes(url),
            ssl=scheme.startswith("rediss"),
            **_cluster_auth(url),
            **cluster_opts,
        )
    return packed.enable(Redis.from_url(url, **opts))


def is_cluster(client: Any) -> bool:
    """Whether `client` talks to a Redis Cluster (keys of different slots need separate calls)."""
    return isinstance(client, RedisCluster)


def is_transient(exc: BaseException) -> bool:
    """An error a failover or a topology change explains: retrying soon may well succeed."""
    if isinstance(exc, _NOT_TRANSIENT):
        return False
    if isinstance(exc, rexc.RedisClusterException):
        return any(s in str(exc) for s in _TOPOLOGY_IN_FLUX)
    return isinstance(exc, _TRANSIENT) or _connection_pulled_away(exc)


def _connection_pulled_away(exc: BaseException) -> bool:
    """redis-py's cluster client closes every connection on CLUSTERDOWN; a task that was using
    one then fails inside redis-py's transport with `'NoneType' object has no attribute ...`.
    That is a lost connection, not a bug of the caller's."""
    if not isinstance(exc, AttributeError) or "'NoneType' object" not in str(exc):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and "/redis/asyncio/" in tb.tb_frame.f_code.co_filename


async def retrying(op: Callable[[], Awaitable[T]], window_s: float) -> T:
    """Run `op`; retry transient errors with full-jitter backoff until `window_s` has passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + window_s
    attempt = 0
    while True:
        try:
            return await op()
        except Exception as exc:
            left = deadline - loop.time()
            if left <= 0 or not is_transient(exc):
                raise
        attempt += 1
        ms = _core.backoff_ms("full_jitter", RETRY_BASE_MS, RETRY_CAP_MS, attempt, random.random())
        await asyncio.sleep(min(left, max(ms, 5) / 1000))


# -- one connection for a write and its WAIT ---------------------------------------------------


async def on_one_connection(
    client: Any, route_key: str, commands: Sequence[Sequence[Any]]
) -> list[Any]:
    """Send `commands` back to back on ONE connection to the node serving `route_key`.

    `WAIT` counts the replicas that have the writes of the connection it runs on, so a write
    and its WAIT must share a connection (and, on a cluster, the slot owner's node). Replies
    come back in order; an error reply is returned as its exception, not raised.
    """
    if not is_cluster(client):
        async with client.pipeline(transaction=False) as pipe:
            for cmd in commands:
                pipe.execute_command(*cmd)
            return list(await pipe.execute(raise_on_error=False))
    await client.initialize()  # no-op once the slot table is known
    node: ClusterNode = client.get_node_from_key(route_key)
    conn = node.acquire_connection()
    try:
        await conn.send_packed_command(conn.pack_commands(commands))
        out: list[Any] = []
        for _ in commands:
            try:
                out.append(await conn.read_response())
            except rexc.ResponseError as exc:
                out.append(exc)
    except BaseException:
        await conn.disconnect()
        raise
    finally:
        node.release(conn)
    return out


async def refresh_route(client: Any, key: str) -> None:
    """After a MOVED or dead node met outside redis-py's routing: let it re-learn `key`'s owner."""
    if is_cluster(client):
        # Routed normally, EXISTS follows MOVED and re-reads the topology; if that fails too,
        # the caller's retry reports the failure should it last.
        with contextlib.suppress(rexc.RedisError, rexc.RedisClusterException, OSError):
            await client.exists(key)


async def eval_then_wait(
    client: Any,
    script: Script,
    keys: Sequence[str],
    args: Sequence[object],
    fence: Sequence[object],
    replicas: int,
    timeout_ms: int,
) -> tuple[Any, int]:
    """Run `script`, then `WAIT replicas timeout_ms` on the same connection.

    Returns the script's reply and how many replicas acknowledged. Between them goes `fence`,
    a no-op write in the same slot that Redis still propagates (e.g. `HINCRBY k f 0`): WAIT
    counts from the connection's last propagated write, so without it a script that only found
    duplicates (a retry after a lost reply, a repeated idempotency key) would WAIT for nothing
    and vouch for a write that another connection made and no replica has yet.
    """
    run: Sequence[Any] = ("EVALSHA", script.sha, script.nkeys, *keys, *args)
    for _ in range(2):
        reply, fenced, acked = await on_one_connection(
            client, keys[0], [run, fence, ("WAIT", replicas, timeout_ms)]
        )
        if isinstance(reply, rexc.NoScriptError):  # a new master or a flush: send the source
            run = ("EVAL", script.source, script.nkeys, *keys, *args)
            continue
        for r in (reply, fenced, acked):
            if isinstance(r, Exception):
                if is_transient(r):
                    await refresh_route(client, keys[0])
                raise r
        return reply, int(acked)
    raise rexc.NoScriptError(f"script {script.name}: NOSCRIPT in reply to EVAL")


async def eviction_policy(client: Any) -> Any:
    """`maxmemory-policy` (bytes or str); on a cluster, the first master's that evicts."""
    if not is_cluster(client):
        return (await client.config_get("maxmemory-policy")).get("maxmemory-policy")
    per_master = await client.config_get("maxmemory-policy", target_nodes=RedisCluster.PRIMARIES)
    policies = [v.get("maxmemory-policy") for v in per_master.values()]
    evicting = [p for p in policies if p not in ("noeviction", b"noeviction")]
    return (evicting or policies or [None])[0]


# -- waiting on keys of many slots -------------------------------------------------------------


async def blpop_any(
    client: Any, keys: Sequence[str], timeout_s: float
) -> tuple[bytes, bytes] | None:
    """BLPOP on `keys`, which may live in different cluster slots; the first pop wins.

    A cluster refuses one BLPOP over several slots, so each slot gets its own BLPOP, all
    waiting at once. When one pops or fails, the others are unblocked (CLIENT UNBLOCK, not a
    cancel: a cancel could drop a signal already popped and on the wire) and awaited, and any
    signal they popped meanwhile is pushed back for the next waiter. A failure is raised only
    when no slot popped. Cancelled, this still ends every wait and puts back every pop, so no
    BLPOP outlives it to swallow a later signal.
    """
    if not is_cluster(client):
        got = await client.blpop(list(keys), timeout=timeout_s)
        return None if got is None else (got[0], got[1])
    await client.initialize()  # no-op once the slot table is known
    groups: dict[int, list[str]] = {}
    for key in keys:
        groups.setdefault(client.keyslot(key), []).append(key)
    waits = [_SlotWait(client, g) for g in groups.values()]
    tasks = [asyncio.create_task(w.run(timeout_s)) for w in waits]
    for t in tasks:  # a failure is read even if the settling below is itself cut short
        t.add_done_callback(_read_outcome)
    try:
        pending: set[asyncio.Task[tuple[bytes, bytes] | None]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(t.cancelled() or t.exception() or t.result() for t in done):
                break
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # cancelled: what matters is that the waits end
            await asyncio.shield(_settle(client, waits, tasks, keep=False))
        raise
    return await _settle(client, waits, tasks, keep=True)


def _read_outcome(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _settle(
    client: Any,
    waits: list[_SlotWait],
    tasks: list[asyncio.Task[tuple[bytes, bytes] | None]],
    keep: bool,
) -> tuple[bytes, bytes] | None:
    """End every wait; push back every pop but the one kept (the first, if `keep`). The first
    failure is raised when nothing was kept."""
    for w, t in zip(waits, tasks, strict=True):
        await w.stop(t)
    ended = [t for t in tasks if not t.cancelled()]
    pops = [r for t in ended if not t.exception() and (r := t.result()) is not None]
    errors = [e for t in ended if (e := t.exception()) is not None]
    kept = pops.pop(0) if keep and pops else None
    for key, value in pops:
        await client.rpush(key, value)
    if kept is None and keep and errors:
        raise errors[0]
    return kept


class _SlotWait:
    """One BLPOP over one slot's keys, on a connection of its own that can be unblocked."""

    def __init__(self, client: Any, keys: list[str]) -> None:
        self.client = client
        self.keys = keys
        self.node: ClusterNode = client.get_node_from_key(keys[0])
        self.client_id: int | None = None
        self.stopping = False

    async def run(self, timeout_s: float) -> tuple[bytes, bytes] | None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        conn = self.node.acquire_connection()
        try:
            return await self._blpop(conn, deadline)
        except BaseException as exc:
            await conn.disconnect()
            if isinstance(exc, Exception) and is_transient(exc):
                await refresh_route(self.client, self.keys[0])
            raise
        finally:
            self.node.release(conn)

    async def _blpop(self, conn: Any, deadline: float) -> tuple[bytes, bytes] | None:
        await conn.send_command("CLIENT", "ID")
        self.client_id = int(await conn.read_response())
        loop = asyncio.get_running_loop()
        while not self.stopping and (left := deadline - loop.time()) > 0:
            await conn.send_command("BLPOP", *self.keys, round(min(left, BLOCK_SLICE_S), 3))
            got = await conn.read_response()
            if got is not None:
                return got[0], got[1]
        return None

    async def stop(self, task: asyncio.Task[tuple[bytes, bytes] | None]) -> None:
        """Make `run` return now: unblock its BLPOP (again, if it was between two slices)."""
        self.stopping = True
        while not task.done():
            if self.client_id is not None:
                with contextlib.suppress(rexc.RedisError, OSError):  # it ends on its own then
                    await self.client.execute_command(
                        "CLIENT UNBLOCK", self.client_id, target_nodes=self.node
                    )
            await asyncio.wait({task}, timeout=0.05)


# -- URL parsing -------------------------------------------------------------------------------


def _cluster_nodes(url: str) -> list[ClusterNode]:
    netloc = urlsplit(url).netloc.rsplit("@", 1)[-1]
    nodes = []
    for part in netloc.split(","):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"cluster node {part!r} must be host:port")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))
    return nodes


def _cluster_auth(url: str) -> dict[str, Any]:
    netloc = urlsplit(url).netloc
    if "@" not in netloc:
        return {}
    user, _, password = netloc.rsplit("@", 1)[0].partition(":")
    return {"username": user or None, "password": password or None}


# A pooled socket that went stale (Redis restarted, a proxy dropped it) fails the first call on
# it with one of these; an idempotent call may be resent once on a fresh connection.
STALE_SOCKET = (rexc.ConnectionError, rexc.TimeoutError, ConnectionError, TimeoutError)


def relay_error(name: str, exc: BaseException) -> BaseException:
    """relay's error for a Redis one: RedisUnavailable when it may pass, else ScriptError."""
    msg = str(exc)
    if is_transient(exc):
        return RedisUnavailable(f"Redis unreachable during {name}: {msg}")
    if isinstance(exc, rexc.ResponseError):
        # redis-py strips the OOM and READONLY prefixes off the message into the class.
        if isinstance(exc, rexc.OutOfMemoryError):
            msg = f"OOM {msg}"
        elif isinstance(exc, rexc.ReadOnlyError):
            msg = f"READONLY {msg}"
        if msg.startswith(("OOM", "MISCONF", "READONLY", "LOADING", "BUSY")):
            return RedisUnavailable(f"Redis refused {name}: {msg}")
        return ScriptError(f"script {name} failed: {msg}")
    return exc
