"""Fair scheduling across groups: set and read a group's limits (docs/decisions/0053).

Sans I/O, like relay.broker.ops: each operation is a generator of steps. Claim, ack, nack and
reap keep the groups' state up to date in their own scripts; these only configure and report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from relay.broker.ops import Command, Eval, Steps, keysets
from relay.config import BrokerSettings
from relay.keys import QUEUES_KEY, validate_group_name
from relay.wire import (
    GroupLimits,
    GroupPage,
    GroupStats,
    check_group_limits,
    check_group_page,
)

if TYPE_CHECKING:
    from relay.config import BrokerSettings as _Settings

T = TypeVar("T")
_FIELDS = 9  # per group in list_groups' reply


def _keys(queue: str) -> tuple[list[str], str]:
    k = keysets(queue).keys
    return [k.groups, k.group_counts, k.group_conf, k.group_due, k.inflight, k.group_of], k.prefix


def put_group(s: BrokerSettings, queue: str, group: str, limits: GroupLimits) -> Steps[None]:
    """Set a group's weight, cap and bucket; a limit left out (None) is removed. The queue
    need not exist yet (limits are best set before the traffic): it is registered."""
    validate_group_name(group)
    check_group_limits(limits)
    k = keysets(queue).keys
    yield Command("register", ("SADD", QUEUES_KEY, queue))
    rate = "" if limits.rate is None else repr(float(limits.rate))
    burst = "" if limits.burst is None else limits.burst
    cap = "" if limits.max_inflight is None else limits.max_inflight
    args = [k.prefix, group, limits.weight, cap, rate, burst]
    yield Eval("set_group", [k.group_conf, k.group_due, k.wake, k.group_counts], args)


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _row(r: Sequence[Any]) -> GroupStats:
    name, backlog, n, w, cap, rate, burst, park, until = (_text(v) for v in r)
    limits = GroupLimits(
        weight=int(w),
        max_inflight=int(cap) if cap else None,
        rate=float(rate) if rate else None,
        burst=int(burst) if burst else None,
    )
    return GroupStats(
        name=name,
        backlog=max(0, int(float(backlog))),
        in_flight=max(0, int(n)),
        limits=limits,
        capped=park == "cap",
        limited_until=int(float(until)) / 1000 if until else None,
    )


def group_stats(s: BrokerSettings, queue: str, group: str) -> Steps[GroupStats]:
    """One group's backlog, jobs in flight and limits (zeros and defaults when unknown)."""
    validate_group_name(group)
    keys, prefix = _keys(queue)
    r = yield Eval("list_groups", keys, [prefix, 1, group])
    return _row(r[4 : 4 + _FIELDS])


def group_page(s: BrokerSettings, queue: str, limit: int = 100) -> Steps[GroupPage]:
    """The queue's groups, largest ready backlog first (at most `limit`)."""
    check_group_page(limit)
    keys, prefix = _keys(queue)
    r = yield Eval("list_groups", keys, [prefix, limit, ""])
    rows = [_row(r[i : i + _FIELDS]) for i in range(4, len(r), _FIELDS)]
    rows.sort(key=lambda g: (-g.backlog, -g.in_flight, g.name))
    return GroupPage(
        groups=rows, total=int(r[0]) + int(r[1]), limited=int(r[2]), sampled=bool(int(r[3]))
    )


class GroupMethods:
    """The Broker's group methods (mixed into Broker)."""

    settings: _Settings

    if TYPE_CHECKING:

        async def perform(self, steps: Steps[T]) -> T: ...

    async def set_group(self, queue: str, group: str, limits: GroupLimits) -> None:
        """Set a group's weight, cap and token bucket (a limit left out is removed)."""
        await self.perform(put_group(self.settings, queue, group, limits))

    async def group(self, queue: str, group: str) -> GroupStats:
        """One group's backlog, jobs in flight and limits."""
        return await self.perform(group_stats(self.settings, queue, group))

    async def groups(self, queue: str, limit: int = 100) -> GroupPage:
        """The queue's groups, largest ready backlog first."""
        return await self.perform(group_page(self.settings, queue, limit))
