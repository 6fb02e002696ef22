"""The `relay` command line: `relay server | worker | demo | enqueue | ...`; main(argv) -> int."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from relay import __version__
from relay.errors import RelayError

# Each subcommand is a module (or `module:object`) exposing HELP, add_arguments(parser), run(args).
COMMANDS: dict[str, str] = {
    "server": "relay.http.command",
    "worker": "relay.worker.command",
    "demo": "relay.demo",
    "cancel": "relay.cancel_command",
    "flow": "relay.flow_command",
    "jobs": "relay.browse_cli:jobs",
    "promote": "relay.browse_cli:promote",
    "schedules": "relay.schedules.command",
    "groups": "relay.groups_cli:groups",
    "group": "relay.groups_cli:group",
}


class Command(Protocol):
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _load(spec: str) -> Command | None:
    """The command at `module` or `module:attribute`."""
    module, _, attr = spec.partition(":")
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None  # not built yet: the subcommand is simply absent
        raise
    return cast(Command, getattr(found, attr) if attr else found)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relay", description="relay: a distributed job queue on Redis."
    )
    parser.add_argument("--version", action="version", version=f"relay {__version__}")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        cmd = _load(module)
        if cmd is not None:
            p = sub.add_parser(name, help=cmd.HELP, description=cmd.HELP)
            cmd.add_arguments(p)
            p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code. Errors print one readable line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=str(args.log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        return int(args._run(args))
    except RelayError as exc:
        print(f"relay: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
