"""The group routes (fair scheduling, decision 0053): PUT/GET one group, GET the listing."""

from __future__ import annotations

import msgspec
from aiohttp import web

from relay.http.api import decode_body, known_queue, queue_param, reply
from relay.http.errors import Problem
from relay.http.models import GroupRequest, GroupsQuery
from relay.http.state import state
from relay.keys import validate_group_name
from relay.wire import GroupLimits


def _group(request: web.Request) -> str:
    return validate_group_name(request.match_info["group"])


def limits(body: GroupRequest) -> GroupLimits:
    return GroupLimits(
        weight=int(body.weight),
        max_inflight=None if body.max_inflight is None else int(body.max_inflight),
        rate=body.rate,
        burst=None if body.burst is None else int(body.burst),
    )


async def put_group(request: web.Request) -> web.Response:
    """PUT /api/queues/{queue}/groups/{group} (the queue need not exist yet)"""
    queue, group = queue_param(request), _group(request)
    body = await decode_body(request, GroupRequest)
    broker = state(request).broker
    await broker.set_group(queue, group, limits(body))
    return reply(await broker.group(queue, group))


async def get_group(request: web.Request) -> web.Response:
    """GET /api/queues/{queue}/groups/{group}"""
    queue, group = await known_queue(request), _group(request)
    return reply(await state(request).broker.group(queue, group))


async def list_groups(request: web.Request) -> web.Response:
    """GET /api/queues/{queue}/groups"""
    queue = await known_queue(request)
    query = _query(request)
    return reply(await state(request).broker.groups(queue, int(query.limit)))


def _query(request: web.Request) -> GroupsQuery:
    try:
        return msgspec.convert(dict(request.query), GroupsQuery, strict=False)
    except msgspec.ValidationError as exc:
        raise Problem(400, f"invalid query: {exc}") from exc
