"""Workflows: a job that waits for other jobs (decision 0050).

A `Flow` is a tree: each node is one job in any queue; a node with children is `waiting` until
every child finished, then it becomes ready. `plan` checks a whole tree before anything is
written (a bad node raises ConfigError naming its JSON path, `$.children[2].type`), gives every
node an id, and lays the writes out parents first, one script call per level and queue.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from relay import _core
from relay.errors import ConfigError, PayloadTooLarge
from relay.job import JobOptions, JsonValue, check_job_type, new_job_ids
from relay.keys import validate_group_name, validate_queue_name

MAX_FLOW_JOBS = 10_000
_ID = re.compile(r"[!-~]{1,128}")  # printable ASCII, no space
POLICIES = ("fail", "ignore")
WIDTH = 7  # flow_enqueue's ARGV per job (the 7th, a group, came with decision 0053)
ChildFailure = Literal["fail", "ignore"]


@dataclass(frozen=True, slots=True)
class Flow:
    """One job of a flow and the jobs it waits for.

    Args:
        queue: The queue this job runs in (children may use any queues).
        type: The job type, as for `enqueue`.
        payload: Any JSON value.
        children: The jobs that must finish first; they run in parallel.
        on_child_failure: "fail" (default): a dead or cancelled child makes this job dead,
            naming the child. "ignore": it runs once every child completed or died.
        options: Priority, attempts, timeout, delay, group (`idempotency_key` is not
            supported).
        id: A fixed id (1-128 printable ASCII characters, no space), normally generated: a
            flow resent with the same ids writes nothing twice.
    """

    queue: str
    type: str
    payload: JsonValue = None
    children: Sequence[Flow] = ()
    on_child_failure: ChildFailure = "fail"
    options: JobOptions = field(default_factory=JobOptions)
    id: str | None = None

    @classmethod
    def chain(cls, *steps: Flow) -> Flow:
        """Jobs that run one after another, first to last: each waits for the one before
        (the last is the root, whose id `enqueue_flow` returns). Steps' own children stay."""
        if not steps:
            raise ConfigError("a chain needs at least one step")
        root = steps[0]
        for step in steps[1:]:
            root = cls(
                step.queue,
                step.type,
                step.payload,
                (*step.children, root),
                step.on_child_failure,
                step.options,
                step.id,
            )
        return root


class FlowJob(msgspec.Struct, frozen=True):
    """One job a flow enqueue wrote: its id, queue and parent's id (None for the root)."""

    id: str
    queue: str
    parent: str | None = None


class FlowResult(msgspec.Struct, frozen=True):
    """What `enqueue_flow` answers: the root's id and every job, parents before children."""

    id: str
    jobs: list[FlowJob]


class FlowNode(msgspec.Struct, frozen=True, kw_only=True):
    """One job of a flow as the flow view shows it."""

    id: str
    queue: str
    parent: str | None  # the parent's id (None: the root)
    state: str  # a JobState, or "unknown" when the record is gone and its outcome unknown
    type: str | None  # None when the record is gone


class FlowTree(msgspec.Struct, frozen=True, kw_only=True):
    """A whole flow from its root, parents before children (`get_flow`)."""

    id: str  # the root's id
    queue: str  # the root's queue
    jobs: list[FlowNode]


@dataclass(slots=True)
class Node:
    """A checked node of a plan, with its id and its parent's."""

    flow: Flow
    path: str
    id: str = ""
    depth: int = 0
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)


def walk(root: Flow) -> list[Node]:
    """Every node, breadth first (parents before children), each checked; ConfigError naming
    the path of the first bad node, a cycle, or a tree of more than MAX_FLOW_JOBS jobs."""
    first = Node(root, "$")
    nodes = [first]
    i = 0
    while i < len(nodes):
        node = nodes[i]
        check_node(node.flow, node.path)
        for n, child in enumerate(node.flow.children):
            path = f"{node.path}.children[{n}]"
            if not isinstance(child, Flow):
                raise ConfigError(f"{path}: a child must be a relay.Flow, got {child!r}")
            if _ancestor(node, child):
                raise ConfigError(f"{path}: a cycle (the flow contains itself)")
            kid = Node(child, path, depth=node.depth + 1, parent=node)
            node.children.append(kid)
            nodes.append(kid)
            if len(nodes) > MAX_FLOW_JOBS:
                raise ConfigError(f"{path}: a flow holds at most {MAX_FLOW_JOBS} jobs")
        i += 1
    return nodes


