"""The body of `POST /api/flows` (decision 0050) and its conversions to and from `relay.Flow`,
without aiohttp or redis-py (the HTTP clients use them too).

The body decodes into `FlowRequest` (msgspec names the path of a node that does not fit, e.g.
`$.children[2].type`), then turns into a `relay.Flow` without recursion (a chain may be
thousands deep), whose checks name the path of a bad queue, a cycle or a tree over the limit.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from relay.errors import ConfigError
from relay.flows import MAX_FLOW_JOBS, Flow
from relay.http.models import JobFields, QueueName
from relay.job import JobOptions


class FlowRequest(JobFields, forbid_unknown_fields=True, kw_only=True):
    """One job of a flow and the jobs it waits for (`children`, run in parallel, any queues).
    `on_child_failure`: "fail" (a dead or cancelled child makes this job dead) or "ignore"
    (it runs once every child completed or died)."""

    queue: QueueName
    id: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^[!-~]{1,128}$",
                description="A fixed id (normally generated): a resent flow writes nothing twice",
            ),
        ]
        | None
    ) = None
    on_child_failure: Literal["fail", "ignore"] = "fail"
    children: list[FlowRequest] = msgspec.field(default_factory=list)


def to_flow(root: FlowRequest) -> Flow:
    """The request as a relay.Flow, children first (no recursion); ConfigError naming a path."""
    order: list[tuple[FlowRequest, str]] = []
    stack = [(root, "$")]
    while stack:
        node, path = stack.pop()
        order.append((node, path))
        if len(order) > MAX_FLOW_JOBS:
            raise ConfigError(f"{path}: a flow holds at most {MAX_FLOW_JOBS} jobs")
        stack += [(c, f"{path}.children[{i}]") for i, c in enumerate(node.children)]
    built: dict[int, Flow] = {}
    for node, path in reversed(order):
        built[id(node)] = _one(node, path, tuple(built.pop(id(c)) for c in node.children))
    return built[id(root)]


def _one(r: FlowRequest, path: str, children: tuple[Flow, ...]) -> Flow:
    options = JobOptions(
        priority=int(r.priority),
        max_attempts=int(r.max_attempts),
        timeout_ms=int(r.timeout_ms),
        delay_ms=int(r.delay_ms),
        run_at_ms=None if r.run_at is None else round(r.run_at * 1000),
        group=r.group,
    )
    return Flow(r.queue, r.type, r.payload, children, r.on_child_failure, options, r.id)


def to_request(root: Flow) -> FlowRequest:
    """A relay.Flow as the request body (the HTTP clients' side), without recursion."""
    order, stack = [], [root]
    while stack:
        node = stack.pop()
        order.append(node)
        if len(order) > MAX_FLOW_JOBS:
            break  # the checks before sending name this node
        stack += list(node.children)
    built: dict[int, FlowRequest] = {}
    for node in reversed(order):
        o = node.options
        built[id(node)] = FlowRequest(
            queue=node.queue,
            type=node.type,
            payload=msgspec.Raw(msgspec.json.encode(node.payload)),
            priority=o.priority,
            delay_ms=o.delay_ms,
            run_at=None if o.run_at_ms is None else o.run_at_ms / 1000,
            max_attempts=o.max_attempts,
            timeout_ms=o.timeout_ms,
            group=o.group,
            on_child_failure=node.on_child_failure,
            id=node.id,
            children=[built[id(c)] for c in node.children],
        )
    return built[id(root)]
