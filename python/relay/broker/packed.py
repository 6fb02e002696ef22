"""Commands packed by the Rust core, sent by redis-py as they are.

redis-py turns every argument into RESP in Python, a few microseconds each: more than the rest
of relay's work on an enqueue of 1,000 jobs (6 arguments a job) or an ack of 1,000 (2 a job).
`_core.pack_command` does it in ~0.4 µs a job. A `Packed` command is a `str` equal to its
command name (so redis-py's response callbacks, logging and metrics see "EVALSHA") carrying the
RESP bytes; the connection class `enable` installs sends those bytes instead of packing again.
Everything else redis-py does (the pool, reconnects, its retries, pipelines) is unchanged.

Only single-node clients are packed: a cluster client reads the keys from the arguments to pick
the node, so it gets them unpacked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relay import _core


class Packed(str):
    """A command already in RESP; equal to its name."""

    data: bytes


def packed(args: Sequence[bytes | str | int | float]) -> Packed:
    """`args` (the command name first) as one RESP command."""
    cmd = Packed(args[0])
    cmd.data = _core.pack_command(args)
    return cmd


class _Packer:
    """Wraps a blocking connection's packer: `Packed` commands go out as they are."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def pack(self, *args: Any) -> Any:
        if args and type(args[0]) is Packed:
            return [args[0].data]
        return self._inner.pack(*args)


def _packing_class(cls: type[Any]) -> type[Any]:
    if getattr(cls, "relay_packs", False):
        return cls

    # asyncio connections pack in pack_command; blocking ones through their _command_packer
    def pack_command(self: Any, *args: Any) -> Any:
        if args and type(args[0]) is Packed:
            return [args[0].data]
        return cls.pack_command(self, *args)

    def _construct_command_packer(self: Any, packer: Any) -> Any:
        return _Packer(cls._construct_command_packer(self, packer))

    body: dict[str, Any] = {"pack_command": pack_command, "relay_packs": True}
    if hasattr(cls, "_construct_command_packer"):
        body["_construct_command_packer"] = _construct_command_packer
    return type(cls.__name__, (cls,), body)


def enable(client: Any) -> Any:
    """Let `client` (a redis-py Redis, sync or asyncio) send `Packed` commands; returns it."""
    pool = getattr(client, "connection_pool", None)
    if pool is not None and hasattr(pool, "connection_class"):
        pool.connection_class = _packing_class(pool.connection_class)
    return client


def packs(client: Any) -> bool:
    """Whether `client` sends `Packed` commands as they are."""
    pool = getattr(client, "connection_pool", None)
    return bool(getattr(getattr(pool, "connection_class", None), "relay_packs", False))
