"""`relay flow QUEUE ID`: the whole flow a job belongs to, as a tree with each job's state."""

from __future__ import annotations

import argparse
from collections import defaultdict

from relay.flows import FlowNode, FlowTree
from relay.sync_producer import SyncProducer

HELP = "show the flow (workflow) a job belongs to: the tree from its root, with each job's state"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue", help="the queue of any job of the flow")
    parser.add_argument("id", help="the job's id")
    parser.add_argument(
        "--redis", default=None, help="Redis URL (default: $RELAY_REDIS_URL, then localhost)"
    )


def run(args: argparse.Namespace) -> int:
    with SyncProducer.from_url(args.redis) as producer:
        tree = producer.get_flow(args.queue, args.id)
    for line in render(tree, args.id):
        print(line)
    return 0


def render(tree: FlowTree, mark: str = "") -> list[str]:
    """The tree as indented lines, root first (`mark`: the job asked about, starred)."""
    kids: dict[str | None, list[FlowNode]] = defaultdict(list)
    for node in tree.jobs:
        kids[node.parent].append(node)
    lines: list[str] = []
    stack = [(n, 0) for n in reversed(kids[None])]
    while stack:
        node, depth = stack.pop()
        star = " *" if node.id == mark else ""
        what = node.type or "?"
        lines.append(f"{'  ' * depth}{node.state:<10} {node.queue}/{node.id} {what}{star}")
        stack += [(k, depth + 1) for k in reversed(kids[node.id])]
    return lines
