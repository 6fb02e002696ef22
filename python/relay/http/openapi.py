"""GET /api/openapi.json: an OpenAPI 3.1 document generated from the route table's Structs."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from relay import __version__
from relay.http.models import (
    ErrorBody,
    GroupName,
    JobId,
    QueueName,
    ScheduleName,
    refine_group_schema,
    refine_schedule_schema,
)
from relay.http.routes import ROUTES, Route

REF = "#/components/schemas/{name}"
_PARAM = re.compile(r"{(\w+)}")
_PATH_SCHEMAS: dict[str, Any] = {
    "queue": QueueName,
    "id": JobId,
    "name": ScheduleName,
    "group": GroupName,
}
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted: the job is running; its worker stops it and it ends cancelled",
    400: "Invalid request: the message names the field",
    401: "Missing or wrong bearer token",
    403: "A cross-site state change was refused",
    404: "No such queue, job, schedule or route",
    409: "Conflict: an idempotency key used with another payload, or a job that has moved on "
    "from the state the action needs (the message names its state), a cancel of a "
    "finished job, or a flow's fixed id naming a job that is not that flow's",
    413: "The request body or payload is over the limit",
    429: "Queue full or producer rate limit reached; see Retry-After",
    503: "Redis unavailable, or too many event subscribers; see Retry-After",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def build_openapi(routes: tuple[Route, ...] = ROUTES, *, auth: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes`; `auth` declares the bearer scheme as required."""
    types: list[Any] = [ErrorBody]
    for r in routes:
        types += [t for t in (r.body, *r.ok.values()) if t is not None]
    _, components = msgspec.json.schema_components(list(dict.fromkeys(types)), ref_template=REF)
    components = {name: _integers(schema) for name, schema in components.items()}
    if "ScheduleRequest" in components:
        refine_schedule_schema(components["ScheduleRequest"])
    if "GroupRequest" in components:
        refine_group_schema(components["GroupRequest"])
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r, auth)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "relay",
            "version": __version__,
            "description": "A distributed job queue on Redis: enqueue, inspect and operate.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }
    if auth:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
    return doc


def _integers(schema: Any) -> Any:
    """`number` with multipleOf 1 is how the models spell an integer (see models.py)."""
    if isinstance(schema, dict):
        out = {k: _integers(v) for k, v in schema.items()}
        if out.get("type") == "number" and out.get("multipleOf") == 1:
            out["type"] = "integer"
            del out["multipleOf"]
        return out
    if isinstance(schema, list):
        return [_integers(v) for v in schema]
    return schema


def _ref(kind: Any) -> dict[str, Any]:
    if not hasattr(kind, "__name__"):  # a tagged union of Structs: anyOf + discriminator
        [schema], _ = msgspec.json.schema_components([kind], ref_template=REF)
        return dict(schema)
    return {"$ref": REF.format(name=kind.__name__)}


def _operation(r: Route, auth: bool) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": r.name, "summary": r.summary, "tags": [r.tag]}
    params = [_path_param(name) for name in _PARAM.findall(r.path)]
    if r.query is not None:
        params += _query_params(r.query)
    if r.name == "events":
        params += _event_params()
    if params:
        op["parameters"] = params
    if r.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(r.body)}},
        }
    responses = _responses(r, auth)
    op["responses"] = responses
    if auth and not r.auth:
        op["security"] = []
    return op


def _responses(r: Route, auth: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, kind in r.ok.items():
        schema = _ref(kind) if kind is not None else {"type": "string"}
        resp: dict[str, Any] = {
            "description": _REASONS.get(status, "OK"),
            "content": {r.media: {"schema": schema}},
        }
        if r.links:
            resp["links"] = dict(r.links)
        responses[str(status)] = resp
    for status in sorted(set(r.errors)):
        if status == 401 and not (auth and r.auth):
            continue
        err: dict[str, Any] = {
            "description": _REASONS[status],
            "content": {"application/json": {"schema": _ref(ErrorBody)}},
        }
        if status in (429, 503):
            err["headers"] = _RETRY_AFTER
        responses[str(status)] = err
    return responses


def _path_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": msgspec.json.schema(_PATH_SCHEMAS[name]),
    }


def _query_params(kind: Any) -> list[dict[str, Any]]:
    schema = msgspec.json.schema(kind)
    body = schema["$defs"][kind.__name__]
    required = set(body.get("required", ()))
    out = []
    for name, prop in body["properties"].items():
        out.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": _components(_integers(_no_null(prop))),
            }
        )
    return out


def _components(schema: Any) -> Any:
    """A query schema's `$defs` references (an enum such as JobState) point at components."""
    if isinstance(schema, dict):
        return {
            k: v.replace("#/$defs/", "#/components/schemas/")
            if k == "$ref" and isinstance(v, str)
            else _components(v)
            for k, v in schema.items()
        }
    return schema


def _no_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query value is never JSON null: drop the null branch of an optional parameter."""
    branches = [b for b in prop.get("anyOf", ()) if b.get("type") != "null"]
    if len(branches) == 1:
        return {**branches[0], **{k: v for k, v in prop.items() if k not in ("anyOf", "default")}}
    return prop


def _event_params() -> list[dict[str, Any]]:
    return [
        {
            "name": "Last-Event-ID",
            "in": "header",
            "required": False,
            "description": "The id of the last event received: resume without gaps",
            "schema": {"type": "string"},
        },
        {
            "name": "token",
            "in": "query",
            "required": False,
            "description": "The bearer token, for EventSource clients that cannot set headers",
            "schema": {"type": "string"},
        },
    ]
