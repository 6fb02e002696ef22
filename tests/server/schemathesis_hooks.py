"""schemathesis hooks for the T9 run (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import schemathesis
from schemathesis.generation.case import Case
from schemathesis.hooks import HookContext

from relay.errors import ConfigError
from relay.keys import validate_group_name, validate_queue_name
from relay.schedules.cron import CronExpr
from relay.schedules.model import check_schedule_name

_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


@schemathesis.hook
def filter_case(context: HookContext, case: Case[Any]) -> bool:
    """Skip a path value that reaches the server as another, invalid name: schemathesis reads
    a `%XX` in a generated value as already percent-encoded and sends it as is, so a schedule
    name `a%2Fb` arrives as `a/b` (refused with a 400 the schema cannot foresee). Values it
    encoded itself (`[` as `%5B`) arrive as generated and are kept: filtering every `%XX`
    skipped most values of the two-parameter routes and tripped schemathesis' "filtered too
    much" health check. (A queue named `a%41` still works when a client encodes `%` as `%25`,
    as tests/server/test_api.py checks.)
    """
    if _arrives_invalid(case.path_parameters or {}):
        return False
    # The server under test has no replicas, so `?wait_replicas=N` with N > 0 answers 503 by
    # design (tests/server/test_api.py checks that answer); fuzz the enqueue routes without it.
    n = _number((case.query or {}).get("wait_replicas"))
    if (n is not None and 0 < n <= 16) or _never_meets(case.body) or _ids_twice(case.body):
        return False
    # A lookup of a job that exists may block up to `wait_ms` (60 s) by design, and a claim
    # from an empty queue up to its body's `wait_ms` (30 s): keep both short.
    w = _number((case.query or {}).get("wait_ms"))
    body_w = _number(case.body.get("wait_ms")) if isinstance(case.body, dict) else None
    if (w is not None and w > 100) or (body_w is not None and body_w > 100):
        return False
    # A listing cursor is opaque: only a next_cursor the API returned is valid, anything else
    # is 400 by design (tests/server/test_browse_api.py checks that answer). Only ready jobs
    # are listed by group: `group=` with another state is 400 by design (decision 0053;
    # tests/server/test_browse_groups_api.py checks that answer).
    query = case.query or {}
    return "cursor" not in query and ("group" not in query or query.get("state") == "ready")


_NAME_CHECKS: dict[str, Callable[[str], object]] = {
    "queue": validate_queue_name,
    "group": validate_group_name,
    "name": check_schedule_name,
}


def _arrives_invalid(params: dict[str, Any]) -> bool:
    """Whether a name the server decodes from a path value breaks its rule (a job id may be
    anything: an unknown one is a 404 the schema allows)."""
    for key, value in params.items():
        check = _NAME_CHECKS.get(key)
        if check is None or not isinstance(value, str) or not _ESCAPE.search(value):
            continue
        try:
            check(unquote(value, errors="replace"))
        except ConfigError:
            return True
    return False


def _never_meets(body: object) -> bool:
    """A cron whose day of month its months never have (`0 0 31 2 *`) fits the schema's
    grammar but is refused with a 400 the schema cannot express; test_schedules_api covers it."""
    cron = body.get("cron") if isinstance(body, dict) else None
    if not isinstance(cron, str):
        return False
    try:
        CronExpr.parse(cron)
    except ConfigError as exc:
        return "never meet" in str(exc)
    return False


def _ids_twice(body: object) -> bool:
    """A flow naming one fixed id twice fits the schema but is refused with a 400 naming the
    second (the schema cannot say "unique across the tree"); test_flows_api covers it."""
    seen: set[object] = set()
    stack = [body]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        i = node.get("id")
        if isinstance(i, str):
            if i in seen:
                return True
            seen.add(i)
        kids = node.get("children")
        if isinstance(kids, list):
            stack += kids
    return False


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


@schemathesis.hook
def map_case(context: HookContext, case: Case[Any]) -> Case[Any]:
    """Keep claim long-polls short: a valid `wait_ms` (≤ 30 s) becomes at most 50 ms, so each
    example answers well within the request timeout (tests/server/test_work.py covers long
    waits). Out-of-range values are left as they are, to be refused."""
    body = case.body
    if isinstance(body, dict):
        n = _number(body.get("wait_ms"))
        if n is not None and 50 < n <= 30_000 and not isinstance(body["wait_ms"], bool):
            body["wait_ms"] = 50
    return case
