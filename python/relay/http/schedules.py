"""The schedule routes: PUT/GET/DELETE one, GET all, POST trigger; each one broker call."""

from __future__ import annotations

from urllib.parse import quote

import msgspec
from aiohttp import web
from msgspec import UnsetType

from relay.errors import PayloadTooLarge
from relay.http.api import decode_body, queue_param, reply
from relay.http.errors import Problem
from relay.http.models import Deleted, ScheduleList, ScheduleRequest, Triggered
from relay.http.state import state
from relay.schedules.model import Misfire, Schedule, check_schedule_name


def _name(request: web.Request) -> str:
    return check_schedule_name(request.match_info["name"])


def _schedule(name: str, body: ScheduleRequest, max_payload: int) -> Schedule:
    if body.type is not None and not (body.type.isascii() and body.type.isprintable()):
        raise Problem(400, "invalid body: type must be printable ASCII - at `$.type`")
    raw = bytes(body.payload)
    if len(raw) > max_payload:
        raise PayloadTooLarge(
            f"payload of {len(raw)} bytes is over the limit of {max_payload} bytes; "
            "nothing was written"
        )
    return Schedule(
        name=name,
        type=body.type or "",
        cron=None if isinstance(body.cron, UnsetType) else body.cron,
        every_ms=None if isinstance(body.every_ms, UnsetType) else int(body.every_ms),
        timezone=body.timezone,
        payload=msgspec.json.decode(raw),
        priority=int(body.priority),
        max_attempts=int(body.max_attempts),
        timeout_ms=int(body.timeout_ms),
        paused=body.paused,
        misfire=Misfire(body.misfire),
        group=body.group,
    )


async def put_schedule(request: web.Request) -> web.Response:
    """PUT /api/queues/{queue}/schedules/{name}: 201 created, 200 replaced."""
    queue, name = queue_param(request), _name(request)
    broker = state(request).broker
    body = await decode_body(request, ScheduleRequest)
    got, created = await broker.upsert_schedule(
        queue, _schedule(name, body, broker.settings.max_payload_bytes)
    )
    where = f"/api/queues/{quote(queue, safe='')}/schedules/{quote(name, safe='')}"
    return reply(got, 201 if created else 200, {"Location": where})


async def get_schedule(request: web.Request) -> web.Response:
    """GET /api/queues/{queue}/schedules/{name}"""
    queue, name = queue_param(request), _name(request)
    return reply(await state(request).broker.get_schedule(queue, name))


async def list_schedules(request: web.Request) -> web.Response:
    """GET /api/queues/{queue}/schedules"""
    queue = queue_param(request)
    return reply(ScheduleList(schedules=await state(request).broker.schedules(queue)))


async def delete_schedule(request: web.Request) -> web.Response:
    """DELETE /api/queues/{queue}/schedules/{name}"""
    queue, name = queue_param(request), _name(request)
    await state(request).broker.delete_schedule(queue, name)
    return reply(Deleted(deleted=1))


async def trigger_schedule(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/schedules/{name}/trigger: one job now, the schedule unchanged."""
    queue, name = queue_param(request), _name(request)
    got = await state(request).broker.trigger_schedule(queue, name)
    return reply(Triggered(id=got.id), 201)


async def pause_schedule(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/schedules/{name}/pause"""
    queue, name = queue_param(request), _name(request)
    return reply(await state(request).broker.pause_schedule(queue, name, True))


async def resume_schedule(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/schedules/{name}/resume: on from now, no catch-up."""
    queue, name = queue_param(request), _name(request)
    return reply(await state(request).broker.pause_schedule(queue, name, False))
