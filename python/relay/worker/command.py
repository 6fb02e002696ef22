"""`relay worker`: load a registry from --app and run a worker until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import re
import signal
import sys
from collections.abc import Callable
from types import FrameType

from relay.config import BrokerSettings
from relay.errors import ConfigError
from relay.results import DEFAULT_MAX_RESULT_BYTES
from relay.worker.registry import Registry
from relay.worker.worker import Worker

HELP = "run a worker: claim jobs from queues and run their handlers"
log = logging.getLogger("relay.worker")

_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds from "30s", "500ms", "2m", "1h" or plain seconds ("1.5")."""
    m = _DURATION.fullmatch(text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use e.g. 30s, 500ms, 2m, 1h or plain seconds"
        )
    return float(m.group(1)) * _UNITS[m.group(2)]


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app",
        required=True,
        metavar="MODULE:REGISTRY",
        help="the relay.Registry to run, e.g. myapp.tasks:registry (default attribute: registry)",
    )
    parser.add_argument(
        "--queue",
        "-q",
        action="append",
        dest="queues",
        metavar="Q[,Q2...]",
        help="a queue to serve; repeat it for lower priorities (order given = priority); "
        "comma-separated queues share a priority and take turns (default: default)",
    )
    parser.add_argument(
        "--concurrency",
        "-c",
        type=_positive_int,
        default=64,
        help="jobs run at once: async handlers on the event loop, sync ones in threads "
        "(default: 64)",
    )
    parser.add_argument(
        "--redis", default=None, help="Redis URL (default: $RELAY_REDIS_URL, then localhost)"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port"
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address for --metrics-port (default: 127.0.0.1; 0.0.0.0 for remote scrapes)",
    )
    parser.add_argument(
        "--visibility", type=parse_duration, default=30.0, help="lease length (default: 30s)"
    )
    parser.add_argument(
        "--shutdown-grace",
        type=parse_duration,
        default=30.0,
        help="time running jobs get to finish on SIGTERM (default: 30s)",
    )
    parser.add_argument(
        "--max-result",
        type=_positive_int,
        default=DEFAULT_MAX_RESULT_BYTES,
        metavar="BYTES",
        help="largest handler result kept, as JSON; a larger one completes the job with "
        "result_error instead (default: 1 MiB)",
    )


def load_app(spec: str) -> Registry:
    """The Registry named by `module:attribute` (attribute defaults to `registry`)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not all(p.isidentifier() for p in module_name.split(".")):
        raise ConfigError(f"--app {spec!r}: expected MODULE:REGISTRY, e.g. myapp.tasks:registry")
    if os.getcwd() not in sys.path:  # like `python -m`: the app lives where the worker starts
        sys.path.insert(0, os.getcwd())
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--app {spec!r}: cannot import {module_name!r}: {exc}") from exc
    for part in (attr or "registry").split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"--app {spec!r}: {module_name!r} has no {part!r}") from None
    if not isinstance(obj, Registry):
        raise ConfigError(f"--app {spec!r} is a {type(obj).__name__}, not a relay.Registry")
    return obj


def run(args: argparse.Namespace) -> int:
    registry = load_app(args.app)
    worker = Worker(
        registry,
        args.queues or ["default"],
        concurrency=args.concurrency,
        redis_url=args.redis,
        visibility=args.visibility,
        shutdown_grace=args.shutdown_grace,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        settings=BrokerSettings(max_result_bytes=args.max_result),
    )
    return asyncio.run(serve(worker))


async def serve(worker: Worker) -> int:
    """Run `worker` with SIGTERM/SIGINT handlers installed; its exit code."""
    restore = install_signal_handlers(worker)
    try:
        return await worker.run()
    finally:
        restore()


def install_signal_handlers(worker: Worker) -> Callable[[], None]:
    """SIGTERM/SIGINT stop gracefully; a second one exits at once. Returns an undo function.

    Plain `signal.signal` handlers, not the event loop's: they run even while a handler
    blocks the loop (time.sleep in an async handler), so the second signal always works.
    """
    received = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        name = signal.Signals(signum).name
        if received == 1:
            log.info("%s received: stopping (send it again to exit at once)", name)
            worker.stop()
            return
        log.warning("%s received again: exiting now; running jobs return after their lease", name)
        logging.shutdown()
        os._exit(128 + signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for s, handler in previous.items():
            signal.signal(s, handler)

    return restore


_serve = serve  # the name tests/chaos/worker_main.py uses
