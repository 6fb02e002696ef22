"""Workers in any language: the claim protocol over HTTP (claim, ack, nack, extend).

Claim is a long-poll without a polling loop: a claim first; when the queue has nothing, the
request blocks on the queue's wake-up list with its claim pipelined behind the BLPOP on the same
connection (`Broker.wait_then_claim`, as Python workers do), so a job enqueued during the wait
is leased in the instant its wake-up is popped and answered at once. Each waiting request holds
one pooled Redis connection; `claim_waiters` caps them (503 + Retry-After beyond). A wait is
cut in BLPOPs of at most 4 s, as a Python worker's idle wait is, so a stopping server ends every
wait within 4 s. A paused queue is asked again every 2 s, a rate-limited one when its next token
is due.

Jobs leased for a claimer that went away before its answer was written are released at once
(back to ready, the attempt given back); any other loss is covered by the lease and the reaper,
exactly as for a Python worker that died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import msgspec
from aiohttp import web

from relay.broker import Broker, Claimed, held
from relay.broker.types import Nack, NackMode
from relay.http import upkeep
from relay.http.api import decode_body, queue_param, reply
from relay.http.errors import Problem
from relay.http.models import ErrorDetail
from relay.http.settings import ServerSettings
from relay.http.state import state
from relay.http.upkeep import SERVED, Served
from relay.http.work_models import (
    AckRequest,
    ClaimedJob,
    ClaimRequest,
    ClaimResponse,
    ExtendRequest,
    JobOutcome,
    NackRequest,
    OutcomeResponse,
)
from relay.job import Job
from relay.results import raw_record

log = logging.getLogger("relay.http")

PAUSED_RECHECK_S = 2.0
WAIT_SLICE_S = 4.0  # one BLPOP of a waiting claim lasts at most this (as a Python worker's)
DEFAULT_CLAIM_WAITERS = 256
WAITERS_RETRY_S = 1


@dataclass
class Waiters:
    """Claims waiting on Redis now, and how many may (each holds one Redis connection)."""

    limit: int = DEFAULT_CLAIM_WAITERS
    now: int = 0


WAITERS = web.AppKey("relay_claim_waiters", Waiters)


def install(app: web.Application, settings: ServerSettings) -> None:
    """The claim protocol's state on `app`, and the upkeep of the queues it serves."""
    app[WAITERS] = Waiters(settings.claim_waiters)
    app[SERVED] = Served()
    app.cleanup_ctx.append(upkeep.context)


