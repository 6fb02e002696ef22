"""schemathesis hooks for the T9 run (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from schemathesis.generation.case import Case
from schemathesis.hooks import HookContext

from relay.errors import ConfigError
from relay.schedules.cron import CronExpr

_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


@schemathesis.hook
def filter_case(context: HookContext, case: Case[Any]) -> bool:
    """Skip path values holding a `%XX` sequence: schemathesis reads those as already
    percent-encoded and decodes them before sending, so the server would receive another value
    than the one checked against the schema. (A queue named `a%41` still works; the server
    sees it exactly when a client encodes `%` as `%25`, as tests/server/test_api.py checks.)
    """
    params = case.path_parameters or {}
    if any(isinstance(v, str) and _ESCAPE.search(v) for v in params.values()):
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