def _ancestor(node: Node | None, flow: Flow) -> bool:
    while node is not None:
        if node.flow is flow:
            return True
        node = node.parent
    return False


def check_node(flow: Flow, path: str) -> None:
    """ConfigError naming `path` (and the field) when one node is bad."""
    if not isinstance(flow, Flow):
        raise ConfigError(f"{path}: expected a relay.Flow, got {flow!r}")
    try:
        validate_queue_name(flow.queue)
    except ConfigError as exc:
        raise ConfigError(f"{path}.queue: {exc}") from None
    try:
        check_job_type(flow.type)
    except ConfigError as exc:
        raise ConfigError(f"{path}.type: {exc}") from None
    if flow.on_child_failure not in POLICIES:
        raise ConfigError(f"{path}.on_child_failure: must be 'fail' or 'ignore'")
    if not isinstance(flow.options, JobOptions):
        raise ConfigError(f"{path}.options: expected relay.JobOptions")
    if flow.options.idempotency_key is not None:
        raise ConfigError(f"{path}.idempotency_key: not supported in a flow")
    if flow.options.group is not None:
        validate_group_name(flow.options.group, f"{path}.group")
    if not isinstance(flow.children, Sequence) or isinstance(flow.children, str | bytes):
        raise ConfigError(f"{path}.children: expected a list of relay.Flow")
    if flow.id is not None and not (isinstance(flow.id, str) and _ID.fullmatch(flow.id)):
        raise ConfigError(f"{path}.id: 1-128 printable ASCII characters, no space; got {flow.id!r}")


@dataclass(frozen=True, slots=True)
class Fixed:
    """A node whose id the caller chose: it may name a job that exists already."""

    path: str
    queue: str
    id: str
    parent: str  # "<parent queue> <parent id>", '' for the root
    has_children: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """A checked flow: the root's id, the jobs, and the writes (queue, ARGV of flow_enqueue)
    in order, parents before children; the nodes with fixed ids, to check before writing."""

    root: FlowJob
    jobs: list[FlowJob]
    writes: list[tuple[str, list[object]]]
    fixed: list[Fixed] = field(default_factory=list)


def plan(root: Flow, max_payload: int, chunk: int = 500) -> Plan:
    """Check the whole flow, assign ids, and lay out its writes (no I/O)."""
    nodes = walk(root)
    payloads = [_payload(n, max_payload) for n in nodes]
    now_ns = time.time_ns()
    seen: set[str] = set()
    for node, new_id in zip(nodes, new_job_ids(len(nodes), now_ns), strict=True):
        node.id = node.flow.id or new_id
        if node.id in seen:
            raise ConfigError(f"{node.path}.id: {node.id!r} is used twice in the flow")
        seen.add(node.id)
    groups: dict[tuple[int, str], list[object]] = {}
    fixed: list[Fixed] = []
    for node, payload in zip(nodes, payloads, strict=True):
        f, o = node.flow, node.flow.options
        env = _core.encode_job(
            f.type, payload, o.priority, o.max_attempts, o.timeout_ms, now_ns // 1_000_000, None
        )
        parent = f"{node.parent.flow.queue} {node.parent.id}" if node.parent else ""
        if f.id is not None:
            fixed.append(Fixed(node.path, f.queue, node.id, parent, bool(node.children)))
        kids = ""
        if node.children:
            refs = [f"{k.flow.queue} {k.id}" for k in node.children]
            kids = "\n".join([f.on_child_failure, *refs])
        run_at = -1 if o.run_at_ms is None else o.run_at_ms
        args = groups.setdefault((node.depth, f.queue), [])
        args += [node.id, env, o.delay_ms, run_at, parent, kids, o.group or ""]
    writes = []
    for (_, queue), args in groups.items():
        for i in range(0, len(args), WIDTH * chunk):
            writes.append((queue, args[i : i + WIDTH * chunk]))
    jobs = [FlowJob(n.id, n.flow.queue, n.parent.id if n.parent else None) for n in nodes]
    return Plan(root=jobs[0], jobs=jobs, writes=writes, fixed=fixed)


def _payload(node: Node, max_payload: int) -> bytes:
    value = node.flow.payload
    if isinstance(value, msgspec.Raw):
        data = bytes(value)
    else:
        try:
            data = msgspec.json.encode(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ConfigError(f"{node.path}.payload: not JSON-encodable: {exc}") from None
    if len(data) > max_payload:
        raise PayloadTooLarge(
            f"{node.path}.payload: {len(data)} bytes is over the limit of {max_payload} bytes; "
            "nothing was written"
        )
    return data
