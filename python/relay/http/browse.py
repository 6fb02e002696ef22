"""The job browser's routes: a page of any state, and the actions each state allows.

Handlers validate, call one broker method (relay.broker.browse) and answer a Struct; the route
table in routes.py lists them with the rest of the API, so auth, the cross-site guard and
OpenAPI apply to them as to every route.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Literal, TypeVar

import msgspec
from aiohttp import web

from relay.browse import DEFAULT_LIMIT, MAX_LIMIT, Changed
from relay.http.api import decode_body, known_queue, queue_param, reply
from relay.http.errors import Problem
from relay.http.models import JobType
from relay.http.state import state
from relay.job import JobState

T = TypeVar("T")


class JobsQuery(msgspec.Struct, forbid_unknown_fields=False):
    """Query parameters of the job listing."""

    state: Annotated[
        JobState,
        msgspec.Meta(
            description="Which jobs to list. ready: the ungrouped ready jobs; pass group= for "
            "a group's ready jobs"
        ),
    ]
    limit: Annotated[float, msgspec.Meta(ge=1, le=MAX_LIMIT, multiple_of=1)] = DEFAULT_LIMIT
    cursor: (
        Annotated[
            str,
            msgspec.Meta(max_length=4096, description="next_cursor of the previous page"),
        ]
        | None
    ) = None
    type: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=255,
                description="Only jobs of this type; a page then examines at most 5,000 jobs "
                "and may come back short, even empty, with a next_cursor",
            ),
        ]
        | None
    ) = None
    group: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=128,
                pattern="^[ -~]+$",
                description="Only this group's ready jobs (fair scheduling), in the group's "
                "claim order; state must be ready (else 400)",
            ),
        ]
        | None
    ) = None


class DeleteQuery(msgspec.Struct, forbid_unknown_fields=False):
    """Query parameters of a job deletion."""

    state: (
        Annotated[
            Literal["ready", "delayed", "dead"],
            msgspec.Meta(description="Delete only if the job is still in this state (else 409)"),
        ]
        | None
    ) = None


class _Bulk(msgspec.Struct, forbid_unknown_fields=True, tag_field="action", kw_only=True):
    type: JobType | None = None


class PromoteAll(_Bulk, tag="promote"):
    """Run every delayed job (of `type`) now."""

    state: Literal["delayed"] = "delayed"


class RequeueAll(_Bulk, tag="requeue"):
    """Requeue every dead job (of `type`)."""

    state: Literal["dead"] = "dead"


class DeleteAll(_Bulk, tag="delete"):
    """Delete every job of a state (of `type`) for good."""

    state: Literal["ready", "delayed", "dead"]


BulkRequest = PromoteAll | RequeueAll | DeleteAll


def _query(request: web.Request, kind: type[T]) -> T:
    """The query as `kind`. Only `limit` is read as a number: in lax mode msgspec would also
    read the text "null" as None, and `type=null` must filter on a type named "null"."""
    raw: dict[str, object] = dict(request.query)
    limit = raw.get("limit")
    if isinstance(limit, str):
        with contextlib.suppress(ValueError):  # else it stays text: the error names `$.limit`
            raw["limit"] = float(limit)
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        raise Problem(400, f"invalid query: {exc}") from exc


async def list_jobs(request: web.Request) -> web.Response:
    """GET /api/queues/{queue}/jobs?state=&limit=&cursor=&type=&group="""
    queue = await known_queue(request)
    q = _query(request, JobsQuery)
    page = await state(request).broker.list_jobs(
        queue,
        q.state.value,
        limit=int(q.limit),
        cursor=q.cursor or None,
        job_type=q.type,
        group=q.group,
    )
    return reply(page)


async def promote_job(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/jobs/{id}/promote"""
    queue = queue_param(request)
    await state(request).broker.promote_job(queue, request.match_info["id"])
    return reply(Changed(changed=1))


async def requeue_job(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/jobs/{id}/requeue"""
    queue = queue_param(request)
    await state(request).broker.requeue_job(queue, request.match_info["id"])
    return reply(Changed(changed=1))


async def delete_job(request: web.Request) -> web.Response:
    """DELETE /api/queues/{queue}/jobs/{id}?state="""
    queue = queue_param(request)
    q = _query(request, DeleteQuery)
    await state(request).broker.delete_job(queue, request.match_info["id"], q.state)
    return reply(Changed(changed=1))


async def bulk(request: web.Request) -> web.Response:
    """POST /api/queues/{queue}/jobs/bulk"""
    queue = await known_queue(request)
    body: PromoteAll | RequeueAll | DeleteAll = await decode_body(
        request,
        BulkRequest,  # type: ignore[arg-type]
    )
    broker = state(request).broker
    if isinstance(body, PromoteAll):
        n = await broker.promote_jobs(queue, body.type)
    elif isinstance(body, RequeueAll):
        n = await broker.requeue_jobs(queue, body.type)
    else:
        n = await broker.delete_jobs(queue, body.state, body.type)
    return reply(Changed(changed=n))
