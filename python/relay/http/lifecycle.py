"""Job lookups that can wait for the job to finish, and cancelling a job."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from relay.broker import calls
from relay.http.api import queue_param, reply
from relay.http.errors import Problem
from relay.http.state import state
from relay.results import MAX_WAIT_MS


class WaitQuery(msgspec.Struct, forbid_unknown_fields=False):
    """Query parameters of a job lookup."""

    wait_ms: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            le=MAX_WAIT_MS,
            multiple_of=1,
            description="Answer as soon as the job is completed, dead or cancelled, or after "
            "this many ms with its state then (no polling: the server blocks on the job)",
        ),
    ] = 0


def _wait_ms(request: web.Request) -> int:
    if "wait_ms" not in request.query:
        return 0
    try:
        q = msgspec.convert(dict(request.query), WaitQuery, strict=False)
    except msgspec.ValidationError as exc:
        raise Problem(400, f"invalid query: {exc}") from exc
    return int(q.wait_ms)


async def get_job(request: web.Request) -> web.Response:
    """GET /api/queues/{queue}/jobs/{id}?wait_ms="""
    queue = queue_param(request)
    wait_ms = _wait_ms(request)
    broker = state(request).broker
    job_id = request.match_info["id"]
    steps = calls.get_job(broker.settings, queue, job_id, wait_ms or None)
    return reply(await broker.perform(steps))  # with a flow's children, when it has some


async def cancel_job(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/jobs/{id}/cancel"""
    queue = queue_param(request)
    out = await state(request).broker.cancel(queue, request.match_info["id"])
    return reply(out, 200 if out.state == "cancelled" else 202)
