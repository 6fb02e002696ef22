"""Is Redis usable: it answers, and relay's scripts are loaded (loading any that are missing)."""

from __future__ import annotations

from typing import Any

from redis import exceptions as rexc

from relay.broker.ops import per_script
from relay.broker.scripts import SCRIPTS


async def check_health(redis: Any) -> tuple[bool, bool]:
    """(redis answers, every script is loaded); missing scripts are loaded on the way."""
    try:
        if not await redis.ping():
            return False, False
    except (rexc.RedisError, OSError):
        return False, False
    scripts = list(SCRIPTS.values())
    try:
        exists = await redis.script_exists(*(s.sha for s in scripts))
        for script, present in zip(scripts, per_script(exists), strict=True):
            if not present:
                await redis.script_load(script.source)
    except (rexc.RedisError, OSError):
        return True, False
    return True, True