async def claim(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/claim"""
    queue = queue_param(request)
    body = await decode_body(request, ClaimRequest)
    want, lease_ms = int(body.max), int(body.lease_ms)
    broker = state(request).broker
    who = f"http:{body.worker or request.remote or '?'}"
    got = await broker.claim(queue, want, lease_ms, who)
    if not (got.jobs or got.undecodable) and body.wait_ms > 0:
        got = await _wait(request, queue, (want, lease_ms, who), body.wait_ms / 1000)
    jobs = await _usable(broker, queue, got)
    if jobs:  # leases held over HTTP: this server reaps them too
        request.app[SERVED].touch(queue)
    transport = request.transport
    if jobs and (transport is None or transport.is_closing()):
        await _release(broker, queue, jobs, "released: the HTTP claimer went away")
        raise Problem(400, "the client went away before its jobs were sent")
    until = (got.now_ms + lease_ms) / 1000
    return reply(ClaimResponse(jobs=[_claimed(j, until) for j in jobs], paused=got.paused))


async def _wait(
    request: web.Request, queue: str, ask: tuple[int, int, str], wait_s: float
) -> Claimed:
    """Block until a job comes (claimed on arrival) or `wait_s` has passed; `ask` is the
    claim's (max, lease_ms, worker)."""
    want, lease_ms, who = ask
    st = state(request)
    waiters = request.app[WAITERS]
    if waiters.now >= waiters.limit:
        raise Problem(
            503,
            f"too many claims waiting ({waiters.limit}); try again shortly",
            "too_many_waiters",
            {"Retry-After": str(WAITERS_RETRY_S)},
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    waiters.now += 1
    try:
        got = Claimed()
        while not st.closing.is_set() and (left := deadline - loop.time()) > 0.001:
            if got.paused or got.wait_ms:
                pause = PAUSED_RECHECK_S if got.paused else got.wait_ms / 1000
                await _nap(st.closing, min(left, pause))
                got = await st.broker.claim(queue, want, lease_ms, who)
            elif st.broker.can_wait_then_claim:
                # In slices, so a stopping server ends its waits within one (closing).
                _, [(_, c)] = await st.broker.wait_then_claim(
                    [queue], min(left, WAIT_SLICE_S), [(queue, want)], lease_ms, who
                )
                got = c if c is not None else await st.broker.claim(queue, want, lease_ms, who)
            else:  # a cluster: the wake-up first, then the claim
                await st.broker.wait_for_work([queue], min(left, WAIT_SLICE_S))
                got = await st.broker.claim(queue, want, lease_ms, who)
            if got.jobs or got.undecodable:
                break
        return got
    finally:
        waiters.now -= 1


async def _nap(closing: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(closing.wait(), seconds)


async def _usable(broker: Broker, queue: str, got: Claimed) -> list[Job]:
    """The claimed jobs; records that cannot be decoded go to the dead set, as a worker does."""
    if got.undecodable:
        await broker.nack(
            queue,
            [
                Nack(u.id, u.token, NackMode.DEAD, 0, f"undecodable job record: {u.reason}")
                for u in got.undecodable
            ],
        )
    return got.jobs


async def _release(broker: Broker, queue: str, jobs: list[Job], why: str) -> None:
    try:
        await broker.nack(queue, [Nack(j.id, j.token, NackMode.LATER, 0, why) for j in jobs])
    except Exception as exc:  # the leases expire and the reaper takes the jobs back
        log.warning("could not release %d jobs of a departed claimer: %r", len(jobs), exc)


def _claimed(j: Job, lease_until: float) -> ClaimedJob:
    return ClaimedJob(
        id=j.id,
        type=j.type,
        payload=_raw(j.payload_bytes),
        priority=j.priority,
        attempts=j.attempts,
        max_attempts=j.max_attempts,
        timeout_ms=j.timeout_ms,
        token=j.token,
        created_at=j.created_ms / 1000,
        lease_until=lease_until,
        idempotency_key=j.idempotency_key,
        group=j.group,
    )


def _raw(payload: bytes) -> msgspec.Raw:
    return msgspec.Raw(payload or b"null")


# -- ack, nack, extend -----------------------------------------------------------------------

_REFUSALS = {
    held.STALE: (409, "stale", "the lease was lost or the token superseded: the job is not yours"),
    held.NOT_FOUND: (404, "not_found", "no such job in this queue"),
}


def _outcomes(ids: list[str], results: dict[int, str]) -> OutcomeResponse:
    """One outcome per id: the script's where it ran, `invalid` for a repeated id."""
    out = []
    for i, job_id in enumerate(ids):
        r = results.get(i)
        if r is None:
            detail = ErrorDetail("invalid_request", "this id appears earlier in the request")
            out.append(JobOutcome(id=job_id, outcome="invalid", status=400, error=detail))
        elif r in _REFUSALS:
            status, code, message = _REFUSALS[r]
            detail = ErrorDetail(code, message)
            out.append(JobOutcome(id=job_id, outcome=r, status=status, error=detail))
        elif r == held.OK:
            out.append(JobOutcome(id=job_id, outcome=held.OK, status=200))
        else:
            out.append(JobOutcome(id=job_id, outcome=held.OK, status=200, state=r))
    return OutcomeResponse(jobs=out)


def _first(ids: list[str]) -> list[int]:
    """The positions of each id's first appearance (a repeat is refused, not run twice)."""
    seen: set[str] = set()
    keep = []
    for i, job_id in enumerate(ids):
        if job_id not in seen:
            seen.add(job_id)
            keep.append(i)
    return keep


async def ack(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/ack"""
    queue = queue_param(request)
    body = await decode_body(request, AckRequest)
    ids = [j.id for j in body.jobs]
    keep = _first(ids)
    broker = state(request).broker
    limit = broker.settings.max_result_bytes
    done = [
        (ids[i], int(body.jobs[i].token), raw_record(bytes(body.jobs[i].result), limit))
        for i in keep
    ]
    got = await broker.perform(held.ack(broker.settings, queue, done))
    return reply(_outcomes(ids, dict(zip(keep, got, strict=True))))


async def nack(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/nack"""
    queue = queue_param(request)
    body = await decode_body(request, NackRequest)
    ids = [j.id for j in body.jobs]
    keep = _first(ids)
    failed = []
    for i in keep:
        j = body.jobs[i]
        after = None if j.retry_after_ms is None else int(j.retry_after_ms)
        failed.append(held.Failed(j.id, int(j.token), j.error, after, j.fatal))
    broker = state(request).broker
    got = await broker.perform(held.nack(broker.settings, queue, failed))
    if "delayed" in got:  # this server promotes them when due
        request.app[SERVED].touch(queue)
    return reply(_outcomes(ids, dict(zip(keep, got, strict=True))))


async def extend(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/extend"""
    queue = queue_param(request)
    body = await decode_body(request, ExtendRequest)
    ids = [j.id for j in body.jobs]
    keep = _first(ids)
    pairs = [(ids[i], int(body.jobs[i].token)) for i in keep]
    broker = state(request).broker
    got = await broker.perform(held.extend(broker.settings, queue, pairs, int(body.lease_ms)))
    return reply(_outcomes(ids, dict(zip(keep, got, strict=True))))
