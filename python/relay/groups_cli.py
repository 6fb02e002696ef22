"""`relay groups QUEUE` and `relay group set|show QUEUE GROUP`: fair scheduling's groups
(decision 0053) — backlog, jobs in flight and limits; set a group's weight and limits."""

from __future__ import annotations

import argparse
import json

import msgspec

from relay.sync_producer import SyncProducer
from relay.wire import GroupStats

_REDIS_HELP = "Redis URL (default: $RELAY_REDIS_URL, then localhost)"


def _limits(g: GroupStats) -> str:
    lim = g.limits
    parts = [f"weight {lim.weight}"]
    if lim.max_inflight is not None:
        parts.append(f"max {lim.max_inflight} in flight")
    if lim.rate is not None:
        parts.append(f"{lim.rate:g}/s burst {lim.burst}")
    if g.capped:
        parts.append("capped")
    if g.limited_until is not None:
        parts.append("rate limited")
    return ", ".join(parts)


def _line(g: GroupStats) -> str:
    return f"{g.name:<32} {g.backlog:>10} {g.in_flight:>9}  {_limits(g)}"


class GroupsCommand:
    HELP = "list a queue's groups, largest backlog first: backlog, in flight, limits"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("queue")
        parser.add_argument("--limit", type=int, default=100, help="most groups (1-1000)")
        parser.add_argument("--json", action="store_true", help="print the page as JSON")
        parser.add_argument("--redis", default=None, help=_REDIS_HELP)

    def run(self, args: argparse.Namespace) -> int:
        with SyncProducer.from_url(args.redis) as producer:
            page = producer.groups(args.queue, args.limit)
        if args.json:
            print(json.dumps(msgspec.to_builtins(page)))
            return 0
        print(f"{'GROUP':<32} {'BACKLOG':>10} {'IN FLIGHT':>9}  LIMITS")
        for g in page.groups:
            print(_line(g))
        shown = len(page.groups)
        print(f"{page.total} group(s) with jobs, {page.limited} with limits; {shown} shown")
        return 0


class GroupCommand:
    HELP = "show one group, or set its weight, max in flight and rate limit"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=["show", "set"])
        parser.add_argument("queue")
        parser.add_argument("group")
        parser.add_argument("--weight", type=int, default=1, help="jobs per turn (1-1000)")
        parser.add_argument("--max-inflight", type=int, default=None, help="cap (1-1e6)")
        parser.add_argument("--rate", type=float, default=None, help="jobs/s (needs --burst)")
        parser.add_argument("--burst", type=int, default=None, help="bucket size (1-1e6)")
        parser.add_argument("--redis", default=None, help=_REDIS_HELP)

    def run(self, args: argparse.Namespace) -> int:
        with SyncProducer.from_url(args.redis) as producer:
            if args.action == "set":
                g = producer.set_group(
                    args.queue, args.group, args.weight, args.max_inflight, args.rate, args.burst
                )
            else:
                g = producer.group(args.queue, args.group)
        print(f"{g.name}: backlog {g.backlog}, in flight {g.in_flight}; {_limits(g)}")
        return 0


groups = GroupsCommand()
group = GroupCommand()
