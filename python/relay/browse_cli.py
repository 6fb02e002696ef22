"""`relay jobs QUEUE --state S` and `relay promote QUEUE ID`: the job browser from a shell."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import msgspec

from relay.broker import Broker
from relay.browse import DEFAULT_LIMIT, STATES, JobPage, JobRow
from relay.config import redis_url_from_env

_PREVIEW = 48
_WORKER = 36  # the in-flight listing's worker column (a longer name pushes the payload right)


def _when(job: JobRow) -> str:
    """The time that matters in the job's state, in this machine's zone."""
    at = job.run_at or job.lease_deadline or job.finished_at or job.created_at
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _line(job: JobRow, inflight: bool) -> str:
    preview = job.payload_preview.replace("\n", " ")
    if len(preview) > _PREVIEW or job.payload_truncated:
        preview = preview[: _PREVIEW - 1] + "…"
    worker = f"{job.worker or '-':<{_WORKER}}  " if inflight else ""
    return (
        f"{job.id:<22} {job.type[:20]:<20} {job.priority:>3} "
        f"{job.attempts:>4}/{job.max_attempts:<3} {_when(job)}  {worker}{preview}"
    )


class JobsCommand:
    HELP = (
        "List a queue's jobs in one state (ready, delayed, inflight, completed, cancelled, dead)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("queue")
        parser.add_argument("--state", default="ready", help=f"one of {', '.join(STATES)}")
        parser.add_argument("--type", default=None, help="only jobs of this type")
        parser.add_argument(
            "--group", default=None, help="ready jobs of this group (default: ungrouped ones)"
        )
        parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="1..500 per page")
        parser.add_argument("--cursor", default=None, help="next cursor printed by a last page")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        parser.add_argument("--redis", default=None, help="Redis URL (default: RELAY_REDIS_URL)")

    def run(self, args: argparse.Namespace) -> int:
        page = asyncio.run(_page(args))
        if args.json:
            for job in page.jobs:
                print(msgspec.json.encode(job).decode())
        else:
            when = {"delayed": "RUN AT", "inflight": "LEASE UNTIL", "ready": "CREATED"}
            head = when.get(args.state, "FINISHED")
            inflight = args.state == "inflight"
            worker = f"{'WORKER':<{_WORKER}}  " if inflight else ""
            print(f"{'ID':<22} {'TYPE':<20} PRI ATTEMPTS {head:<19}  {worker}PAYLOAD")
            for job in page.jobs:
                print(_line(job, inflight))
        if page.next_cursor:
            print(f"more: --cursor {page.next_cursor}", file=sys.stderr)
        return 0


async def _page(args: argparse.Namespace) -> JobPage:
    broker = Broker.from_url(redis_url_from_env(args.redis))
    try:
        return await broker.list_jobs(
            args.queue,
            args.state,
            limit=args.limit,
            cursor=args.cursor,
            job_type=args.type,
            group=args.group,
        )
    finally:
        await broker.close()


class PromoteCommand:
    HELP = "Run a delayed job now (it moves to ready, keeping its priority)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("queue")
        parser.add_argument("id")
        parser.add_argument("--redis", default=None, help="Redis URL (default: RELAY_REDIS_URL)")

    def run(self, args: argparse.Namespace) -> int:
        asyncio.run(_promote(args))
        print(f"promoted {args.id}: ready to run")
        return 0


async def _promote(args: argparse.Namespace) -> None:
    broker = Broker.from_url(redis_url_from_env(args.redis))
    try:
        await broker.promote_job(args.queue, args.id)
    finally:
        await broker.close()


jobs = JobsCommand()
promote = PromoteCommand()
