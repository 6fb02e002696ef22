"""The registry chaos workers run; it records the history of every job it touches.

Imported by `relay worker --app tests.chaos.apps:registry` with RELAY_CHAOS_HISTORY set, it
also wraps the Broker's claim, ack and nack (in that worker process only) so that the claim
token and Redis time of every claim, and the answer to every ack, land in the history: the
checker needs them to tell a stale ack that was accepted from one that was refused.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from relay import Job, Registry
from relay.broker import Broker, Claimed, Nack, NackOutcome, flows
from relay.worker.registry import Backoff
from tests.chaos.history import HISTORY_ENV, HistoryWriter

registry = Registry(backoff=Backoff("fixed", 0.05, 0.05))
_writer: HistoryWriter | None = None


def writer() -> HistoryWriter | None:
    """This process's history file (None when not under the chaos harness)."""
    global _writer  # noqa: PLW0603 - one file per worker process, opened on first use
    directory = os.environ.get(HISTORY_ENV)
    if _writer is None and directory:
        _writer = HistoryWriter(Path(directory) / f"worker-{os.getpid()}.jsonl")
    return _writer


def _emit(kind: str, **fields: Any) -> None:
    w = writer()
    if w is not None:
        w.emit(kind, **fields)


def _start(job: Job) -> None:
    _emit("exec_start", job=job.id, token=job.token, attempt=job.attempts, type=job.type)


def _end(job: Job, ok: bool) -> None:
    _emit("exec_end", job=job.id, token=job.token, attempt=job.attempts, ok=ok)


def _seconds(job: Job) -> float:
    payload = job.payload
    return float(payload.get("s", 0)) if isinstance(payload, dict) else 0.0


@registry.task("work")
async def work(job: Job) -> None:
    """Sleeps payload["s"] seconds (yielding to the loop), then succeeds."""
    _start(job)
    s = _seconds(job)
    if s:
        await asyncio.sleep(s)
    _end(job, True)


@registry.task("spin")
def spin(job: Job) -> None:
    """CPU-bound for payload["s"] seconds in a thread, holding the GIL most of the time."""
    _start(job)
    until = time.monotonic() + _seconds(job)
    n = 0
    while time.monotonic() < until:
        for i in range(10_000):
            n += i * i
    _end(job, True)


@registry.task("fail", max_attempts=3)
async def fail(job: Job) -> None:
    """Poison: always raises."""
    _start(job)
    _end(job, False)
    raise ValueError("poison job: this handler always raises")


@registry.task("crash")
def crash(job: Job) -> None:
    """Kills its own process, as a segfault or the OOM killer would."""
    _start(job)
    os._exit(3)


@registry.task("child")
async def child(job: Job) -> object:
    """A flow's child (T20): a short sleep, then its payload as its result."""
    _start(job)
    await asyncio.sleep(_seconds(job))
    _end(job, True)
    return job.payload


@registry.task("parent")
async def parent(job: Job) -> object:
    """A flow's parent (T20): records how many children results it sees when it starts."""
    got = await job.children_results()
    _emit("parent_start", job=job.id, token=job.token, children=sorted(got))
    return len(got)


# -- the broker, instrumented ------------------------------------------------------------------


def _emit_claimed(got: Claimed) -> None:
    for j in got.jobs:
        _emit("claim", job=j.id, token=j.token, attempt=j.attempts, redis_ms=got.now_ms)
    for u in got.undecodable:
        _emit("claim", job=u.id, token=u.token, redis_ms=got.now_ms, undecodable=True)


def _recording_claim(claim: Callable[..., Awaitable[Claimed]]) -> Callable[..., Awaitable[Claimed]]:
    async def claim_recorded(
        self: Broker, queue: str, count: int, lease_ms: int, worker: str = ""
    ) -> Claimed:
        got = await claim(self, queue, count, lease_ms, worker)
        _emit_claimed(got)
        return got

    return claim_recorded


WaitThenClaim = Callable[..., Awaitable[tuple[str | None, list[tuple[str, Claimed | None]]]]]


def _recording_wait_then_claim(wait_then_claim: WaitThenClaim) -> WaitThenClaim:
    """The idle wait's pipelined claims are claims too (docs/decisions/0025)."""

    async def recorded(
        self: Broker, *args: Any, **kwargs: Any
    ) -> tuple[str | None, list[tuple[str, Claimed | None]]]:
        woke, claims = await wait_then_claim(self, *args, **kwargs)
        for _, got in claims:
            if got is not None:
                _emit_claimed(got)
        return woke, claims

    return recorded


def _recording_ack(
    ack: Callable[..., Awaitable[list[bool]]],
) -> Callable[..., Awaitable[list[bool]]]:
    async def ack_recorded(
        self: Broker, queue: str, held: Iterable[tuple[str, int] | tuple[str, int, bytes]]
    ) -> list[bool]:
        items = list(held)
        try:
            ok = await ack(self, queue, items)
        except BaseException:
            for item in items:
                _emit("ack_unknown", job=item[0], token=item[1])
            raise
        for item, good in zip(items, ok, strict=True):
            _emit("ack_ok" if good else "ack_stale", job=item[0], token=item[1])
        return ok

    return ack_recorded


def _recording_nack(
    nack: Callable[..., Awaitable[list[NackOutcome]]],
) -> Callable[..., Awaitable[list[NackOutcome]]]:
    async def nack_recorded(self: Broker, queue: str, nacks: Sequence[Nack]) -> list[NackOutcome]:
        try:
            out = await nack(self, queue, nacks)
        except BaseException:
            for n in nacks:
                _emit("nack_unknown", job=n.id, token=n.token, mode=n.mode.value)
            raise
        for n, o in zip(nacks, out, strict=True):
            kind = "nack_stale" if o is NackOutcome.STALE else "nack_ok"
            _emit(kind, job=n.id, token=n.token, mode=n.mode.value, outcome=o.name.lower())
        return out

    return nack_recorded


FLOW_KILL_ENV = "RELAY_CHAOS_FLOW_KILL"  # T20: probability of a kill -9 in the crash window


def _killing_settle(settle: Callable[..., Any], chance: float) -> Callable[..., Any]:
    """flows.settle, but the process kills itself first now and then: a kill -9 after a child's
    ack script wrote its outbox entry and before the parent's slot was told (decision 0050)."""

    def settle_or_die(*args: Any, **kwargs: Any) -> Any:
        if random.random() < chance:
            _emit("fault_point", name="flow_crash_window")
            os.kill(os.getpid(), signal.SIGKILL)
        return settle(*args, **kwargs)

    return settle_or_die


def _instrument() -> None:
    chance = float(os.environ.get(FLOW_KILL_ENV) or 0)
    if chance:
        flows.settle = _killing_settle(flows.settle, chance)
    Broker.claim = _recording_claim(Broker.claim)  # type: ignore[method-assign,assignment]
    Broker.wait_then_claim = _recording_wait_then_claim(Broker.wait_then_claim)  # type: ignore[method-assign,assignment]
    Broker.ack = _recording_ack(Broker.ack)  # type: ignore[method-assign,assignment]
    Broker.nack = _recording_nack(Broker.nack)  # type: ignore[method-assign,assignment]


if os.environ.get(HISTORY_ENV):
    _instrument()
