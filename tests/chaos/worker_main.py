"""`relay worker` for chaos runs: the same command, plus --keep-completed.

The checker needs every completed job id, but a worker trims the completed set to the
broker's default retention (1000) on each ack and `relay worker` has no flag for it; this
entry point builds the same Worker with a retention the test chooses.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from relay.config import BrokerSettings
from relay.worker import command
from relay.worker.worker import Worker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos-worker")
    command.add_arguments(parser)
    parser.add_argument("--keep-completed", type=int, default=BrokerSettings().keep_completed)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # A test that measures timing asks for relay's debug lines (each idle wait, claim and
    # promote), so that a failure's log shows where the time went.
    logging.getLogger("relay").setLevel(os.environ.get("RELAY_CHAOS_LOG_LEVEL", "INFO"))
    worker = Worker(
        command.load_app(args.app),
        args.queues or ["default"],
        concurrency=args.concurrency,
        redis_url=args.redis,
        visibility=args.visibility,
        shutdown_grace=args.shutdown_grace,
        settings=BrokerSettings(
            keep_completed=args.keep_completed, keep_completed_ms=7 * 86_400_000
        ),
    )
    return asyncio.run(command._serve(worker))


if __name__ == "__main__":
    sys.exit(main())
