"""create_app: the aiohttp application — routes, middlewares, security headers, dashboard."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import urlencode

import msgspec
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from relay.broker import Broker
from relay.broker.health import check_health
from relay.errors import RelayError
from relay.http import routes, work
from relay.http.api import TOKEN_KEY
from relay.http.auth import check_same_origin
from relay.http.coalesce import COALESCER, Coalescer
from relay.http.errors import Problem, error_response, from_http_exception, from_relay_error
from relay.http.feed import FEED, EventFeed
from relay.http.openapi import build_openapi
from relay.http.settings import ServerSettings
from relay.http.state import STATE, AppState
from relay.metrics import Metrics

log = logging.getLogger("relay.http")

OPENAPI = web.AppKey("relay_openapi", bytes)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_PLACEHOLDER = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>relay</title></head>
<body><h1>relay</h1><p>The server is running. The dashboard assets are not built into this
package yet (<code>make web</code>); the API is at <a href="/api/openapi.json">/api/openapi.json
</a>.</p></body></html>
"""


def create_app(
    broker: Broker | None = None,
    *,
    redis_url: str | None = None,
    settings: ServerSettings | None = None,
    metrics: Metrics | None = None,
) -> web.Application:
    """The relay HTTP application, ready for `web.run_app` or to embed in your own server.

    Args:
        broker: The broker to serve; when None, one is made from `redis_url` and closed with
            the app.
        redis_url: Redis to use when no broker is given (default: RELAY_REDIS_URL).
        settings: Auth, limits and SSE timing; defaults are the safe ones.
        metrics: Where to record metrics (default: a registry of the app's own).
    """
    settings = settings or ServerSettings()
    st = AppState(
        broker=broker or Broker.from_url(redis_url),
        settings=settings,
        metrics=metrics or Metrics(),
        owns_broker=broker is None,
    )
    app = web.Application(
        client_max_size=settings.max_body,
        middlewares=[_observe, _errors, _guard],
    )
    app[STATE] = st
    work.install(app, settings)
    app[COALESCER] = Coalescer(st.broker, settings.coalesce)
    app[FEED] = EventFeed(st.broker.redis, settings.sse_poll)
    doc = build_openapi(auth=st.auth.enabled)
    app[OPENAPI] = msgspec.json.encode(doc)
    routes.install(app)
    app.router.add_get("/api/openapi.json", _openapi, name="openapi")
    app.router.add_get("/", _index, name="index")
    app.router.add_get("/static/{path:.+}", _static, name="static")
    app.on_response_prepare.append(_headers)
    app.on_startup.append(_startup)
    app.on_shutdown.append(_shutdown)
    app.on_cleanup.append(_cleanup)
    return app


async def _openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


async def _index(request: web.Request) -> web.StreamResponse:
    index = request.app[STATE].settings.static_dir / "index.html"
    if index.is_file():
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})
    return web.Response(body=_PLACEHOLDER, content_type="text/html")


async def _static(request: web.Request) -> web.StreamResponse:
    root = request.app[STATE].settings.static_dir.resolve()
    target = (root / request.match_info["path"]).resolve()
    if not _inside(target, root) or not target.is_file():
        raise Problem(404, "no such file", "not_found")
    return web.FileResponse(target)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


# -- middlewares (outermost first) -----------------------------------------------------------


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def _observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every request and its latency by route template (bounded label values)."""
    start = time.perf_counter()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    finally:
        request.app[STATE].metrics.observe_request(
            _route_label(request), request.method, status, time.perf_counter() - start
        )


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes the API's JSON error shape; nothing leaks a traceback."""
    try:
        return await handler(request)
    except Problem as p:
        return error_response(p)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(from_http_exception(exc))
    except RelayError as exc:
        return error_response(from_relay_error(exc))
    except (ConnectionError, TimeoutError) as exc:  # the client went away mid-answer
        log.debug("connection lost during %s %s: %s", request.method, request.path, exc)
        raise
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(Problem(500, "internal server error", "internal"))


def _needs_token(request: web.Request) -> bool:
    path = request.path
    return path == "/api" or path.startswith("/api/") or path == "/metrics"


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Same-origin check on state changes, then the bearer token on /api and /metrics."""
    st = request.app[STATE]
    check_same_origin(request, st.settings.allowed_origins)
    if _needs_token(request):
        # EventSource cannot send headers: only the event stream takes ?token=.
        index = st.auth.identify(request, allow_query=request.path == "/api/events")
        if index is not None:
            request[TOKEN_KEY] = index
    return await handler(request)


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")


# -- lifecycle -------------------------------------------------------------------------------


async def _startup(app: web.Application) -> None:
    st = app[STATE]
    up, loaded = await check_health(st.broker.redis)
    if not up:
        log.warning("Redis is not reachable yet; /healthz answers 503 until it is")
        return
    if not loaded:
        log.warning("relay's Lua scripts could not be loaded into Redis")
    await st.broker.check_eviction_policy()


async def _shutdown(app: web.Application) -> None:
    app[STATE].closing.set()  # ends every event stream promptly


async def _cleanup(app: web.Application) -> None:
    st = app[STATE]
    if st.owns_broker:
        await st.broker.close()


class AccessLogger(AbstractAccessLogger):
    """One line per request, with any `token` query value redacted (never the headers)."""

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.path
        if request.query_string:
            pairs = [
                (k, "***" if k.lower() == "token" else v) for k, v in request.rel_url.query.items()
            ]
            path = f"{path}?{urlencode(pairs, safe='*')}"
        self.logger.info(
            '%s "%s %s" %s %.1fms',
            request.remote,
            request.method,
            path,
            response.status,
            time * 1000,
        )
