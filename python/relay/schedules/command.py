"""`relay schedules list|trigger|delete|pause|resume`: schedules from the command line."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from relay.broker import Broker
from relay.config import redis_url_from_env
from relay.schedules.model import ScheduleInfo

HELP = "List, trigger, pause, resume or delete the schedules of a queue."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis", default=None, help="Redis URL (default: $RELAY_REDIS_URL, then localhost)"
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="every schedule of a queue, one line each")
    ls.add_argument("queue")
    for action, text in (
        ("trigger", "enqueue the schedule's job now (its ticks are unchanged)"),
        ("delete", "delete the schedule (the jobs it enqueued stay)"),
        ("pause", "stop the schedule's ticks"),
        ("resume", "let the schedule tick again, from now"),
    ):
        p = sub.add_parser(action, help=text)
        p.add_argument("queue")
        p.add_argument("name")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    broker = Broker.from_url(redis_url_from_env(args.redis))
    try:
        if args.action == "list":
            rows = await broker.schedules(args.queue)
            for line in format_table(rows):
                print(line)
        elif args.action == "trigger":
            got = await broker.trigger_schedule(args.queue, args.name)
            print(f"enqueued job {got.id} from schedule {args.name}")
        elif args.action == "delete":
            await broker.delete_schedule(args.queue, args.name)
            print(f"deleted schedule {args.name}")
        else:
            s = await broker.pause_schedule(args.queue, args.name, args.action == "pause")
            state = "paused" if s.paused else f"resumed; next run {_at(s.next_run_at)} UTC"
            print(f"schedule {s.name} {state}")
    finally:
        await broker.close()
    return 0


def format_table(rows: list[ScheduleInfo]) -> list[str]:
    """One readable line per schedule, under a header."""
    if not rows:
        return ["no schedules"]
    table = [("NAME", "WHEN", "TYPE", "NEXT RUN (UTC)", "LAST RUN (UTC)", "LAST JOB")]
    for s in rows:
        when = _every(s.every_ms) if s.every_ms else f"{s.cron} ({s.timezone})"
        nxt = "paused" if s.paused else _at(s.next_run_at)
        table.append((s.name, when, s.type, nxt, _at(s.last_run_at), s.last_job_id or "-"))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]


def _every(ms: int) -> str:
    for unit, size in (("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"every {ms // size} {unit}"
    return f"every {ms} ms"


def _at(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
