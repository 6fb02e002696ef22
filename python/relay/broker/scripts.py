"""The Lua script registry: loads lua/*.lua once, runs by SHA, reloads on NOSCRIPT."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.exceptions import NoScriptError

from relay.broker import packed

_KEY_LINE = re.compile(r"KEYS\[(\d+)(?:\.\.(\d+))?\]")

# name -> number of KEYS it takes; a test checks each header declares exactly these.
ARITY: dict[str, int] = {
    "enqueue": 16,
    "claim": 18,
    "ack": 14,
    "nack": 25,
    "extend": 5,
    "reap": 24,
    "promote": 14,
    "get_job": 12,
    "list_dead": 4,
    "requeue_dead": 16,
    "delete_dead": 4,
    "stats": 20,
    # results, cancellation, waiting (relay.broker.lifecycle)
    "cancel": 27,
    "wait_job": 6,
    # browsing (relay.broker.browse)
    "list_ready": 17,
    "list_scored": 4,
    "move_jobs": 16,
    "delete_scored": 6,
    "delete_ready": 15,
    # schedules (relay.schedules)
    "upsert_schedule": 2,
    "delete_schedule": 3,
    "list_schedules": 3,
    "due_schedules": 2,
    "fire_schedules": 19,
    # fair scheduling across groups (docs/decisions/0053-fair-groups.md)
    "set_group": 4,
    "list_groups": 6,
    # flows (relay.broker.flows, decision 0050)
    "flow_enqueue": 17,
    "flow_apply": 20,
    "flow_results": 1,
}


@dataclass(frozen=True, slots=True)
class Script:
    """One Lua script: its source, SHA1 and the number of KEYS it takes."""

    name: str
    source: str
    sha: str
    nkeys: int

    def declared_keys(self) -> int:
        """The highest KEYS index the header documents."""
        header = self.source.split("]]", 1)[0]
        top = 0
        for m in _KEY_LINE.finditer(header):
            top = max(top, int(m.group(2) or m.group(1)))
        return top

    async def run(self, client: Any, keys: Sequence[str], args: Sequence[object]) -> Any:
        """EVALSHA; on NOSCRIPT (Redis restarted or flushed) run the source with EVAL.

        EVAL loads and runs in one command (and caches the script for the next EVALSHA): a
        SCRIPT LOAD then EVALSHA could meet another flush in between and fail after all.
        """
        if len(keys) != self.nkeys:
            raise TypeError(f"script {self.name} takes {self.nkeys} keys, got {len(keys)}")
        try:
            if packed.packs(client):
                cmd = packed.packed(["EVALSHA", self.sha, self.nkeys, *keys, *args])  # type: ignore[list-item]
                return await client.execute_command(cmd)
            return await client.evalsha(self.sha, self.nkeys, *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, self.nkeys, *keys, *args)


_INCLUDE = re.compile(r"^-- #include (\w+)$", re.M)


def expand_includes(source: str, read: Callable[[str], str]) -> str:
    """Paste each `-- #include NAME` line's library (lua/_NAME.lua, read by `read`) in its
    place: EVALSHA scripts cannot call each other, so a function several scripts need lives
    once in a library and each script carries a copy of it when loaded."""
    return _INCLUDE.sub(lambda m: read(m.group(1)).rstrip("\n"), source)


def load_scripts() -> dict[str, Script]:
    """Read every script shipped in relay/broker/lua/."""
    root = resources.files("relay.broker") / "lua"
    out: dict[str, Script] = {}

    def library(name: str) -> str:
        return (root / f"_{name}.lua").read_text(encoding="utf-8")

    for name, nkeys in ARITY.items():
        source = expand_includes((root / f"{name}.lua").read_text(encoding="utf-8"), library)
        sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        out[name] = Script(name=name, source=source, sha=sha, nkeys=nkeys)
    return out


SCRIPTS = load_scripts()
