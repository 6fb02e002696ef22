"""`relay demo`: the whole system on one machine, with load, and the dashboard to watch it."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from relay.demo.session import Demo, DemoOptions

HELP = (
    "run the whole system on this machine: a private Redis (unless --redis), the server, "
    "workers and a load generator that fails some jobs; prints the dashboard URL"
)


def _count(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = lo - 1
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer from {lo} to {hi}, got {text!r}")
        return n

    return parse


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 10_000:
        raise argparse.ArgumentTypeError("expected jobs per second from 0 to 10000")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DemoOptions()
    parser.add_argument(
        "--jobs",
        type=_count(0, 1_000_000),
        default=d.jobs,
        help="jobs in the first burst (default %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=_count(0, 64),
        default=d.workers,
        help="worker processes (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=_count(1, 1024),
        default=d.concurrency,
        help="jobs each worker runs at once (default %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=_count(0, 65_535),
        default=d.port,
        help="dashboard port on 127.0.0.1 (default %(default)s; 0: any free port)",
    )
    parser.add_argument(
        "--redis",
        default=None,
        help="use this Redis instead of a private one (default: RELAY_REDIS_URL, if set)",
    )
    parser.add_argument(
        "--rate",
        type=_rate,
        default=d.rate,
        help="jobs per second after the burst, on average (default %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    options = DemoOptions(
        jobs=args.jobs,
        workers=args.workers,
        concurrency=args.concurrency,
        port=args.port,
        redis_url=args.redis or os.environ.get("RELAY_REDIS_URL") or None,
        rate=args.rate,
    )
    return Demo(options).run()
