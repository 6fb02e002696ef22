"""`POST /api/flows` (decision 0050): a workflow as one JSON tree, written all or nothing."""

from __future__ import annotations

from aiohttp import web

from relay.broker import calls
from relay.http.api import decode_body, queue_param, reply
from relay.http.flow_models import FlowRequest, to_flow
from relay.http.state import state


async def enqueue_flow(request: web.Request) -> web.Response:
    """POST /api/flows"""
    body = await decode_body(request, FlowRequest)
    broker = state(request).broker
    out = await broker.perform(calls.enqueue_flow(broker.settings, to_flow(body)))
    return reply(out, 201)


async def get_flow(request: web.Request) -> web.Response:
    """GET /api/queues/{queue}/jobs/{id}/flow"""
    queue = queue_param(request)
    broker = state(request).broker
    steps = calls.get_flow(broker.settings, queue, request.match_info["id"])
    return reply(await broker.perform(steps))
