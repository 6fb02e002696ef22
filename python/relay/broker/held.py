"""Jobs held by workers that speak HTTP: ack, nack and extend with one outcome per job, sans I/O.

The same scripts and fencing tokens as Python workers (ack.lua, nack.lua, extend.lua); what is
added is the answer an HTTP worker needs per job: a refusal is told apart as `stale` (the job
exists, but this claim no longer holds it) or `not_found` (no such job in the queue), read only
when some job was refused. A nack without `retry_after_ms` waits the default backoff (full
jitter from 1 s, capped at an hour) after the job's attempt, read from its run record.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from relay import _core
from relay.broker import flows
from relay.broker.ops import Command, Eval, Steps, keysets
from relay.broker.replies import parse_run
from relay.broker.types import Code, NackMode, NackOutcome
from relay.config import BrokerSettings

BACKOFF_BASE_MS = 1000
BACKOFF_CAP_MS = 3_600_000
NO_ERROR_TEXT = "failed (the worker gave no error text)"

OK = "ok"
STALE = "stale"
NOT_FOUND = "not_found"
_NACK_STATES = {
    NackOutcome.READY: "ready",
    NackOutcome.DELAYED: "delayed",
    NackOutcome.DEAD: "dead",
    NackOutcome.CANCELLED: "cancelled",
}
_ACKED: dict[int, str] = {Code.OK: OK, Code.ALREADY: OK, Code.CANCEL: "cancelled"}
_EXTENDED: dict[int, str] = {Code.OK: OK, Code.CANCEL: "cancelling"}


@dataclass(frozen=True, slots=True)
class Failed:
    """One job to nack: `fatal` sends it to the dead set; `retry_after_ms` None = backoff."""

    id: str
    token: int
    error: str
    retry_after_ms: int | None = None
    fatal: bool = False


def ack(s: BrokerSettings, queue: str, held: Sequence[tuple[str, int, bytes]]) -> Steps[list[str]]:
    """Complete the jobs, each (id, token, result record from `relay.results`; b"" = none):
    `ok` (a resend of the same ack too), `cancelled` (its cancel was asked for: it ended
    cancelled, the result dropped), `stale` or `not_found` each."""
    if not held:
        return []
    ks = keysets(queue)
    args: list[object] = [s.keep_completed, s.keep_completed_ms, s.events_cap, ks.keys.prefix, b""]
    for job_id, token, record in held:
        args += [job_id, token, record]
    codes = yield Eval("ack", ks.ack, args)
    if len(codes) > len(held):  # flows: children's outbox entries, for their parents (0050)
        yield from flows.settle(s, queue, codes[len(held)])
    out = [_ACKED.get(int(c), STALE) for c in codes[: len(held)]]
    return (yield from _refused(queue, [h[0] for h in held], out))


def extend(
    s: BrokerSettings, queue: str, held: Sequence[tuple[str, int]], lease_ms: int
) -> Steps[list[str]]:
    """Push the leases to Redis now + lease_ms: `ok`, `cancelling` (extended, but its cancel
    was asked for: stop the job and nack or ack it), `stale` or `not_found` each."""
    if not held:
        return []
    args: list[object] = [lease_ms, s.events_cap]
    for job_id, token in held:
        args += [job_id, token, b""]
    codes = yield Eval("extend", keysets(queue).extend, args)
    out = [_EXTENDED.get(int(c), STALE) for c in codes]
    return (yield from _refused(queue, [h[0] for h in held], out))


def nack(s: BrokerSettings, queue: str, failed: Sequence[Failed]) -> Steps[list[str]]:
    """Give the jobs back: `ready`, `delayed` or `dead` each (where it went), or `stale` /
    `not_found`."""
    if not failed:
        return []
    ks = keysets(queue)
    attempts: dict[str, int] = {}
    backoff = [f.id for f in failed if f.retry_after_ms is None and not f.fatal]
    if backoff:
        runs = yield Command("nack", ("HMGET", ks.keys.run, *backoff))
        attempts = {i: parse_run(r or b"")[0] for i, r in zip(backoff, runs, strict=True)}
    args: list[object] = [s.events_cap, ks.keys.prefix]
    for f in failed:
        mode = NackMode.DEAD if f.fatal else NackMode.FAIL
        delay = f.retry_after_ms
        if delay is None:
            delay = 0 if f.fatal else _backoff_ms(attempts.get(f.id, 1))
        args += [f.id, f.token, mode.value, delay, (f.error or NO_ERROR_TEXT)[:4000]]
    codes = yield Eval("nack", ks.nack, args)
    if len(codes) > len(failed):  # flows: a dead child's outbox entry, for its parent
        yield from flows.settle(s, queue, codes[len(failed)])
    out = [_NACK_STATES.get(NackOutcome(int(c)), STALE) for c in codes[: len(failed)]]
    return (yield from _refused(queue, [f.id for f in failed], out))


def _backoff_ms(attempt: int) -> int:
    return _core.backoff_ms(
        "full_jitter", BACKOFF_BASE_MS, BACKOFF_CAP_MS, max(1, attempt), random.random()
    )


def _refused(queue: str, ids: list[str], out: list[str]) -> Steps[list[str]]:
    """`out` with each refused job that does not exist at all marked `not_found`."""
    refused = [i for i, o in enumerate(out) if o == STALE]
    if not refused:
        return out
    found = yield Command("held", ("HMGET", keysets(queue).keys.jobs, *(ids[i] for i in refused)))
    for i, envelope in zip(refused, found, strict=True):
        if envelope is None:
            out[i] = NOT_FOUND
    return out
