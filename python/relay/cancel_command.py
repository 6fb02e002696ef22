"""`relay cancel QUEUE ID`: cancel one job (a waiting one at once, a running one by its worker)."""

from __future__ import annotations

import argparse
import asyncio

from relay.broker import Broker

HELP = "cancel a job: a ready or delayed one at once, a running one by its worker"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue", help="the job's queue")
    parser.add_argument("id", help="the job's id")
    parser.add_argument(
        "--redis", default=None, help="Redis URL (default: $RELAY_REDIS_URL, then localhost)"
    )


def run(args: argparse.Namespace) -> int:
    state = asyncio.run(_cancel(args.redis, args.queue, args.id))
    if state == "cancelled":
        print(f"{args.id}: cancelled")
    else:
        print(f"{args.id}: cancelling (running: its worker stops it within a third of its lease)")
    return 0


async def _cancel(url: str | None, queue: str, job_id: str) -> str:
    broker = Broker.from_url(url)
    try:
        return (await broker.cancel(queue, job_id)).state
    finally:
        await broker.close()
