"""`relay server`: run the HTTP API, event stream, metrics and dashboard."""

from __future__ import annotations

import argparse
import logging

from relay.config import redact_url, redis_url_from_env
from relay.errors import ConfigError
from relay.http.processes import Serve, default_workers, serve, serve_many
from relay.http.settings import ServerSettings, is_loopback, tokens_from_env

HELP = "Run the HTTP API, the live event stream, /metrics and the dashboard."
log = logging.getLogger("relay.http")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = ServerSettings()
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--redis", default=None, help="Redis URL (default: RELAY_REDIS_URL)")
    parser.add_argument(
        "--token",
        action="append",
        default=None,
        help="bearer token required on /api and /metrics; repeat for several producers, each "
        "with its own rate limit (default: RELAY_TOKEN, comma-separated; prefer the variable, "
        "since arguments show in `ps`)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow binding a non-loopback address without a token",
    )
    parser.add_argument(
        "--max-body", type=int, default=d.max_body, help="request body limit in bytes (413 past it)"
    )
    parser.add_argument(
        "--producer-rate",
        type=float,
        default=d.producer_rate,
        help="enqueue requests per second per token (per address without auth); 0 = no limit",
    )
    parser.add_argument("--producer-burst", type=int, default=d.producer_burst)
    parser.add_argument(
        "--sse-max-clients", type=int, default=d.sse_max_clients, help="event stream cap"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes sharing the port with SO_REUSEPORT (default: one per CPU)",
    )
    parser.add_argument(
        "--no-coalesce",
        action="store_true",
        help="one Redis call per single-job enqueue (no group commit; for comparisons)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        help="an extra origin allowed to make state-changing calls (e.g. behind a proxy)",
    )


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """ServerSettings from the command line; refuses an open non-loopback bind."""
    tokens = tuple(args.token) if args.token else tokens_from_env()
    if not tokens and not is_loopback(args.host) and not args.insecure:
        raise ConfigError(
            f"refusing to listen on {args.host} without a token: anyone who can reach it could "
            "enqueue and delete jobs. Set --token or RELAY_TOKEN, or pass --insecure."
        )
    return ServerSettings(
        tokens=tokens,
        max_body=args.max_body,
        producer_rate=args.producer_rate,
        producer_burst=args.producer_burst,
        sse_max_clients=args.sse_max_clients,
        allowed_origins=tuple(args.allow_origin),
        coalesce=not args.no_coalesce,
    )


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    url = redis_url_from_env(args.redis)
    workers = default_workers() if args.workers is None else args.workers
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    log.info(
        "relay server listening on http://%s:%d (Redis %s, auth %s, %d process%s)",
        args.host,
        args.port,
        redact_url(url),
        f"on, {len(settings.tokens)} token(s)" if settings.tokens else "off",
        workers,
        "" if workers == 1 else "es",
    )
    level = logging.getLogger().getEffectiveLevel()
    if workers == 1:
        serve(Serve(args.host, args.port, url, settings, level, reuse_port=False))
        return 0
    return serve_many(Serve(args.host, args.port, url, settings, level), workers)
